// safetensors writer (atomic temp file + fsync + rename) and validating reader.
#include "proxima/nn/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "proxima/core/factory.h"

namespace px::nn {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors I/O copies raw bytes: proxima assumes a little-endian host");

using Json = nlohmann::ordered_json;

constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;  // the reference reader's limit too

std::string_view safetensors_dtype_name(DType dtype) {
  switch (dtype) {
    case DType::float32: return "F32";
    case DType::float64: return "F64";
    case DType::int64: return "I64";
    case DType::uint8: return "U8";
  }
  return "?";
}

std::optional<DType> dtype_from_safetensors_name(std::string_view name) {
  if (name == "F32") return DType::float32;
  if (name == "F64") return DType::float64;
  if (name == "I64") return DType::int64;
  if (name == "U8") return DType::uint8;
  return std::nullopt;
}

std::string errno_text() { return std::strerror(errno); }

// ---------------------------------------------------------------- writing

// A file descriptor closed on scope exit.
struct FileHandle {
  int fd = -1;
  ~FileHandle() {
    if (fd >= 0) ::close(fd);
  }
};

void write_all(int fd, const void* data, std::size_t size, const std::string& temp_path) {
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t written = ::write(fd, bytes, size);
    if (written < 0 && errno == EINTR) continue;
    PX_CHECK(written > 0, Error, "save_safetensors: writing ", temp_path,
             " failed: ", written < 0 ? errno_text() : std::string("no progress"));
    bytes += written;
    size -= static_cast<std::size_t>(written);
  }
}

std::string temp_path_for(const std::filesystem::path& target) {
  static std::atomic<std::uint64_t> counter{0};
  std::filesystem::path temp = target;
  std::string name = ".";
  name += target.filename().string();
  name += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
  temp.replace_filename(name);
  return temp.string();
}

