// Composite layers built from differentiable functions: linear, adaptive_avg_pool2d,
// batch_norm and dropout. Their gradients come from the functions they are made of.
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

namespace {

void check_channel_param(const Tensor& t, std::int64_t channels, const char* name) {
  if (!t.defined()) return;
  PX_CHECK(t.dim() == 1 && t.size(0) == channels, ShapeError, "batch_norm: ", name, " must have shape [", channels,
           "], got ", shape_str(t.shape()));
}

// stat <- (1 - momentum) stat + momentum * batch_value, in place, outside autograd.
void update_running(const Tensor& stat, const Tensor& batch_value, double momentum) {
  if (!stat.defined()) return;
  Tensor value = ops::reshape(batch_value.detach(), stat.shape());
  ops::copy_(stat,
             ops::add(ops::mul(stat, 1.0 - momentum), ops::mul(ops::to_dtype(value, stat.dtype()), momentum)));
}

}  // namespace

// y = (x - mean) / sqrt(var + eps) * weight + bias, statistics per channel over N (and H, W).
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps) {
  PX_CHECK(x.dim() == 2 || x.dim() == 4, ShapeError, "batch_norm: x must be [N, C] or [N, C, H, W], got ",
           shape_str(x.shape()));
  const std::int64_t c = x.size(1);
  check_channel_param(weight, c, "weight");
  check_channel_param(bias, c, "bias");
  check_channel_param(running_mean, c, "running_mean");
  check_channel_param(running_var, c, "running_var");
  const Shape per_channel = x.dim() == 2 ? Shape{1, c} : Shape{1, c, 1, 1};
  const std::vector<std::int64_t> dims =
      x.dim() == 2 ? std::vector<std::int64_t>{0} : std::vector<std::int64_t>{0, 2, 3};
  Tensor mu, sigma2;
  if (training) {
    const std::int64_t count = c == 0 ? 0 : x.numel() / c;
    PX_CHECK(count > 1, ValueError, "batch_norm: training needs more than one value per channel, got input ",
             shape_str(x.shape()));
    mu = mean(x, dims, /*keepdim=*/true);
    sigma2 = var(x, dims, /*correction=*/0, /*keepdim=*/true);
    NoGradGuard no_grad;
    update_running(running_mean, mu, momentum);
    update_running(running_var, ops::mul(sigma2, static_cast<double>(count) / static_cast<double>(count - 1)),
                   momentum);
  } else {
    PX_CHECK(running_mean.defined() && running_var.defined(), ValueError,
             "batch_norm: eval mode (training=false) needs running_mean and running_var");
    mu = reshape(running_mean, per_channel);
    sigma2 = reshape(running_var, per_channel);
  }
  Tensor y = mul(sub(x, mu), rsqrt(add(sigma2, eps)));
  if (weight.defined()) y = mul(y, reshape(weight, per_channel));
  if (bias.defined()) y = add(y, reshape(bias, per_channel));
  return y;
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
