// DataLoader: seeded shuffling and augmentation, float32 batches prepared by a background thread.
#include "proxima/data/loader.h"

#include <algorithm>
#include <numeric>

#include "proxima/core/factory.h"
#include "proxima/data/detail/random.h"

namespace px::data {

DataLoader::DataLoader(const Dataset& dataset, LoaderOptions options)
    : dataset_(dataset), options_(std::move(options)) {
  check_dataset(dataset_, "DataLoader");
  PX_CHECK(dataset_.size() > 0, ValueError, "DataLoader: the dataset is empty");
  PX_CHECK(options_.batch_size >= 1, ValueError, "LoaderOptions.batch_size = ", options_.batch_size,
           ", expected >= 1");
  PX_CHECK(options_.prefetch >= 0, ValueError, "LoaderOptions.prefetch = ", options_.prefetch,
           ", expected >= 0 (0 prepares batches in next())");
  check_augment(options_.augment, dataset_.height(), dataset_.width());
  auto channels = static_cast<std::size_t>(dataset_.channels());
  if (!options_.normalize) {
    norm_ = {std::vector<double>(channels, 0.0), std::vector<double>(channels, 1.0)};
  } else if (options_.mean.empty() && options_.std.empty()) {
    norm_ = channel_stats(dataset_);
  } else {
    PX_CHECK(options_.mean.size() == channels && options_.std.size() == channels, ValueError,
             "LoaderOptions.mean/std have ", options_.mean.size(), "/", options_.std.size(),
             " values, expected ", channels, " (one per channel) or none");
    norm_ = {options_.mean, options_.std};
  }
  for (std::size_t c = 0; c < channels; ++c) {
    PX_CHECK(norm_.std[c] > 0, ValueError, "DataLoader: std of channel ", c, " is ", norm_.std[c],
             ", expected > 0");
    mean_.push_back(static_cast<float>(norm_.mean[c]));
    inv_std_.push_back(static_cast<float>(1.0 / norm_.std[c]));
  }
}

DataLoader::~DataLoader() { stop_worker(); }

std::int64_t DataLoader::batches_per_epoch() const {
  std::int64_t n = dataset_.size(), b = options_.batch_size;
  return options_.drop_last ? n / b : n / b + (n % b != 0 ? 1 : 0);  // no n + b - 1: b may be near INT64_MAX
}

std::vector<std::int64_t> DataLoader::epoch_order(std::int64_t epoch) const {
  if (options_.shuffle)
    return detail::permutation(
        detail::stream_key(options_.seed, detail::Stream::shuffle, static_cast<std::uint64_t>(epoch)),
        dataset_.size());
  std::vector<std::int64_t> order(static_cast<std::size_t>(dataset_.size()));
  std::iota(order.begin(), order.end(), 0);
  return order;
}

Tensor DataLoader::allocate_batch_tensor(const Shape& shape, DType dtype) const {
  if (!options_.allocate) return empty(shape, {.dtype = dtype});
  Tensor t = options_.allocate(shape, dtype);
  PX_CHECK(t.defined(), ValueError, "LoaderOptions.allocate(", shape_str(shape), ", ", dtype_name(dtype),
           ") returned an undefined tensor");
  PX_CHECK(t.device().is_cpu() && t.is_contiguous() && t.shape() == shape && t.dtype() == dtype, ValueError,
           "LoaderOptions.allocate(", shape_str(shape), ", ", dtype_name(dtype), ") returned a ",
           t.is_contiguous() ? "contiguous" : "non-contiguous", " tensor of shape ", shape_str(t.shape()), ", ",
           dtype_name(t.dtype()), " on ", t.device().str(), "; expected a contiguous CPU tensor of that shape and dtype");
  return t;
}

Batch DataLoader::make_batch(std::int64_t epoch, const std::vector<std::int64_t>& order, std::int64_t b) const {
  std::int64_t begin = b * options_.batch_size;
  std::int64_t count = std::min<std::int64_t>(options_.batch_size, dataset_.size() - begin);
  PX_CHECK(b >= 0 && b < batches_per_epoch(), IndexError, "DataLoader: batch ", b, " is outside [0, ",
           batches_per_epoch(), ")");
  std::int64_t c = dataset_.channels(), h = dataset_.height(), w = dataset_.width(), sample = c * h * w;
  Batch batch{allocate_batch_tensor({count, c, h, w}, DType::float32),
              allocate_batch_tensor({count}, DType::int64), empty({count}, {.dtype = DType::int64})};
  const auto* images = dataset_.images.data<std::uint8_t>();
  const auto* labels = dataset_.labels.data<std::int64_t>();
  auto* x = batch.x.data<float>();
  auto* y = batch.y.data<std::int64_t>();
  auto* indices = batch.indices.data<std::int64_t>();
  for (std::int64_t k = 0; k < count; ++k) {
    std::int64_t i = order[static_cast<std::size_t>(begin + k)];
    AugmentDraw draw = draw_augment(options_.augment, h, w, options_.seed, epoch, i);
    transform_sample(images + i * sample, c, h, w, options_.augment, draw, mean_.data(), inv_std_.data(),
                     x + k * sample);
    y[k] = labels[i];
    indices[k] = i;
  }
  if (options_.on_batch) options_.on_batch(batch, epoch, b);
  return batch;
}

void DataLoader::start_epoch(std::int64_t epoch, std::int64_t first_batch) {
  PX_CHECK(epoch >= 0, ValueError, "DataLoader::start_epoch: epoch = ", epoch, ", expected >= 0");
  PX_CHECK(first_batch >= 0 && first_batch <= batches_per_epoch(), ValueError,
           "DataLoader::start_epoch: first_batch = ", first_batch, ", expected in [0, ",
           batches_per_epoch(), "]");
  stop_worker();
  epoch_ = epoch;
  order_ = epoch_order(epoch);
  cursor_ = first_batch;
  if (options_.prefetch == 0) return;
  stop_ = false;
  worker_done_ = false;
  worker_ = std::thread([this, epoch, first_batch] { run_worker(epoch, first_batch); });
}

void DataLoader::run_worker(std::int64_t epoch, std::int64_t first_batch) {
  for (std::int64_t b = first_batch; b < batches_per_epoch(); ++b) {
    Slot slot;
    try {
      slot.batch = make_batch(epoch, order_, b);
    } catch (...) {
      slot.error = std::current_exception();
    }
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return stop_ || static_cast<std::int64_t>(queue_.size()) < options_.prefetch; });
    if (stop_) break;
    bool failed = slot.error != nullptr;
    queue_.push_back(std::move(slot));
    changed_.notify_all();
    if (failed) break;
  }
  std::lock_guard lock(mutex_);
  worker_done_ = true;
  changed_.notify_all();
}

void DataLoader::stop_worker() {
  if (worker_.joinable()) {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    changed_.notify_all();
    worker_.join();
  }
  queue_.clear();
  worker_done_ = true;
}

bool DataLoader::next(Batch& batch) {
  PX_CHECK(epoch_ >= 0, ValueError, "DataLoader::next: call start_epoch(epoch) first");
  if (options_.prefetch == 0) {
    if (cursor_ >= batches_per_epoch()) return false;
    batch = make_batch(epoch_, order_, cursor_++);
    return true;
  }
  Slot slot;
  {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !queue_.empty() || worker_done_; });
    if (queue_.empty()) return false;
    slot = std::move(queue_.front());
    queue_.pop_front();
  }
  changed_.notify_all();
  if (slot.error) std::rethrow_exception(slot.error);
  batch = std::move(slot.batch);
  return true;
}

}  // namespace px::data