// Best effort: some file systems refuse fsync on a directory; the rename itself is done.
void fsync_directory_of(const std::filesystem::path& target) {
  std::filesystem::path dir = target.parent_path();
  if (dir.empty()) dir = ".";
  FileHandle handle{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (handle.fd >= 0) ::fsync(handle.fd);
}

void check_names(const std::string& path, const StateDict& tensors) {
  std::set<std::string_view> seen;
  for (const auto& [name, tensor] : tensors) {
    PX_CHECK(!name.empty(), ValueError, "save_safetensors(", path, "): empty tensor name");
    PX_CHECK(name != "__metadata__", ValueError, "save_safetensors(", path,
             "): \"__metadata__\" is reserved and cannot name a tensor");
    PX_CHECK(seen.insert(name).second, ValueError, "save_safetensors(", path,
             "): duplicate tensor name '", name, "'");
    PX_CHECK(tensor.defined(), ValueError, "save_safetensors(", path, "): tensor '", name,
             "' is undefined");
  }
}

// The header JSON padded with spaces so that 8 + its length is a multiple of 8.
std::string make_header(const std::string& path, const StateDict& cpu_tensors,
                        const std::map<std::string, std::string>& metadata) {
  Json header = Json::object();
  if (!metadata.empty()) {
    Json meta = Json::object();
    for (const auto& [key, value] : metadata) meta[key] = value;
    header["__metadata__"] = std::move(meta);
  }
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : cpu_tensors) {
    const std::uint64_t bytes = static_cast<std::uint64_t>(tensor.numel()) * dtype_size(tensor.dtype());
    header[name] = Json{{"dtype", std::string(safetensors_dtype_name(tensor.dtype()))},
                        {"shape", tensor.shape()},
                        {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    throw ValueError(detail::str("save_safetensors(", path, "): cannot encode the header: ", e.what()));
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

void write_file(const std::string& temp_path, const std::string& header, const StateDict& cpu_tensors) {
  FileHandle handle{::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)};
  PX_CHECK(handle.fd >= 0, Error, "save_safetensors: cannot create ", temp_path, ": ", errno_text());
  const std::uint64_t header_size = header.size();
  write_all(handle.fd, &header_size, sizeof header_size, temp_path);
  write_all(handle.fd, header.data(), header.size(), temp_path);
  for (const auto& [name, tensor] : cpu_tensors) {
    const std::size_t bytes = static_cast<std::size_t>(tensor.numel()) * dtype_size(tensor.dtype());
    if (bytes > 0) write_all(handle.fd, tensor.data_ptr(), bytes, temp_path);
  }
  PX_CHECK(::fsync(handle.fd) == 0, Error, "save_safetensors: fsync of ", temp_path, " failed: ",
           errno_text());
  const int fd = handle.fd;
  handle.fd = -1;
  PX_CHECK(::close(fd) == 0, Error, "save_safetensors: closing ", temp_path, " failed: ", errno_text());
}

}  // namespace

void save_safetensors(const std::string& path, const StateDict& tensors,
                      const std::map<std::string, std::string>& metadata) {
  check_names(path, tensors);
  StateDict cpu_tensors;
  cpu_tensors.reserve(tensors.size());
  for (const auto& [name, tensor] : tensors)
    cpu_tensors.emplace_back(name, tensor.detach().to(Device::cpu()).contiguous());
  const std::string header = make_header(path, cpu_tensors, metadata);

  const std::filesystem::path target(path);
  const std::string temp_path = temp_path_for(target);
  try {
    write_file(temp_path, header, cpu_tensors);
    PX_CHECK(::rename(temp_path.c_str(), path.c_str()) == 0, Error, "save_safetensors: renaming ",
             temp_path, " to ", path, " failed: ", errno_text());
  } catch (const Error& e) {  // the message names the file asked for first, then the temporary
    ::unlink(temp_path.c_str());  // may not exist (creation failed): nothing else to undo
    throw Error(detail::str("save_safetensors: cannot write ", path, " (", e.what(), ")"));
  } catch (...) {
    ::unlink(temp_path.c_str());
    throw;
  }
  fsync_directory_of(target);
}

// ---------------------------------------------------------------- reading
namespace {

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  std::uint64_t begin, end;
};

[[noreturn]] void fail(const std::string& path, const std::string& problem) {
  throw ValueError(detail::str("load_safetensors(", path, "): ", problem));
}

// Parses the header JSON, rejecting duplicate top-level names (which JSON parsers
// otherwise resolve silently by keeping the last one).
Json parse_header(const std::string& path, const std::string& text) {
  std::set<std::string> names;
  std::string duplicate;
  auto on_event = [&](int depth, nlohmann::json::parse_event_t event, Json& parsed) {
    if (event == nlohmann::json::parse_event_t::key && depth == 1 && duplicate.empty() &&
        !names.insert(parsed.get<std::string>()).second)
      duplicate = parsed.get<std::string>();
    return true;
  };
  Json header;
  try {
    header = Json::parse(text, on_event);
  } catch (const nlohmann::json::exception& e) {
    fail(path, detail::str("the header is not valid JSON: ", e.what()));
  }
  if (!duplicate.empty()) fail(path, detail::str("duplicate tensor name '", duplicate, "' in the header"));
  if (!header.is_object()) fail(path, detail::str("the header must be a JSON object, got ", header.type_name()));
  return header;
}

std::map<std::string, std::string> parse_metadata(const std::string& path, const Json& meta) {
  if (!meta.is_object()) fail(path, detail::str("\"__metadata__\" must be an object, got ", meta.type_name()));
  std::map<std::string, std::string> result;
  for (const auto& [key, value] : meta.items()) {
    if (!value.is_string())
      fail(path, detail::str("\"__metadata__\" value of '", key, "' must be a string, got ", value.dump()));
    result[key] = value.get<std::string>();
  }
  return result;
}

std::uint64_t unsigned_field(const std::string& path, const std::string& name, const char* field,
                             const Json& value) {
  if (!value.is_number_unsigned())
    fail(path, detail::str("tensor '", name, "': ", field, " must hold non-negative integers, got ", value.dump()));
  return value.get<std::uint64_t>();
}

Entry parse_entry(const std::string& path, const std::string& name, const Json& info) {
  if (!info.is_object()) fail(path, detail::str("tensor '", name, "': expected an object, got ", info.dump()));
  for (const char* field : {"dtype", "shape", "data_offsets"})
    if (!info.contains(field)) fail(path, detail::str("tensor '", name, "': missing \"", field, "\""));
  const Json& dtype_json = info["dtype"];
  if (!dtype_json.is_string()) fail(path, detail::str("tensor '", name, "': dtype must be a string, got ", dtype_json.dump()));
  const std::string dtype_text = dtype_json.get<std::string>();
  const auto dtype = dtype_from_safetensors_name(dtype_text);
  if (!dtype)
    fail(path, detail::str("tensor '", name, "': unsupported dtype '", dtype_text, "' (supported: F32 F64 I64 U8)"));

  Entry entry{name, *dtype, {}, 0, 0};
  const Json& shape = info["shape"];
  if (!shape.is_array()) fail(path, detail::str("tensor '", name, "': shape must be an array, got ", shape.dump()));
  for (const Json& dim : shape) {
    const std::uint64_t size = unsigned_field(path, name, "shape", dim);
    if (size > static_cast<std::uint64_t>(INT64_MAX)) fail(path, detail::str("tensor '", name, "': dimension ", size, " too large"));
    entry.shape.push_back(static_cast<std::int64_t>(size));
  }
  const Json& offsets = info["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2)
    fail(path, detail::str("tensor '", name, "': data_offsets must be [begin, end], got ", offsets.dump()));
  entry.begin = unsigned_field(path, name, "data_offsets", offsets[0]);
  entry.end = unsigned_field(path, name, "data_offsets", offsets[1]);
  if (entry.end < entry.begin)
    fail(path, detail::str("tensor '", name, "': data_offsets [", entry.begin, ", ", entry.end, "] end before begin"));
  return entry;
}

// shape * itemsize == end - begin, computed without overflow.
void check_entry_size(const std::string& path, const Entry& entry, std::uint64_t data_size) {
  if (entry.end > data_size)
    fail(path, detail::str("tensor '", entry.name, "': data_offsets [", entry.begin, ", ", entry.end,
                           "] out of range: the data section has ", data_size, " bytes"));
  unsigned __int128 bytes = dtype_size(entry.dtype);
  for (std::int64_t dim : entry.shape) {
    bytes *= static_cast<std::uint64_t>(dim);
    if (bytes > data_size) bytes = static_cast<unsigned __int128>(data_size) + 1;  // saturate
  }
  if (bytes != entry.end - entry.begin)
    fail(path, detail::str("tensor '", entry.name, "': shape ", shape_str(entry.shape), " of ",
                           safetensors_dtype_name(entry.dtype), " needs ",
                           bytes > data_size ? std::string("more bytes than the file holds")
                                             : std::to_string(static_cast<std::uint64_t>(bytes)) + " bytes",
                           " but data_offsets [", entry.begin, ", ", entry.end, "] span ",
                           entry.end - entry.begin));
}

// Sorted by begin, the entries must tile [0, data_size) exactly: no overlap, no hole.
void check_layout(const std::string& path, std::vector<Entry>& entries, std::uint64_t data_size) {
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t covered = 0;
  const Entry* previous = nullptr;
  for (const Entry& entry : entries) {
    if (entry.begin < covered)
      fail(path, detail::str("tensors '", previous->name, "' [", previous->begin, ", ", previous->end,
                             ") and '", entry.name, "' [", entry.begin, ", ", entry.end, ") overlap"));
    if (entry.begin > covered)
      fail(path, detail::str("bytes [", covered, ", ", entry.begin, ") of the data belong to no tensor (before '",
                             entry.name, "')"));
    covered = entry.end;
    previous = &entry;
  }
  if (covered != data_size)
    fail(path, detail::str("the data section has ", data_size, " bytes but the tensors cover only ", covered));
}

void read_exact(const std::string& path, int fd, void* out, std::uint64_t size, std::uint64_t offset) {
  char* bytes = static_cast<char*>(out);
  while (size > 0) {
    ssize_t got = ::pread(fd, bytes, size, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0)
      throw Error(detail::str("load_safetensors(", path, "): read failed at byte ", offset, ": ",
                              got < 0 ? errno_text() : std::string("unexpected end of file")));
    bytes += got;
    size -= static_cast<std::uint64_t>(got);
    offset += static_cast<std::uint64_t>(got);
  }
}

}  // namespace

SafetensorsFile load_safetensors(const std::string& path) {
  FileHandle handle{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (handle.fd < 0) throw Error(detail::str("load_safetensors(", path, "): cannot open: ", errno_text()));
  struct stat info {};
  if (::fstat(handle.fd, &info) != 0 || !S_ISREG(info.st_mode)) fail(path, "not a regular file");
  const std::uint64_t file_size = static_cast<std::uint64_t>(info.st_size);
  if (file_size < 8)
    fail(path, detail::str("truncated: the file has ", file_size, " bytes, fewer than the 8-byte header length"));

  std::uint64_t header_size = 0;
  read_exact(path, handle.fd, &header_size, 8, 0);
  if (header_size > file_size - 8)
    fail(path, detail::str("header length ", header_size, " goes beyond the file (", file_size, " bytes)"));
  if (header_size > kMaxHeaderBytes)
    fail(path, detail::str("header length ", header_size, " exceeds the limit of ", kMaxHeaderBytes, " bytes"));
  std::string text(header_size, '\0');
  read_exact(path, handle.fd, text.data(), header_size, 8);
  const Json header = parse_header(path, text);

  SafetensorsFile result;
  std::vector<Entry> entries;
  const std::uint64_t data_start = 8 + header_size, data_size = file_size - data_start;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      result.metadata = parse_metadata(path, value);
      continue;
    }
    entries.push_back(parse_entry(path, name, value));
    check_entry_size(path, entries.back(), data_size);
  }
  check_layout(path, entries, data_size);

  for (const Entry& entry : entries) {
    Tensor tensor = empty(entry.shape, {.dtype = entry.dtype});
    if (entry.end > entry.begin)
      read_exact(path, handle.fd, tensor.data_ptr(), entry.end - entry.begin, data_start + entry.begin);
    result.tensors.emplace_back(entry.name, std::move(tensor));
  }
  return result;
}

}  // namespace px::nn
