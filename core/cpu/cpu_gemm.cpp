// CpuBackend matmul (batched GEMM) and the gemm helper, both on Eigen maps of row-major data.
#include "proxima/core/cpu/cpu_gemm.h"

#include "proxima/core/cpu/cpu_backend.h"
#include "proxima/core/cpu/cpu_common.h"
#include "proxima/core/cpu/cpu_eigen.h"

#include <omp.h>

namespace px::cpu {

// Multiply-adds from which one GEMM is worth splitting across threads.
constexpr double kGemmSplitWork = 1 << 21;

template <class T>
void gemm(const T* a, const T* b, T* c, std::int64_t m, std::int64_t n, std::int64_t k, bool trans_a,
          bool trans_b, bool accumulate) {
  using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using ConstMap = Eigen::Map<const Mat>;
  Eigen::Map<Mat> C(c, m, n);
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (!accumulate) C.setZero();
    return;
  }
  // A stored [M, K] or [K, M]; B stored [K, N] or [N, K].
  ConstMap A(a, trans_a ? k : m, trans_a ? m : k);
  ConstMap B(b, trans_b ? n : k, trans_b ? k : n);
  // CONVENTION: Eigen's own threading is off (set_num_threads keeps Eigen at 1 thread): its
  // OpenMP fork for products as small as 50k multiply-adds costs more than it saves, and
  // collapses when the other core is busy. Large products are split here instead, into
  // one block of rows (or columns) of C per thread, each a single-threaded Eigen GEMM.
  auto run = [&](const auto& lhs, const auto& rhs) {
    const int threads = get_num_threads();
    const bool split = threads > 1 && !omp_in_parallel() &&
                       static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) >= kGemmSplitWork;
    if (!split) {
      if (accumulate) C.noalias() += lhs * rhs;
      else C.noalias() = lhs * rhs;
      return;
    }
    const bool by_rows = m >= n;
    const std::int64_t extent = by_rows ? m : n;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int t = 0; t < threads; ++t) {
      const std::int64_t begin = extent * t / threads, len = extent * (t + 1) / threads - begin;
      if (len == 0) continue;
      if (by_rows) {
        if (accumulate) C.middleRows(begin, len).noalias() += lhs.middleRows(begin, len) * rhs;
        else C.middleRows(begin, len).noalias() = lhs.middleRows(begin, len) * rhs;
      } else {
        if (accumulate) C.middleCols(begin, len).noalias() += lhs * rhs.middleCols(begin, len);
        else C.middleCols(begin, len).noalias() = lhs * rhs.middleCols(begin, len);
      }
    }
  };
  if (!trans_a && !trans_b) run(A, B);
  else if (trans_a && !trans_b) run(A.transpose(), B);
  else if (!trans_a && trans_b) run(A, B.transpose());
  else run(A.transpose(), B.transpose());
}

template void gemm<float>(const float*, const float*, float*, std::int64_t, std::int64_t, std::int64_t,
                          bool, bool, bool);
template void gemm<double>(const double*, const double*, double*, std::int64_t, std::int64_t,
                           std::int64_t, bool, bool, bool);

void CpuBackend::matmul(const Tensor& a, const Tensor& b, const Tensor& out, bool trans_a, bool trans_b) {
  dispatch_float(out.dtype(), "matmul", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t batch = out.size(0), m = out.size(1), n = out.size(2);
    const std::int64_t k = trans_a ? a.size(1) : a.size(2);
    const T* pa = static_cast<const T*>(a.data_ptr());
    const T* pb = static_cast<const T*>(b.data_ptr());
    T* pc = static_cast<T*>(out.data_ptr());
    auto one = [&](std::int64_t i) {
      gemm<T>(pa + i * m * k, pb + i * k * n, pc + i * m * n, m, n, k, trans_a, trans_b, false);
    };
    // Many small products: one per thread. Few large ones: one after another, each split
    // across the threads by gemm().
    const std::int64_t flops = m * n * k;
    if (batch > 1 && flops < (1 << 18)) {
      parallel_for(batch, std::max<std::int64_t>(1, (1 << 16) / std::max<std::int64_t>(flops, 1)),
                   [&](std::int64_t b0, std::int64_t b1) {
                     for (std::int64_t i = b0; i < b1; ++i) one(i);
                   });
    } else {
      for (std::int64_t i = 0; i < batch; ++i) one(i);
    }
  });
}

}  // namespace px::cpu
