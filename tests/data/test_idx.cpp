// IDX (MNIST-style) loader on synthetic raw and gzip files, and on the real Fashion-MNIST.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>

#include "data/data_helpers.h"
#include "proxima/data/idx.h"
#include "proxima/data/transforms.h"

using namespace px;
using namespace px::data;
using namespace px_test;

namespace {

constexpr std::int64_t kH = 4, kW = 3;  // non-square, so a transposition shows

std::vector<std::uint8_t> idx_images(std::int64_t first, std::int64_t n, std::uint32_t magic = 0x803,
                                     std::int64_t h = kH, std::int64_t w = kW) {
  std::vector<std::uint8_t> bytes;
  for (std::int64_t v : {std::int64_t{magic}, n, h, w}) append_be32(bytes, static_cast<std::uint32_t>(v));
  for (std::int64_t i = first; i < first + n; ++i)
    for (std::int64_t y = 0; y < h; ++y)
      for (std::int64_t x = 0; x < w; ++x) bytes.push_back(pixel_code(i, 0, y, x));
  return bytes;
}

std::int64_t idx_label(std::int64_t i) { return (i * 7 + 2) % 10; }

std::vector<std::uint8_t> idx_labels(std::int64_t first, std::int64_t n, std::uint32_t magic = 0x801) {
  std::vector<std::uint8_t> bytes;
  append_be32(bytes, magic);
  append_be32(bytes, static_cast<std::uint32_t>(n));
  for (std::int64_t i = first; i < first + n; ++i) bytes.push_back(static_cast<std::uint8_t>(idx_label(i)));
  return bytes;
}

// train: samples 0..5, t10k: samples 1000..1002; gzip or raw; sep "-" (standard) or ".".
void write_idx(const fs::path& dir, bool gz, const std::string& sep = "-") {
  auto put = [&](const std::string& name, const std::vector<std::uint8_t>& bytes) {
    std::string file = name.substr(0, name.find('|')) + sep + name.substr(name.find('|') + 1);
    gz ? write_gzip(dir / (file + ".gz"), bytes) : write_file(dir / file, bytes);
  };
  put("train-images|idx3-ubyte", idx_images(0, 6));
  put("train-labels|idx1-ubyte", idx_labels(0, 6));
  put("t10k-images|idx3-ubyte", idx_images(1000, 3));
  put("t10k-labels|idx1-ubyte", idx_labels(1000, 3));
}

void check_idx(const Dataset& ds, std::int64_t first, std::int64_t n) {
  REQUIRE(ds.images.shape() == Shape{n, 1, kH, kW});
  std::int64_t wrong = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    CHECK(ds.labels.data<std::int64_t>()[i] == idx_label(first + i));
    for (std::int64_t y = 0; y < kH; ++y)
      for (std::int64_t x = 0; x < kW; ++x)
        wrong += ds.images.data<std::uint8_t>()[(i * kH + y) * kW + x] != pixel_code(first + i, 0, y, x);
  }
  CHECK(wrong == 0);
}

}  // namespace

