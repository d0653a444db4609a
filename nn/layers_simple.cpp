// Forward passes of the parameter-free layers, each a call to one differentiable function.
#include "proxima/nn/layers_simple.h"

#include "proxima/autograd/functions.h"

namespace px::nn {

namespace {

Pool2dParams pool_params(const Pool2dOptions& o) {
  const std::int64_t stride = o.stride == 0 ? o.kernel_size : o.stride;
  return {.kernel_h = o.kernel_size,
          .kernel_w = o.kernel_size,
          .stride_h = stride,
          .stride_w = stride,
          .pad_h = o.padding,
          .pad_w = o.padding,
          .ceil_mode = o.ceil_mode,
          .count_include_pad = o.count_include_pad};
}

void check_pool(const Pool2dOptions& o, const char* layer) {
  PX_CHECK(o.kernel_size > 0, ValueError, layer, ": kernel_size must be positive, got ", o.kernel_size);
  PX_CHECK(o.stride >= 0, ValueError, layer, ": stride must be >= 0 (0 = kernel_size), got ", o.stride);
  PX_CHECK(o.padding >= 0 && 2 * o.padding <= o.kernel_size, ValueError, layer,
           ": padding must be in [0, kernel_size / 2], got ", o.padding);
}

}  // namespace

Tensor ReLU::forward(const Tensor& x) { return relu(x); }

MaxPool2d::MaxPool2d(const Pool2dOptions& options) : options_(options) { check_pool(options, "MaxPool2d"); }
Tensor MaxPool2d::forward(const Tensor& x) { return max_pool2d(x, pool_params(options_)); }

AvgPool2d::AvgPool2d(const Pool2dOptions& options) : options_(options) { check_pool(options, "AvgPool2d"); }
Tensor AvgPool2d::forward(const Tensor& x) { return avg_pool2d(x, pool_params(options_)); }

AdaptiveAvgPool2d::AdaptiveAvgPool2d(std::int64_t output_size) : output_size_(output_size) {
  PX_CHECK(output_size == 1, ValueError, "AdaptiveAvgPool2d: only output_size 1 is supported, got ", output_size);
}
Tensor AdaptiveAvgPool2d::forward(const Tensor& x) { return adaptive_avg_pool2d(x, output_size_); }

Dropout::Dropout(const DropoutOptions& options, Generator& gen) : options_(options), gen_(&gen) {
  PX_CHECK(options.p >= 0 && options.p < 1, ValueError, "Dropout: p must be in [0, 1), got ", options.p);
}
Tensor Dropout::forward(const Tensor& x) { return dropout(x, options_.p, is_training(), gen_); }

Tensor Flatten::forward(const Tensor& x) { return flatten(x, options_.start_dim, options_.end_dim); }

}  // namespace px::nn
