// Shapes and strides (in elements), and the helpers every op uses to check them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace px {

using Shape = std::vector<std::int64_t>;

std::int64_t shape_numel(const Shape& shape);
Shape contiguous_strides(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[2, 3, 4]"
// NumPy broadcasting of two shapes; throws ShapeError naming both shapes and `what`.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* what = "broadcast");
// Maps a possibly negative dim into [0, ndim); throws IndexError naming `arg` and the range.
std::int64_t normalize_dim(std::int64_t dim, std::int64_t ndim, const char* arg = "dim");

}  // namespace px
