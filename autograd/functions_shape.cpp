// Differentiable data movement, views and shape ops: each forward with its backward beside it.
#include "proxima/autograd/functions.h"
#include "proxima/core/ops.h"

namespace px {

using autograd::Needs;
using autograd::record;
using autograd::TensorList;

// ---- data movement: the gradient goes back unchanged (cast back / moved back) ----

Tensor to_dtype(const Tensor& x, DType dtype) {
  return record("to_dtype", {x}, ops::to_dtype(x, dtype),
                [in = x.dtype()](const Tensor& g, const Needs&) -> TensorList { return {ops::to_dtype(g, in)}; });
}

Tensor to_device(const Tensor& x, Device device) {
  return record(
      "to_device", {x}, ops::to_device(x, device),
      [in = x.device()](const Tensor& g, const Needs&) -> TensorList { return {ops::to_device(g, in)}; });
}

Tensor contiguous(const Tensor& x) {
  return record("contiguous", {x}, ops::contiguous(x),
                [](const Tensor& g, const Needs&) -> TensorList { return {g}; });
}

Tensor clone(const Tensor& x) {
  return record("clone", {x}, ops::clone(x), [](const Tensor& g, const Needs&) -> TensorList { return {g}; });
}

// ---- views: the gradient is reshaped / permuted back to the input's layout ----

namespace {
// Backward of every op that only changes the shape: reshape the gradient back.
autograd::UnaryBackwardFn reshape_back(const Shape& in) {
  return [in](const Tensor& g, const Needs&) -> TensorList { return {ops::reshape(g, in)}; };
}
}  // namespace

Tensor view(const Tensor& x, const Shape& shape) {
  return record("view", {x}, ops::view(x, shape), reshape_back(x.shape()));
}

Tensor reshape(const Tensor& x, const Shape& shape) {
  return record("reshape", {x}, ops::reshape(x, shape), reshape_back(x.shape()));
}

Tensor flatten(const Tensor& x, std::int64_t start_dim, std::int64_t end_dim) {
  return record("flatten", {x}, ops::flatten(x, start_dim, end_dim), reshape_back(x.shape()));
}

Tensor squeeze(const Tensor& x) { return record("squeeze", {x}, ops::squeeze(x), reshape_back(x.shape())); }

Tensor squeeze(const Tensor& x, std::int64_t dim) {
  return record("squeeze", {x}, ops::squeeze(x, dim), reshape_back(x.shape()));
}

Tensor unsqueeze(const Tensor& x, std::int64_t dim) {
  return record("unsqueeze", {x}, ops::unsqueeze(x, dim), reshape_back(x.shape()));
}

Tensor permute(const Tensor& x, const std::vector<std::int64_t>& dims) {
  Tensor y = ops::permute(x, dims);  // validates dims
  std::vector<std::int64_t> inverse(dims.size());
  for (std::size_t i = 0; i < dims.size(); ++i) {
    inverse[static_cast<std::size_t>(normalize_dim(dims[i], x.dim()))] = static_cast<std::int64_t>(i);
  }
  return record("permute", {x}, y,
                [inverse](const Tensor& g, const Needs&) -> TensorList { return {ops::permute(g, inverse)}; });
}

Tensor transpose(const Tensor& x, std::int64_t dim0, std::int64_t dim1) {
  return record(
      "transpose", {x}, ops::transpose(x, dim0, dim1),
      [dim0, dim1](const Tensor& g, const Needs&) -> TensorList { return {ops::transpose(g, dim0, dim1)}; });
}

Tensor expand(const Tensor& x, const Shape& shape) {
  return record(
      "expand", {x}, ops::expand(x, shape),
      [in = x.shape()](const Tensor& g, const Needs&) -> TensorList { return {autograd::sum_to(g, in)}; });
}

// ---- sub-ranges: the gradient is scattered into zeros of the input's shape ----

namespace {
Tensor zeros_for(const Shape& shape, const Tensor& like) {
  return zeros(shape, {.dtype = like.dtype(), .device = like.device()});
}
}  // namespace

Tensor narrow(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t length) {
  return record("narrow", {x}, ops::narrow(x, dim, start, length),
                [in = x.shape(), dim, start, length](const Tensor& g, const Needs&) -> TensorList {
                  Tensor gx = zeros_for(in, g);
                  ops::copy_(ops::narrow(gx, dim, start, length), g);
                  return {gx};
                });
}

Tensor slice(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step) {
  return record("slice", {x}, ops::slice(x, dim, start, end, step),
                [in = x.shape(), dim, start, end, step](const Tensor& g, const Needs&) -> TensorList {
                  Tensor gx = zeros_for(in, g);
                  ops::copy_(ops::slice(gx, dim, start, end, step), g);
                  return {gx};
                });
}

Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index) {
  return record("index_select", {x}, ops::index_select(x, dim, index),
                [in = x.shape(), dim, index = index.detach()](const Tensor& g, const Needs&) -> TensorList {
                  Tensor gx = zeros_for(in, g);
                  ops::index_add_(gx, dim, index, ops::contiguous(g));
                  return {gx};
                });
}

Tensor cat(const std::vector<Tensor>& xs, std::int64_t dim) {
  Tensor y = ops::cat(xs, dim);  // validates xs and dim
  const std::int64_t d = normalize_dim(dim, xs[0].dim());
  std::vector<std::int64_t> sizes;
  for (const Tensor& x : xs) sizes.push_back(x.size(d));
  return record("cat", xs, y, [d, sizes](const Tensor& g, const Needs& needs) -> TensorList {
    TensorList grads(sizes.size());
    std::int64_t start = 0;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      if (needs[i]) grads[i] = ops::narrow(g, d, start, sizes[i]);
      start += sizes[i];
    }
    return grads;
  });
}

Tensor stack(const std::vector<Tensor>& xs, std::int64_t dim) {
  Tensor y = ops::stack(xs, dim);  // validates xs and dim
  const std::int64_t d = normalize_dim(dim, xs[0].dim() + 1);
  return record("stack", xs, y,
                [d, in = xs[0].shape(), n = xs.size()](const Tensor& g, const Needs& needs) -> TensorList {
                  TensorList grads(n);
                  for (std::size_t i = 0; i < n; ++i) {
                    if (needs[i]) grads[i] = ops::reshape(ops::narrow(g, d, static_cast<std::int64_t>(i), 1), in);
                  }
                  return grads;
                });
}

// Padding by -pads crops what the forward padded and zero-pads what it cropped.
Tensor pad(const Tensor& x, const std::vector<std::int64_t>& pads, double value) {
  std::vector<std::int64_t> undo(pads.size());
  for (std::size_t i = 0; i < pads.size(); ++i) undo[i] = -pads[i];
  return record("pad", {x}, ops::pad(x, pads, value),
                [undo](const Tensor& g, const Needs&) -> TensorList { return {ops::pad(g, undo, 0.0)}; });
}

}  // namespace px
