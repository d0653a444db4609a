// Linear, Conv2d and BatchNorm: parameter registration, PyTorch default init, forward.
#include "proxima/nn/layers.h"

#include <cmath>

#include "proxima/autograd/autograd.h"
#include "proxima/autograd/functions.h"
#include "proxima/core/factory.h"
#include "proxima/core/ops.h"
#include "proxima/nn/init.h"

namespace px::nn {

namespace {

void check_positive(std::int64_t value, const char* layer, const char* field) {
  PX_CHECK(value > 0, ValueError, layer, ": ", field, " must be positive, got ", value);
}

// PyTorch's reset_parameters for Linear and Conv2d: kaiming_uniform(a = sqrt(5)) on the weight,
// which is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias from the same range.
void default_init(const Tensor& weight, const Tensor& bias, Generator& gen) {
  init::kaiming_uniform_(weight, gen, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(init::fan(weight, init::FanMode::fan_in)));
    init::uniform_(bias, -bound, bound, gen);
  }
}

}  // namespace

Linear::Linear(const LinearOptions& options, Generator& gen) : options_(options) {
  check_positive(options.in_features, "Linear", "in_features");
  check_positive(options.out_features, "Linear", "out_features");
  weight = register_parameter("weight", empty({options.out_features, options.in_features}));
  if (options.bias) bias = register_parameter("bias", empty({options.out_features}));
  default_init(weight, bias, gen);
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

Conv2d::Conv2d(const Conv2dOptions& options, Generator& gen) : options_(options) {
  check_positive(options.in_channels, "Conv2d", "in_channels");
  check_positive(options.out_channels, "Conv2d", "out_channels");
  check_positive(options.kernel_size, "Conv2d", "kernel_size");
  check_positive(options.stride, "Conv2d", "stride");
  check_positive(options.dilation, "Conv2d", "dilation");
  check_positive(options.groups, "Conv2d", "groups");
  PX_CHECK(options.padding >= 0, ValueError, "Conv2d: padding must be >= 0, got ", options.padding);
  PX_CHECK(options.in_channels % options.groups == 0 && options.out_channels % options.groups == 0, ValueError,
           "Conv2d: in_channels (", options.in_channels, ") and out_channels (", options.out_channels,
           ") must be divisible by groups (", options.groups, ")");
  const std::int64_t k = options.kernel_size;
  weight = register_parameter("weight", empty({options.out_channels, options.in_channels / options.groups, k, k}));
  if (options.bias) bias = register_parameter("bias", empty({options.out_channels}));
  default_init(weight, bias, gen);
}

Tensor Conv2d::forward(const Tensor& x) {
  const Conv2dParams p{.stride_h = options_.stride,
                       .stride_w = options_.stride,
                       .pad_h = options_.padding,
                       .pad_w = options_.padding,
                       .dilation_h = options_.dilation,
                       .dilation_w = options_.dilation,
                       .groups = options_.groups};
  return conv2d(x, weight, bias, p);
}

BatchNorm::BatchNorm(const BatchNormOptions& options, std::int64_t spatial_dims)
    : options_(options), spatial_dims_(spatial_dims) {
  check_positive(options.num_features, "BatchNorm", "num_features");
  PX_CHECK(options.eps > 0, ValueError, "BatchNorm: eps must be positive, got ", options.eps);
  PX_CHECK(options.momentum >= 0 && options.momentum <= 1, ValueError,
           "BatchNorm: momentum must be in [0, 1], got ", options.momentum);
  const std::int64_t c = options.num_features;
  if (options.affine) {
    weight = register_parameter("weight", ones({c}));
    bias = register_parameter("bias", zeros({c}));
  }
  if (options.track_running_stats) {
    running_mean = register_buffer("running_mean", zeros({c}));
    running_var = register_buffer("running_var", ones({c}));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, {.dtype = DType::int64}));
  }
}

Tensor BatchNorm::forward(const Tensor& x) { return forward_impl(x, /*relu=*/false); }
Tensor BatchNorm::forward_relu(const Tensor& x) { return forward_impl(x, /*relu=*/true); }

Tensor BatchNorm::forward_impl(const Tensor& x, bool relu) {
  const std::int64_t c = options_.num_features;
  const bool ok_1d = spatial_dims_ == 1 && (x.dim() == 2 || x.dim() == 3);
  const bool ok_2d = spatial_dims_ == 2 && x.dim() == 4;
  PX_CHECK((ok_1d || ok_2d) && x.size(1) == c, ShapeError, name(), ": input must be ",
           spatial_dims_ == 1 ? "[N, C] or [N, C, L]" : "[N, C, H, W]", " with C = ", c, ", got ",
           shape_str(x.shape()));
  // Training without running stats normalises with batch statistics in eval mode too (as PyTorch).
  const bool use_batch_stats = is_training() || !options_.track_running_stats;
  const bool update_stats = is_training() && options_.track_running_stats && !running_stats_frozen_;
  if (update_stats) {
    NoGradGuard no_grad;
    ops::copy_(num_batches_tracked, ops::add(num_batches_tracked, 1.0));
  }
  // Frozen in training: batch statistics without running stats to update.
  const bool frozen_training = is_training() && running_stats_frozen_;
  const Tensor mean = frozen_training ? Tensor{} : running_mean, var = frozen_training ? Tensor{} : running_var;
  const auto norm = relu ? &batch_norm_relu : &batch_norm;
  if (x.dim() == 3) {  // [N, C, L] -> [N, C, L, 1] and back
    Tensor y = norm(unsqueeze(x, 3), weight, bias, mean, var, use_batch_stats, options_.momentum, options_.eps);
    return squeeze(y, 3);
  }
  return norm(x, weight, bias, mean, var, use_batch_stats, options_.momentum, options_.eps);
}

FreezeRunningStats::FreezeRunningStats(Module& root) {
  for (const auto& [name, module] : root.named_modules()) {
    if (auto* bn = dynamic_cast<BatchNorm*>(module)) {
      saved_.emplace_back(bn, bn->running_stats_frozen());
      bn->set_running_stats_frozen(true);
    }
  }
}

FreezeRunningStats::~FreezeRunningStats() {
  for (auto& [bn, was] : saved_) bn->set_running_stats_frozen(was);
}

}  // namespace px::nn
