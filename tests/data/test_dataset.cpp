// load_dataset auto-detection and kinds, check_dataset, select, and stratified seeded subsets.
#include <doctest/doctest.h>

#include <cstring>
#include <map>

#include "data/data_helpers.h"
#include "proxima/data/dataset.h"

using namespace px;
using namespace px::data;
using namespace px_test;

namespace {

// The smallest valid files of each format (one sample per file, label 1, pixels 7).
void write_min_cifar10(const fs::path& dir) {
  std::vector<std::uint8_t> rec(3073, 7);
  rec[0] = 1;
  for (int k = 1; k <= 5; ++k) write_file(dir / ("data_batch_" + std::to_string(k) + ".bin"), rec);
  write_file(dir / "test_batch.bin", rec);
}

void write_min_cifar100(const fs::path& dir) {
  std::vector<std::uint8_t> rec(3074, 7);
  rec[0] = 1;   // coarse
  rec[1] = 42;  // fine
  write_file(dir / "train.bin", rec);
  write_file(dir / "test.bin", rec);
}

void write_min_idx(const fs::path& dir) {
  for (std::string split : {"train", "t10k"}) {
    std::vector<std::uint8_t> images, labels;
    for (std::uint32_t v : {0x803u, 1u, 2u, 2u}) append_be32(images, v);
    images.insert(images.end(), 4, 7);
    append_be32(labels, 0x801);
    append_be32(labels, 1);
    labels.push_back(1);
    write_gzip(dir / (split + "-images-idx3-ubyte.gz"), images);
    write_file(dir / (split + "-labels-idx1-ubyte"), labels);
  }
}

// Sample i of `part` equals sample j of `whole` byte for byte, label included.
bool same_sample(const Dataset& part, std::int64_t i, const Dataset& whole, std::int64_t j) {
  std::int64_t sample = whole.channels() * whole.height() * whole.width();
  return part.labels.data<std::int64_t>()[i] == whole.labels.data<std::int64_t>()[j] &&
         std::memcmp(part.images.data<std::uint8_t>() + i * sample, whole.images.data<std::uint8_t>() + j * sample,
                     static_cast<std::size_t>(sample)) == 0;
}

// Positions in `whole` of the samples of `part` (-1 when absent); samples of `whole` are distinct.
std::vector<std::int64_t> positions(const Dataset& part, const Dataset& whole) {
  std::vector<std::int64_t> pos;
  for (std::int64_t i = 0; i < part.size(); ++i) {
    std::int64_t found = -1;
    for (std::int64_t j = 0; j < whole.size() && found < 0; ++j)
      if (same_sample(part, i, whole, j)) found = j;
    pos.push_back(found);
  }
  return pos;
}

std::map<std::int64_t, std::int64_t> class_counts(const Dataset& ds) {
  std::map<std::int64_t, std::int64_t> counts;
  for (std::int64_t i = 0; i < ds.size(); ++i) ++counts[ds.labels.data<std::int64_t>()[i]];
  return counts;
}

}  // namespace

TEST_CASE("load_dataset: auto-detects each format, explicit kinds, clear errors") {
  TempDir tmp;
  write_min_cifar10(tmp / "c10/cifar-10-batches-bin");
  write_min_cifar100(tmp / "c100");
  write_min_idx(tmp / "mnist");
  DatasetPair c10 = load_dataset((tmp / "c10").string());
  CHECK(c10.train.name == "cifar10");
  CHECK(c10.train.size() == 5);
  CHECK(load_dataset((tmp / "c10").string(), "cifar10").test.size() == 1);
  DatasetPair c100 = load_dataset((tmp / "c100").string());
  CHECK(c100.train.name == "cifar100");
  CHECK(c100.train.labels.data<std::int64_t>()[0] == 42);
  DatasetPair coarse = load_dataset((tmp / "c100").string(), "cifar100-coarse");
  CHECK(coarse.train.labels.data<std::int64_t>()[0] == 1);
  DatasetPair idx = load_dataset((tmp / "mnist").string());
  CHECK(idx.train.name == "mnist");
  CHECK(idx.train.images.shape() == Shape{1, 1, 2, 2});
  CHECK(load_dataset((tmp / "mnist").string(), "fashion-mnist").train.classes[1] == "Trouser");

  CHECK_THROWS_AS(load_dataset((tmp / "c10").string(), "cifar11"), ValueError);
  CHECK_THROWS_AS(load_dataset((tmp / "c10").string(), "cifar100"), DataError);
  std::string msg = data_error_of([&] { load_dataset((tmp / "mnist").string(), "image-folder"); });
  CHECK(contains(msg, "missing folder"));

  TempDir nothing;
  msg = data_error_of([&] { load_dataset(nothing.str()); });
  for (const char* looked_for : {"data_batch_1.bin", "cifar-10-batches-bin", "train.bin", "cifar-100-binary",
                                 "train-images-idx3-ubyte", "/train", "/test"})
    CHECK_MESSAGE(contains(msg, looked_for), msg);
  CHECK(contains(data_error_of([&] { load_dataset((tmp / "no-such-folder").string()); }), "not a folder"));
}

