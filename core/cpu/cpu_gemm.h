// Private GEMM helper of the CPU backend: C (+)= op(A) * op(B) on row-major raw pointers via Eigen.
#pragma once

#include <cstdint>

namespace px::cpu {

// C [M, N] = op(A) * op(B) (+ C when accumulate), with A [M, K] (or [K, M] if trans_a) and
// B [K, N] (or [N, K] if trans_b), all row-major and dense. Called inside an OpenMP parallel
// region it runs single-threaded; outside it, large products are split across
// px::get_num_threads() threads.
template <class T>
void gemm(const T* a, const T* b, T* c, std::int64_t m, std::int64_t n, std::int64_t k, bool trans_a,
          bool trans_b, bool accumulate);

extern template void gemm<float>(const float*, const float*, float*, std::int64_t, std::int64_t,
                                 std::int64_t, bool, bool, bool);
extern template void gemm<double>(const double*, const double*, double*, std::int64_t, std::int64_t,
                                  std::int64_t, bool, bool, bool);

}  // namespace px::cpu
