// Reductions: sum, mean, amax/amin, argmax/argmin over dims, and compositions (var, norms).
#include <algorithm>

#include "proxima/core/detail/ops_util.h"
#include "proxima/core/ops.h"

namespace px::ops {
namespace {

// Sorted, de-duplicated (duplicates throw) reduced dims; empty = all dims.
std::vector<std::int64_t> reduced_dims(const char* op, const Tensor& x, const std::vector<std::int64_t>& dims) {
  std::vector<std::int64_t> out;
  if (dims.empty()) {
    for (std::int64_t k = 0; k < x.dim(); ++k) out.push_back(k);
    return out;
  }
  for (std::int64_t d : dims) {
    std::int64_t k = normalize_dim(d, x.dim(), "dims entry");
    PX_CHECK(std::find(out.begin(), out.end(), k) == out.end(), IndexError, op, ": dims ",
             shape_str(dims), " repeats dim ", k);
    out.push_back(k);
  }
  if (x.dim() == 0) out.clear();  // dim 0 / -1 of a 0-d tensor reduces nothing
  std::sort(out.begin(), out.end());
  return out;
}

Shape reduced_shape(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  Shape shape;
  for (std::int64_t k = 0; k < x.dim(); ++k) {
    bool reduced = std::binary_search(dims.begin(), dims.end(), k);
    if (!reduced) shape.push_back(x.shape()[k]);
    else if (keepdim) shape.push_back(1);
  }
  return shape;
}

// Calls Backend::reduce with x seen as [outer, n, inner]: directly when the reduced dims are
// one block of a contiguous tensor, else after moving them last into a contiguous copy.
Tensor reduce_dims(ReduceOp op, const char* name, const Tensor& x, const std::vector<std::int64_t>& dims,
                   bool keepdim, DType out_dtype) {
  Shape shape = reduced_shape(x, dims, keepdim);
  std::int64_t n = 1;
  for (std::int64_t d : dims) n *= x.shape()[d];
  bool block = dims.empty() || dims.back() - dims.front() + 1 == static_cast<std::int64_t>(dims.size());
  bool splittable = op == ReduceOp::sum || op == ReduceOp::max || op == ReduceOp::min;
  if (!block && splittable && x.is_contiguous() && n > 0 && shape_numel(shape) > 0) {
    // Reduced dims in several blocks (e.g. {0, 2, 3} of NCHW): reduce the trailing block of
    // consecutive dims first, in place in memory order, then the rest, instead of copying x
    // into a permuted layout.
    std::size_t start = dims.size() - 1;
    while (dims[start - 1] == dims[start] - 1) --start;
    std::vector<std::int64_t> tail(dims.begin() + start, dims.end()), head(dims.begin(), dims.begin() + start);
    Tensor partial = reduce_dims(op, name, x, tail, /*keepdim=*/true, out_dtype);
    return reshape(reduce_dims(op, name, partial, head, /*keepdim=*/true, out_dtype), shape);
  }
  Tensor out = detail::alloc(shape, out_dtype, x.device());
  if (n == 0) {
    PX_CHECK(op == ReduceOp::sum || out.numel() == 0, ValueError, name,
             ": cannot reduce over zero elements (x has shape ", shape_str(x.shape()), ", dims ",
             shape_str(dims), ")");
    if (out.numel() > 0) fill_(out, 0.0);
    return out;
  }
  if (out.numel() == 0) return out;
  Tensor src = x;
  std::int64_t outer = 1, inner = 1;
  if (block && x.is_contiguous()) {
    std::int64_t first = dims.empty() ? x.dim() : dims.front();
    std::int64_t last = dims.empty() ? x.dim() - 1 : dims.back();
    for (std::int64_t k = 0; k < first; ++k) outer *= x.shape()[k];
    for (std::int64_t k = last + 1; k < x.dim(); ++k) inner *= x.shape()[k];
  } else {
    std::vector<std::int64_t> order;
    for (std::int64_t k = 0; k < x.dim(); ++k)
      if (!std::binary_search(dims.begin(), dims.end(), k)) { order.push_back(k); outer *= x.shape()[k]; }
    order.insert(order.end(), dims.begin(), dims.end());
    src = contiguous(permute(x, order));
  }
  detail::backend_of(x).reduce(op, src, out, outer, n, inner);
  return out;
}

// Kernels reduce float32/float64/int64; uint8 inputs are widened to int64 first.
Tensor widened(const Tensor& x) { return x.dtype() == DType::uint8 ? to_dtype(x, DType::int64) : x; }

std::int64_t reduced_count(const Tensor& x, const std::vector<std::int64_t>& dims) {
  std::int64_t n = 1;
  for (std::int64_t d : dims) n *= x.shape()[d];
  return n;
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  detail::check_defined(x, "sum", "x");
  Tensor w = widened(x);
  return reduce_dims(ReduceOp::sum, "sum", w, reduced_dims("sum", x, dims), keepdim, w.dtype());
}

Tensor mean(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  detail::check_defined(x, "mean", "x");
  detail::check_float(x, "mean", "x");
  auto ds = reduced_dims("mean", x, dims);
  Tensor total = reduce_dims(ReduceOp::sum, "mean", x, ds, keepdim, x.dtype());
  return div(total, static_cast<double>(reduced_count(x, ds)));
}

Tensor amax(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  detail::check_defined(x, "amax", "x");
  Tensor r = reduce_dims(ReduceOp::max, "amax", widened(x), reduced_dims("amax", x, dims), keepdim,
                         widened(x).dtype());
  return to_dtype(r, x.dtype());
}

Tensor amin(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  detail::check_defined(x, "amin", "x");
  Tensor r = reduce_dims(ReduceOp::min, "amin", widened(x), reduced_dims("amin", x, dims), keepdim,
                         widened(x).dtype());
  return to_dtype(r, x.dtype());
}

namespace {

Tensor arg_reduce(ReduceOp op, const char* name, const Tensor& x, std::optional<std::int64_t> dim,
                  bool keepdim) {
  detail::check_defined(x, name, "x");
  Tensor w = widened(x);
  if (dim) return reduce_dims(op, name, w, reduced_dims(name, x, {*dim}), keepdim, DType::int64);
  // No dim: the index into the flattened tensor.
  Tensor flat = reshape(w, {x.numel()});
  Tensor r = reduce_dims(op, name, flat, {0}, false, DType::int64);
  return keepdim ? reshape(r, Shape(static_cast<std::size_t>(x.dim()), 1)) : r;
}

}  // namespace

Tensor argmax(const Tensor& x, std::optional<std::int64_t> dim, bool keepdim) {
  return arg_reduce(ReduceOp::argmax, "argmax", x, dim, keepdim);
}

Tensor argmin(const Tensor& x, std::optional<std::int64_t> dim, bool keepdim) {
  return arg_reduce(ReduceOp::argmin, "argmin", x, dim, keepdim);
}

Tensor var(const Tensor& x, const std::vector<std::int64_t>& dims, std::int64_t correction, bool keepdim) {
  detail::check_defined(x, "var", "x");
  detail::check_float(x, "var", "x");
  PX_CHECK(correction >= 0, ValueError, "var: correction = ", correction, " must be >= 0");
  auto ds = reduced_dims("var", x, dims);
  Tensor centred = sub(x, mean(x, ds, true));
  Tensor squares = sum(mul(centred, centred), ds, keepdim);
  double denominator = static_cast<double>(std::max<std::int64_t>(0, reduced_count(x, ds) - correction));
  return div(squares, denominator);
}

Tensor norm_l1(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  detail::check_defined(x, "norm_l1", "x");
  detail::check_float(x, "norm_l1", "x");
  return sum(abs(x), dims, keepdim);
}

Tensor norm_l2(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  detail::check_defined(x, "norm_l2", "x");
  detail::check_float(x, "norm_l2", "x");
  return sqrt(sum(mul(x, x), dims, keepdim));
}

Tensor count_nonzero(const Tensor& x, const std::vector<std::int64_t>& dims) {
  detail::check_defined(x, "count_nonzero", "x");
  return sum(to_dtype(ne(x, 0.0), DType::int64), dims, false);
}

}  // namespace px::ops
