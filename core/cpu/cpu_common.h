// Private helpers of the CPU backend: dtype dispatch and a grain-limited OpenMP parallel_for.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "proxima/core/backend.h"
#include "proxima/core/dtype.h"
#include "proxima/core/error.h"

namespace px::cpu {

// Calls f(T{}) with T the C++ type of `t`; ops use `using T = decltype(tag);`.
template <class F>
decltype(auto) dispatch_dtype(DType t, F&& f) {
  switch (t) {
    case DType::float32: return f(float{});
    case DType::float64: return f(double{});
    case DType::int64: return f(std::int64_t{});
    case DType::uint8: return f(std::uint8_t{});
  }
  throw DTypeError(detail::str("cpu backend: unknown dtype ", static_cast<int>(t)));
}

// Float-only dispatch (GEMM, convolution, pooling, softmax, random).
template <class F>
decltype(auto) dispatch_float(DType t, const char* what, F&& f) {
  if (t == DType::float32) return f(float{});
  if (t == DType::float64) return f(double{});
  throw DTypeError(detail::str("cpu ", what, ": dtype ", dtype_name(t), " is not float32/float64"));
}

// Threads for a loop of n items where each thread should get at least `grain` items (1 when
// already inside a parallel region: no nested teams).
inline int threads_for(std::int64_t n, std::int64_t grain) {
  if (omp_in_parallel() || n <= grain) return 1;
  std::int64_t chunks = (n + grain - 1) / grain;
  return static_cast<int>(std::min<std::int64_t>(get_num_threads(), chunks));
}

// Runs f(begin, end) on disjoint static chunks of [0, n) in parallel when n > grain. The
// chunking depends only on n and the thread count, so results are repeatable.
template <class F>
void parallel_for(std::int64_t n, std::int64_t grain, F&& f) {
  if (n <= 0) return;
  int nt = threads_for(n, grain);
  if (nt <= 1) {
    f(std::int64_t{0}, n);
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    std::int64_t t = omp_get_thread_num(), count = omp_get_num_threads();
    std::int64_t begin = n * t / count, end = n * (t + 1) / count;
    if (begin < end) f(begin, end);
  }
}

}  // namespace px::cpu
