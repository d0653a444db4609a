// Shape helpers: element counts, row-major strides, printing, broadcasting, dim wrapping.
#include "proxima/core/shape.h"

#include <algorithm>
#include <sstream>

#include "proxima/core/error.h"

namespace px {

std::int64_t shape_numel(const Shape& shape) {
  std::int64_t n = 1;
  for (std::int64_t s : shape) n *= s;
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  std::int64_t running = 1;
  for (std::size_t k = shape.size(); k-- > 0;) {
    strides[k] = running;
    running *= shape[k] > 0 ? shape[k] : 1;
  }
  return strides;
}

std::string shape_str(const Shape& shape) {
  std::ostringstream out;
  out << '[';
  for (std::size_t k = 0; k < shape.size(); ++k) out << (k ? ", " : "") << shape[k];
  out << ']';
  return out.str();
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* what) {
  std::size_t ndim = std::max(a.size(), b.size());
  Shape out(ndim);
  for (std::size_t k = 0; k < ndim; ++k) {
    // Align from the right: missing leading dims act as size 1.
    std::int64_t sa = k < ndim - a.size() ? 1 : a[k - (ndim - a.size())];
    std::int64_t sb = k < ndim - b.size() ? 1 : b[k - (ndim - b.size())];
    PX_CHECK(sa == sb || sa == 1 || sb == 1, ShapeError, what, ": shapes ", shape_str(a), " and ",
             shape_str(b), " cannot be broadcast together (dim ", k, ": ", sa, " vs ", sb, ")");
    out[k] = sa == 1 ? sb : sa;
  }
  return out;
}

std::int64_t normalize_dim(std::int64_t dim, std::int64_t ndim, const char* arg) {
  // A 0-d tensor accepts dim 0 and -1 (as in PyTorch).
  std::int64_t range = ndim > 0 ? ndim : 1;
  PX_CHECK(dim >= -range && dim < range, IndexError, arg, " = ", dim, " is out of range for a ",
           ndim, "-d tensor (expected in [", -range, ", ", range - 1, "])");
  return dim < 0 ? dim + range : dim;
}

}  // namespace px
