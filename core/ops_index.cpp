// Indexing and assembling ops: index_select, index_add_, cat, stack, pad.
#include <algorithm>

#include "proxima/core/detail/ops_util.h"
#include "proxima/core/ops.h"

namespace px::ops {
namespace {

void check_index(const char* op, const Tensor& index, const Tensor& x) {
  detail::check_defined(index, op, "index");
  PX_CHECK(index.dtype() == DType::int64, DTypeError, op, ": 'index' must be int64, got ",
           dtype_name(index.dtype()));
  PX_CHECK(index.dim() == 1, ShapeError, op, ": 'index' must be 1-d, got shape ", shape_str(index.shape()));
  detail::check_same_device(op, "x", x, "index", index);
}

}  // namespace

Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index) {
  detail::check_defined(x, "index_select", "x");
  check_index("index_select", index, x);
  PX_CHECK(x.dim() > 0, ShapeError, "index_select: 'x' must have at least one dim, got a 0-d tensor");
  std::int64_t d = normalize_dim(dim, x.dim(), "index_select: dim");
  Shape shape = x.shape();
  shape[d] = index.numel();
  Tensor out = detail::alloc_like(x, shape);
  if (out.numel() == 0) return out;
  PX_CHECK(x.shape()[d] > 0, IndexError, "index_select: dim ", d, " of 'x' has size 0 but 'index' has ",
           index.numel(), " entries");
  detail::backend_of(x).index_select(contiguous(x), d, contiguous(index), out);
  return out;
}

Tensor index_add_(const Tensor& dst, std::int64_t dim, const Tensor& index, const Tensor& src) {
  detail::check_defined(dst, "index_add_", "dst");
  detail::check_defined(src, "index_add_", "src");
  check_index("index_add_", index, dst);
  detail::check_same_device("index_add_", "dst", dst, "src", src);
  PX_CHECK(dst.dim() > 0, ShapeError, "index_add_: 'dst' must have at least one dim, got a 0-d tensor");
  PX_CHECK(src.dtype() == dst.dtype(), DTypeError, "index_add_: 'src' has dtype ", dtype_name(src.dtype()),
           " but 'dst' has dtype ", dtype_name(dst.dtype()));
  std::int64_t d = normalize_dim(dim, dst.dim(), "index_add_: dim");
  Shape expected = dst.shape();
  expected[d] = index.numel();
  PX_CHECK(src.shape() == expected, ShapeError, "index_add_: 'src' has shape ", shape_str(src.shape()),
           " but expected ", shape_str(expected), " (dst's shape with dim ", d, " = index length)");
  if (src.numel() == 0) return dst;
  // The backend accumulates into a contiguous dst; work on a copy when dst is strided.
  Tensor target = dst.is_contiguous() ? dst : clone(dst);
  Tensor source = src.storage() == dst.storage() ? clone(src) : contiguous(src);
  detail::backend_of(dst).index_add(target, d, contiguous(index), source);
  if (!target.is_same(dst)) copy_(dst, target);
  return dst;
}

Tensor cat(const std::vector<Tensor>& xs, std::int64_t dim) {
  PX_CHECK(!xs.empty(), ValueError, "cat: needs at least one tensor, got an empty list");
  for (const Tensor& x : xs) detail::check_defined(x, "cat", "xs");
  const Tensor& first = xs[0];
  PX_CHECK(first.dim() > 0, ShapeError, "cat: tensors must have at least one dim, got a 0-d tensor");
  std::int64_t d = normalize_dim(dim, first.dim(), "cat: dim");
  Shape shape = first.shape();
  DType dtype = first.dtype();
  shape[d] = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    detail::check_same_device("cat", "xs[0]", first, "xs[i]", x);
    bool match = x.dim() == first.dim();
    for (std::int64_t k = 0; match && k < x.dim(); ++k) match = k == d || x.shape()[k] == first.shape()[k];
    PX_CHECK(match, ShapeError, "cat: xs[", i, "] has shape ", shape_str(x.shape()),
             " which does not match xs[0]'s shape ", shape_str(first.shape()), " outside dim ", d);
    shape[d] += x.shape()[d];
    dtype = promote_types(dtype, x.dtype());
  }
  Tensor out = detail::alloc(shape, dtype, first.device());
  std::int64_t at = 0;
  for (const Tensor& x : xs) {
    if (x.numel() > 0) copy_(narrow(out, d, at, x.shape()[d]), x);
    at += x.shape()[d];
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& xs, std::int64_t dim) {
  PX_CHECK(!xs.empty(), ValueError, "stack: needs at least one tensor, got an empty list");
  for (const Tensor& x : xs) detail::check_defined(x, "stack", "xs");
  std::int64_t d = normalize_dim(dim, xs[0].dim() + 1, "stack: dim");
  std::vector<Tensor> parts;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    PX_CHECK(xs[i].shape() == xs[0].shape(), ShapeError, "stack: xs[", i, "] has shape ",
             shape_str(xs[i].shape()), " but xs[0] has shape ", shape_str(xs[0].shape()));
    parts.push_back(unsqueeze(xs[i], d));
  }
  return cat(parts, d);
}

Tensor pad(const Tensor& x, const std::vector<std::int64_t>& pads, double value) {
  detail::check_defined(x, "pad", "x");
  PX_CHECK(pads.size() % 2 == 0, ValueError, "pad: pads must have an even number of entries, got ",
           pads.size());
  auto padded = static_cast<std::int64_t>(pads.size() / 2);
  PX_CHECK(padded <= x.dim(), ValueError, "pad: pads ", shape_str(pads), " pad ", padded,
           " dims but the tensor of shape ", shape_str(x.shape()), " has only ", x.dim());
  Shape shape = x.shape();
  Tensor inner_src = x;
  for (std::int64_t j = 0; j < padded; ++j) {
    std::int64_t d = x.dim() - 1 - j, left = pads[2 * j], right = pads[2 * j + 1];
    shape[d] += left + right;
    PX_CHECK(shape[d] >= 0, ShapeError, "pad: pads ", shape_str(pads), " make dim ", d, " of shape ",
             shape_str(x.shape()), " negative (", shape[d], ")");
  }
  // Only the border is filled with `value`: the copied interior is written once. Along each
  // padded dim, the slabs before and after the interior are filled within the interior of
  // the dims handled before it, so the slabs and the interior partition the output.
  Tensor out = detail::alloc(shape, x.dtype(), x.device());
  Tensor inner_dst = out;
  for (std::int64_t j = 0; j < padded; ++j) {
    std::int64_t d = x.dim() - 1 - j, left = pads[2 * j], right = pads[2 * j + 1];
    // Negative amounts crop the source; positive ones offset the destination.
    std::int64_t src_start = std::max<std::int64_t>(0, -left);
    std::int64_t src_end = x.shape()[d] - std::max<std::int64_t>(0, -right);
    std::int64_t length = std::max<std::int64_t>(0, src_end - src_start);
    std::int64_t dst_start = std::min(std::max<std::int64_t>(0, left), shape[d]);
    length = std::min(length, shape[d] - dst_start);
    inner_src = narrow(inner_src, d, std::min(src_start, x.shape()[d]), length);
    if (dst_start > 0) fill_(narrow(inner_dst, d, 0, dst_start), value);
    const std::int64_t after = dst_start + length;
    if (after < shape[d]) fill_(narrow(inner_dst, d, after, shape[d] - after), value);
    inner_dst = narrow(inner_dst, d, dst_start, length);
  }
  if (inner_src.numel() > 0) copy_(inner_dst, inner_src);
  return out;
}

}  // namespace px::ops
