// EpochSums: running loss and accuracy sums on the device, read back on demand.
#include "common/epoch_sums.h"

#include "proxima/autograd/autograd.h"
#include "proxima/core/factory.h"
#include "proxima/core/ops.h"

namespace px::apps {

EpochSums::EpochSums(Device device)
    : loss_sum_(zeros({}, {.dtype = DType::float64, .device = device})),
      correct_(zeros({}, {.dtype = DType::int64, .device = device})) {}

void EpochSums::add(const Tensor& loss, std::int64_t n, const Tensor& logits, const Tensor& y) {
  NoGradGuard no_grad;
  Tensor term = ops::reshape(loss.detach(), {}).to(DType::float64);
  if (n != 1) term = ops::mul(term, static_cast<double>(n));
  loss_sum_ = ops::add(loss_sum_, term);
  const Tensor hits = ops::eq(ops::argmax(logits.detach(), 1), y);  // [B] uint8
  correct_ = ops::add(correct_, ops::count_nonzero(hits));
  seen_ += logits.size(0);
}

EpochSums::Values EpochSums::read() const {
  // One copy to the host (one synchronisation): both sums as float64 (counts are exact below 2^53).
  const std::vector<double> host =
      ops::cat({ops::reshape(loss_sum_, {1}), ops::reshape(correct_.to(DType::float64), {1})}).to_vector<double>();
  return {.loss_sum = host[0], .correct = static_cast<std::int64_t>(host[1]), .seen = seen_};
}

}  // namespace px::apps
