// MNIST-style IDX files (MNIST, Fashion-MNIST), gzip-compressed or raw.
#pragma once

#include <string>

#include "proxima/data/dataset.h"

namespace px::data {

// Reads path/train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
// t10k-labels-idx1-ubyte, each optionally ending in .gz (a '.' instead of the '-' before
// "idx" is accepted too). Images: magic 0x00000803, dims N, H, W, then N*H*W bytes -> uint8
// [N, 1, H, W]; labels: magic 0x00000801, dim N, then N bytes. Magic numbers, sizes and counts
// are checked; images and labels must have the same count. `flavour` names the classes:
// "fashion-mnist" (T-shirt/top ... Ankle boot), "mnist" (digits "0".."9"), or "idx"/"auto":
// Fashion-MNIST when the path contains "fashion", else MNIST when every label is below 10, else
// numbered classes 0..max label.
DatasetPair load_idx(const std::string& path, const std::string& flavour = "auto");

// The IDX file for (split "train"|"t10k", part "images"|"labels") in `path`; empty when absent.
std::string find_idx_file(const std::string& path, const std::string& split, const std::string& part);

}  // namespace px::data
