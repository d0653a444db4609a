// Image-folder loader on tiny PNG/BMP/JPEG files written here, and on the real CIFAR-10 JPEGs.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>

#include "data/data_helpers.h"
#include "proxima/data/image_folder.h"
#include "proxima/data/transforms.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

using namespace px;
using namespace px::data;
using namespace px_test;

namespace {

constexpr int kW = 4, kH = 5;  // non-square, so a transposition shows

// Interleaved pixels of sample `id` with `comp` channels: channel k of pixel (y, x) = pixel_code.
std::vector<std::uint8_t> coded_pixels(std::int64_t id, int comp, int w = kW, int h = kH) {
  std::vector<std::uint8_t> px;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < comp; ++k) px.push_back(pixel_code(id, k, y, x));
  return px;
}

void write_png(const fs::path& path, std::int64_t id, int comp = 3, int w = kW, int h = kH) {
  fs::create_directories(path.parent_path());
  std::vector<std::uint8_t> px = coded_pixels(id, comp, w, h);
  REQUIRE(stbi_write_png(path.string().c_str(), w, h, comp, px.data(), w * comp) != 0);
}

void write_bmp(const fs::path& path, std::int64_t id) {
  fs::create_directories(path.parent_path());
  std::vector<std::uint8_t> px = coded_pixels(id, 3);
  REQUIRE(stbi_write_bmp(path.string().c_str(), kW, kH, 3, px.data()) != 0);
}

// A flat image of one colour (JPEG keeps flat images almost exactly).
void write_flat_jpg(const fs::path& path, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
  fs::create_directories(path.parent_path());
  std::vector<std::uint8_t> px;
  for (int k = 0; k < kW * kH; ++k) px.insert(px.end(), {r, g, b});
  REQUIRE(stbi_write_jpg(path.string().c_str(), kW, kH, 3, px.data(), 100) != 0);
}

// Sample i of ds holds coded pixels of `id` in every channel of `channels_from` (the pixel_code
// channel used for output channel c: c itself, or 0 for a gray image expanded to RGB).
void check_coded(const Dataset& ds, std::int64_t i, std::int64_t id, bool gray_source = false) {
  std::int64_t c_count = ds.channels(), wrong = 0;
  const auto* img = ds.images.data<std::uint8_t>() + i * c_count * kH * kW;
  for (std::int64_t c = 0; c < c_count; ++c)
    for (int y = 0; y < kH; ++y)
      for (int x = 0; x < kW; ++x)
        wrong += img[(c * kH + y) * kW + x] != pixel_code(id, gray_source ? 0 : c, y, x);
  CHECK_MESSAGE(wrong == 0, "sample ", i, " should hold coded image ", id);
}

// train: ant/{a_0,a_1}.png, cat/{x.bmp,y.PNG}, dog/z.png (+ ignored files); test: one per class.
void write_tree(const fs::path& root) {
  write_png(root / "train/ant/a_1.png", 11);
  write_png(root / "train/ant/a_0.png", 10);
  write_bmp(root / "train/cat/x.bmp", 20);
  write_png(root / "train/cat/y.PNG", 21);
  write_png(root / "train/dog/z.png", 30);
  write_text(root / "train/dog/notes.txt", "not an image");
  write_png(root / "train/dog/.hidden.png", 99);
  write_png(root / "train/.cache/w.png", 98);  // hidden folder: not a class
  write_png(root / "test/ant/t.png", 40);
  write_png(root / "test/cat/t.png", 41);
  write_png(root / "test/dog/t.png", 42);
}

}  // namespace

