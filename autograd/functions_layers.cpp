// Composite layers built from differentiable functions: linear, adaptive_avg_pool2d and
// dropout. Their gradients come from the functions they are made of (batch_norm is in
// functions_batch_norm.cpp).
#include "proxima/autograd/functions.h"
#include "proxima/core/ops.h"

namespace px {

// y = x @ w^T + b, x [*, in], w [out, in], b [out].
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  PX_CHECK(w.defined() && w.dim() == 2, ShapeError, "linear: weight must be 2-D [out, in], got ",
           w.defined() ? shape_str(w.shape()) : "undefined");
  PX_CHECK(x.dim() >= 1 && x.size(-1) == w.size(1), ShapeError, "linear: input ", shape_str(x.shape()),
           " must end in in_features = ", w.size(1), " (weight ", shape_str(w.shape()), ")");
  Tensor y = matmul(x, transpose(w, 0, 1));
  if (b.defined()) {
    PX_CHECK(b.dim() == 1 && b.size(0) == w.size(0), ShapeError, "linear: bias must have shape [", w.size(0),
             "], got ", shape_str(b.shape()));
    y = add(y, b);
  }
  return y;
}

Tensor adaptive_avg_pool2d(const Tensor& x, std::int64_t output_size) {
  PX_CHECK(output_size == 1, ValueError,
           "adaptive_avg_pool2d: only output_size 1 (global average pooling) is "
           "supported, got ",
           output_size);
  PX_CHECK(x.dim() == 4, ShapeError, "adaptive_avg_pool2d: x must be [N, C, H, W], got ", shape_str(x.shape()));
  return mean(x, {2, 3}, /*keepdim=*/true);
}

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  PX_CHECK(p >= 0.0 && p < 1.0, ValueError, "dropout: p must be in [0, 1), got ", p);
  if (!training || p == 0.0) return x;
  PX_CHECK(is_floating(x.dtype()), DTypeError, "dropout: x must be float32 or float64, got ", x.dtype());
  Tensor u = ops::uniform(x.shape(), 0.0, 1.0, {.dtype = x.dtype(), .device = x.device()}, gen);
  Tensor keep_scaled = ops::mul(ops::to_dtype(ops::ge(u, p), x.dtype()), 1.0 / (1.0 - p));
  return mul(x, keep_scaled);
}

}  // namespace px
