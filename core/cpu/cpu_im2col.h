// Private im2col / col2im of the CPU convolution: unfold input windows into GEMM columns and back.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "proxima/core/backend.h"
#include "proxima/core/cpu/cpu_stride2.h"

namespace px::cpu {

// The sizes of one convolution, read from x [N, C, H, W], w [K, C/G, R, S], out [N, K, P, Q].
struct ConvGeometry {
  std::int64_t n, c, h, w, k, r, s, p, q, groups;
  std::int64_t cg() const { return c / groups; }            // input channels per group
  std::int64_t kg() const { return k / groups; }            // output channels per group
  std::int64_t col_rows() const { return cg() * r * s; }    // rows of one group's column matrix
  std::int64_t col_size() const { return col_rows() * p * q; }
};

inline ConvGeometry conv_geometry(const Shape& x, const Shape& w, const Shape& out, std::int64_t groups) {
  return {x[0], x[1], x[2], x[3], w[0], w[2], w[3], out[2], out[3], groups};
}

// True when the column matrix of a group equals its input planes (1x1, stride 1, no pad).
inline bool conv_is_pointwise(const ConvGeometry& g, const Conv2dParams& prm) {
  return g.r == 1 && g.s == 1 && prm.stride_h == 1 && prm.stride_w == 1 && prm.pad_h == 0 &&
         prm.pad_w == 0 && g.p == g.h && g.q == g.w;
}

// Output columns [q0, q1) whose input column q*stride - pad + offset lies inside [0, w).
inline void valid_range(std::int64_t q_count, std::int64_t stride, std::int64_t start, std::int64_t w,
                        std::int64_t* q0, std::int64_t* q1) {
  // start + q*stride >= 0  and  start + q*stride < w
  std::int64_t lo = start >= 0 ? 0 : (-start + stride - 1) / stride;
  std::int64_t hi = start >= w ? 0 : (w - start + stride - 1) / stride;
  *q0 = std::min(lo, q_count);
  *q1 = std::max(*q0, std::min(hi, q_count));
}

// dst[0 .. count) = 0 for the few padding elements at a row's ends (most often 0 or 1 of them:
// no memset call for those).
template <class T>
inline void zero_few(T* dst, std::int64_t count) {
  if (count == 1) dst[0] = T(0);
  else if (count > 1) std::fill(dst, dst + count, T(0));
}

// col [Cg*R*S, P*Q] from x planes [Cg, H, W]; zero where a window reaches into the padding. Rows
// of col are `ld` elements apart (ld >= P*Q: one image's columns inside a block of several).
template <class T>
void im2col(const T* x, const ConvGeometry& g, const Conv2dParams& prm, T* col, std::int64_t ld) {
  for (std::int64_t ch = 0; ch < g.cg(); ++ch) {
    const T* plane = x + ch * g.h * g.w;
    for (std::int64_t kr = 0; kr < g.r; ++kr) {
      for (std::int64_t ks = 0; ks < g.s; ++ks) {
        T* row = col + ((ch * g.r + kr) * g.s + ks) * ld;
        const std::int64_t w_start = ks * prm.dilation_w - prm.pad_w;
        std::int64_t q0, q1;
        valid_range(g.q, prm.stride_w, w_start, g.w, &q0, &q1);
        for (std::int64_t op = 0; op < g.p; ++op) {
          T* dst = row + op * g.q;
          const std::int64_t ih = op * prm.stride_h - prm.pad_h + kr * prm.dilation_h;
          if (ih < 0 || ih >= g.h) {
            std::fill(dst, dst + g.q, T(0));
            continue;
          }
          const T* src = plane + ih * g.w + w_start;
          zero_few(dst, q0);
          if (prm.stride_w == 1) {
            std::memcpy(dst + q0, src + q0, static_cast<std::size_t>(q1 - q0) * sizeof(T));
          } else if (prm.stride_w == 2) {
            gather_stride2(src + 2 * q0, dst + q0, q1 - q0);
          } else {
            for (std::int64_t oq = q0; oq < q1; ++oq) dst[oq] = src[oq * prm.stride_w];
          }
          zero_few(dst + q1, g.q - q1);
        }
      }
    }
  }
}

// x planes [Cg, H, W] += the columns of col [Cg*R*S, P*Q] (rows `ld` apart) scattered back to
// their pixels.
template <class T>
void col2im_add(const T* col, const ConvGeometry& g, const Conv2dParams& prm, T* x, std::int64_t ld) {
  for (std::int64_t ch = 0; ch < g.cg(); ++ch) {
    T* plane = x + ch * g.h * g.w;
    for (std::int64_t kr = 0; kr < g.r; ++kr) {
      for (std::int64_t ks = 0; ks < g.s; ++ks) {
        const T* row = col + ((ch * g.r + kr) * g.s + ks) * ld;
        const std::int64_t w_start = ks * prm.dilation_w - prm.pad_w;
        std::int64_t q0, q1;
        valid_range(g.q, prm.stride_w, w_start, g.w, &q0, &q1);
        for (std::int64_t op = 0; op < g.p; ++op) {
          const std::int64_t ih = op * prm.stride_h - prm.pad_h + kr * prm.dilation_h;
          if (ih < 0 || ih >= g.h) continue;
          const T* src = row + op * g.q;
          T* dst = plane + ih * g.w + w_start;
          if (prm.stride_w == 2) {
            scatter_add_stride2(src + q0, dst + 2 * q0, q1 - q0);
            continue;
          }
          for (std::int64_t oq = q0; oq < q1; ++oq) dst[oq * prm.stride_w] += src[oq];
        }
      }
    }
  }
}

}  // namespace px::cpu
