// CpuBackend reduce: sum/max/min/argmax/argmin of x viewed as [outer, n, inner].
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "proxima/core/cpu/cpu_backend.h"
#include "proxima/core/cpu/cpu_common.h"

namespace px::cpu {
namespace {

// Floats sum in double (exact enough for 1e6+ float32 elements); integers in int64.
template <class T>
using Acc = std::conditional_t<std::is_floating_point_v<T>, double, std::int64_t>;

constexpr std::int64_t kSumBlock = 4096;  // fixed split, so results never depend on threads

// Sum of x[0], x[stride], ... (n terms), blocked: partial sums of kSumBlock terms in double,
// then added in order. Above a size threshold the blocks run in parallel.
template <class T>
Acc<T> strided_sum(const T* x, std::int64_t n, std::int64_t stride) {
  std::int64_t blocks = (n + kSumBlock - 1) / kSumBlock;
  auto block_sum = [&](std::int64_t blk) {
    const std::int64_t begin = blk * kSumBlock, end = std::min(n, begin + kSumBlock);
    // Eight independent partial sums let the compiler vectorise without reassociating.
    Acc<T> lane[8] = {};
    std::int64_t i = begin;
    if (stride == 1) {
      for (; i + 8 <= end; i += 8)
        for (int l = 0; l < 8; ++l) lane[l] += static_cast<Acc<T>>(x[i + l]);
    }
    for (; i < end; ++i) lane[0] += static_cast<Acc<T>>(x[i * stride]);
    return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
  };
  if (blocks == 1) return block_sum(0);
  std::vector<Acc<T>> partial(static_cast<std::size_t>(blocks));
  parallel_for(blocks, 4, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t blk = b0; blk < b1; ++blk) partial[static_cast<std::size_t>(blk)] = block_sum(blk);
  });
  Acc<T> total = 0;
  for (Acc<T> s : partial) total += s;
  return total;
}

template <class T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return v != v;
  return false;
}

// Index of the max (or min) of n values at stride; NaN wins (first NaN), ties keep the first.
template <class T, bool kMax>
std::int64_t strided_arg_extreme(const T* x, std::int64_t n, std::int64_t stride) {
  std::int64_t best = 0;
  T bv = x[0];
  if (is_nan(bv)) return 0;
  for (std::int64_t i = 1; i < n; ++i) {
    T v = x[i * stride];
    if (is_nan(v)) return i;
    if (kMax ? v > bv : v < bv) {
      bv = v;
      best = i;
    }
  }
  return best;
}

// inner == 1: each output reduces one contiguous run of n values.
template <class T>
void reduce_rows(ReduceOp op, const T* x, void* out_raw, std::int64_t outer, std::int64_t n) {
  auto one = [&](std::int64_t o) {
    const T* base = x + o * n;
    switch (op) {
      case ReduceOp::sum: static_cast<T*>(out_raw)[o] = static_cast<T>(strided_sum(base, n, 1)); break;
      case ReduceOp::max: static_cast<T*>(out_raw)[o] = base[strided_arg_extreme<T, true>(base, n, 1)]; break;
      case ReduceOp::min: static_cast<T*>(out_raw)[o] = base[strided_arg_extreme<T, false>(base, n, 1)]; break;
      case ReduceOp::argmax: static_cast<std::int64_t*>(out_raw)[o] = strided_arg_extreme<T, true>(base, n, 1); break;
      case ReduceOp::argmin: static_cast<std::int64_t*>(out_raw)[o] = strided_arg_extreme<T, false>(base, n, 1); break;
    }
  };
  parallel_for(outer, std::max<std::int64_t>(1, 32768 / std::max<std::int64_t>(n, 1)),
               [&](std::int64_t o0, std::int64_t o1) {
                 for (std::int64_t o = o0; o < o1; ++o) one(o);
               });
}

constexpr std::int64_t kColumnBlock = 64;

// inner > 1: a block of up to kColumnBlock neighbouring outputs walks the n rows of its
// [n, inner] slab together, so every read is contiguous. Sums accumulate in order (k = 0..n-1).
template <class T>
void reduce_columns(ReduceOp op, const T* x, void* out_raw, std::int64_t outer, std::int64_t n,
                    std::int64_t inner) {
  const std::int64_t col_blocks = (inner + kColumnBlock - 1) / kColumnBlock;
  const bool is_sum = op == ReduceOp::sum, is_max = op == ReduceOp::max || op == ReduceOp::argmax;
  const bool want_index = op == ReduceOp::argmax || op == ReduceOp::argmin;
  auto block = [&](std::int64_t task) {
    const std::int64_t o = task / col_blocks, j0 = task % col_blocks * kColumnBlock;
    const std::int64_t width = std::min(kColumnBlock, inner - j0);
    const T* slab = x + o * n * inner + j0;
    const std::int64_t out_at = o * inner + j0;
    if (is_sum) {
      Acc<T> acc[kColumnBlock] = {};
      for (std::int64_t k = 0; k < n; ++k) {
        const T* row = slab + k * inner;
        for (std::int64_t j = 0; j < width; ++j) acc[j] += static_cast<Acc<T>>(row[j]);
      }
      for (std::int64_t j = 0; j < width; ++j) static_cast<T*>(out_raw)[out_at + j] = static_cast<T>(acc[j]);
      return;
    }
    T best[kColumnBlock];
    std::int64_t best_k[kColumnBlock] = {};
    for (std::int64_t j = 0; j < width; ++j) best[j] = slab[j];
    for (std::int64_t k = 1; k < n; ++k) {
      const T* row = slab + k * inner;
      for (std::int64_t j = 0; j < width; ++j) {
        const T v = row[j], b = best[j];
        // The first NaN wins and stays; otherwise strict comparison keeps the first extreme.
        // Written as selects (no branch) so the loop vectorises.
        const bool take = (!is_nan(b)) & (is_nan(v) | (is_max ? v > b : v < b));
        best[j] = take ? v : b;
        best_k[j] = take ? k : best_k[j];
      }
    }
    for (std::int64_t j = 0; j < width; ++j) {
      if (want_index) static_cast<std::int64_t*>(out_raw)[out_at + j] = best_k[j];
      else static_cast<T*>(out_raw)[out_at + j] = best[j];
    }
  };
  const std::int64_t tasks = outer * col_blocks;
  parallel_for(tasks, std::max<std::int64_t>(1, 32768 / std::max<std::int64_t>(n * kColumnBlock, 1)),
               [&](std::int64_t t0, std::int64_t t1) {
                 for (std::int64_t t = t0; t < t1; ++t) block(t);
               });
}

}  // namespace

void CpuBackend::reduce(ReduceOp op, const Tensor& x, const Tensor& out, std::int64_t outer,
                        std::int64_t n, std::int64_t inner) {
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = static_cast<const T*>(x.data_ptr());
    if (inner == 1) reduce_rows<T>(op, px, out.data_ptr(), outer, n);
    else reduce_columns<T>(op, px, out.data_ptr(), outer, n, inner);
  });
}

}  // namespace px::cpu
