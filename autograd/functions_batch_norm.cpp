// batch_norm and batch_norm_relu: the fused Backend::batch_norm(_relu)_forward/backward as one
// recorded op, and the composite of differentiable functions kept for the cases the fused
// kernels do not take.
#include "proxima/autograd/functions.h"
#include "proxima/core/backend.h"
#include "proxima/core/factory.h"
#include "proxima/core/ops.h"

namespace px {

using autograd::Needs;
using autograd::record;
using autograd::TensorList;

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

// The composite: mean, var, sub, mul, rsqrt as separate differentiable functions. Used when
// weight or bias differ from x in dtype or device, or when running statistics require grad
// in eval mode (the fused op does not differentiate them).
Tensor batch_norm_composite(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                            const Tensor& running_var, bool training, double momentum, double eps) {
  const std::int64_t c = x.size(1);
  const Shape per_channel = x.dim() == 2 ? Shape{1, c} : Shape{1, c, 1, 1};
  const std::vector<std::int64_t> dims =
      x.dim() == 2 ? std::vector<std::int64_t>{0} : std::vector<std::int64_t>{0, 2, 3};
  Tensor mu, sigma2;
  if (training) {
    const std::int64_t count = x.numel() / c;
    mu = mean(x, dims, /*keepdim=*/true);
    sigma2 = var(x, dims, /*correction=*/0, /*keepdim=*/true);
    NoGradGuard no_grad;
    update_running(running_mean, mu, momentum);
    update_running(running_var, ops::mul(sigma2, static_cast<double>(count) / static_cast<double>(count - 1)),
                   momentum);
  } else {
    mu = reshape(running_mean, per_channel);
    sigma2 = reshape(running_var, per_channel);
  }
  Tensor y = mul(sub(x, mu), rsqrt(add(sigma2, eps)));
  if (weight.defined()) y = mul(y, reshape(weight, per_channel));
  if (bias.defined()) y = add(y, reshape(bias, per_channel));
  return y;
}

bool fused_applies(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                   const Tensor& running_var, bool training) {
  if (!is_floating(x.dtype())) return false;
  for (const Tensor* t : {&weight, &bias})
    if (t->defined() && (t->dtype() != x.dtype() || t->device() != x.device())) return false;
  if (!training && (running_mean.requires_grad() || running_var.requires_grad())) return false;
  return true;
}

// Running statistics from the saved batch statistics: the biased variance is 1 / invstd^2 - eps
// (clamped at 0 by relu), made unbiased with f = count / (count - 1). Written as
// r = (1 - momentum) r + relu(momentum f / invstd^2 - momentum f eps) to keep the number of
// small ops (kernel launches on a GPU) low; computed in the dtype of the saved statistics.
void update_running_from_saved(const Tensor& running_mean, const Tensor& running_var, const Tensor& mean,
                               const Tensor& invstd, std::int64_t count, double momentum, double eps) {
  update_running(running_mean, mean, momentum);
  if (!running_var.defined()) return;
  const double scaled = momentum * static_cast<double>(count) / static_cast<double>(count - 1);
  const Tensor batch_term = ops::relu(ops::sub(ops::div(scaled, ops::mul(invstd, invstd)), scaled * eps));
  ops::copy_(running_var,
             ops::add(ops::mul(running_var, 1.0 - momentum), ops::to_dtype(batch_term, running_var.dtype())));
}

// y = (x - mean) / sqrt(var + eps) * weight + bias, statistics per channel over N (and H, W),
// then max(0, y) when `relu`. Fused: one backend call forward (statistics, normalisation and
// the relu), one backward (which reads the output y to mask the gradient when `relu`).
Tensor batch_norm_impl(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                       const Tensor& running_var, bool training, double momentum, double eps, bool relu) {
  PX_CHECK(x.dim() == 2 || x.dim() == 4, ShapeError, "batch_norm: x must be [N, C] or [N, C, H, W], got ",
           shape_str(x.shape()));
  const std::int64_t c = x.size(1);
  check_channel_param(weight, c, "weight");
  check_channel_param(bias, c, "bias");
  check_channel_param(running_mean, c, "running_mean");
  check_channel_param(running_var, c, "running_var");
  const std::int64_t count = c == 0 ? 0 : x.numel() / c;
  if (training) {
    PX_CHECK(count > 1, ValueError, "batch_norm: training needs more than one value per channel, got input ",
             shape_str(x.shape()));
  } else {
    PX_CHECK(running_mean.defined() && running_var.defined(), ValueError,
             "batch_norm: eval mode (training=false) needs running_mean and running_var");
  }
  if (!fused_applies(x, weight, bias, running_mean, running_var, training)) {
    Tensor y = batch_norm_composite(x, weight, bias, running_mean, running_var, training, momentum, eps);
    return relu ? px::relu(y) : y;
  }

  const TensorOptions options{.dtype = x.dtype(), .device = x.device()};
  const Tensor xc = ops::contiguous(x.detach());
  const Tensor w = weight.defined() ? ops::contiguous(weight.detach()) : Tensor();
  const Tensor b = bias.defined() ? ops::contiguous(bias.detach()) : Tensor();
  Tensor mean_saved, invstd_saved;
  if (training) {
    mean_saved = empty({c}, options);
    invstd_saved = empty({c}, options);
  } else {
    NoGradGuard no_grad;
    mean_saved = ops::contiguous(ops::to_dtype(running_mean.detach(), x.dtype()));
    invstd_saved = ops::contiguous(ops::rsqrt(ops::add(ops::to_dtype(running_var.detach(), x.dtype()), eps)));
  }
  Tensor y = empty(x.shape(), options);
  Backend& backend = backend_for(x.device());
  if (relu)
    backend.batch_norm_relu_forward(xc, w, b, mean_saved, invstd_saved, y, eps, training);
  else
    backend.batch_norm_forward(xc, w, b, mean_saved, invstd_saved, y, eps, training);
  if (training) {
    NoGradGuard no_grad;
    update_running_from_saved(running_mean, running_var, mean_saved, invstd_saved, count, momentum, eps);
  }
  const Tensor y_saved = relu ? y.detach() : Tensor();  // aliases the output: no extra memory
  return record(relu ? "batch_norm_relu" : "batch_norm", {x, weight, bias}, y,
                [xc, y_saved, w, mean_saved, invstd_saved, training](const Tensor& grad,
                                                                    const Needs& needs) -> TensorList {
                  const TensorOptions opt{.dtype = xc.dtype(), .device = xc.device()};
                  const Tensor g = ops::contiguous(ops::to_dtype(grad, xc.dtype()));
                  Tensor gx = needs[0] ? empty(xc.shape(), opt) : Tensor();
                  Tensor gw = needs[1] ? empty(mean_saved.shape(), opt) : Tensor();
                  Tensor gb = needs[2] ? empty(mean_saved.shape(), opt) : Tensor();
                  if (!gx.defined() && !gw.defined() && !gb.defined()) return {gx, gw, gb};
                  Backend& backend = backend_for(xc.device());
                  if (y_saved.defined())
                    backend.batch_norm_relu_backward(g, xc, y_saved, w, mean_saved, invstd_saved, gx, gw, gb,
                                                     training);
                  else
                    backend.batch_norm_backward(g, xc, w, mean_saved, invstd_saved, gx, gw, gb, training);
                  return {gx, gw, gb};
                });
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps) {
  return batch_norm_impl(x, weight, bias, running_mean, running_var, training, momentum, eps, /*relu=*/false);
}

Tensor batch_norm_relu(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                       const Tensor& running_var, bool training, double momentum, double eps) {
  return batch_norm_impl(x, weight, bias, running_mean, running_var, training, momentum, eps, /*relu=*/true);
}

}  // namespace px
