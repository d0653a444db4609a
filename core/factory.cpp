// Tensor factories: allocation through the device's backend, constants, ranges, random draws.
#include "proxima/core/factory.h"

#include <cmath>

#include "proxima/core/backend.h"
#include "proxima/core/ops.h"

namespace px {

Tensor empty(const Shape& shape, TensorOptions options) {
  for (std::int64_t s : shape)
    PX_CHECK(s >= 0, ValueError, "empty: shape ", shape_str(shape), " has a negative size");
  std::size_t nbytes = static_cast<std::size_t>(shape_numel(shape)) * dtype_size(options.dtype);
  auto storage = backend_for(options.device).allocate(nbytes, options.device);
  return Tensor(std::move(storage), shape, contiguous_strides(shape), 0, options.dtype);
}

Tensor full(const Shape& shape, double value, TensorOptions options) {
  Tensor t = empty(shape, options);
  ops::fill_(t, value);
  return t;
}

Tensor zeros(const Shape& shape, TensorOptions options) { return full(shape, 0.0, options); }
Tensor ones(const Shape& shape, TensorOptions options) { return full(shape, 1.0, options); }

namespace {

template <class T>
Tensor arange_typed(double start, double step, std::int64_t n, Device device) {
  std::vector<T> values(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) values[static_cast<std::size_t>(i)] = static_cast<T>(start + i * step);
  return from_vector(values, {n}, device);
}

}  // namespace

Tensor arange(double start, double end, double step, TensorOptions options) {
  PX_CHECK(step != 0.0 && std::isfinite(step), ValueError, "arange: step = ", step,
           " must be finite and non-zero");
  PX_CHECK(std::isfinite(start) && std::isfinite(end), ValueError, "arange: start = ", start,
           " and end = ", end, " must be finite");
  auto n = static_cast<std::int64_t>(std::max(0.0, std::ceil((end - start) / step)));
  switch (options.dtype) {
    case DType::float32: return arange_typed<float>(start, step, n, options.device);
    case DType::float64: return arange_typed<double>(start, step, n, options.device);
    case DType::int64: return arange_typed<std::int64_t>(start, step, n, options.device);
    case DType::uint8: return arange_typed<std::uint8_t>(start, step, n, options.device);
  }
  return Tensor();
}

Tensor arange(std::int64_t n, TensorOptions options) {
  PX_CHECK(n >= 0, ValueError, "arange: n = ", n, " must be >= 0");
  return arange(0.0, static_cast<double>(n), 1.0, options);
}

Tensor rand(const Shape& shape, TensorOptions options, Generator* gen) {
  PX_CHECK(is_floating(options.dtype), DTypeError, "rand: dtype must be float32 or float64, got ",
           dtype_name(options.dtype));
  return ops::uniform(shape, 0.0, 1.0, options, gen);
}

Tensor randn(const Shape& shape, TensorOptions options, Generator* gen) {
  PX_CHECK(is_floating(options.dtype), DTypeError, "randn: dtype must be float32 or float64, got ",
           dtype_name(options.dtype));
  return ops::normal(shape, 0.0, 1.0, options, gen);
}

Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, TensorOptions options,
               Generator* gen) {
  PX_CHECK(high > low, ValueError, "randint: high = ", high, " must be greater than low = ", low);
  auto range = static_cast<double>(high - low);
  // floor(u * range) for u in [0, 1) is in [0, range); the int cast truncates (u * range >= 0).
  Tensor u = ops::uniform(shape, 0.0, 1.0, {.dtype = DType::float64, .device = options.device}, gen);
  Tensor k = ops::to_dtype(ops::mul(u, range), DType::int64);
  k = ops::minimum(k, scalar_tensor(static_cast<double>(high - low - 1),
                                    {.dtype = DType::int64, .device = options.device}));
  return ops::to_dtype(ops::add(k, static_cast<double>(low)), options.dtype);
}

Tensor from_blob(const void* data, const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, {.dtype = dtype, .device = device});
  if (t.numel() > 0) {
    PX_CHECK(data != nullptr, ValueError, "from_blob: data is null for shape ", shape_str(shape));
    backend_for(device).copy_from_host(t, data);
  }
  return t;
}

Tensor tensor(std::initializer_list<float> values, Shape shape) {
  if (shape.empty()) shape = {static_cast<std::int64_t>(values.size())};
  return from_vector(std::vector<float>(values), shape);
}

Tensor scalar_tensor(double value, TensorOptions options) { return full({}, value, options); }

namespace {
TensorOptions options_of(const Tensor& t) { return {.dtype = t.dtype(), .device = t.device()}; }
}  // namespace

Tensor empty_like(const Tensor& t) { return empty(t.shape(), options_of(t)); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), options_of(t)); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), options_of(t)); }
Tensor full_like(const Tensor& t, double value) { return full(t.shape(), value, options_of(t)); }
Tensor rand_like(const Tensor& t, Generator* gen) { return rand(t.shape(), options_of(t), gen); }
Tensor randn_like(const Tensor& t, Generator* gen) { return randn(t.shape(), options_of(t), gen); }

}  // namespace px
