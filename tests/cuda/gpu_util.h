// Helpers of the GPU suite: random inputs on the CPU and CPU-vs-GPU comparisons.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "proxima/core/factory.h"
#include "proxima/core/ops.h"
#include "proxima/core/tensor.h"

namespace px::gpu_test {

inline Device gpu() { return Device::cuda(0); }

// Random CPU tensor: floats ~ N(0, scale^2), int64 in [-20, 20), uint8 in {0, 1, 2}.
inline Tensor random_cpu(const Shape& shape, DType dtype, Generator& gen, double scale = 1.0) {
  if (dtype == DType::int64) return randint(-20, 20, shape, {.dtype = DType::int64}, &gen);
  if (dtype == DType::uint8) return randint(0, 3, shape, {.dtype = DType::int64}, &gen).to(DType::uint8);
  return ops::mul(randn(shape, {.dtype = dtype}, &gen), scale);
}

// Random CPU tensor with entries |N(0, 1)| + floor (> 0: variances, inverse deviations, scales).
inline Tensor positive_cpu(const Shape& shape, DType dtype, Generator& gen, double floor = 0.5) {
  return ops::add(ops::abs(random_cpu(shape, dtype, gen)), floor);
}

// t copied to the GPU, or an undefined tensor when t is undefined (optional weight, bias, ...).
inline Tensor maybe_to_gpu(const Tensor& t) { return t.defined() ? t.to(gpu()) : Tensor(); }

// Element-by-element comparison of a CPU result and a GPU result: same shape and dtype,
// |got - want| <= atol + rtol * |want|, NaN only where NaN. Reports the first mismatch.
inline void check_close(const Tensor& want_cpu, const Tensor& got_gpu, double rtol, double atol,
                        const std::string& what) {
  INFO(what);
  REQUIRE(got_gpu.device() == gpu());
  REQUIRE(shape_str(got_gpu.shape()) == shape_str(want_cpu.shape()));
  REQUIRE(got_gpu.dtype() == want_cpu.dtype());
  std::vector<double> want = want_cpu.to(DType::float64).to_vector<double>();
  std::vector<double> got = got_gpu.to(Device::cpu()).to(DType::float64).to_vector<double>();
  REQUIRE(want.size() == got.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    bool both_nan = std::isnan(want[i]) && std::isnan(got[i]);
    bool ok = both_nan || want[i] == got[i] || std::abs(got[i] - want[i]) <= atol + rtol * std::abs(want[i]);
    if (!ok) {
      FAIL_CHECK("element " << i << ": gpu " << got[i] << " vs cpu " << want[i]);
      return;
    }
  }
}

inline void check_equal(const Tensor& want_cpu, const Tensor& got_gpu, const std::string& what) {
  check_close(want_cpu, got_gpu, 0.0, 0.0, what);
}

// Tolerances for results computed in a different order (or with different libm).
inline double rtol_for(DType dtype) { return dtype == DType::float32 ? 2e-5 : 1e-12; }

}  // namespace px::gpu_test
