// File helpers for the loaders: whole-file reads (raw or gzip), text lines, path checks.
#include "proxima/data/detail/file_io.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <fstream>

#include "proxima/data/dataset.h"

namespace px::data::detail {

std::vector<std::uint8_t> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  PX_CHECK(in.good(), DataError, "cannot open file ", path.string());
  auto size = static_cast<std::streamsize>(in.tellg());
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(bytes.data()), size);
  PX_CHECK(in.gcount() == size, DataError, "cannot read file ", path.string(), ": got ",
           in.gcount(), " of its ", size, " bytes");
  return bytes;
}

std::vector<std::uint8_t> read_gzip_or_raw(const fs::path& path) {
  PX_CHECK(is_file(path), DataError, "cannot open file ", path.string(), ": no such file");
  gzFile file = gzopen(path.string().c_str(), "rb");
  PX_CHECK(file != nullptr, DataError, "cannot open file ", path.string());
  gzbuffer(file, 1 << 20);
  std::vector<std::uint8_t> bytes;
  std::size_t used = 0;
  for (;;) {
    if (bytes.size() - used < (1 << 20)) bytes.resize(std::max<std::size_t>(bytes.size() * 2, 4 << 20));
    int got = gzread(file, bytes.data() + used, static_cast<unsigned>(bytes.size() - used));
    if (got <= 0) {
      int code = 0;
      const char* message = gzerror(file, &code);
      std::string reason = got < 0 || code != Z_OK ? std::string(message) : std::string();
      gzclose(file);
      PX_CHECK(reason.empty(), DataError, "cannot decompress ", path.string(), ": ", reason,
               " (corrupt or truncated gzip file)");
      break;
    }
    used += static_cast<std::size_t>(got);
  }
  bytes.resize(used);
  return bytes;
}

std::vector<std::string> read_lines(const fs::path& path) {
  std::ifstream in(path);
  PX_CHECK(in.good(), DataError, "cannot open file ", path.string());
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::uint32_t read_be32(const std::vector<std::uint8_t>& bytes, std::size_t at) {
  return (std::uint32_t{bytes[at]} << 24) | (std::uint32_t{bytes[at + 1]} << 16) |
         (std::uint32_t{bytes[at + 2]} << 8) | std::uint32_t{bytes[at + 3]};
}

std::string lowercase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool is_file(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

bool is_dir(const fs::path& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

}  // namespace px::data::detail
