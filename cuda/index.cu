// CudaBackend::index_select and index_add (bad index values are reported at the next sync).
#include "proxima/cuda/cuda.h"
#include "proxima/cuda/cuda_backend.h"
#include "proxima/cuda/launch.cuh"
#include "proxima/core/detail/dim_view.h"

namespace px::cuda {

namespace {

using ::px::detail::DimView;
using ::px::detail::dim_view;

__device__ void record_error(KernelErrorRecord* errors, KernelErrorCode code, long long value,
                             long long bound) {
  if (atomicCAS(&errors->code, 0, static_cast<int>(code)) == 0) {
    errors->value = value;
    errors->bound = bound;
  }
}

// out[o, i, j] = x[o, index[i], j]; elements moved as raw words of their size (W).
template <class W>
__global__ void index_select_kernel(const W* x, const std::int64_t* index, W* out, DimView v,
                                    std::int64_t count, KernelErrorRecord* errors) {
  std::int64_t total = v.outer * count * v.inner;
  std::int64_t step = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t k = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; k < total; k += step) {
    std::int64_t j = k % v.inner, t = k / v.inner;
    std::int64_t i = t % count, o = t / count;
    std::int64_t idx = index[i];
    if (idx < 0 || idx >= v.size) {
      record_error(errors, KernelErrorCode::index_select, idx, v.size);
      out[k] = W(0);
    } else {
      out[k] = x[(o * v.size + idx) * v.inner + j];
    }
  }
}

// uint8 has no atomicAdd: compare-and-swap the aligned 32-bit word that holds the byte.
__device__ void atomic_add(std::uint8_t* address, std::uint8_t value) {
  auto base = reinterpret_cast<std::uintptr_t>(address);
  unsigned* word = reinterpret_cast<unsigned*>(base & ~std::uintptr_t(3));
  unsigned shift = static_cast<unsigned>(base & 3) * 8;
  unsigned old = *word, assumed;
  do {
    assumed = old;
    unsigned byte = ((assumed >> shift) + value) & 0xffu;
    old = atomicCAS(word, assumed, (assumed & ~(0xffu << shift)) | (byte << shift));
  } while (old != assumed);
}
__device__ void atomic_add(std::int64_t* address, std::int64_t value) {
  atomicAdd(reinterpret_cast<unsigned long long*>(address), static_cast<unsigned long long>(value));
}
__device__ void atomic_add(float* address, float value) { atomicAdd(address, value); }
__device__ void atomic_add(double* address, double value) { atomicAdd(address, value); }

// dst[o, index[i], j] += src[o, i, j]. Atomic: with repeated indices the float sums are
// accumulated in an unspecified order (not bit-reproducible; the gather kernel below is).
template <class T>
__global__ void index_add_kernel(T* dst, const std::int64_t* index, const T* src, DimView v,
                                 std::int64_t count, KernelErrorRecord* errors) {
  std::int64_t total = v.outer * count * v.inner;
  std::int64_t step = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t k = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; k < total; k += step) {
    std::int64_t j = k % v.inner, t = k / v.inner;
    std::int64_t i = t % count, o = t / count;
    std::int64_t idx = index[i];
    if (idx < 0 || idx >= v.size) {
      record_error(errors, KernelErrorCode::index_add, idx, v.size);
    } else {
      atomic_add(dst + (o * v.size + idx) * v.inner + j, src[k]);
    }
  }
}

// Deterministic variant (set_deterministic_algorithms(true)): one thread per destination element
// dst[o, d, j] scans the whole index and adds src[o, i, j] for each i with index[i] == d, in
// increasing i: the CPU's order, so the result is bitwise reproducible and equal to the CPU's.
// Costs count index reads per destination element (the atomic kernel costs one add per source
// element): fine for the index_select gradients of small tables, slow for huge ones. Thread 0
// reports bad indices (dst has at least one element here).
template <class T>
__global__ void index_add_gather_kernel(T* dst, const std::int64_t* index, const T* src, DimView v,
                                        std::int64_t count, KernelErrorRecord* errors) {
  std::int64_t total = v.outer * v.size * v.inner;
  std::int64_t step = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t k = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; k < total; k += step) {
    std::int64_t j = k % v.inner, t = k / v.inner;
    std::int64_t d = t % v.size, o = t / v.size;
    T acc = dst[k];
    for (std::int64_t i = 0; i < count; ++i) {
      std::int64_t idx = index[i];
      if (idx == d) {
        acc = static_cast<T>(acc + src[(o * count + i) * v.inner + j]);
      } else if (k == 0 && (idx < 0 || idx >= v.size)) {
        record_error(errors, KernelErrorCode::index_add, idx, v.size);
      }
    }
    dst[k] = acc;
  }
}

}  // namespace

void CudaBackend::index_select(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& out) {
  DeviceContext& ctx = context(out.device());
  DimView v = dim_view(x.shape(), dim);
  std::int64_t count = index.numel(), total = v.outer * count * v.inner;
  if (total == 0) return;
  const auto* idx = static_cast<const std::int64_t*>(index.data_ptr());
  auto launch = [&](auto word) {
    using W = decltype(word);
    index_select_kernel<W><<<grid_for(total), kBlock, 0, ctx.stream>>>(
        static_cast<const W*>(x.data_ptr()), idx, static_cast<W*>(out.data_ptr()), v, count, ctx.errors);
  };
  switch (dtype_size(x.dtype())) {
    case 1: launch(std::uint8_t{}); break;
    case 4: launch(std::uint32_t{}); break;
    default: launch(std::uint64_t{}); break;
  }
  PX_CUDA_CHECK_LAUNCH();
}

void CudaBackend::index_add(const Tensor& dst, std::int64_t dim, const Tensor& index, const Tensor& src) {
  DeviceContext& ctx = context(dst.device());
  DimView v = dim_view(dst.shape(), dim);
  std::int64_t count = index.numel(), total = v.outer * count * v.inner;
  if (total == 0) return;
  const auto* idx = static_cast<const std::int64_t*>(index.data_ptr());
  const std::int64_t dst_total = v.outer * v.size * v.inner;
  const bool gather = deterministic_algorithms() && dst_total > 0;  // atomics sum in no fixed order
  dispatch_dtype(dst.dtype(), [&](auto tag) {
    using T = decltype(tag);
    auto* d = static_cast<T*>(dst.data_ptr());
    const auto* s = static_cast<const T*>(src.data_ptr());
    if (gather) {
      index_add_gather_kernel<T><<<grid_for(dst_total), kBlock, 0, ctx.stream>>>(d, idx, s, v, count, ctx.errors);
    } else {
      index_add_kernel<T><<<grid_for(total), kBlock, 0, ctx.stream>>>(d, idx, s, v, count, ctx.errors);
    }
  });
  PX_CUDA_CHECK_LAUNCH();
}

}  // namespace px::cuda
