// Image-folder datasets: root/train/<class>/*.png|jpg|jpeg|bmp and root/test/<class>/...
#include "proxima/data/image_folder.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <set>

#include "proxima/core/factory.h"
#include "proxima/data/detail/file_io.h"

// stb_image, compiled here only, with internal linkage so that nothing leaks to users who
// link their own copy; its warnings are not ours.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_NO_STDIO
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#include <stb_image.h>
#pragma GCC diagnostic pop

namespace px::data {

namespace {

namespace fs = std::filesystem;

struct ImageFile {
  fs::path path;
  std::int64_t label;
};

// What pass 1 learns about a file: its bytes and header, or why it cannot be read.
struct ImageInfo {
  std::vector<std::uint8_t> bytes;
  int width = 0, height = 0, channels = 0;
  std::string error;
};

// Why stb failed. A PNG cut inside a chunk's type gets that type cut at its first 0 byte as the
// reason ("", "I", "IDA" ...), which says nothing; stb's own reasons are all 5 characters or more.
std::string failure_reason() {
  const char* reason = stbi_failure_reason();
  return reason && std::strlen(reason) >= 4 ? reason : "truncated or corrupt image data";
}

bool hidden(const fs::path& p) { return p.filename().string().starts_with("."); }

bool is_image_name(const fs::path& p) {
  std::string ext = detail::lowercase(p.extension().string());
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

std::vector<std::string> class_folders(const fs::path& split) {
  PX_CHECK(detail::is_dir(split), DataError, "missing folder ", split.string(),
           " (an image folder dataset needs train/<class>/ and test/<class>/)");
  std::vector<std::string> classes;
  for (const auto& entry : fs::directory_iterator(split))
    if (entry.is_directory() && !hidden(entry.path())) classes.push_back(entry.path().filename().string());
  std::sort(classes.begin(), classes.end());
  PX_CHECK(!classes.empty(), DataError, "folder ", split.string(), " has no class sub-folders");
  return classes;
}

std::vector<ImageFile> list_images(const fs::path& split, const std::vector<std::string>& classes) {
  std::vector<ImageFile> files;
  for (std::size_t c = 0; c < classes.size(); ++c) {
    std::vector<fs::path> paths;
    for (const auto& entry : fs::directory_iterator(split / classes[c]))
      if (entry.is_regular_file() && !hidden(entry.path()) && is_image_name(entry.path()))
        paths.push_back(entry.path());
    PX_CHECK(!paths.empty(), DataError, "class folder ", (split / classes[c]).string(),
             " has no .png, .jpg, .jpeg or .bmp files");
    std::sort(paths.begin(), paths.end());
    for (auto& p : paths) files.push_back({std::move(p), static_cast<std::int64_t>(c)});
  }
  return files;
}

// Pass 1: every file's bytes and header (parallel); decoding errors named by path.
std::vector<ImageInfo> read_infos(const std::vector<ImageFile>& files) {
  std::vector<ImageInfo> infos(files.size());
#pragma omp parallel for schedule(dynamic, 64)
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(files.size()); ++i) {
    ImageInfo& info = infos[i];
    try {
      info.bytes = detail::read_bytes(files[i].path);
    } catch (const std::exception& e) {
      info.error = e.what();
      continue;
    }
    if (!stbi_info_from_memory(info.bytes.data(), static_cast<int>(info.bytes.size()), &info.width,
                               &info.height, &info.channels))
      info.error = "cannot decode image " + files[i].path.string() + ": " + failure_reason();
  }
  return infos;
}

// Throws the first error of `errors` (in file order), with the count of the others.
void throw_first(const std::vector<std::string>& errors) {
  auto first = std::find_if(errors.begin(), errors.end(), [](const std::string& e) { return !e.empty(); });
  if (first == errors.end()) return;
  auto others = std::count_if(first + 1, errors.end(), [](const std::string& e) { return !e.empty(); });
  throw DataError(others == 0 ? *first : *first + " (and " + std::to_string(others) + " more bad files)");
}

// Pass 2: decodes every file into images[i] as [C, H, W] (parallel).
// Image i goes to train_images (i < n_train) or test_images (the rest).
void decode_all(const std::vector<ImageFile>& files, std::vector<ImageInfo>& infos, std::int64_t n_train,
                std::uint8_t* train_images, std::uint8_t* test_images, std::int64_t channels,
                std::int64_t height, std::int64_t width) {
  std::vector<std::string> errors(files.size());
  std::int64_t plane = height * width;
#pragma omp parallel for schedule(dynamic, 64)
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(files.size()); ++i) {
    int w = 0, h = 0, c = 0;
    std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
        stbi_load_from_memory(infos[i].bytes.data(), static_cast<int>(infos[i].bytes.size()), &w, &h,
                              &c, static_cast<int>(channels)),
        stbi_image_free);
    std::vector<std::uint8_t>().swap(infos[i].bytes);
    if (!pixels || w != width || h != height) {
      errors[i] = "cannot decode image " + files[i].path.string() + ": " +
                  (pixels ? "size changed between passes" : failure_reason());
      continue;
    }
    std::uint8_t* out = i < n_train ? train_images + i * channels * plane
                                    : test_images + (i - n_train) * channels * plane;
    for (std::int64_t p = 0; p < plane; ++p)  // interleaved HWC -> planar CHW
      for (std::int64_t k = 0; k < channels; ++k) out[k * plane + p] = pixels.get()[p * channels + k];
  }
  throw_first(errors);
}

