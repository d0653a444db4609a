// CPU small-operand GEMM (cpu_gemm_small.h): a register-blocked micro-kernel that reads B in place.
#include "proxima/core/cpu/cpu_gemm_small.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#if defined(__AVX512F__) || defined(__FMA__)
#include <immintrin.h>
#endif

#include "proxima/core/cpu/cpu_common.h"

namespace px::cpu {
namespace {

// Register blocking. One micro-kernel call computes a tile of C of kRows rows x NV vectors, held in
// kRows*NV vector registers while the K loop (innermost) adds, for each k, the kRows values of
// column k of A (broadcast, from the packed copy) times NV vectors loaded from row k of B.
// AVX-512 (32 registers): 8 rows x 3 vectors = 24 accumulators + 3 B vectors + 1 broadcast; each
// k costs 3 loads of B, 8 broadcasts and 24 independent FMAs, enough to hide the FMA latency and
// to keep the loads off the critical path. M = 16 (ResNet's first stage) fills two full row blocks,
// where Eigen's 24-row (3 x 8) register blocking ran half empty. 16 registers (AVX2, SSE): 6 x 2.
#if defined(__AVX512F__)
constexpr int kVecBytes = 64, kRows = 8, kMaxVecs = 3;
#elif defined(__AVX__)
constexpr int kVecBytes = 32, kRows = 6, kMaxVecs = 2;
#else
constexpr int kVecBytes = 16, kRows = 6, kMaxVecs = 2;
#endif

// Multiply-adds from which one product is worth splitting across threads (as gemm()).
constexpr double kSplitWork = 1 << 21;

template <class T>
struct VecOf {
  typedef T type __attribute__((vector_size(kVecBytes)));
};
template <class T>
using Vec = typename VecOf<T>::type;
template <class T>
constexpr int kLanes = kVecBytes / static_cast<int>(sizeof(T));

template <class T>
Vec<T> load(const T* p) {
  Vec<T> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class T>
void store(T* p, Vec<T> v) {
  std::memcpy(p, &v, sizeof v);
}

// acc + a * b, a broadcast. Explicit FMA intrinsics: under -std=c++20 GCC does not contract a*b+c.
inline Vec<float> madd(Vec<float> acc, float a, Vec<float> b) {
#if defined(__AVX512F__)
  return _mm512_fmadd_ps(_mm512_set1_ps(a), b, acc);
#elif defined(__FMA__)
  return _mm256_fmadd_ps(_mm256_set1_ps(a), b, acc);
#else
  return acc + a * b;
#endif
}
inline Vec<double> madd(Vec<double> acc, double a, Vec<double> b) {
#if defined(__AVX512F__)
  return _mm512_fmadd_pd(_mm512_set1_pd(a), b, acc);
#elif defined(__FMA__)
  return _mm256_fmadd_pd(_mm256_set1_pd(a), b, acc);
#else
  return acc + a * b;
#endif
}

// C tile [rows, NV * lanes] (+)= A block [kRows, K] (packed [K][kRows]) * B [K, NV * lanes] (rows ldb
// apart). Only the first `rows` (<= kRows) rows of the tile are written.
template <class T, int NV>
void micro_kernel(const T* ap, const T* b, std::int64_t ldb, T* c, std::int64_t ldc, std::int64_t k, std::int64_t rows,
                  bool accumulate) {
  constexpr int lanes = kLanes<T>;
  Vec<T> acc[kRows][NV];
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = Vec<T>{};
  for (std::int64_t p = 0; p < k; ++p, ap += kRows, b += ldb) {
    Vec<T> bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = load(b + v * lanes);
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = madd(acc[r][v], ap[r], bv[v]);
  }
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r) {
    if (r >= rows) break;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      T* out = c + r * ldc + v * lanes;
      store(out, accumulate ? acc[r][v] + load(out) : acc[r][v]);
    }
  }
}

// A [m, k] -> ceil(m / kRows) blocks of [k][kRows] (rows past m are zero) at dst.
template <class T>
void pack_a_into(StridedMatrix<T> a, std::int64_t m, std::int64_t k, T* dst) {
  const std::int64_t blocks = (m + kRows - 1) / kRows;
  for (std::int64_t blk = 0; blk < blocks; ++blk, dst += kRows * k)
    for (std::int64_t p = 0; p < k; ++p)
      for (std::int64_t r = 0; r < kRows; ++r) {
        const std::int64_t i = blk * kRows + r;
        dst[p * kRows + r] = i < m ? a.data[i * a.row_stride + p * a.col_stride] : T(0);
      }
}

// The same in a per-thread buffer.
template <class T>
const T* pack_a(StridedMatrix<T> a, std::int64_t m, std::int64_t k) {
  thread_local std::vector<T> buf;
  const std::int64_t size = (m + kRows - 1) / kRows * kRows * k;
  if (static_cast<std::int64_t>(buf.size()) < size) buf.resize(size);
  pack_a_into(a, m, k, buf.data());
  return buf.data();
}

// The product's operands; `columns` computes C[:, j0:j1].
template <class T>
struct Product {
  const T* ap;  // packed A
  const T* b;
  std::int64_t ldb;
  T* c;
  std::int64_t ldc, m, k;
  bool accumulate;

