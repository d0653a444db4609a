// Datasets held in memory (uint8 images [N,C,H,W], int64 labels [N]), loading by kind, subsets.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "proxima/core/error.h"
#include "proxima/core/tensor.h"

namespace px::data {

// A file or folder that cannot be read as the dataset it should be: missing, truncated, wrong
// magic number, undecodable image ... The message names the path (and sizes, for size problems).
class DataError : public Error { using Error::Error; };

// CONVENTION: images is a contiguous cpu uint8 tensor [N, C, H, W] (0..255, channels RGB or
// gray), labels a contiguous cpu int64 tensor [N] with values in [0, classes.size()).
struct Dataset {
  Tensor images;                     // uint8 [N, C, H, W]
  Tensor labels;                     // int64 [N]
  std::vector<std::string> classes;  // class names, index = label
  std::string name;                  // "cifar10", "cifar100", "fashion-mnist", folder name ...
  std::string source;                // the files it was read from

  std::int64_t size() const { return images.defined() ? images.size(0) : 0; }
  std::int64_t channels() const { return images.size(1); }
  std::int64_t height() const { return images.size(2); }
  std::int64_t width() const { return images.size(3); }
  std::int64_t num_classes() const { return static_cast<std::int64_t>(classes.size()); }
};

struct DatasetPair {
  Dataset train, test;
};

// Throws ValueError naming `what` unless `ds` follows the CONVENTION above (labels in range too).
void check_dataset(const Dataset& ds, const char* what = "dataset");

// Loads a train/test pair. kind:
//   "auto"            detect from what `path` holds (see below);
//   "cifar10"         CIFAR-10 binary: data_batch_1..5.bin, test_batch.bin (cifar.h);
//   "cifar100"        CIFAR-100 binary, fine labels (100 classes); "cifar100-coarse": 20 coarse labels;
//   "image-folder"    path/train/<class>/*.png|jpg|jpeg|bmp and path/test/<class>/... (image_folder.h);
//   "idx"             MNIST-style IDX files, raw or .gz (idx.h); "mnist" and "fashion-mnist" are the
//                     same reader with those datasets' class names.
// "auto" checks, in order: CIFAR-10 files in path or path/cifar-10-batches-bin, CIFAR-100 files in
// path or path/cifar-100-binary, IDX files in path, train/ and test/ folders in path; when none
// matches, DataError lists everything it looked for.
DatasetPair load_dataset(const std::string& path, const std::string& kind = "auto");
std::vector<std::string> dataset_kinds();

// A stratified, seeded subset of n samples: each class contributes floor(n / K) samples (K classes)
// and the remaining n mod K go one each to the first classes in label order; a class with too few
// samples gives all it has and the shortfall is spread over the others the same way. Within each
// class the samples are the first of a Philox permutation keyed by `seed`; the result keeps the
// original order of the samples. n must be in [1, ds.size()]; n == ds.size() returns every sample.
Dataset subset(const Dataset& ds, std::int64_t n, std::uint64_t seed);

// The samples at `indices` (in that order), as a new dataset with the same classes.
Dataset select(const Dataset& ds, const std::vector<std::int64_t>& indices);

}  // namespace px::data
