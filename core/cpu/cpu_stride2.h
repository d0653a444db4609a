// Private row kernels of im2col / col2im for stride 2: dst[i] = src[2i] and dst[2i] += src[i], vectorised.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace px::cpu {

#if defined(__AVX512F__)
// GCC 12 flags the deliberately undefined pass-through operand inside _mm512_permutexvar_*.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
namespace stride2_detail {

// Mask of the first `count` lanes (count clipped to [0, 16]).
inline __mmask16 first_lanes16(std::int64_t count) {
  return count >= 16 ? static_cast<__mmask16>(0xFFFF) : count <= 0 ? 0 : static_cast<__mmask16>((1u << count) - 1);
}
inline __mmask8 first_lanes8(std::int64_t count) {
  return count >= 8 ? static_cast<__mmask8>(0xFF) : count <= 0 ? 0 : static_cast<__mmask8>((1u << count) - 1);
}

// dst[i] = src[2i] for i < r <= 16 (resp. 8): only the 2r - 1 source elements used are read (masked
// loads do not fault past the end), only r destination elements written.
inline void gather16(const float* src, float* dst, std::int64_t r) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const std::int64_t used = 2 * r - 1;
  const __m512 a = _mm512_maskz_loadu_ps(first_lanes16(used), src);
  const __m512 b = _mm512_maskz_loadu_ps(first_lanes16(used - 16), src + 16);
  _mm512_mask_storeu_ps(dst, first_lanes16(r), _mm512_permutex2var_ps(a, even, b));
}
inline void gather8(const double* src, double* dst, std::int64_t r) {
  const __m512i even = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
  const std::int64_t used = 2 * r - 1;
  const __m512d a = _mm512_maskz_loadu_pd(first_lanes8(used), src);
  const __m512d b = _mm512_maskz_loadu_pd(first_lanes8(used - 8), src + 8);
  _mm512_mask_storeu_pd(dst, first_lanes8(r), _mm512_permutex2var_pd(a, even, b));
}

// dst[2i] += src[i] for i < r <= 16 (resp. 8): src spread to the even lanes of two vectors; the
// odd lanes and the lanes past 2r - 1 are neither changed nor written.
inline void scatter_add16(const float* src, float* dst, std::int64_t r) {
  const __m512i lo_idx = _mm512_setr_epi32(0, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0);
  const __m512i hi_idx = _mm512_setr_epi32(8, 0, 9, 0, 10, 0, 11, 0, 12, 0, 13, 0, 14, 0, 15, 0);
  const __mmask16 even = 0x5555;
  const std::int64_t used = 2 * r - 1;
  const __m512 s = _mm512_maskz_loadu_ps(first_lanes16(r), src);
  const __mmask16 m_lo = first_lanes16(used), m_hi = first_lanes16(used - 16);
  __m512 lo = _mm512_maskz_loadu_ps(m_lo, dst);
  lo = _mm512_mask_add_ps(lo, even, lo, _mm512_permutexvar_ps(lo_idx, s));
  _mm512_mask_storeu_ps(dst, m_lo & even, lo);
  if (m_hi == 0) return;
  __m512 hi = _mm512_maskz_loadu_ps(m_hi, dst + 16);
  hi = _mm512_mask_add_ps(hi, even, hi, _mm512_permutexvar_ps(hi_idx, s));
  _mm512_mask_storeu_ps(dst + 16, m_hi & even, hi);
}
inline void scatter_add8(const double* src, double* dst, std::int64_t r) {
  const __m512i lo_idx = _mm512_setr_epi64(0, 0, 1, 0, 2, 0, 3, 0);
  const __m512i hi_idx = _mm512_setr_epi64(4, 0, 5, 0, 6, 0, 7, 0);
  const __mmask8 even = 0x55;
  const std::int64_t used = 2 * r - 1;
  const __m512d s = _mm512_maskz_loadu_pd(first_lanes8(r), src);
  const __mmask8 m_lo = first_lanes8(used), m_hi = first_lanes8(used - 8);
  __m512d lo = _mm512_maskz_loadu_pd(m_lo, dst);
  lo = _mm512_mask_add_pd(lo, even, lo, _mm512_permutexvar_pd(lo_idx, s));
  _mm512_mask_storeu_pd(dst, m_lo & even, lo);
  if (m_hi == 0) return;
  __m512d hi = _mm512_maskz_loadu_pd(m_hi, dst + 8);
  hi = _mm512_mask_add_pd(hi, even, hi, _mm512_permutexvar_pd(hi_idx, s));
  _mm512_mask_storeu_pd(dst + 8, m_hi & even, hi);
}

}  // namespace stride2_detail
#pragma GCC diagnostic pop
#endif

// dst[i] = src[2i] for i < count. Reads src[0 .. 2*count - 2] only.
template <class T>
void gather_stride2(const T* src, T* dst, std::int64_t count) {
#if defined(__AVX512F__)
  constexpr std::int64_t lanes = 64 / sizeof(T);
  for (std::int64_t i = 0; i < count; i += lanes) {
    if constexpr (std::is_same_v<T, float>)
      stride2_detail::gather16(src + 2 * i, dst + i, std::min(lanes, count - i));
    else if constexpr (std::is_same_v<T, double>)
      stride2_detail::gather8(src + 2 * i, dst + i, std::min(lanes, count - i));
    else
      for (std::int64_t j = i; j < std::min(count, i + lanes); ++j) dst[j] = src[2 * j];
  }
#else
  for (std::int64_t i = 0; i < count; ++i) dst[i] = src[2 * i];
#endif
}

// dst[2i] += src[i] for i < count. Reads and writes dst[0 .. 2*count - 2] only, odd elements unchanged.
template <class T>
void scatter_add_stride2(const T* src, T* dst, std::int64_t count) {
#if defined(__AVX512F__)
  constexpr std::int64_t lanes = 64 / sizeof(T);
  for (std::int64_t i = 0; i < count; i += lanes) {
    if constexpr (std::is_same_v<T, float>)
      stride2_detail::scatter_add16(src + i, dst + 2 * i, std::min(lanes, count - i));
    else if constexpr (std::is_same_v<T, double>)
      stride2_detail::scatter_add8(src + i, dst + 2 * i, std::min(lanes, count - i));
    else
      for (std::int64_t j = i; j < std::min(count, i + lanes); ++j) dst[2 * j] += src[j];
  }
#else
  for (std::int64_t i = 0; i < count; ++i) dst[2 * i] += src[i];
#endif
}

}  // namespace px::cpu