  // C[:, j : j + NV*lanes], row block after row block: the K x NV*lanes strip of B stays in cache
  // (L1 or L2) for all of them.
  template <int NV>
  void strip(std::int64_t j) const {
    for (std::int64_t i = 0; i < m; i += kRows)
      micro_kernel<T, NV>(ap + i * k, b + j, ldb, c + i * ldc + j, ldc, k, std::min<std::int64_t>(kRows, m - i),
                          accumulate);
  }

  // The last w < lanes columns: B's columns copied into a zero-padded [K][lanes] buffer, each
  // tile computed into a local [kRows][lanes] one and its first w columns copied to C.
  void narrow_tail(std::int64_t j, std::int64_t w) const {
    constexpr int lanes = kLanes<T>;
    thread_local std::vector<T> bt;
    bt.assign(k * lanes, T(0));
    for (std::int64_t p = 0; p < k; ++p) std::copy_n(b + p * ldb + j, w, bt.data() + p * lanes);
    T tile[kRows * lanes];
    for (std::int64_t i = 0; i < m; i += kRows) {
      const std::int64_t rows = std::min<std::int64_t>(kRows, m - i);
      for (std::int64_t r = 0; r < rows && accumulate; ++r) std::copy_n(c + (i + r) * ldc + j, w, tile + r * lanes);
      micro_kernel<T, 1>(ap + i * k, bt.data(), lanes, tile, lanes, k, rows, accumulate);
      for (std::int64_t r = 0; r < rows; ++r) std::copy_n(tile + r * lanes, w, c + (i + r) * ldc + j);
    }
  }

  void columns(std::int64_t j, std::int64_t j1) const {
    constexpr int lanes = kLanes<T>;
    // Whole vectors as 3-vector strips, except that 3 + 1 ends as 2 + 2: a 1-vector strip does
    // one FMA per broadcast and is bound by loads (N = 64 floats: 1.5x faster as 2 + 2).
    const std::int64_t vecs = (j1 - j) / lanes;
    const std::int64_t wide = kMaxVecs > 2 && vecs % 3 == 1 && vecs >= 4 ? vecs / 3 - 1 : vecs / kMaxVecs;
    for (std::int64_t s = 0; s < wide; ++s, j += kMaxVecs * lanes) strip<kMaxVecs>(j);
    if (kMaxVecs > 2 && j1 - j >= 4 * lanes) {
      strip<2>(j);
      j += 2 * lanes;
    }
    if (kMaxVecs > 2 && j1 - j >= 2 * lanes) {
      strip<2>(j);
      j += 2 * lanes;
    }
    if (j1 - j >= lanes) {
      strip<1>(j);
      j += lanes;
    }
    if (j < j1) narrow_tail(j, j1 - j);
  }
};

// C (+)= packed A * B, the columns split across threads when the product is large enough.
template <class T>
void run_product(const T* packed, const T* b, std::int64_t ldb, T* c, std::int64_t ldc, std::int64_t m, std::int64_t n,
                 std::int64_t k, bool accumulate) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate)
      for (std::int64_t i = 0; i < m; ++i) std::fill_n(c + i * ldc, n, T(0));
    return;
  }
  const Product<T> prod{packed, b, ldb, c, ldc, m, k, accumulate};
  // Threads take contiguous ranges of whole strips (the last one also the tails).
  const std::int64_t strip = kMaxVecs * kLanes<T>, strips = n / strip;
  const int threads = omp_in_parallel() ? 1 : static_cast<int>(std::min<std::int64_t>(get_num_threads(), strips));
  if (threads <= 1 || static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) < kSplitWork) {
    prod.columns(0, n);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const std::int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const std::int64_t j0 = strips * t / nt * strip, j1 = t + 1 == nt ? n : strips * (t + 1) / nt * strip;
    prod.columns(j0, j1);
  }
}

}  // namespace

template <class T>
SmallGemmA<T>::SmallGemmA(StridedMatrix<T> a, std::int64_t m, std::int64_t k)
    : packed_(static_cast<std::size_t>(std::max<std::int64_t>((m + kRows - 1) / kRows * kRows * k, 0))), m_(m), k_(k) {
  if (m > 0 && k > 0) pack_a_into(a, m, k, packed_.data());
}

template <class T>
void SmallGemmA<T>::multiply(const T* b, std::int64_t ldb, T* c, std::int64_t ldc, std::int64_t n,
                             bool accumulate) const {
  run_product(packed_.data(), b, ldb, c, ldc, m_, n, k_, accumulate);
}

template <class T>
void gemm_small(StridedMatrix<T> a, const T* b, std::int64_t ldb, T* c, std::int64_t ldc, std::int64_t m,
                std::int64_t n, std::int64_t k, bool accumulate) {
  if (m <= 0 || n <= 0) return;
  run_product(k > 0 ? pack_a(a, m, k) : nullptr, b, ldb, c, ldc, m, n, k, accumulate);
}

template class SmallGemmA<float>;
template class SmallGemmA<double>;
template void gemm_small<float>(StridedMatrix<float>, const float*, std::int64_t, float*, std::int64_t, std::int64_t,
                                std::int64_t, std::int64_t, bool);
template void gemm_small<double>(StridedMatrix<double>, const double*, std::int64_t, double*, std::int64_t,
                                 std::int64_t, std::int64_t, std::int64_t, bool);

}  // namespace px::cpu
