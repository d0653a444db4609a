// View ops: new shapes and strides over the same storage (reshape copies only when it must).
#include <algorithm>
#include <optional>

#include "proxima/core/detail/ops_util.h"
#include "proxima/core/ops.h"

namespace px::ops {
namespace {

Tensor make_view(const Tensor& x, Shape shape, Shape strides, std::int64_t offset) {
  return Tensor(x.storage(), std::move(shape), std::move(strides), offset, x.dtype());
}

// Replaces one -1 entry by the size that keeps numel; checks the element count.
Shape infer_shape(const char* op, const Shape& shape, std::int64_t numel) {
  Shape out = shape;
  std::int64_t known = 1;
  std::optional<std::size_t> free_dim;
  for (std::size_t k = 0; k < out.size(); ++k) {
    if (out[k] == -1) {
      PX_CHECK(!free_dim, ShapeError, op, ": shape ", shape_str(shape), " has more than one -1");
      free_dim = k;
    } else {
      PX_CHECK(out[k] >= 0, ShapeError, op, ": shape ", shape_str(shape), " has a negative size");
      known *= out[k];
    }
  }
  if (free_dim) {
    PX_CHECK(known > 0 && numel % known == 0, ShapeError, op, ": shape ", shape_str(shape),
             " is invalid for a tensor of ", numel, " elements");
    out[*free_dim] = numel / known;
  }
  PX_CHECK(shape_numel(out) == numel, ShapeError, op, ": shape ", shape_str(shape),
           " is invalid for a tensor of ", numel, " elements");
  return out;
}

// Strides that view (shape, strides) as new_shape without moving data, if any exist. Old
// dims are grouped into chunks that are contiguous among themselves; each chunk must be
// covered exactly by consecutive new dims.
std::optional<Shape> view_strides(const Shape& shape, const Shape& strides, const Shape& new_shape) {
  if (shape_numel(shape) == 0 || shape.empty()) return contiguous_strides(new_shape);
  Shape sizes, steps;  // old dims of size != 1
  for (std::size_t k = 0; k < shape.size(); ++k)
    if (shape[k] != 1) { sizes.push_back(shape[k]); steps.push_back(strides[k]); }
  Shape out(new_shape.size(), 1);
  std::size_t j = new_shape.size();
  std::size_t i = sizes.size();
  while (i > 0) {
    std::size_t c = i - 1;
    std::int64_t chunk_numel = sizes[c];
    while (c > 0 && steps[c - 1] == steps[c] * sizes[c]) chunk_numel *= sizes[--c];
    std::int64_t view_numel = 1;
    while (j > 0 && (view_numel < chunk_numel || new_shape[j - 1] == 1)) {
      out[j - 1] = steps[i - 1] * view_numel;
      view_numel *= new_shape[--j];
    }
    if (view_numel != chunk_numel) return std::nullopt;
    i = c;
  }
  return out;  // any remaining new dims have size 1 (numel matched) and keep stride 1
}

}  // namespace

Tensor as_strided(const Tensor& x, const Shape& shape, const Shape& strides, std::int64_t offset) {
  detail::check_defined(x, "as_strided", "x");
  return make_view(x, shape, strides, offset);
}

Tensor view(const Tensor& x, const Shape& shape) {
  detail::check_defined(x, "view", "x");
  Shape target = infer_shape("view", shape, x.numel());
  auto strides = view_strides(x.shape(), x.strides(), target);
  PX_CHECK(strides.has_value(), ShapeError, "view: a tensor of shape ", shape_str(x.shape()),
           " and strides ", shape_str(x.strides()), " cannot be viewed as ", shape_str(target),
           " without a copy; use reshape");
  return make_view(x, target, *strides, x.offset());
}

Tensor reshape(const Tensor& x, const Shape& shape) {
  detail::check_defined(x, "reshape", "x");
  Shape target = infer_shape("reshape", shape, x.numel());
  if (auto strides = view_strides(x.shape(), x.strides(), target))
    return make_view(x, target, *strides, x.offset());
  Tensor c = clone(x);
  return make_view(c, target, contiguous_strides(target), 0);
}

Tensor flatten(const Tensor& x, std::int64_t start_dim, std::int64_t end_dim) {
  detail::check_defined(x, "flatten", "x");
  if (x.dim() == 0) return reshape(x, {1});
  std::int64_t s = normalize_dim(start_dim, x.dim(), "start_dim");
  std::int64_t e = normalize_dim(end_dim, x.dim(), "end_dim");
  PX_CHECK(s <= e, ValueError, "flatten: start_dim = ", start_dim, " comes after end_dim = ", end_dim,
           " for a ", x.dim(), "-d tensor");
  Shape shape(x.shape().begin(), x.shape().begin() + s);
  std::int64_t merged = 1;
  for (std::int64_t k = s; k <= e; ++k) merged *= x.shape()[k];
  shape.push_back(merged);
  shape.insert(shape.end(), x.shape().begin() + e + 1, x.shape().end());
  return reshape(x, shape);
}

Tensor permute(const Tensor& x, const std::vector<std::int64_t>& dims) {
  detail::check_defined(x, "permute", "x");
  PX_CHECK(static_cast<std::int64_t>(dims.size()) == x.dim(), ShapeError, "permute: dims has ",
           dims.size(), " entries but the tensor of shape ", shape_str(x.shape()), " has ", x.dim(), " dims");
  Shape shape(dims.size()), strides(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (std::size_t k = 0; k < dims.size(); ++k) {
    std::int64_t d = normalize_dim(dims[k], x.dim(), "permute: dims entry");
    PX_CHECK(!seen[d], IndexError, "permute: dims ", shape_str(dims), " repeats dim ", d);
    seen[d] = true;
    shape[k] = x.shape()[d];
    strides[k] = x.strides()[d];
  }
  return make_view(x, shape, strides, x.offset());
}

Tensor transpose(const Tensor& x, std::int64_t dim0, std::int64_t dim1) {
  detail::check_defined(x, "transpose", "x");
  if (x.dim() == 0) {
    normalize_dim(dim0, 0, "transpose: dim0");
    normalize_dim(dim1, 0, "transpose: dim1");
    return x;
  }
  std::int64_t a = normalize_dim(dim0, x.dim(), "transpose: dim0");
  std::int64_t b = normalize_dim(dim1, x.dim(), "transpose: dim1");
  Shape shape = x.shape(), strides = x.strides();
  std::swap(shape[a], shape[b]);
  std::swap(strides[a], strides[b]);
  return make_view(x, shape, strides, x.offset());
}

Tensor squeeze(const Tensor& x) {
  detail::check_defined(x, "squeeze", "x");
  Shape shape, strides;
  for (std::int64_t k = 0; k < x.dim(); ++k)
    if (x.shape()[k] != 1) { shape.push_back(x.shape()[k]); strides.push_back(x.strides()[k]); }
  return make_view(x, shape, strides, x.offset());
}

Tensor squeeze(const Tensor& x, std::int64_t dim) {
  detail::check_defined(x, "squeeze", "x");
  std::int64_t d = normalize_dim(dim, x.dim(), "squeeze: dim");
  if (x.dim() == 0 || x.shape()[d] != 1) return x;
  Shape shape = x.shape(), strides = x.strides();
  shape.erase(shape.begin() + d);
  strides.erase(strides.begin() + d);
  return make_view(x, shape, strides, x.offset());
}

Tensor unsqueeze(const Tensor& x, std::int64_t dim) {
  detail::check_defined(x, "unsqueeze", "x");
  std::int64_t d = normalize_dim(dim, x.dim() + 1, "unsqueeze: dim");
  Shape shape = x.shape(), strides = x.strides();
  std::int64_t stride = d < x.dim() ? shape[d] * strides[d] : 1;
  shape.insert(shape.begin() + d, 1);
  strides.insert(strides.begin() + d, stride);
  return make_view(x, shape, strides, x.offset());
}

Tensor expand(const Tensor& x, const Shape& shape) {
  detail::check_defined(x, "expand", "x");
  auto ndim = static_cast<std::int64_t>(shape.size());
  PX_CHECK(ndim >= x.dim(), ShapeError, "expand: target shape ", shape_str(shape), " has fewer dims than ",
           shape_str(x.shape()));
  Shape out(ndim), strides(ndim);
  std::int64_t lead = ndim - x.dim();
  for (std::int64_t k = 0; k < ndim; ++k) {
    if (k < lead) {
      PX_CHECK(shape[k] >= 0, ShapeError, "expand: target shape ", shape_str(shape),
               " has size ", shape[k], " in new leading dim ", k);
      out[k] = shape[k];
      strides[k] = 0;
      continue;
    }
    std::int64_t have = x.shape()[k - lead];
    std::int64_t want = shape[k] == -1 ? have : shape[k];
    PX_CHECK(want == have || have == 1, ShapeError, "expand: shape ", shape_str(x.shape()),
             " cannot be expanded to ", shape_str(shape), " (dim ", k, ": ", have, " vs ", want, ")");
    PX_CHECK(want >= 0, ShapeError, "expand: target shape ", shape_str(shape), " has a negative size");
    out[k] = want;
    strides[k] = want == have ? x.strides()[k - lead] : 0;
  }
  return make_view(x, out, strides, x.offset());
}

Tensor narrow(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t length) {
  detail::check_defined(x, "narrow", "x");
  PX_CHECK(x.dim() > 0, IndexError, "narrow: cannot narrow a 0-d tensor");
  std::int64_t d = normalize_dim(dim, x.dim(), "narrow: dim");
  std::int64_t size = x.shape()[d];
  if (start < 0 && start >= -size) start += size;
  PX_CHECK(start >= 0 && length >= 0 && start + length <= size, IndexError, "narrow: start = ", start,
           " and length = ", length, " do not fit in dim ", d, " of size ", size);
  Shape shape = x.shape();
  shape[d] = length;
  return make_view(x, shape, x.strides(), x.offset() + (length > 0 ? start * x.strides()[d] : 0));
}

Tensor slice(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step) {
  detail::check_defined(x, "slice", "x");
  PX_CHECK(x.dim() > 0, IndexError, "slice: cannot slice a 0-d tensor");
  PX_CHECK(step > 0, ValueError, "slice: step = ", step, " must be positive");
  std::int64_t d = normalize_dim(dim, x.dim(), "slice: dim");
  std::int64_t size = x.shape()[d];
  auto wrap = [size](std::int64_t i) { return std::clamp(i < 0 ? i + size : i, std::int64_t{0}, size); };
  std::int64_t s = wrap(start), e = wrap(end);
  std::int64_t length = e > s ? (e - s + step - 1) / step : 0;
  Shape shape = x.shape(), strides = x.strides();
  shape[d] = length;
  strides[d] *= step;
  return make_view(x, shape, strides, x.offset() + (length > 0 ? s * x.strides()[d] : 0));
}

}  // namespace px::ops
