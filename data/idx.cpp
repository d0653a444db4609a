// MNIST-style IDX files (MNIST, Fashion-MNIST), gzip-compressed or raw.
#include "proxima/data/idx.h"

#include <algorithm>
#include <cstring>

#include "proxima/core/factory.h"
#include "proxima/data/detail/file_io.h"

namespace px::data {

namespace {

namespace fs = std::filesystem;

constexpr std::uint32_t kImagesMagic = 0x00000803;  // unsigned bytes, 3 dimensions
constexpr std::uint32_t kLabelsMagic = 0x00000801;  // unsigned bytes, 1 dimension

std::string hex(std::uint32_t v) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08X", v);
  return text;
}

// Checks the header of an IDX file with `ndim` dimensions and returns its dimensions.
std::vector<std::int64_t> idx_header(const std::vector<std::uint8_t>& bytes, const std::string& file,
                                     std::uint32_t magic, int ndim) {
  std::size_t header = 4 + 4 * static_cast<std::size_t>(ndim);
  PX_CHECK(bytes.size() >= header, DataError, "IDX file ", file, " has ", bytes.size(),
           " bytes, expected at least a ", header, "-byte header");
  std::uint32_t got = detail::read_be32(bytes, 0);
  PX_CHECK(got == magic, DataError, "IDX file ", file, " has magic number ", hex(got), ", expected ",
           hex(magic), magic == kImagesMagic ? " (unsigned-byte images, 3 dims)" : " (unsigned-byte labels, 1 dim)");
  // The dims come from the file and may be anything, so their product is checked against a
  // bound no file reaches before each multiplication: a corrupt header cannot overflow it.
  constexpr std::int64_t kMaxPayload = std::int64_t{1} << 62;
  std::vector<std::int64_t> dims;
  std::string shape;
  for (int d = 0; d < ndim; ++d) {
    dims.push_back(detail::read_be32(bytes, 4 + 4 * d));
    shape += (d ? " x " : "") + std::to_string(dims.back());
  }
  std::int64_t payload = 1;
  for (std::int64_t dim : dims) {
    PX_CHECK(dim == 0 || payload <= kMaxPayload / dim, DataError, "corrupt IDX header in ", file, ": dims ",
             shape, " describe more than 2^62 bytes of data (the file has ", bytes.size(), " bytes)");
    payload *= dim;
  }
  auto expected = static_cast<std::int64_t>(header) + payload;
  PX_CHECK(static_cast<std::int64_t>(bytes.size()) == expected, DataError, "IDX file ", file,
           " has ", bytes.size(), " bytes (uncompressed), expected ", expected, " for its header's dims");
  PX_CHECK(payload > 0, DataError, "IDX file ", file, " holds no data (a dimension is 0)");
  return dims;
}

Dataset read_split(const std::string& path, const std::string& split) {
  std::string image_file = find_idx_file(path, split, "images");
  std::string label_file = find_idx_file(path, split, "labels");
  for (auto [file, part] : {std::pair{&image_file, "images-idx3"}, std::pair{&label_file, "labels-idx1"}})
    PX_CHECK(!file->empty(), DataError, "missing IDX file ", (fs::path(path) / (split + "-" + part + "-ubyte")).string(),
             " (also looked for .gz and '.' before idx)");
  std::vector<std::uint8_t> image_bytes = detail::read_gzip_or_raw(image_file);
  std::vector<std::uint8_t> label_bytes = detail::read_gzip_or_raw(label_file);
  std::vector<std::int64_t> dims = idx_header(image_bytes, image_file, kImagesMagic, 3);
  std::vector<std::int64_t> count = idx_header(label_bytes, label_file, kLabelsMagic, 1);
  PX_CHECK(count[0] == dims[0], DataError, "IDX files disagree: ", image_file, " has ", dims[0],
           " images but ", label_file, " has ", count[0], " labels");
  Dataset ds;
  ds.images = empty({dims[0], 1, dims[1], dims[2]}, {.dtype = DType::uint8});
  std::memcpy(ds.images.data<std::uint8_t>(), image_bytes.data() + 16, image_bytes.size() - 16);
  ds.labels = empty({dims[0]}, {.dtype = DType::int64});
  std::copy(label_bytes.begin() + 8, label_bytes.end(), ds.labels.data<std::int64_t>());
  ds.source = path;
  return ds;
}

std::vector<std::string> idx_class_names(const std::string& path, std::string flavour,
                                         std::int64_t max_label) {
  if (flavour == "auto" || flavour == "idx") {
    if (detail::lowercase(path).find("fashion") != std::string::npos) flavour = "fashion-mnist";
    else if (max_label < 10) flavour = "mnist";
  }
  if (flavour == "fashion-mnist")
    return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
  std::vector<std::string> names;
  for (std::int64_t i = 0; i <= (flavour == "mnist" ? 9 : max_label); ++i) names.push_back(std::to_string(i));
  return names;
}

}  // namespace

std::string find_idx_file(const std::string& path, const std::string& split, const std::string& part) {
  std::string idx = part == "images" ? "idx3-ubyte" : "idx1-ubyte";
  for (const char* sep : {"-", "."})
    for (const char* ext : {"", ".gz"}) {
      fs::path file = fs::path(path) / (split + "-" + part + sep + idx + ext);
      if (detail::is_file(file)) return file.string();
    }
  return {};
}

DatasetPair load_idx(const std::string& path, const std::string& flavour) {
  PX_CHECK(flavour == "auto" || flavour == "idx" || flavour == "mnist" || flavour == "fashion-mnist",
           ValueError, "load_idx: flavour '", flavour, "', expected auto, idx, mnist or fashion-mnist");
  DatasetPair pair{read_split(path, "train"), read_split(path, "t10k")};
  // A model is built for the training images' size, so test images of another size must not load.
  std::int64_t h = pair.train.height(), w = pair.train.width();
  PX_CHECK(pair.test.height() == h && pair.test.width() == w, DataError, "IDX images in ",
           find_idx_file(path, "t10k", "images"), " are ", pair.test.width(), "x", pair.test.height(),
           ", expected ", w, "x", h, " like ", find_idx_file(path, "train", "images"));
  std::int64_t max_label = 0;
  for (Dataset* ds : {&pair.train, &pair.test}) {
    const auto* labels = ds->labels.data<std::int64_t>();
    max_label = std::max(max_label, *std::max_element(labels, labels + ds->size()));
  }
  std::vector<std::string> names = idx_class_names(path, flavour, max_label);
  PX_CHECK(max_label < static_cast<std::int64_t>(names.size()), DataError, "IDX labels in ", path,
           " go up to ", max_label, ", expected labels in [0, ", names.size(), ") for ", flavour);
  bool fashion = names.size() == 10 && names[0] == "T-shirt/top";
  for (Dataset* ds : {&pair.train, &pair.test}) {
    ds->classes = names;
    ds->name = fashion ? "fashion-mnist" : names.size() == 10 ? "mnist" : "idx";
  }
  return pair;
}

}  // namespace px::data
