// CIFAR-10 and CIFAR-100 in their binary distributions (the "binary version" archives).
#include "proxima/data/cifar.h"

#include <cstring>

#include "proxima/core/factory.h"
#include "proxima/data/detail/file_io.h"

namespace px::data {

namespace {

namespace fs = std::filesystem;
using detail::is_file;

constexpr std::int64_t kPixels = 3 * 32 * 32;

// How to read one flavour of record.
struct RecordFormat {
  std::int64_t label_bytes;  // bytes before the pixels
  std::int64_t label_index;  // which of them is the label used
  std::int64_t num_classes;  // labels must be below this
};

std::int64_t record_count(const fs::path& file, const RecordFormat& format) {
  PX_CHECK(is_file(file), DataError, "missing file ", file.string());
  auto size = static_cast<std::int64_t>(fs::file_size(file));
  std::int64_t record = format.label_bytes + kPixels;
  PX_CHECK(size > 0 && size % record == 0, DataError, "file ", file.string(), " has ", size,
           " bytes, expected a positive multiple of ", record, " (records of ", format.label_bytes,
           " label byte(s) + ", kPixels, " pixel bytes; ", 10000 * record, " for 10000 records)");
  return size / record;
}

// Reads the records of `files` (in order) into one dataset.
Dataset read_records(const std::vector<fs::path>& files, const RecordFormat& format) {
  std::vector<std::int64_t> counts;
  std::int64_t total = 0;
  for (const auto& file : files) total += counts.emplace_back(record_count(file, format));
  Dataset ds;
  ds.images = empty({total, 3, 32, 32}, {.dtype = DType::uint8});
  ds.labels = empty({total}, {.dtype = DType::int64});
  auto* images = ds.images.data<std::uint8_t>();
  auto* labels = ds.labels.data<std::int64_t>();
  std::int64_t at = 0;
  for (std::size_t f = 0; f < files.size(); ++f) {
    std::vector<std::uint8_t> bytes = detail::read_bytes(files[f]);
    std::int64_t record = format.label_bytes + kPixels;
    PX_CHECK(static_cast<std::int64_t>(bytes.size()) == counts[f] * record, DataError, "file ",
             files[f].string(), " changed size while being read");
    for (std::int64_t r = 0; r < counts[f]; ++r, ++at) {
      const std::uint8_t* rec = bytes.data() + r * record;
      std::int64_t label = rec[format.label_index];
      PX_CHECK(label < format.num_classes, DataError, "file ", files[f].string(), " record ", r,
               " has label ", label, ", expected a label in [0, ", format.num_classes, ")");
      labels[at] = label;
      std::memcpy(images + at * kPixels, rec + format.label_bytes, kPixels);
    }
  }
  ds.source = files.size() == 1 ? files[0].string() : files[0].parent_path().string();
  return ds;
}

// Class names from a names file when present (exactly `count` names expected), else `fallback`.
std::vector<std::string> class_names(const fs::path& file, std::int64_t count,
                                     std::vector<std::string> fallback) {
  if (!is_file(file)) return fallback;
  std::vector<std::string> names = detail::read_lines(file);
  PX_CHECK(static_cast<std::int64_t>(names.size()) == count, DataError, "file ", file.string(),
           " lists ", names.size(), " class names, expected ", count);
  return names;
}

std::vector<std::string> numbered_names(std::int64_t count) {
  std::vector<std::string> names;
  for (std::int64_t i = 0; i < count; ++i) names.push_back(std::to_string(i));
  return names;
}

std::string find_folder(const std::string& path, const char* child, const char* marker) {
  fs::path root(path);
  if (is_file(root / marker)) return root.string();
  if (is_file(root / child / marker)) return (root / child).string();
  return {};
}

}  // namespace

std::string find_cifar10_folder(const std::string& path) {
  return find_folder(path, "cifar-10-batches-bin", "data_batch_1.bin");
}

std::string find_cifar100_folder(const std::string& path) {
  return find_folder(path, "cifar-100-binary", "train.bin");
}

DatasetPair load_cifar10(const std::string& path) {
  std::string folder = find_cifar10_folder(path);
  PX_CHECK(!folder.empty(), DataError, "no CIFAR-10 binary data in ", path,
           ": looked for data_batch_1.bin in it and in ", (fs::path(path) / "cifar-10-batches-bin").string());
  fs::path dir(folder);
  RecordFormat format{1, 0, 10};
  std::vector<fs::path> train_files;
  for (int i = 1; i <= 5; ++i) train_files.push_back(dir / ("data_batch_" + std::to_string(i) + ".bin"));
  DatasetPair pair{read_records(train_files, format), read_records({dir / "test_batch.bin"}, format)};
  std::vector<std::string> names = class_names(
      dir / "batches.meta.txt", 10,
      {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"});
  for (Dataset* ds : {&pair.train, &pair.test}) {
    ds->classes = names;
    ds->name = "cifar10";
  }
  return pair;
}

DatasetPair load_cifar100(const std::string& path, bool coarse) {
  std::string folder = find_cifar100_folder(path);
  PX_CHECK(!folder.empty(), DataError, "no CIFAR-100 binary data in ", path,
           ": looked for train.bin in it and in ", (fs::path(path) / "cifar-100-binary").string());
  fs::path dir(folder);
  RecordFormat format{2, coarse ? 0 : 1, coarse ? 20 : 100};
  DatasetPair pair{read_records({dir / "train.bin"}, format), read_records({dir / "test.bin"}, format)};
  std::vector<std::string> names =
      class_names(dir / (coarse ? "coarse_label_names.txt" : "fine_label_names.txt"),
                  format.num_classes, numbered_names(format.num_classes));
  for (Dataset* ds : {&pair.train, &pair.test}) {
    ds->classes = names;
    ds->name = coarse ? "cifar100-coarse" : "cifar100";
  }
  return pair;
}

}  // namespace px::data