TEST_CASE("check_dataset and select") {
  Dataset ds = coded_dataset(10, 2, 3, 3, 4);
  CHECK_NOTHROW(check_dataset(ds));
  Dataset picked = select(ds, {7, 2, 2});
  CHECK(picked.size() == 3);
  CHECK(same_sample(picked, 0, ds, 7));
  CHECK(same_sample(picked, 1, ds, 2));
  CHECK(same_sample(picked, 2, ds, 2));
  CHECK(picked.classes == ds.classes);
  CHECK_THROWS_AS(select(ds, {10}), IndexError);
  Dataset bad = ds;
  bad.labels.data<std::int64_t>()[3] = 4;  // 4 classes: label 4 is out of range
  CHECK_THROWS_AS(check_dataset(bad), ValueError);
  bad = ds;
  bad.images = zeros({10, 2, 3, 3});
  CHECK_THROWS_AS(check_dataset(bad), ValueError);
}

TEST_CASE("subset: stratified, seeded, original order kept, shortfalls spread") {
  Dataset ds = coded_dataset(103, 1, 4, 4, 4);  // classes of 26, 26, 26, 25
  Dataset s = subset(ds, 10, 1);
  CHECK(class_counts(s) == std::map<std::int64_t, std::int64_t>{{0, 3}, {1, 3}, {2, 2}, {3, 2}});
  std::vector<std::int64_t> pos = positions(s, ds);
  for (std::size_t k = 0; k < pos.size(); ++k) {
    CHECK(pos[k] >= 0);
    if (k > 0) CHECK(pos[k] > pos[k - 1]);  // distinct samples, in the dataset's order
  }
  CHECK(positions(subset(ds, 10, 1), ds) == pos);  // same seed, same subset
  int differing = 0;
  for (std::uint64_t seed = 2; seed < 6; ++seed) differing += positions(subset(ds, 10, seed), ds) != pos;
  CHECK(differing >= 3);
  // Over many seeds every sample gets picked: the choice within a class is not a fixed prefix.
  std::vector<int> picked(103, 0);
  for (std::uint64_t seed = 0; seed < 200; ++seed)
    for (std::int64_t p : positions(subset(ds, 8, seed), ds)) ++picked[p];
  CHECK(std::count(picked.begin(), picked.end(), 0) == 0);
  CHECK(positions(subset(ds, 103, 3), ds).back() == 102);  // n == size: every sample

  // Class 0 has only 2 samples: it gives both, the other classes share the rest equally.
  Dataset skewed = coded_dataset(60, 1, 4, 4, 3);
  std::vector<std::int64_t> keep;
  for (std::int64_t i = 0; i < 60; ++i)
    if (i % 3 != 0 || i < 6) keep.push_back(i);
  skewed = select(skewed, keep);
  CHECK(class_counts(subset(skewed, 30, 4)) == std::map<std::int64_t, std::int64_t>{{0, 2}, {1, 14}, {2, 14}});
  CHECK_THROWS_AS(subset(ds, 0, 1), ValueError);
  CHECK_THROWS_AS(subset(ds, 104, 1), ValueError);
}