// Decodes train and test together so that both agree on size and channel count.
DatasetPair decode_splits(const std::vector<ImageFile>& train, const std::vector<ImageFile>& test) {
  std::vector<ImageFile> files = train;
  files.insert(files.end(), test.begin(), test.end());
  std::vector<ImageInfo> infos = read_infos(files);
  std::vector<std::string> errors(files.size());
  for (std::size_t i = 0; i < files.size(); ++i) errors[i] = infos[i].error;
  throw_first(errors);
  const ImageInfo& ref = infos[0];
  bool colour = false;
  for (std::size_t i = 0; i < files.size(); ++i) {
    PX_CHECK(infos[i].width == ref.width && infos[i].height == ref.height, DataError, "image ",
             files[i].path.string(), " is ", infos[i].width, "x", infos[i].height, ", expected ", ref.width,
             "x", ref.height, " like ", files[0].path.string());
    colour = colour || infos[i].channels >= 3;
  }
  std::int64_t channels = colour ? 3 : 1, height = ref.height, width = ref.width;
  auto n_train = static_cast<std::int64_t>(train.size()), n_test = static_cast<std::int64_t>(test.size());
  DatasetPair pair;
  pair.train.images = empty({n_train, channels, height, width}, {.dtype = DType::uint8});
  pair.test.images = empty({n_test, channels, height, width}, {.dtype = DType::uint8});
  decode_all(files, infos, n_train, pair.train.images.data<std::uint8_t>(),
             pair.test.images.data<std::uint8_t>(), channels, height, width);
  for (auto [ds, list] : {std::pair{&pair.train, &train}, std::pair{&pair.test, &test}}) {
    ds->labels = empty({static_cast<std::int64_t>(list->size())}, {.dtype = DType::int64});
    auto* labels = ds->labels.data<std::int64_t>();
    for (std::size_t i = 0; i < list->size(); ++i) labels[i] = (*list)[i].label;
  }
  return pair;
}

DatasetPair load_folders(const std::string& root) {
  fs::path dir(root);
  std::vector<std::string> classes = class_folders(dir / "train");
  std::vector<std::string> test_classes = class_folders(dir / "test");
  if (classes != test_classes) {
    std::set<std::string> a(classes.begin(), classes.end()), b(test_classes.begin(), test_classes.end());
    std::string only_train, only_test;
    for (const auto& c : a) if (!b.count(c)) only_train += " " + c;
    for (const auto& c : b) if (!a.count(c)) only_test += " " + c;
    throw DataError("image folder " + root + ": train and test have different classes; only in train:" +
                    (only_train.empty() ? " (none)" : only_train) + "; only in test:" +
                    (only_test.empty() ? " (none)" : only_test));
  }
  std::vector<ImageFile> train = list_images(dir / "train", classes);
  std::vector<ImageFile> test = list_images(dir / "test", classes);
  DatasetPair pair = decode_splits(train, test);
  std::string name = fs::absolute(dir).lexically_normal().filename().string();
  if (name.empty()) name = fs::absolute(dir).lexically_normal().parent_path().filename().string();
  for (auto [ds, split] : {std::pair{&pair.train, "train"}, std::pair{&pair.test, "test"}}) {
    ds->classes = classes;
    ds->name = name;
    ds->source = (dir / split).string();
  }
  return pair;
}

}  // namespace

DatasetPair load_image_folder(const std::string& root) {
  try {
    return load_folders(root);
  } catch (const fs::filesystem_error& e) {  // unreadable folder, vanished file ...
    throw DataError("image folder " + root + ": " + e.what());
  }
}

bool is_image_folder(const std::string& root) {
  return detail::is_dir(fs::path(root) / "train") && detail::is_dir(fs::path(root) / "test");
}

}  // namespace px::data
