// Losses built from differentiable functions: cross_entropy (with label smoothing), nll_loss, mse_loss.
#include "proxima/autograd/functions.h"
#include "proxima/core/ops.h"

namespace px {

namespace {

Tensor reduce_loss(const Tensor& per_sample, Reduction reduction) {
  switch (reduction) {
    case Reduction::mean:
      return mean(per_sample);
    case Reduction::sum:
      return sum(per_sample);
    case Reduction::none:
      return per_sample;
  }
  return per_sample;
}

// A float [N, C] mask with a 1 at (n, target[n]); checks target's shape, dtype and range.
Tensor one_hot(const Tensor& scores, const Tensor& target, const char* what) {
  PX_CHECK(scores.dim() == 2, ShapeError, what, ": input must be [N, C], got ", shape_str(scores.shape()));
  const std::int64_t n = scores.size(0), c = scores.size(1);
  PX_CHECK(target.dtype() == DType::int64, DTypeError, what, ": target must be int64 class indices, got ",
           target.dtype());
  PX_CHECK(target.dim() == 1 && target.size(0) == n, ShapeError, what, ": target must have shape [", n,
           "] to match input ", shape_str(scores.shape()), ", got ", shape_str(target.shape()));
  // Range check where it is free (host memory); on a device it would cost a synchronisation
  // per step, and an out-of-range target there simply selects no class.
  if (target.device().is_cpu()) {
    const Tensor t = ops::contiguous(target);
    const std::int64_t* values = t.data<std::int64_t>();
    for (std::int64_t i = 0; i < n; ++i) {
      PX_CHECK(values[i] >= 0 && values[i] < c, IndexError, what, ": target[", i, "] = ", values[i],
               " is not a class index in [0, ", c, ")");
    }
  }
  Tensor classes = arange(c, {.dtype = DType::int64, .device = scores.device()});
  Tensor hits = ops::eq(ops::unsqueeze(target, 1), ops::unsqueeze(classes, 0));
  return ops::to_dtype(hits, scores.dtype());
}

}  // namespace

// loss_n = -log_probs[n, target[n]]
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, Reduction reduction) {
  Tensor picked = sum(mul(log_probs, one_hot(log_probs, target, "nll_loss")), {1});
  return reduce_loss(neg(picked), reduction);
}

// loss_n = (1 - eps) * (-log p[n, target[n]]) + eps * mean_c(-log p[n, c]),  p = softmax(logits)
Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction reduction, double label_smoothing) {
  PX_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0, ValueError,
           "cross_entropy: label_smoothing must be in [0, 1], got ", label_smoothing);
  Tensor hot = one_hot(logits, target, "cross_entropy");
  Tensor log_p = log_softmax(logits, 1);
  Tensor nll = neg(sum(mul(log_p, hot), {1}));
  if (label_smoothing > 0.0) {
    Tensor smooth = neg(mean(log_p, {1}));
    nll = add(mul(nll, 1.0 - label_smoothing), mul(smooth, label_smoothing));
  }
  return reduce_loss(nll, reduction);
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  PX_CHECK(input.shape() == target.shape(), ShapeError, "mse_loss: input ", shape_str(input.shape()),
           " and target ", shape_str(target.shape()), " must have the same shape");
  Tensor diff = sub(input, target);
  return reduce_loss(mul(diff, diff), reduction);
}

}  // namespace px
