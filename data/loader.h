// DataLoader: seeded shuffling and augmentation, float32 batches prepared by a background thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "proxima/data/dataset.h"
#include "proxima/data/transforms.h"

namespace px::data {

struct Batch {
  Tensor x;        // float32 [B, C, H, W]
  Tensor y;        // int64 [B]
  Tensor indices;  // int64 [B]: the samples' positions in the dataset
};

struct LoaderOptions {
  std::int64_t batch_size = 128;
  bool shuffle = true;
  bool drop_last = false;     // drop the last batch when it has fewer than batch_size samples
  Augment augment{};
  // Per-channel normalisation on the [0, 1] scale. Empty: channel_stats() of the dataset given
  // to this loader, so a test loader should be given the training set's values.
  std::vector<double> mean{}, std{};
  bool normalize = true;      // false: x = pixel / 255, mean and std ignored
  std::uint64_t seed = 0;
  std::int64_t prefetch = 2;  // batches prepared ahead by a background thread; 0: in next()
  // Called on each batch b of an epoch right after it is prepared, in the thread that prepared
  // it (the worker, or next() when prefetch is 0): extra transforms, statistics ... Whatever it
  // throws reaches the caller of next().
  std::function<void(Batch& batch, std::int64_t epoch, std::int64_t b)> on_batch{};
  // Allocates a batch's x and y (a contiguous CPU tensor of that shape and dtype) in the thread
  // that prepares it; default px::empty. train_cifar on CUDA passes cuda::pinned_empty, so that
  // the worker fills page-locked memory and the copies to the device are asynchronous (see the
  // lifetime rule in cuda/cuda.h: a batch is never written after its copy is enqueued).
  std::function<Tensor(const Shape& shape, DType dtype)> allocate{};
};

// CONVENTION: batch b of epoch e holds samples order(e)[b*B .. b*B+B) where order(e) is a Philox
// permutation keyed by (seed, e) (the identity without shuffle), and sample i's augmentation is
// draw_augment(augment, H, W, seed, e, i). Batches are thus pure functions of (seed, epoch, b):
// with or without prefetch, whatever the thread count, resumed or not.
//
// Usage:  loader.start_epoch(e); for (Batch b; loader.next(b);) { ... }
// start_epoch() may be called at any time: a worker still preparing the previous epoch is told
// to stop and joined first, as in the destructor. An exception thrown while preparing a batch
// is re-thrown by the next() that would have returned it.
class DataLoader {
 public:
  explicit DataLoader(const Dataset& dataset, LoaderOptions options = {});
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Starts epoch `epoch` (>= 0) at batch `first_batch` (to resume mid-epoch).
  void start_epoch(std::int64_t epoch, std::int64_t first_batch = 0);
  // The next batch of the epoch into `batch`; false (batch untouched) when the epoch is over.
  bool next(Batch& batch);
  std::int64_t batches_per_epoch() const;
  std::int64_t size() const { return dataset_.size(); }
  std::int64_t epoch() const { return epoch_; }
  const Normalization& normalization() const { return norm_; }
  const LoaderOptions& options() const { return options_; }
  const Dataset& dataset() const { return dataset_; }

  // Sample order of an epoch, and batch b of an epoch computed directly (no thread involved).
  std::vector<std::int64_t> epoch_order(std::int64_t epoch) const;
  Batch make_batch(std::int64_t epoch, const std::vector<std::int64_t>& order, std::int64_t b) const;

 private:
  struct Slot {
    Batch batch;
    std::exception_ptr error;
  };
  Tensor allocate_batch_tensor(const Shape& shape, DType dtype) const;  // options_.allocate or empty
  void stop_worker();
  void run_worker(std::int64_t epoch, std::int64_t first_batch);

  Dataset dataset_;
  LoaderOptions options_;
  Normalization norm_;
  std::vector<float> mean_, inv_std_;  // what transform_sample uses
  std::int64_t epoch_ = -1;
  std::vector<std::int64_t> order_;
  std::int64_t cursor_ = 0;            // next batch index (prefetch 0)

  std::thread worker_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Slot> queue_;             // prepared batches, at most options_.prefetch
  bool stop_ = false, worker_done_ = true;
};

}  // namespace px::data
