// The differentiable user API (namespace px): every core op that has a gradient, operators,
// non-differentiable passthroughs, and composites (linear, batch_norm, dropout, losses).
// Arguments mean what they mean in core/ops.h; these versions also record autograd history.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "proxima/autograd/autograd.h"
#include "proxima/core/backend.h"
#include "proxima/core/generator.h"
#include "proxima/core/tensor.h"

namespace px {

// ---- data movement (functions_shape.cpp) ----
Tensor to_dtype(const Tensor& x, DType dtype);
Tensor to_device(const Tensor& x, Device device);
Tensor contiguous(const Tensor& x);
Tensor clone(const Tensor& x);

// ---- views and shape ops (functions_shape.cpp) ----
Tensor view(const Tensor& x, const Shape& shape);
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor flatten(const Tensor& x, std::int64_t start_dim = 0, std::int64_t end_dim = -1);
Tensor permute(const Tensor& x, const std::vector<std::int64_t>& dims);
Tensor transpose(const Tensor& x, std::int64_t dim0, std::int64_t dim1);
Tensor squeeze(const Tensor& x);
Tensor squeeze(const Tensor& x, std::int64_t dim);
Tensor unsqueeze(const Tensor& x, std::int64_t dim);
Tensor expand(const Tensor& x, const Shape& shape);
Tensor narrow(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t length);
Tensor slice(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step = 1);
Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index);
Tensor cat(const std::vector<Tensor>& xs, std::int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& xs, std::int64_t dim = 0);
Tensor pad(const Tensor& x, const std::vector<std::int64_t>& pads, double value = 0.0);

// ---- elementwise (functions_elementwise.cpp) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double b);
Tensor sub(const Tensor& a, double b);
Tensor sub(double a, const Tensor& b);
Tensor mul(const Tensor& a, double b);
Tensor div(const Tensor& a, double b);
Tensor div(double a, const Tensor& b);
Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor pow(const Tensor& x, double exponent);
Tensor pow(const Tensor& x, const Tensor& exponent);
Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi);
// Where a == b the gradient is split evenly between a and b (as PyTorch).
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(const Tensor& a, double b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(const Tensor& a, double b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(const Tensor& a, double b);
Tensor operator/(double a, const Tensor& b);
Tensor operator-(const Tensor& x);

// ---- not differentiable: results never require grad (functions_elementwise.cpp) ----
Tensor sign(const Tensor& x);
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, double b);
Tensor ne(const Tensor& a, double b);
Tensor lt(const Tensor& a, double b);
Tensor le(const Tensor& a, double b);
Tensor gt(const Tensor& a, double b);
Tensor ge(const Tensor& a, double b);
Tensor argmax(const Tensor& x, std::optional<std::int64_t> dim = std::nullopt, bool keepdim = false);
Tensor argmin(const Tensor& x, std::optional<std::int64_t> dim = std::nullopt, bool keepdim = false);
Tensor count_nonzero(const Tensor& x, const std::vector<std::int64_t>& dims = {});

// ---- reductions (functions_reduce.cpp); empty dims = all dims ----
Tensor sum(const Tensor& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false);
// The gradient of a maximum is shared evenly among tied elements (as torch.amax).
Tensor amax(const Tensor& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false);
Tensor var(const Tensor& x, const std::vector<std::int64_t>& dims = {}, std::int64_t correction = 1,
           bool keepdim = false);
Tensor norm_l1(const Tensor& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false);
// The gradient at a zero norm is taken as 0 (as PyTorch).
Tensor norm_l2(const Tensor& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false);

// ---- linear algebra and network primitives (functions_nn.cpp) ----
Tensor matmul(const Tensor& a, const Tensor& b);
// x [N, C, H, W], w [K, C/groups, R, S], bias [K] or undefined.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias = {}, const Conv2dParams& p = {});
Tensor max_pool2d(const Tensor& x, const Pool2dParams& p);
Tensor avg_pool2d(const Tensor& x, const Pool2dParams& p);
Tensor softmax(const Tensor& x, std::int64_t dim);
Tensor log_softmax(const Tensor& x, std::int64_t dim);

// ---- composites built from the functions above (functions_layers.cpp, functions_loss.cpp;
// batch_norm is one fused op: functions_batch_norm.cpp) ----
// x [*, in], w [out, in] (PyTorch layout), b [out] or undefined -> [*, out].
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b = {});
// Only output_size 1 (global average pooling) is supported: [N, C, H, W] -> [N, C, 1, 1].
Tensor adaptive_avg_pool2d(const Tensor& x, std::int64_t output_size);
// x [N, C] or [N, C, H, W]; weight, bias, running_mean, running_var [C] or undefined.
// training: normalises with the batch statistics (biased variance) and, when running stats
// are given, updates them in place: r = (1 - momentum) r + momentum * stat, using the
// unbiased variance. Eval: normalises with the running statistics. As torch.nn.functional.
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);
// relu(batch_norm(...)) as one fused op (one tape node, no intermediate tensor); the same
// values and gradients as the composition, which it falls back to where batch_norm's fused path
// does not apply.
Tensor batch_norm_relu(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                       const Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);
// Zeroes each element with probability p and scales the rest by 1/(1-p); p in [0, 1).
// The identity when !training.
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen = nullptr);

enum class Reduction { mean, sum, none };
// logits [N, C], target int64 [N] with values in [0, C) (checked, with IndexError, for cpu
// targets; checking device targets would synchronise). Label smoothing eps mixes the
// one-hot target with the uniform distribution: loss = (1-eps) nll + eps * mean_c(-log p_c).
Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction reduction = Reduction::mean,
                     double label_smoothing = 0.0);
// log_probs [N, C], target int64 [N]: -log_probs[n, target[n]].
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, Reduction reduction = Reduction::mean);
// (input - target)^2, shapes must match.
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);

}  // namespace px
