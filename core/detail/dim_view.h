// DimView: a contiguous tensor seen as [outer, size, inner] around one dimension (shared by the backends' indexing kernels).
#pragma once

#include <cstdint>

#include "proxima/core/shape.h"

namespace px::detail {

struct DimView {
  std::int64_t outer = 1, size = 1, inner = 1;
};

inline DimView dim_view(const Shape& shape, std::int64_t dim) {
  DimView v;
  for (std::int64_t d = 0; d < static_cast<std::int64_t>(shape.size()); ++d) {
    if (d < dim) v.outer *= shape[d];
    else if (d == dim) v.size = shape[d];
    else v.inner *= shape[d];
  }
  return v;
}

}  // namespace px::detail