TEST_CASE("image folder: sorted classes and files, pixels in place, labels by class") {
  TempDir tmp;
  write_tree(tmp.path());
  DatasetPair pair = load_image_folder(tmp.str());
  CHECK(pair.train.classes == std::vector<std::string>{"ant", "cat", "dog"});
  CHECK(pair.test.classes == pair.train.classes);
  REQUIRE(pair.train.images.shape() == Shape{5, 3, kH, kW});
  REQUIRE(pair.test.images.shape() == Shape{3, 3, kH, kW});
  CHECK(pair.train.labels.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 0, 1, 1, 2});
  CHECK(pair.test.labels.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 2});
  std::int64_t train_ids[] = {10, 11, 20, 21, 30}, test_ids[] = {40, 41, 42};
  for (int i = 0; i < 5; ++i) check_coded(pair.train, i, train_ids[i]);
  for (int i = 0; i < 3; ++i) check_coded(pair.test, i, test_ids[i]);
  CHECK(pair.train.name == tmp.path().filename().string());
  check_dataset(pair.train);
  check_dataset(pair.test);
}

TEST_CASE("image folder: grayscale expanded in an RGB set, alpha dropped, gray sets stay 1 channel") {
  TempDir tmp;
  write_tree(tmp.path());
  write_png(tmp / "train/cat/y.PNG", 21, 1);  // gray
  write_png(tmp / "test/dog/t.png", 42, 4);   // RGBA
  DatasetPair pair = load_image_folder(tmp.str());
  REQUIRE(pair.train.channels() == 3);
  check_coded(pair.train, 3, 21, true);
  check_coded(pair.test, 2, 42);
  check_coded(pair.train, 0, 10);

  TempDir gray;
  write_png(gray / "train/a/0.png", 1, 1);
  write_png(gray / "train/b/0.png", 2, 2);  // gray + alpha
  write_png(gray / "test/a/0.png", 3, 1);
  write_png(gray / "test/b/0.png", 4, 1);
  DatasetPair g = load_image_folder(gray.str());
  REQUIRE(g.train.images.shape() == Shape{2, 1, kH, kW});
  check_coded(g.train, 0, 1);
  check_coded(g.train, 1, 2);
  check_coded(g.test, 1, 4);
}

TEST_CASE("image folder: JPEG files decode close to their flat colour") {
  TempDir tmp;
  write_flat_jpg(tmp / "train/a/0.jpg", 200, 30, 90);
  write_flat_jpg(tmp / "train/b/0.JPEG", 10, 250, 128);
  write_flat_jpg(tmp / "test/a/0.jpeg", 60, 60, 60);
  write_flat_jpg(tmp / "test/b/1.jpg", 255, 0, 0);
  DatasetPair pair = load_image_folder(tmp.str());
  REQUIRE(pair.train.images.shape() == Shape{2, 3, kH, kW});
  int expect[2][3] = {{200, 30, 90}, {10, 250, 128}};
  for (int i = 0; i < 2; ++i)
    for (int c = 0; c < 3; ++c)
      for (int p = 0; p < kH * kW; ++p)
        CHECK(std::abs(pair.train.images.data<std::uint8_t>()[(i * 3 + c) * kH * kW + p] - expect[i][c]) <= 3);
}

