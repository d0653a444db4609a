// Private helpers shared by the op front-end files (core/ops_*.cpp): argument checks and
// output allocation. Not installed; not part of the public API.
#pragma once

#include <vector>

#include "proxima/core/backend.h"
#include "proxima/core/factory.h"
#include "proxima/core/tensor.h"

namespace px::ops::detail {

inline Backend& backend_of(const Tensor& t) { return backend_for(t.device()); }

// Throws ValueError naming op and arg when t is undefined.
inline void check_defined(const Tensor& t, const char* op, const char* arg) {
  PX_CHECK(t.defined(), ValueError, op, ": argument '", arg, "' is an undefined tensor");
}

// Throws DeviceError naming both arguments and both devices when they differ.
inline void check_same_device(const char* op, const char* arg_a, const Tensor& a, const char* arg_b,
                              const Tensor& b) {
  PX_CHECK(a.device() == b.device(), DeviceError, op, ": '", arg_a, "' is on ", a.device().str(),
           " but '", arg_b, "' is on ", b.device().str(), "; move them to one device first");
}

inline void check_float(const Tensor& t, const char* op, const char* arg) {
  PX_CHECK(is_floating(t.dtype()), DTypeError, op, ": '", arg,
           "' must be float32 or float64, got ", dtype_name(t.dtype()));
}

inline void check_ndim(const Tensor& t, std::int64_t ndim, const char* op, const char* arg) {
  PX_CHECK(t.dim() == ndim, ShapeError, op, ": '", arg, "' must be ", ndim, "-d, got shape ",
           shape_str(t.shape()));
}

// A fresh contiguous tensor on `device`.
inline Tensor alloc(const Shape& shape, DType dtype, Device device) {
  return empty(shape, TensorOptions{.dtype = dtype, .device = device});
}
inline Tensor alloc_like(const Tensor& t, const Shape& shape) { return alloc(shape, t.dtype(), t.device()); }

}  // namespace px::ops::detail
