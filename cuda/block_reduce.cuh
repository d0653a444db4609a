// Warp and block reductions for cuda/*.cu kernels (shuffles, then one value per warp).
#pragma once

#include <cstdint>
#include <type_traits>

namespace px::cuda {

constexpr unsigned kFullMask = 0xffffffffu;

// __shfl_xor_sync for every dtype proxima has (uint8 travels as int).
template <class T>
__device__ T shuffle_xor(T v, int mask) {
  if constexpr (sizeof(T) < 4) {
    return static_cast<T>(__shfl_xor_sync(kFullMask, static_cast<int>(v), mask));
  } else if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(__shfl_xor_sync(kFullMask, static_cast<long long>(v), mask));
  } else {
    return __shfl_xor_sync(kFullMask, v, mask);
  }
}

// All 32 lanes of the warp get combine() of the 32 values (butterfly: a tree of depth 5).
template <class T, class Combine>
__device__ T warp_allreduce(T v, Combine combine) {
#pragma unroll
  for (int mask = 16; mask > 0; mask /= 2) v = combine(v, shuffle_xor(v, mask));
  return v;
}

// Every thread of the block gets combine() of the block's values. `scratch` holds 32 T in
// shared memory; blockDim.x is a multiple of 32. Contains __syncthreads: call from all threads.
template <class T, class Combine>
__device__ T block_allreduce(T v, Combine combine, T* scratch) {
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
  v = warp_allreduce(v, combine);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  T total = scratch[0];
  for (int w = 1; w < warps; ++w) total = combine(total, scratch[w]);
  __syncthreads();  // scratch may be reused at once
  return total;
}

}  // namespace px::cuda
