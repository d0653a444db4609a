// Tensor factories: empty, zeros, ones, full, arange, random draws, host data, *_like.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "proxima/core/generator.h"
#include "proxima/core/tensor.h"

namespace px {

struct TensorOptions {
  DType dtype = DType::float32;
  Device device = Device::cpu();
};

Tensor empty(const Shape& shape, TensorOptions options = {});
Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor full(const Shape& shape, double value, TensorOptions options = {});
// [start, end) in steps of `step` (non-zero); length ceil((end - start) / step).
Tensor arange(double start, double end, double step = 1.0, TensorOptions options = {});
Tensor arange(std::int64_t n, TensorOptions options = {.dtype = DType::int64});
// Uniform on [0, 1), standard normal, and integers uniform on [low, high). Generator null =
// the default generator. rand/randn need a float dtype; randint defaults to int64.
Tensor rand(const Shape& shape, TensorOptions options = {}, Generator* gen = nullptr);
Tensor randn(const Shape& shape, TensorOptions options = {}, Generator* gen = nullptr);
Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape,
               TensorOptions options = {.dtype = DType::int64}, Generator* gen = nullptr);

// Copies host data into a new tensor of dtype_of<T>() (numel must match shape).
template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device = Device::cpu());
Tensor from_blob(const void* data, const Shape& shape, DType dtype, Device device = Device::cpu());
// Convenience: a float32 tensor from a list (shape [n], or `shape` when given).
Tensor tensor(std::initializer_list<float> values, Shape shape = {});
Tensor scalar_tensor(double value, TensorOptions options = {});  // 0-d

Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
Tensor rand_like(const Tensor& t, Generator* gen = nullptr);
Tensor randn_like(const Tensor& t, Generator* gen = nullptr);

template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device) {
  PX_CHECK(static_cast<std::int64_t>(values.size()) == shape_numel(shape), ShapeError,
           "from_vector: ", values.size(), " values do not fill shape ", shape_str(shape),
           " (", shape_numel(shape), " elements)");
  return from_blob(values.data(), shape, dtype_of<T>(), device);
}

}  // namespace px
