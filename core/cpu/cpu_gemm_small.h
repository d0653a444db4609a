// Private small-operand GEMM of the CPU backend: C (+)= A * B with a small A and B used in place (no packing).
#pragma once

#include <cstdint>
#include <vector>

namespace px::cpu {

// A read-only [M, K] matrix seen through strides: element (i, p) is data[i * row_stride + p * col_stride]
// (a row-major [M, K] matrix is {data, K, 1}; the transpose of a row-major [K, M] one is {data, 1, M}).
template <class T>
struct StridedMatrix {
  const T* data;
  std::int64_t row_stride, col_stride;
};

// C [M, N] = A [M, K] * B [K, N] (+ C when accumulate); B and C row-major with rows ldb and ldc
// elements apart. Meant for products whose A is small (convolution weights: M or K at most a few
// hundred) and whose B is wide and already row-major (im2col columns, output gradients): A is
// copied into a small packed buffer, B is read where it lies. Inside an OpenMP parallel region it
// runs single-threaded; outside it, large products split their columns across the threads.
template <class T>
void gemm_small(StridedMatrix<T> a, const T* b, std::int64_t ldb, T* c, std::int64_t ldc, std::int64_t m,
                std::int64_t n, std::int64_t k, bool accumulate);

// A packed once for many products with the same A (a convolution's weights, image after image):
// multiply() computes C [M, N] (+)= A * B as gemm_small does, without re-packing A.
template <class T>
class SmallGemmA {
 public:
  SmallGemmA(StridedMatrix<T> a, std::int64_t m, std::int64_t k);
  void multiply(const T* b, std::int64_t ldb, T* c, std::int64_t ldc, std::int64_t n, bool accumulate) const;

 private:
  std::vector<T> packed_;
  std::int64_t m_, k_;
};

extern template class SmallGemmA<float>;
extern template class SmallGemmA<double>;

extern template void gemm_small<float>(StridedMatrix<float>, const float*, std::int64_t, float*, std::int64_t,
                                       std::int64_t, std::int64_t, std::int64_t, bool);
extern template void gemm_small<double>(StridedMatrix<double>, const double*, std::int64_t, double*,
                                        std::int64_t, std::int64_t, std::int64_t, std::int64_t, bool);

}  // namespace px::cpu