TEST_CASE("image folder: corrupt, truncated and wrong-sized files, missing or mismatched folders") {
  TempDir tmp;
  write_tree(tmp.path());
  write_file(tmp / "train/cat/y.PNG", {0x89, 'P', 'N', 'G', 1, 2, 3, 4, 5, 6, 7});
  std::string msg = data_error_of([&] { load_image_folder(tmp.str()); });
  CHECK(contains(msg, (tmp / "train/cat/y.PNG").string()));

  write_tree(tmp.path());
  write_png(tmp / "test/dog/big.png", 50, 3, 64, 48);  // a large image, then cut in half
  truncate_file(tmp / "test/dog/big.png", read_file(tmp / "test/dog/big.png").size() / 2);
  msg = data_error_of([&] { load_image_folder(tmp.str()); });
  CHECK(contains(msg, (tmp / "test/dog/big.png").string()));
  fs::remove(tmp / "test/dog/big.png");
  // Cut right after the IHDR chunk (33 bytes) or inside the next chunk's type: stb's reason is
  // "" or "I", so the message says what is wrong instead.
  for (std::size_t size : {33u, 38u}) {
    CAPTURE(size);
    write_png(tmp / "test/dog/cut.png", 50);
    truncate_file(tmp / "test/dog/cut.png", read_file(tmp / "test/dog/cut.png").size() - size);
    msg = data_error_of([&] { load_image_folder(tmp.str()); });
    CHECK(msg == "cannot decode image " + (tmp / "test/dog/cut.png").string() +
                     ": truncated or corrupt image data");
  }
  fs::remove(tmp / "test/dog/cut.png");

  write_png(tmp / "train/dog/z.png", 30, 3, 3, 3);
  msg = data_error_of([&] { load_image_folder(tmp.str()); });
  CHECK(contains(msg, (tmp / "train/dog/z.png").string()));
  CHECK(contains(msg, "3x3"));
  CHECK(contains(msg, "4x5"));
  write_png(tmp / "train/dog/z.png", 30);

  CHECK(load_image_folder(tmp.str()).train.size() == 5);  // the tree is whole again
  fs::create_directories(tmp / "test/eel");
  write_png(tmp / "test/eel/e.png", 1);
  msg = data_error_of([&] { load_image_folder(tmp.str()); });
  CHECK(contains(msg, "only in test: eel"));
  fs::remove_all(tmp / "test/eel");

  fs::remove(tmp / "test/ant/t.png");
  CHECK(contains(data_error_of([&] { load_image_folder(tmp.str()); }), (tmp / "test/ant").string()));

  fs::remove_all(tmp / "test");
  msg = data_error_of([&] { load_image_folder(tmp.str()); });
  CHECK(contains(msg, "missing folder"));
  CHECK(contains(msg, (tmp / "test").string()));
}

TEST_CASE("image folder: the real CIFAR-10 JPEGs (skipped when datasets/cifar10-jpg is absent)") {
  const std::string path = real_data_path("PX_CIFAR10_JPG_DIR", PX_TEST_DATA_DIR "/../datasets/cifar10-jpg");
  PX_SKIP_UNLESS_EXISTS(path + "/train");
  auto start = std::chrono::steady_clock::now();
  DatasetPair pair = load_image_folder(path);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MESSAGE("loaded the CIFAR-10 JPEG folder (60000 files) in " << seconds << " s");
  CHECK(seconds < 60);
  CHECK(pair.train.images.shape() == Shape{50000, 3, 32, 32});
  CHECK(pair.test.images.shape() == Shape{10000, 3, 32, 32});
  CHECK(pair.train.classes == std::vector<std::string>{"airplane", "automobile", "bird", "cat", "deer",
                                                       "dog", "frog", "horse", "ship", "truck"});
  check_dataset(pair.train);
  check_dataset(pair.test);
  for (auto [ds, per_class] : {std::pair{&pair.train, 5000}, std::pair{&pair.test, 1000}}) {
    std::vector<std::int64_t> counts(10, 0);
    for (std::int64_t i = 0; i < ds->size(); ++i) ++counts[ds->labels.data<std::int64_t>()[i]];
    CHECK(counts == std::vector<std::int64_t>(10, per_class));
  }
  // The published CIFAR-10 training statistics (of the PNG originals; JPEG moves them a little).
  Normalization stats = channel_stats(pair.train);
  double mean[] = {0.4914, 0.4822, 0.4465}, std[] = {0.2470, 0.2435, 0.2616};
  for (int c = 0; c < 3; ++c) {
    CHECK(std::abs(stats.mean[c] - mean[c]) < 0.01);
    CHECK(std::abs(stats.std[c] - std[c]) < 0.01);
  }
  MESSAGE("CIFAR-10 JPEG train mean " << stats.mean[0] << " " << stats.mean[1] << " " << stats.mean[2]
                                       << ", std " << stats.std[0] << " " << stats.std[1] << " " << stats.std[2]);
}
