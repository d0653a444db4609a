// strided_loop: runs a kernel over N tensors of one shape with arbitrary strides (incl. 0).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "proxima/core/cpu/cpu_common.h"
#include "proxima/core/tensor.h"

namespace px::cpu {

// The iteration space after collapsing: dims of size 1 dropped, and neighbouring dims merged
// wherever every operand steps through them as one (stride[d] == stride[d+1] * size[d+1]).
// Strides are in bytes; the last dim is the inner one.
template <std::size_t N>
struct StridedSpace {
  std::vector<std::int64_t> sizes;
  std::array<std::vector<std::int64_t>, N> strides;
  std::array<char*, N> base;
};

template <std::size_t N>
StridedSpace<N> collapse_space(const std::array<const Tensor*, N>& ts) {
  StridedSpace<N> s;
  const Shape& shape = ts[0]->shape();
  for (std::size_t k = 0; k < N; ++k) s.base[k] = static_cast<char*>(ts[k]->data_ptr());
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !s.sizes.empty();
    for (std::size_t k = 0; k < N && merge; ++k) {
      std::int64_t st = ts[k]->strides()[d] * static_cast<std::int64_t>(dtype_size(ts[k]->dtype()));
      merge = s.strides[k].back() == st * shape[d];
    }
    if (merge) {
      s.sizes.back() *= shape[d];
      for (std::size_t k = 0; k < N; ++k)
        s.strides[k].back() = ts[k]->strides()[d] * static_cast<std::int64_t>(dtype_size(ts[k]->dtype()));
    } else {
      s.sizes.push_back(shape[d]);
      for (std::size_t k = 0; k < N; ++k)
        s.strides[k].push_back(ts[k]->strides()[d] * static_cast<std::int64_t>(dtype_size(ts[k]->dtype())));
    }
  }
  if (s.sizes.empty()) {  // 0-d or all-ones shape: one element
    s.sizes.push_back(1);
    for (std::size_t k = 0; k < N; ++k) s.strides[k].push_back(0);
  }
  return s;
}

// True when some operand steps through memory faster along the second-to-last dim than along
// the last one (a transpose): walking plain rows would then touch a new cache line per element.
template <std::size_t N>
bool needs_tiles(const StridedSpace<N>& s) {
  const std::size_t nd = s.sizes.size();
  if (nd < 2 || s.sizes[nd - 1] < 16 || s.sizes[nd - 2] < 16) return false;
  for (std::size_t k = 0; k < N; ++k) {
    std::int64_t a = s.strides[k][nd - 2], b = s.strides[k][nd - 1];
    if (a != 0 && (a < 0 ? -a : a) < (b < 0 ? -b : b)) return true;
  }
  return false;
}

// The last two dims in kTile x kTile tiles, rows of each tile handed to `row`, so both the
// row-major and the transposed operand stay in cache. Tiles are split over threads.
template <std::size_t N, class Row>
void strided_loop_tiled(const StridedSpace<N>& s, Row& row, std::int64_t grain) {
  constexpr std::int64_t kTile = 32;
  const std::size_t nd = s.sizes.size();
  const std::int64_t rows = s.sizes[nd - 2], cols = s.sizes[nd - 1];
  const std::int64_t tile_rows = (rows + kTile - 1) / kTile, tile_cols = (cols + kTile - 1) / kTile;
  std::int64_t outer = 1;
  for (std::size_t d = 0; d + 2 < nd; ++d) outer *= s.sizes[d];
  const std::int64_t tiles = outer * tile_rows * tile_cols;
  std::array<std::int64_t, N> inner_stride;
  for (std::size_t k = 0; k < N; ++k) inner_stride[k] = s.strides[k][nd - 1];
  parallel_for(tiles, std::max<std::int64_t>(1, grain / (kTile * kTile)), [&](std::int64_t t0, std::int64_t t1) {
    for (std::int64_t t = t0; t < t1; ++t) {
      std::int64_t tc = t % tile_cols, tr = t / tile_cols % tile_rows, rem = t / (tile_cols * tile_rows);
      std::array<char*, N> p = s.base;
      for (std::size_t d = nd - 2; d-- > 0;) {
        const std::int64_t i = rem % s.sizes[d];
        rem /= s.sizes[d];
        for (std::size_t k = 0; k < N; ++k) p[k] += i * s.strides[k][d];
      }
      const std::int64_t r1 = std::min(rows, (tr + 1) * kTile), c0 = tc * kTile;
      const std::int64_t width = std::min(cols, c0 + kTile) - c0;
      for (std::int64_t r = tr * kTile; r < r1; ++r) {
        std::array<char*, N> q;
        for (std::size_t k = 0; k < N; ++k) q[k] = p[k] + r * s.strides[k][nd - 2] + c0 * inner_stride[k];
        row(q, inner_stride, width);
      }
    }
  });
}

// Calls row(ptrs, inner_strides, n) for every run of n elements along the inner dim, where
// ptrs[k] points at operand k's first element of the run and inner_strides[k] is its byte
// stride. Work above `grain` elements is split over OpenMP threads (rows, or chunks of the
// single dim when everything collapsed to one).
template <std::size_t N, class Row>
void strided_loop(const std::array<const Tensor*, N>& ts, Row&& row, std::int64_t grain = 32768) {
  std::int64_t numel = ts[0]->numel();
  if (numel == 0) return;
  StridedSpace<N> s = collapse_space(ts);
  const std::size_t nd = s.sizes.size();
  std::array<std::int64_t, N> inner_stride;
  for (std::size_t k = 0; k < N; ++k) inner_stride[k] = s.strides[k][nd - 1];
  const std::int64_t inner = s.sizes[nd - 1];

  if (nd == 1) {  // one run: split it into chunks
    parallel_for(inner, grain, [&](std::int64_t b, std::int64_t e) {
      std::array<char*, N> p;
      for (std::size_t k = 0; k < N; ++k) p[k] = s.base[k] + b * inner_stride[k];
      row(p, inner_stride, e - b);
    });
    return;
  }
  if (needs_tiles(s)) {
    strided_loop_tiled(s, row, grain);
    return;
  }
  const std::int64_t rows = numel / inner;
  const std::int64_t row_grain = std::max<std::int64_t>(1, grain / inner);
  parallel_for(rows, row_grain, [&](std::int64_t r0, std::int64_t r1) {
    // Decompose r0 into an index over the outer dims once, then step it like an odometer.
    std::vector<std::int64_t> idx(nd - 1, 0);
    std::array<char*, N> p = s.base;
    std::int64_t rem = r0;
    for (std::size_t d = nd - 1; d-- > 0;) {
      idx[d] = rem % s.sizes[d];
      rem /= s.sizes[d];
      for (std::size_t k = 0; k < N; ++k) p[k] += idx[d] * s.strides[k][d];
    }
    for (std::int64_t r = r0; r < r1; ++r) {
      row(p, inner_stride, inner);
      for (std::size_t d = nd - 1; d-- > 0;) {
        ++idx[d];
        for (std::size_t k = 0; k < N; ++k) p[k] += s.strides[k][d];
        if (idx[d] < s.sizes[d]) break;
        for (std::size_t k = 0; k < N; ++k) p[k] -= idx[d] * s.strides[k][d];
        idx[d] = 0;
      }
    }
  });
}

}  // namespace px::cpu
