// Private inner-product GEMM of the CPU backend: C (+)= A * B^T with A and B both read in place along their rows.
#pragma once

#include <cstdint>

namespace px::cpu {

// C [M, K] = A [M, N] * B [K, N]^T (+ C when accumulate): C[i][j] = sum_n A[i][n] * B[j][n]. A, B and
// C are row-major with rows lda, ldb and ldc elements apart. Meant for products whose common
// extent N is the long one (the convolution's backward-weight product: output gradients times
// im2col columns, N = output pixels): both operands are read where they lie, contiguous along n,
// without packing. Inside an OpenMP parallel region it runs single-threaded; outside it, large
// products split the columns of C across the threads.
template <class T>
void gemm_dot(const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T* c, std::int64_t ldc, std::int64_t m,
              std::int64_t k, std::int64_t n, bool accumulate);

// Whether gemm_dot<T> runs its vector kernel in this build (float with AVX-512); elsewhere it runs
// a portable fallback that is correct but not meant to be preferred to Eigen.
template <class T>
constexpr bool gemm_dot_vectorised() {
#if defined(__AVX512F__)
  return sizeof(T) == 4;
#else
  return false;
#endif
}

extern template void gemm_dot<float>(const float*, std::int64_t, const float*, std::int64_t, float*, std::int64_t,
                                     std::int64_t, std::int64_t, std::int64_t, bool);
extern template void gemm_dot<double>(const double*, std::int64_t, const double*, std::int64_t, double*,
                                      std::int64_t, std::int64_t, std::int64_t, std::int64_t, bool);

}  // namespace px::cpu
