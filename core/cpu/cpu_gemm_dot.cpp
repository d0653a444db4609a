// CPU inner-product GEMM (cpu_gemm_dot.h): 4 x 4 tiles of dot products along the rows of A and B.
#include "proxima/core/cpu/cpu_gemm_dot.h"

#include <omp.h>

#include <algorithm>
#include <cstring>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "proxima/core/cpu/cpu_common.h"

namespace px::cpu {
namespace {

// One tile is 4 rows of A x 4 rows of B: 16 vector accumulators, each the running dot product
// of one pair of rows, lanes along n. Each step of 1 vector along n loads 4 vectors of A and 4
// of B for 16 independent FMAs (half a load per FMA, 16 chains to hide the FMA latency); the 16
// accumulators are reduced once per tile, at the end. Rows past M or K repeat the last row (their
// sums are computed and dropped), so every tile runs the same unrolled code.
constexpr int kTile = 4;

// Multiply-adds from which one product is worth splitting across threads (as gemm()).
constexpr double kSplitWork = 1 << 21;

// Where a tile's results go: rows x cols (each <= 4) elements of C from dst, rows ldc apart.
template <class T>
struct TileOut {
  T* dst;
  std::int64_t ldc, rows, cols;
  bool accumulate;
  bool full() const { return rows == kTile && cols == kTile; }
  // out[4i + j] is C[i][j] of the tile.
  void put(const T* out) const {
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t s = 0; s < cols; ++s) {
        T& d = dst[r * ldc + s];
        d = accumulate ? d + out[r * kTile + s] : out[r * kTile + s];
      }
  }
};

// The portable tile, for double and for machines without AVX-512: C_ij = A_i . B_j.
template <class T>
void tile_generic(const T* const* a, const T* const* b, std::int64_t n, const TileOut<T>& to) {
  constexpr int kBytes = 32, lanes = kBytes / static_cast<int>(sizeof(T));
  typedef T Vec __attribute__((vector_size(kBytes)));
  auto load = [](const T* p) {
    Vec v;
    std::memcpy(&v, p, sizeof v);
    return v;
  };
  Vec acc[kTile][kTile] = {};
  std::int64_t p = 0;
  for (; p + lanes <= n; p += lanes) {
    Vec av[kTile];
#pragma GCC unroll 4
    for (int i = 0; i < kTile; ++i) av[i] = load(a[i] + p);
#pragma GCC unroll 4
    for (int j = 0; j < kTile; ++j) {
      const Vec bv = load(b[j] + p);
#pragma GCC unroll 4
      for (int i = 0; i < kTile; ++i) acc[i][j] += av[i] * bv;
    }
  }
  T out[kTile * kTile];
  for (int i = 0; i < kTile; ++i)
    for (int j = 0; j < kTile; ++j) {
      T s = 0;
      for (int l = 0; l < lanes; ++l) s += acc[i][j][l];
      for (std::int64_t q = p; q < n; ++q) s += a[i][q] * b[j][q];
      out[i * kTile + j] = s;
    }
  to.put(out);
}

#if defined(__AVX512F__)
// GCC 12 flags the deliberately undefined pass-through operand inside _mm512_shuffle_f32x4.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// 16 vectors v[0..15] -> one vector whose lane 4q + p is the sum of the lanes of v[q + 4p], in four
// rounds that each halve the vectors and the lanes per vector (45 shuffles and adds in all,
// against 16 separate horizontal sums of 8 operations each).
inline __m512 reduce16(const __m512* v) {
  __m512 r[8], s[4], u[2];
  for (int t = 0; t < 8; ++t)  // r[t] = 256-bit halves of v[2t] summed | same for v[2t+1]
    r[t] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * t], v[2 * t + 1], 0x44),
                         _mm512_shuffle_f32x4(v[2 * t], v[2 * t + 1], 0xEE));
  for (int t = 0; t < 4; ++t)  // s[t] = 128-bit lane q: 4 partial sums of v[4t + q]
    s[t] = _mm512_add_ps(_mm512_shuffle_f32x4(r[2 * t], r[2 * t + 1], 0x88),
                         _mm512_shuffle_f32x4(r[2 * t], r[2 * t + 1], 0xDD));
  for (int t = 0; t < 2; ++t)  // u[t] = lane q: 2 partials of v[8t + q], 2 of v[8t + 4 + q]
    u[t] = _mm512_add_ps(_mm512_shuffle_ps(s[2 * t], s[2 * t + 1], 0x44),
                         _mm512_shuffle_ps(s[2 * t], s[2 * t + 1], 0xEE));
  return _mm512_add_ps(_mm512_shuffle_ps(u[0], u[1], 0x88), _mm512_shuffle_ps(u[0], u[1], 0xDD));
}

// C row (+)= v, 4 floats.
inline void put_row(float* dst, __m128 v, bool accumulate) {
  _mm_storeu_ps(dst, accumulate ? _mm_add_ps(_mm_loadu_ps(dst), v) : v);
}

