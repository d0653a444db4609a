// CIFAR-10/100 binary loaders on synthetic files whose bytes encode their position.
#include <doctest/doctest.h>

#include "data/data_helpers.h"
#include "proxima/data/cifar.h"

using namespace px;
using namespace px::data;
using namespace px_test;

namespace {

constexpr std::int64_t kPixels = 3072;

std::int64_t label10(std::int64_t g) { return (g * 3 + 1) % 10; }
std::int64_t coarse100(std::int64_t g) { return (g * 5 + 2) % 20; }
std::int64_t fine100(std::int64_t g) { return (g * 7 + 3) % 100; }

// Records for global samples [first, first + count): label bytes then pixel_code pixels.
std::vector<std::uint8_t> records(std::int64_t first, std::int64_t count, bool cifar100) {
  std::vector<std::uint8_t> bytes;
  for (std::int64_t g = first; g < first + count; ++g) {
    if (cifar100) {
      bytes.push_back(static_cast<std::uint8_t>(coarse100(g)));
      bytes.push_back(static_cast<std::uint8_t>(fine100(g)));
    } else {
      bytes.push_back(static_cast<std::uint8_t>(label10(g)));
    }
    for (std::int64_t c = 0; c < 3; ++c)
      for (std::int64_t y = 0; y < 32; ++y)
        for (std::int64_t x = 0; x < 32; ++x) bytes.push_back(pixel_code(g, c, y, x));
  }
  return bytes;
}

const std::vector<std::int64_t> kTrainCounts{3, 2, 4, 1, 2};  // per data_batch file
constexpr std::int64_t kTest = 3;

// Writes CIFAR-10 files into dir; train samples are global 0..11, test samples 100..102.
void write_cifar10(const fs::path& dir) {
  std::int64_t g = 0;
  for (std::size_t f = 0; f < kTrainCounts.size(); ++f) {
    write_file(dir / ("data_batch_" + std::to_string(f + 1) + ".bin"), records(g, kTrainCounts[f], false));
    g += kTrainCounts[f];
  }
  write_file(dir / "test_batch.bin", records(100, kTest, false));
}

// Every sample of ds is global sample first + i, with the given label function.
template <class LabelFn>
void check_samples(const Dataset& ds, std::int64_t first, LabelFn label) {
  REQUIRE(ds.images.shape() == Shape{ds.size(), 3, 32, 32});
  const auto* img = ds.images.data<std::uint8_t>();
  std::int64_t wrong = 0;
  for (std::int64_t i = 0; i < ds.size(); ++i) {
    CHECK(ds.labels.data<std::int64_t>()[i] == label(first + i));
    for (std::int64_t c = 0; c < 3; ++c)
      for (std::int64_t y = 0; y < 32; ++y)
        for (std::int64_t x = 0; x < 32; ++x)
          wrong += img[((i * 3 + c) * 32 + y) * 32 + x] != pixel_code(first + i, c, y, x);
  }
  CHECK(wrong == 0);
}

}  // namespace

TEST_CASE("cifar10: synthetic batches read in order, labels and pixels in place") {
  TempDir tmp;
  fs::path dir = tmp / "cifar-10-batches-bin";
  write_cifar10(dir);
  for (const std::string& path : {dir.string(), tmp.str()}) {  // the folder or its parent
    DatasetPair pair = load_cifar10(path);
    CHECK(pair.train.size() == 12);
    CHECK(pair.test.size() == kTest);
    check_samples(pair.train, 0, label10);
    check_samples(pair.test, 100, label10);
    CHECK(pair.train.name == "cifar10");
    REQUIRE(pair.train.classes.size() == 10);
    CHECK(pair.train.classes[0] == "airplane");  // standard names without batches.meta.txt
    CHECK(pair.test.classes[9] == "truck");
    check_dataset(pair.train);
  }
  std::string names;
  for (int k = 0; k < 10; ++k) names += "name" + std::to_string(k) + "\n";
  write_text(dir / "batches.meta.txt", names + "\n");
  DatasetPair pair = load_cifar10(tmp.str());
  CHECK(pair.train.classes[3] == "name3");
  CHECK(pair.test.classes[9] == "name9");
}

