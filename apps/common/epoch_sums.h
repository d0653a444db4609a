// EpochSums: an epoch's running loss sum and correct-prediction count, kept on the model's device
// so that a training step never waits for it; read back only where they are shown.
#pragma once

#include <cstdint>

#include "proxima/core/device.h"
#include "proxima/core/tensor.h"

namespace px::apps {

// CONVENTION: loss_sum is float64 and accumulates, in batch order, loss_b * n_b in float64 (the
// float32 loss converted exactly, then one multiplication and one addition), i.e. the same
// operations as a host `double` sum of loss.item() * n: on the CPU the values are bit-identical
// to that host sum. correct is an exact int64 count.
class EpochSums {
 public:
  explicit EpochSums(Device device);

  // One batch: loss_sum += loss * n (loss a single-element float tensor: the batch's mean with
  // n its size, or a Reduction::sum loss with n = 1); correct += rows of logits [B, classes]
  // whose argmax is the label y [B]. Only enqueues work on the device.
  void add(const Tensor& loss, std::int64_t n, const Tensor& logits, const Tensor& y);

  struct Values {
    double loss_sum = 0;
    std::int64_t correct = 0;
    std::int64_t seen = 0;  // images added (known on the host)
    double mean_loss() const { return seen > 0 ? loss_sum / static_cast<double>(seen) : 0.0; }
    double accuracy() const { return seen > 0 ? static_cast<double>(correct) / static_cast<double>(seen) : 0.0; }
  };
  // The sums so far: one host synchronisation on a device.
  Values read() const;

 private:
  Tensor loss_sum_;  // float64, one element, on the device
  Tensor correct_;   // int64, one element
  std::int64_t seen_ = 0;
};

}  // namespace px::apps
