// The generic multi-tensor loop of the optimizer kernels: one launch applies a device functor to
// every coordinate of up to kMaxTensors tensors (optim/device_loop.h's TensorList).
//
// Layout: tensor k owns the blocks [first_block[k], first_block[k+1]), each block a chunk of
// kChunk consecutive coordinates; a block finds its tensor by binary search in first_block.
// The table travels by value as the kernel argument (under the classic 4 KB limit), so a launch
// needs no device memory and no host synchronisation. op(ptrs, i) updates coordinate i, where
// ptrs[s] is slot s of the block's tensor (null when unused).
#pragma once

#include <algorithm>
#include <atomic>
#include <climits>

#include "proxima/cuda/cuda_backend.h"
#include "proxima/cuda/launch.cuh"
#include "proxima/optim/device_loop.h"

namespace px::cuda::multi_tensor {

constexpr int kSlots = optim::device::kMaxSlots;
constexpr std::int64_t kChunk = 4096;  // coordinates per block (16 per thread)
constexpr int kMaxTensors = 3400 / (8 * kSlots + 12);  // 65: table + functor < 4 KB

struct Table {
  void* ptrs[kMaxTensors][kSlots];
  std::int64_t numel[kMaxTensors];
  int first_block[kMaxTensors + 1];
  int count;
};

std::atomic<std::int64_t>& launches();  // defined in optim_classic.cu

template <class T, class Op>
__global__ void __launch_bounds__(kBlock) multi_tensor_kernel(Table table, Op op) {
  const int b = static_cast<int>(blockIdx.x);
  int lo = 0, hi = table.count - 1;
  while (lo < hi) {  // the last k with first_block[k] <= b
    const int mid = (lo + hi + 1) / 2;
    if (table.first_block[mid] <= b) lo = mid;
    else hi = mid - 1;
  }
  T* ptrs[kSlots];
#pragma unroll
  for (int s = 0; s < kSlots; ++s) ptrs[s] = static_cast<T*>(table.ptrs[lo][s]);
  const std::int64_t begin = static_cast<std::int64_t>(b - table.first_block[lo]) * kChunk;
  const std::int64_t end = begin + kChunk < table.numel[lo] ? begin + kChunk : table.numel[lo];
  for (std::int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) op(ptrs, i);
}

// Launches op over every coordinate of `list` on its device's stream: one launch per
// kMaxTensors tensors.
template <class T, class Op>
void launch(const optim::device::TensorList& list, const Op& op) {
  if (list.empty()) return;
  DeviceContext& ctx = cuda_backend_impl().context(list.device);
  Table table{};
  std::int64_t blocks = 0;
  auto flush = [&] {
    if (table.count == 0) return;
    table.first_block[table.count] = static_cast<int>(blocks);
    multi_tensor_kernel<T><<<static_cast<unsigned>(blocks), kBlock, 0, ctx.stream>>>(table, op);
    PX_CUDA_CHECK_LAUNCH();
    ++launches();
    table.count = 0;
    blocks = 0;
  };
  for (std::size_t k = 0; k < list.ptrs.size(); ++k) {
    const std::int64_t n = list.numel[k];
    if (n == 0) continue;
    const std::int64_t need = (n + kChunk - 1) / kChunk;
    if (table.count == kMaxTensors || blocks + need > INT_MAX) flush();
    for (int s = 0; s < kSlots; ++s) table.ptrs[table.count][s] = list.ptrs[k][static_cast<std::size_t>(s)];
    table.numel[table.count] = n;
    table.first_block[table.count] = static_cast<int>(blocks);
    ++table.count;
    blocks += need;
  }
  flush();
}


}  // namespace px::cuda::multi_tensor
