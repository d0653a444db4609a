// Kernel-launch helpers for cuda/*.cu: grid sizes, a dtype dispatcher and the strided
// indexer that turns a linear element number into per-tensor offsets.
#pragma once

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "proxima/core/tensor.h"
#include "proxima/cuda/check.h"

namespace px::cuda {

constexpr int kBlock = 256;

// Blocks for a grid-stride loop over n elements.
inline unsigned grid_for(std::int64_t n) {
  std::int64_t blocks = (n + kBlock - 1) / kBlock;
  return static_cast<unsigned>(blocks < (1 << 20) ? (blocks > 0 ? blocks : 1) : (1 << 20));
}

// Calls f(T{}) with T the C++ type of `dtype`.
template <class F>
void dispatch_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::float32: f(float{}); return;
    case DType::float64: f(double{}); return;
    case DType::int64: f(std::int64_t{}); return;
    case DType::uint8: f(std::uint8_t{}); return;
  }
}

constexpr int kMaxDims = 8;

// CONVENTION: N tensors of one shape, coalesced to `ndim` <= kMaxDims dims (innermost
// last). Element `linear` (row-major over sizes) of tensor k sits at element offset
// base[k] + sum_d index_d * strides[k][d] from that tensor's data_ptr(). Passed by value.
template <int N>
struct StridedIndexer {
  int ndim = 1;
  std::int64_t sizes[kMaxDims] = {};
  std::int64_t strides[N][kMaxDims] = {};
  std::int64_t base[N] = {};

  __device__ void offsets(std::int64_t linear, std::int64_t (&out)[N]) const {
#pragma unroll
    for (int k = 0; k < N; ++k) out[k] = base[k];
    if (ndim == 1) {  // contiguous or simply strided: no division
#pragma unroll
      for (int k = 0; k < N; ++k) out[k] += linear * strides[k][0];
      return;
    }
#pragma unroll
    for (int d = kMaxDims - 1; d >= 0; --d) {
      if (d >= ndim) continue;
      std::int64_t i = linear % sizes[d];
      linear /= sizes[d];
#pragma unroll
      for (int k = 0; k < N; ++k) out[k] += i * strides[k][d];
    }
  }
};

// Merges dims that are contiguous in all N tensors and drops size-1 dims, so a contiguous
// operation becomes 1-D. Returns (sizes, strides per tensor); at least one dim.
template <int N>
std::pair<Shape, std::array<Shape, N>> coalesce(const Shape& shape, const std::array<Shape, N>& strides) {
  Shape sizes;
  std::array<Shape, N> out;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !sizes.empty();
    for (int k = 0; k < N && merge; ++k) merge = out[k].back() == strides[k][d] * shape[d];
    if (merge) {
      sizes.back() *= shape[d];
      for (int k = 0; k < N; ++k) out[k].back() = strides[k][d];
    } else {
      sizes.push_back(shape[d]);
      for (int k = 0; k < N; ++k) out[k].push_back(strides[k][d]);
    }
  }
  if (sizes.empty()) {
    sizes.push_back(1);
    for (int k = 0; k < N; ++k) out[k].push_back(0);
  }
  return {sizes, out};
}

// Calls launch(indexer, count) once per block of the <= 8 innermost coalesced dims
// (once in all but exotic cases), covering every element of `tensors` (same shape).
template <int N, class Launch>
void for_each_strided(const std::array<const Tensor*, N>& tensors, Launch&& launch) {
  std::array<Shape, N> strides;
  for (int k = 0; k < N; ++k) strides[k] = tensors[k]->strides();
  auto [sizes, merged] = coalesce<N>(tensors[0]->shape(), strides);
  int ndim = static_cast<int>(sizes.size());
  int outer_dims = ndim > kMaxDims ? ndim - kMaxDims : 0;
  StridedIndexer<N> indexer;
  indexer.ndim = ndim - outer_dims;
  std::int64_t count = 1;
  for (int d = outer_dims; d < ndim; ++d) {
    indexer.sizes[d - outer_dims] = sizes[d];
    count *= sizes[d];
    for (int k = 0; k < N; ++k) indexer.strides[k][d - outer_dims] = merged[k][d];
  }
  std::vector<std::int64_t> index(outer_dims, 0);  // position in the outer dims
  while (true) {
    for (int k = 0; k < N; ++k) {
      indexer.base[k] = 0;
      for (int d = 0; d < outer_dims; ++d) indexer.base[k] += index[d] * merged[k][d];
    }
    launch(indexer, count);
    int d = outer_dims - 1;
    while (d >= 0 && ++index[d] == sizes[d]) index[d--] = 0;
    if (d < 0) return;
  }
}

}  // namespace px::cuda
