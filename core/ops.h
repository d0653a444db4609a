// The core op front-end: validates arguments once, allocates outputs, calls the backend.
// These functions do not record autograd history; the differentiable versions in
// autograd/functions.h (namespace px) are what users call. Backward rules use these.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "proxima/core/backend.h"
#include "proxima/core/factory.h"
#include "proxima/core/generator.h"
#include "proxima/core/tensor.h"

namespace px::ops {

// ---- data movement ----
Tensor to_device(const Tensor& x, Device device);
Tensor to_dtype(const Tensor& x, DType dtype);
Tensor contiguous(const Tensor& x);
Tensor clone(const Tensor& x);
void copy_(const Tensor& dst, const Tensor& src);  // src broadcast to dst's shape, dtype cast
void fill_(const Tensor& dst, double value);

// ---- views and shape ops (views share storage where possible) ----
Tensor as_strided(const Tensor& x, const Shape& shape, const Shape& strides, std::int64_t offset);
Tensor view(const Tensor& x, const Shape& shape);     // one dim may be -1; x must allow a view
Tensor reshape(const Tensor& x, const Shape& shape);  // view when possible, else a copy
Tensor flatten(const Tensor& x, std::int64_t start_dim = 0, std::int64_t end_dim = -1);
Tensor permute(const Tensor& x, const std::vector<std::int64_t>& dims);
Tensor transpose(const Tensor& x, std::int64_t dim0, std::int64_t dim1);
Tensor squeeze(const Tensor& x);                      // all size-1 dims
Tensor squeeze(const Tensor& x, std::int64_t dim);    // that dim if it has size 1
Tensor unsqueeze(const Tensor& x, std::int64_t dim);
Tensor expand(const Tensor& x, const Shape& shape);   // broadcast view; -1 keeps a size
Tensor narrow(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t length);
Tensor slice(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t end,
             std::int64_t step = 1);                  // Python semantics for start/end
Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index);
// dst (in place) += src placed along dim at positions index; returns dst.
Tensor index_add_(const Tensor& dst, std::int64_t dim, const Tensor& index, const Tensor& src);
Tensor cat(const std::vector<Tensor>& xs, std::int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& xs, std::int64_t dim = 0);
// Constant padding, PyTorch F.pad order: {last_left, last_right, prev_left, prev_right, ...}.
// Negative amounts crop.
Tensor pad(const Tensor& x, const std::vector<std::int64_t>& pads, double value = 0.0);

// ---- elementwise (NumPy broadcasting; scalars take the tensor's dtype) ----
Tensor unary(UnaryOp op, const Tensor& x);
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);  // promotes dtypes
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
Tensor sign(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor pow(const Tensor& x, double exponent);
Tensor pow(const Tensor& x, const Tensor& exponent);
Tensor relu(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);  // cond: any dtype, non-zero = a
// Comparisons return uint8 masks (0 or 1).
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

// ---- reductions: all elements (0-d result) or the given dims ----
// An empty `dims` list means all dims. Duplicate or out-of-range dims throw IndexError.
Tensor sum(const Tensor& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false);
Tensor amax(const Tensor& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false);
Tensor argmax(const Tensor& x, std::optional<std::int64_t> dim = std::nullopt, bool keepdim = false);
Tensor argmin(const Tensor& x, std::optional<std::int64_t> dim = std::nullopt, bool keepdim = false);
// Variance with Bessel's correction by default (correction = 1, as torch.var).
Tensor var(const Tensor& x, const std::vector<std::int64_t>& dims = {}, std::int64_t correction = 1,
           bool keepdim = false);
Tensor norm_l1(const Tensor& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false);
Tensor norm_l2(const Tensor& x, const std::vector<std::int64_t>& dims = {}, bool keepdim = false);
Tensor count_nonzero(const Tensor& x, const std::vector<std::int64_t>& dims = {});  // int64

// ---- linear algebra and network primitives ----
// matmul: 1-D and 2-D as torch.matmul; >2-D batched with broadcast batch dims.
Tensor matmul(const Tensor& a, const Tensor& b);
// Raw batched GEMM on 3-D operands (see Backend::matmul).
Tensor bmm(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);
Tensor conv2d(const Tensor& x, const Tensor& w, const Conv2dParams& p);  // no bias
Tensor conv2d_backward_input(const Tensor& grad_out, const Tensor& w, const Shape& x_shape,
                             const Conv2dParams& p);
Tensor conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Shape& w_shape,
                              const Conv2dParams& p);
struct MaxPoolResult {
  Tensor out;
  Tensor indices;
};
MaxPoolResult max_pool2d(const Tensor& x, const Pool2dParams& p);
Tensor max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const Shape& x_shape,
                           const Pool2dParams& p);
Tensor avg_pool2d(const Tensor& x, const Pool2dParams& p);
Tensor avg_pool2d_backward(const Tensor& grad_out, const Shape& x_shape, const Pool2dParams& p);
std::int64_t pool_output_size(std::int64_t in, std::int64_t kernel, std::int64_t stride,
                              std::int64_t pad, bool ceil_mode);
Tensor softmax(const Tensor& x, std::int64_t dim);
Tensor log_softmax(const Tensor& x, std::int64_t dim);

// ---- random ----
// Fresh tensors drawn from U[lo, hi) or N(mean, std^2) (float dtypes only).
Tensor uniform(const Shape& shape, double lo, double hi, TensorOptions options, Generator* gen = nullptr);
Tensor normal(const Shape& shape, double mean, double std, TensorOptions options, Generator* gen = nullptr);

}  // namespace px::ops