TEST_CASE("cifar10: truncated, missing and mislabelled files are named errors") {
  TempDir tmp;
  write_cifar10(tmp.path());
  truncate_file(tmp / "data_batch_3.bin", 5);
  std::string msg = data_error_of([&] { load_cifar10(tmp.str()); });
  CHECK(contains(msg, "data_batch_3.bin"));
  CHECK(contains(msg, std::to_string(4 * 3073 - 5)));  // its size
  CHECK(contains(msg, "3073"));                        // the record size expected

  write_cifar10(tmp.path());
  fs::remove(tmp / "test_batch.bin");
  CHECK(contains(data_error_of([&] { load_cifar10(tmp.str()); }), "test_batch.bin"));

  write_cifar10(tmp.path());
  std::vector<std::uint8_t> bad = records(0, 2, false);
  bad[3073] = 10;  // label of the second record
  write_file(tmp / "data_batch_5.bin", bad);
  msg = data_error_of([&] { load_cifar10(tmp.str()); });
  CHECK(contains(msg, "data_batch_5.bin"));
  CHECK(contains(msg, "label 10"));

  write_cifar10(tmp.path());
  write_text(tmp / "batches.meta.txt", "a\nb\nc\n");
  CHECK(contains(data_error_of([&] { load_cifar10(tmp.str()); }), "batches.meta.txt"));

  TempDir empty_dir;
  CHECK(contains(data_error_of([&] { load_cifar10(empty_dir.str()); }), "data_batch_1.bin"));
  write_file(empty_dir / "data_batch_1.bin", {});  // empty file: size 0 is not a record count
  CHECK(contains(data_error_of([&] { load_cifar10(empty_dir.str()); }), "has 0 bytes"));
}

TEST_CASE("cifar100: fine labels by default, coarse on request, names files") {
  TempDir tmp;
  fs::path dir = tmp / "cifar-100-binary";
  write_file(dir / "train.bin", records(0, 7, true));
  write_file(dir / "test.bin", records(50, 4, true));
  DatasetPair fine = load_cifar100(tmp.str());
  CHECK(fine.train.size() == 7);
  CHECK(fine.test.size() == 4);
  check_samples(fine.train, 0, fine100);
  check_samples(fine.test, 50, fine100);
  CHECK(fine.train.classes.size() == 100);
  CHECK(fine.train.name == "cifar100");
  DatasetPair coarse = load_cifar100(dir.string(), true);
  check_samples(coarse.train, 0, coarse100);
  check_samples(coarse.test, 50, coarse100);
  CHECK(coarse.train.classes.size() == 20);
  CHECK(coarse.train.name == "cifar100-coarse");

  std::string fine_names, coarse_names;
  for (int k = 0; k < 100; ++k) fine_names += "fine" + std::to_string(k) + "\n";
  for (int k = 0; k < 20; ++k) coarse_names += "coarse" + std::to_string(k) + "\r\n";
  write_text(dir / "fine_label_names.txt", fine_names);
  write_text(dir / "coarse_label_names.txt", coarse_names);
  CHECK(load_cifar100(tmp.str()).train.classes[42] == "fine42");
  CHECK(load_cifar100(tmp.str(), true).test.classes[19] == "coarse19");

  truncate_file(dir / "test.bin", 3075);
  std::string msg = data_error_of([&] { load_cifar100(tmp.str()); });
  CHECK(contains(msg, "test.bin"));
  CHECK(contains(msg, std::to_string(4 * 3074 - 3075)));
  CHECK(contains(msg, "3074"));
  write_file(dir / "test.bin", records(0, 1, false));  // a CIFAR-10 record is not a CIFAR-100 one
  CHECK(contains(data_error_of([&] { load_cifar100(tmp.str()); }), "3073 bytes"));
}