// The AVX-512 float tile: the N tail is one masked step (lanes past n load as zero).
inline void tile_avx512(const float* const* a, const float* const* b, std::int64_t n, const TileOut<float>& to) {
  __m512 acc[kTile * kTile];  // acc[i + 4j] = A_i . B_j, so that reduce16 puts it at lane 4i + j
#pragma GCC unroll 16
  for (int t = 0; t < kTile * kTile; ++t) acc[t] = _mm512_setzero_ps();
  // The empty asm statements pin each loaded vector to a register: without them GCC folds the
  // loads of one operand into its 4 FMAs each (20 loads per 16 FMAs instead of 8), and the kernel
  // is load-bound (16 x 144 x 1024: 47 GFLOP/s, 85 with them).
  auto step = [&](auto load) {
    __m512 av[kTile];
#pragma GCC unroll 4
    for (int i = 0; i < kTile; ++i) {
      av[i] = load(a[i]);
      asm("" : "+v"(av[i]));
    }
#pragma GCC unroll 4
    for (int j = 0; j < kTile; ++j) {
      __m512 bv = load(b[j]);
      asm("" : "+v"(bv));
#pragma GCC unroll 4
      for (int i = 0; i < kTile; ++i) acc[i + kTile * j] = _mm512_fmadd_ps(av[i], bv, acc[i + kTile * j]);
    }
  };
  std::int64_t p = 0;
  for (; p + 16 <= n; p += 16) step([p](const float* row) { return _mm512_loadu_ps(row + p); });
  if (p < n) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (n - p)) - 1);
    step([p, mask](const float* row) { return _mm512_maskz_loadu_ps(mask, row + p); });
  }
  const __m512 sums = reduce16(acc);
  if (!to.full()) {
    alignas(64) float out[kTile * kTile];
    _mm512_store_ps(out, sums);
    to.put(out);
    return;
  }
  put_row(to.dst, _mm512_extractf32x4_ps(sums, 0), to.accumulate);
  put_row(to.dst + to.ldc, _mm512_extractf32x4_ps(sums, 1), to.accumulate);
  put_row(to.dst + 2 * to.ldc, _mm512_extractf32x4_ps(sums, 2), to.accumulate);
  put_row(to.dst + 3 * to.ldc, _mm512_extractf32x4_ps(sums, 3), to.accumulate);
}
#pragma GCC diagnostic pop
#endif

template <class T>
void tile(const T* const* a, const T* const* b, std::int64_t n, const TileOut<T>& to) {
#if defined(__AVX512F__)
  if constexpr (sizeof(T) == 4) {
    tile_avx512(a, b, n, to);
    return;
  }
#endif
  tile_generic(a, b, n, to);
}

template <class T>
struct DotProduct {
  const T* a;
  std::int64_t lda;
  const T* b;
  std::int64_t ldb;
  T* c;
  std::int64_t ldc, m, k, n;
  bool accumulate;

  // C[i : i+4, j : j+4] (clipped to M x K).
  void one_tile(std::int64_t i, std::int64_t j) const {
    const T* ar[kTile];
    const T* br[kTile];
    for (int r = 0; r < kTile; ++r) {
      ar[r] = a + std::min<std::int64_t>(i + r, m - 1) * lda;
      br[r] = b + std::min<std::int64_t>(j + r, k - 1) * ldb;
    }
    const std::int64_t rows = std::min<std::int64_t>(kTile, m - i), cols = std::min<std::int64_t>(kTile, k - j);
    tile<T>(ar, br, n, {c + i * ldc + j, ldc, rows, cols, accumulate});
  }

  // Columns j0..j1 of C, one block of 4 rows of B at a time (it stays in L1 while every block of
  // rows of A passes over it).
  void columns(std::int64_t j0, std::int64_t j1) const {
    for (std::int64_t j = j0; j < j1; j += kTile)
      for (std::int64_t i = 0; i < m; i += kTile) one_tile(i, j);
  }
};

}  // namespace

template <class T>
void gemm_dot(const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T* c, std::int64_t ldc, std::int64_t m,
              std::int64_t k, std::int64_t n, bool accumulate) {
  if (m <= 0 || k <= 0) return;
  if (n <= 0) {
    if (!accumulate)
      for (std::int64_t i = 0; i < m; ++i) std::fill_n(c + i * ldc, k, T(0));
    return;
  }
  const DotProduct<T> prod{a, lda, b, ldb, c, ldc, m, k, n, accumulate};
  // Threads take contiguous ranges of whole 4-column blocks of C.
  const std::int64_t blocks = (k + kTile - 1) / kTile;
  const int threads = omp_in_parallel() ? 1 : static_cast<int>(std::min<std::int64_t>(get_num_threads(), blocks));
  if (threads <= 1 || static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) < kSplitWork) {
    prod.columns(0, k);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const std::int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    prod.columns(blocks * t / nt * kTile, std::min(k, blocks * (t + 1) / nt * kTile));
  }
}

template void gemm_dot<float>(const float*, std::int64_t, const float*, std::int64_t, float*, std::int64_t,
                              std::int64_t, std::int64_t, std::int64_t, bool);
template void gemm_dot<double>(const double*, std::int64_t, const double*, std::int64_t, double*, std::int64_t,
                               std::int64_t, std::int64_t, std::int64_t, bool);

}  // namespace px::cpu
