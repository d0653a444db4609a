// Datasets held in memory: checks, loading by kind with auto-detection, subsets.
#include "proxima/data/dataset.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "proxima/core/factory.h"
#include "proxima/data/cifar.h"
#include "proxima/data/detail/file_io.h"
#include "proxima/data/detail/random.h"
#include "proxima/data/idx.h"
#include "proxima/data/image_folder.h"

namespace px::data {

namespace fs = std::filesystem;

void check_dataset(const Dataset& ds, const char* what) {
  PX_CHECK(ds.images.defined() && ds.labels.defined(), ValueError, what, ": images or labels undefined");
  PX_CHECK(ds.images.dtype() == DType::uint8 && ds.images.dim() == 4 && ds.images.device().is_cpu() &&
               ds.images.is_contiguous(),
           ValueError, what, ": images must be a contiguous cpu uint8 tensor [N, C, H, W], got ",
           ds.images.dtype(), " ", shape_str(ds.images.shape()), " on ", ds.images.device().str());
  PX_CHECK(ds.labels.dtype() == DType::int64 && ds.labels.dim() == 1 && ds.labels.device().is_cpu() &&
               ds.labels.is_contiguous() && ds.labels.size(0) == ds.images.size(0),
           ValueError, what, ": labels must be a contiguous cpu int64 tensor [", ds.images.size(0),
           "], got ", ds.labels.dtype(), " ", shape_str(ds.labels.shape()));
  const auto* labels = ds.labels.data<std::int64_t>();
  for (std::int64_t i = 0; i < ds.size(); ++i)
    PX_CHECK(labels[i] >= 0 && labels[i] < ds.num_classes(), ValueError, what, ": label ", labels[i],
             " of sample ", i, " is outside [0, ", ds.num_classes(), ")");
}

std::vector<std::string> dataset_kinds() {
  return {"auto", "cifar10", "cifar100", "cifar100-coarse", "image-folder", "idx", "mnist", "fashion-mnist"};
}

DatasetPair load_dataset(const std::string& path, const std::string& kind) {
  if (kind == "cifar10") return load_cifar10(path);
  if (kind == "cifar100") return load_cifar100(path, false);
  if (kind == "cifar100-coarse") return load_cifar100(path, true);
  if (kind == "image-folder") return load_image_folder(path);
  if (kind == "idx" || kind == "mnist" || kind == "fashion-mnist") return load_idx(path, kind);
  if (kind != "auto") {
    std::string known;
    for (const auto& k : dataset_kinds()) known += (known.empty() ? "" : ", ") + k;
    throw ValueError("load_dataset: unknown kind '" + kind + "', expected one of " + known);
  }
  PX_CHECK(detail::is_dir(path), DataError, "load_dataset: ", path, " is not a folder");
  if (!find_cifar10_folder(path).empty()) return load_cifar10(path);
  if (!find_cifar100_folder(path).empty()) return load_cifar100(path, false);
  if (!find_idx_file(path, "train", "images").empty()) return load_idx(path, "auto");
  if (is_image_folder(path)) return load_image_folder(path);
  fs::path p(path);
  throw DataError("load_dataset: found no dataset in " + path + "; looked for " +
                  (p / "data_batch_1.bin").string() + " or " + (p / "cifar-10-batches-bin/data_batch_1.bin").string() +
                  " (CIFAR-10 binary), " + (p / "train.bin").string() + " or " +
                  (p / "cifar-100-binary/train.bin").string() + " (CIFAR-100 binary), " +
                  (p / "train-images-idx3-ubyte[.gz]").string() + " (MNIST-style IDX), and the folders " +
                  (p / "train").string() + " and " + (p / "test").string() + " (image folder)");
}

Dataset select(const Dataset& ds, const std::vector<std::int64_t>& indices) {
  check_dataset(ds, "select");
  std::int64_t sample = ds.channels() * ds.height() * ds.width();
  auto n = static_cast<std::int64_t>(indices.size());
  Dataset out{empty({n, ds.channels(), ds.height(), ds.width()}, {.dtype = DType::uint8}),
              empty({n}, {.dtype = DType::int64}), ds.classes, ds.name, ds.source};
  const auto* src = ds.images.data<std::uint8_t>();
  const auto* labels = ds.labels.data<std::int64_t>();
  auto* dst = out.images.data<std::uint8_t>();
  auto* dst_labels = out.labels.data<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) {
    std::int64_t j = indices[i];
    PX_CHECK(j >= 0 && j < ds.size(), IndexError, "select: index ", j, " at position ", i,
             " is outside [0, ", ds.size(), ")");
    std::memcpy(dst + i * sample, src + j * sample, static_cast<std::size_t>(sample));
    dst_labels[i] = labels[j];
  }
  return out;
}

Dataset subset(const Dataset& ds, std::int64_t n, std::uint64_t seed) {
  check_dataset(ds, "subset");
  PX_CHECK(n >= 1 && n <= ds.size(), ValueError, "subset: n = ", n, ", expected a count in [1, ",
           ds.size(), "] (the dataset's size)");
  // Each class's samples, in a seeded order (the permutation is keyed by seed and class).
  std::vector<std::vector<std::int64_t>> members(ds.classes.size());
  const auto* labels = ds.labels.data<std::int64_t>();
  for (std::int64_t i = 0; i < ds.size(); ++i) members[labels[i]].push_back(i);
  for (std::size_t c = 0; c < members.size(); ++c) {
    auto key = detail::stream_key(seed, detail::Stream::subset, c);
    std::vector<std::int64_t> order = detail::permutation(key, static_cast<std::int64_t>(members[c].size()));
    std::vector<std::int64_t> shuffled;
    for (std::int64_t k : order) shuffled.push_back(members[c][k]);
    members[c] = std::move(shuffled);
  }
  // Round-robin over the classes in label order, skipping exhausted ones, until n are taken:
  // floor(n / K) each, the remainder to the first classes, shortfalls spread over the rest.
  std::vector<std::size_t> taken(members.size(), 0);
  std::vector<std::int64_t> chosen;
  while (static_cast<std::int64_t>(chosen.size()) < n)
    for (std::size_t c = 0; c < members.size() && static_cast<std::int64_t>(chosen.size()) < n; ++c)
      if (taken[c] < members[c].size()) chosen.push_back(members[c][taken[c]++]);
  std::sort(chosen.begin(), chosen.end());
  return select(ds, chosen);
}

}  // namespace px::data