TEST_CASE("idx: raw and gzip files, both file-name spellings, class names by flavour") {
  for (bool gz : {false, true})
    for (std::string sep : {"-", "."}) {
      CAPTURE(gz);
      CAPTURE(sep);
      TempDir tmp;
      write_idx(tmp.path(), gz, sep);
      DatasetPair pair = load_idx(tmp.str());
      check_idx(pair.train, 0, 6);
      check_idx(pair.test, 1000, 3);
      CHECK(pair.train.name == "mnist");
      CHECK(pair.train.classes == std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
      check_dataset(pair.train);
      check_dataset(pair.test);
      DatasetPair fashion = load_idx(tmp.str(), "fashion-mnist");
      CHECK(fashion.train.name == "fashion-mnist");
      CHECK(fashion.train.classes[0] == "T-shirt/top");
      CHECK(fashion.test.classes[9] == "Ankle boot");
    }
  TempDir tmp;
  fs::path fashion_dir = tmp / "my-Fashion-data";
  write_idx(fashion_dir, true);
  CHECK(load_idx(fashion_dir.string()).train.name == "fashion-mnist");  // guessed from the path
  CHECK_THROWS_AS(load_idx(fashion_dir.string(), "emnist"), ValueError);
}

TEST_CASE("idx: wrong magic, truncated data, mismatched counts, missing files, corrupt gzip") {
  TempDir tmp;
  write_idx(tmp.path(), false);
  write_file(tmp / "train-images-idx3-ubyte", idx_images(0, 6, 0x801));
  std::string msg = data_error_of([&] { load_idx(tmp.str()); });
  CHECK(contains(msg, "train-images-idx3-ubyte"));
  CHECK(contains(msg, "0x00000801"));
  CHECK(contains(msg, "0x00000803"));

  write_file(tmp / "train-images-idx3-ubyte", idx_images(0, 6));
  write_file(tmp / "t10k-labels-idx1-ubyte", idx_labels(1000, 3, 0x803));
  CHECK(contains(data_error_of([&] { load_idx(tmp.str()); }), "t10k-labels-idx1-ubyte"));

  write_file(tmp / "t10k-labels-idx1-ubyte", idx_labels(1000, 3));
  truncate_file(tmp / "train-images-idx3-ubyte", 1);
  msg = data_error_of([&] { load_idx(tmp.str()); });
  CHECK(contains(msg, "train-images-idx3-ubyte"));
  CHECK(contains(msg, std::to_string(16 + 6 * kH * kW - 1)));  // its size
  CHECK(contains(msg, std::to_string(16 + 6 * kH * kW)));      // the size expected

  write_file(tmp / "train-images-idx3-ubyte", {0, 0, 8});  // shorter than a header
  CHECK(contains(data_error_of([&] { load_idx(tmp.str()); }), "header"));

  write_file(tmp / "train-images-idx3-ubyte", idx_images(0, 6));
  write_file(tmp / "train-labels-idx1-ubyte", idx_labels(0, 5));
  msg = data_error_of([&] { load_idx(tmp.str()); });
  CHECK(contains(msg, "6 images"));
  CHECK(contains(msg, "5 labels"));

  fs::remove(tmp / "train-labels-idx1-ubyte");
  CHECK(contains(data_error_of([&] { load_idx(tmp.str()); }), "train-labels-idx1-ubyte"));

  TempDir gz;
  write_idx(gz.path(), true);
  truncate_file(gz / "t10k-images-idx3-ubyte.gz", 10);
  CHECK(contains(data_error_of([&] { load_idx(gz.str()); }), "t10k-images-idx3-ubyte.gz"));
  std::vector<std::uint8_t> garbage = read_file(gz / "train-images-idx3-ubyte.gz");
  for (std::size_t k = 12; k < garbage.size(); k += 3) garbage[k] ^= 0x5A;  // keep the gzip magic
  write_file(gz / "train-images-idx3-ubyte.gz", garbage);
  CHECK(contains(data_error_of([&] { load_idx(gz.str()); }), "train-images-idx3-ubyte.gz"));

  TempDir labels;
  write_idx(labels.path(), false);
  std::vector<std::uint8_t> big = idx_labels(0, 6);
  big.back() = 200;
  write_file(labels / "train-labels-idx1-ubyte", big);
  CHECK(contains(data_error_of([&] { load_idx(labels.str(), "mnist"); }), "200"));
  CHECK(load_idx(labels.str(), "idx").train.classes.size() == 201);  // generic IDX: numbered classes
}

TEST_CASE("idx: test images of another size than the training images, named with both files") {
  TempDir tmp;
  write_idx(tmp.path(), false);
  write_file(tmp / "t10k-images-idx3-ubyte", idx_images(1000, 3, 0x803, 2, 2));
  std::string msg = data_error_of([&] { load_idx(tmp.str()); });
  CHECK(contains(msg, "t10k-images-idx3-ubyte"));
  CHECK(contains(msg, "train-images-idx3-ubyte"));
  CHECK(contains(msg, "2x2"));
  CHECK(contains(msg, std::to_string(kW) + "x" + std::to_string(kH)));
}

TEST_CASE("idx: a header whose dims overflow int64 is corrupt, not a wrapped size") {
  TempDir tmp;
  write_idx(tmp.path(), false);
  // 1009 * 92205649 * 198276401 = 2^64 + 625: wrapped, it matched this 641-byte file.
  std::vector<std::uint8_t> bytes;
  for (std::uint32_t v : {0x803u, 1009u, 92205649u, 198276401u}) append_be32(bytes, v);
  bytes.resize(641, 7);
  write_file(tmp / "train-images-idx3-ubyte", bytes);
  std::string msg = data_error_of([&] { load_idx(tmp.str()); });
  CHECK(contains(msg, "corrupt IDX header in " + (tmp / "train-images-idx3-ubyte").string()));
  CHECK(contains(msg, "1009 x 92205649 x 198276401"));

  bytes.resize(16);  // the largest dims: 2^96 bytes
  for (std::size_t k = 4; k < 16; ++k) bytes[k] = 0xFF;
  write_file(tmp / "train-images-idx3-ubyte", bytes);
  CHECK(contains(data_error_of([&] { load_idx(tmp.str()); }), "corrupt IDX header"));

  bytes.clear();  // large dims that do not overflow: the size check names the size they need
  for (std::uint32_t v : {0x803u, 6u, 65536u, 65536u}) append_be32(bytes, v);
  bytes.resize(100, 7);
  write_file(tmp / "train-images-idx3-ubyte", bytes);
  msg = data_error_of([&] { load_idx(tmp.str()); });
  CHECK(contains(msg, "has 100 bytes"));
  CHECK(contains(msg, std::to_string(16 + 6 * 65536LL * 65536)));
}

TEST_CASE("idx: the real Fashion-MNIST (skipped when dataset-fashion-mnist is not installed)") {
  const std::string path = real_data_path("PX_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist");
  PX_SKIP_UNLESS_EXISTS(path + "/train-images-idx3-ubyte.gz");
  auto start = std::chrono::steady_clock::now();
  DatasetPair pair = load_dataset(path);  // auto-detection finds the IDX files
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MESSAGE("loaded Fashion-MNIST (gzip IDX, 70000 images) in " << seconds << " s");
  CHECK(pair.train.name == "fashion-mnist");
  CHECK(pair.train.images.shape() == Shape{60000, 1, 28, 28});
  CHECK(pair.test.images.shape() == Shape{10000, 1, 28, 28});
  check_dataset(pair.train);
  check_dataset(pair.test);
  // Fashion-MNIST is balanced: 6000 train and 1000 test images per class.
  for (auto [ds, per_class] : {std::pair{&pair.train, 6000}, std::pair{&pair.test, 1000}}) {
    std::vector<std::int64_t> counts(10, 0);
    for (std::int64_t i = 0; i < ds->size(); ++i) ++counts[ds->labels.data<std::int64_t>()[i]];
    CHECK(counts == std::vector<std::int64_t>(10, per_class));
  }
  CHECK(pair.train.labels.data<std::int64_t>()[0] == 9);  // the first training image is an ankle boot
  // The published training-set statistics: mean 0.2860, std 0.3530 (pixels / 255).
  Normalization stats = channel_stats(pair.train);
  CHECK(stats.mean[0] == doctest::Approx(0.2860).epsilon(0.001));
  CHECK(stats.std[0] == doctest::Approx(0.3530).epsilon(0.001));
}
