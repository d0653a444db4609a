// Internal: float dtype dispatch and an OpenMP loop over coordinates for the CPU optimizer updates.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "proxima/core/backend.h"
#include "proxima/core/tensor.h"

namespace px::optim::cpu {

// Calls f(T{}) with T = float or double, the dtype of a (float) parameter.
template <class F>
void dispatch_float(DType dtype, F&& f) {
  if (dtype == DType::float64) {
    f(double{});
  } else {
    PX_CHECK(dtype == DType::float32, DTypeError, "optimizer: parameter dtype ", dtype_name(dtype),
             " is not float32/float64");
    f(float{});
  }
}

// Calls f(i) for i in [0, n): on one thread below `grain` coordinates, else on static chunks
// (each coordinate is independent, so the result does not depend on the thread count).
template <class F>
void for_each_coordinate(std::int64_t n, F&& f, std::int64_t grain = 1 << 15) {
  if (n <= 0) return;
  const std::int64_t chunks = (n + grain - 1) / grain;
  const int threads = omp_in_parallel() ? 1 : static_cast<int>(std::min<std::int64_t>(get_num_threads(), chunks));
  if (threads <= 1) {
    for (std::int64_t i = 0; i < n; ++i) f(i);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t i = 0; i < n; ++i) f(i);
}

// Calls f(begin, end) once per thread on contiguous static ranges that cover [0, n) (one range
// [0, n) below `grain` coordinates or inside a parallel region). For loops whose body wants the
// per-step coefficients as locals and an inner `#pragma omp simd` loop: the range boundaries are
// multiples of 64 coordinates, and no coordinate depends on another, so results do not depend
// on the thread count.
template <class F>
void for_each_range(std::int64_t n, F&& f, std::int64_t grain = 1 << 15) {
  if (n <= 0) return;
  const std::int64_t chunks = (n + grain - 1) / grain;
  const int threads = omp_in_parallel() ? 1 : static_cast<int>(std::min<std::int64_t>(get_num_threads(), chunks));
  if (threads <= 1) {
    f(std::int64_t{0}, n);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const std::int64_t parts = omp_get_num_threads();
    const std::int64_t per = ((n + parts - 1) / parts + 63) / 64 * 64;
    const std::int64_t begin = std::min<std::int64_t>(n, per * omp_get_thread_num());
    const std::int64_t end = std::min<std::int64_t>(n, begin + per);
    if (begin < end) f(begin, end);
  }
}

// A typed host pointer to a state entry, or nullptr when the entry is not used.
template <class T>
T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

}  // namespace px::optim::cpu
