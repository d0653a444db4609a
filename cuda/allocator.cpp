// CachingAllocator: size-rounded free lists of cudaMalloc blocks, one allocator per device.
#include "proxima/cuda/allocator.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <bit>

#include "proxima/cuda/check.h"

namespace px::cuda {

std::size_t CachingAllocator::round_size(std::size_t nbytes) {
  constexpr std::size_t kMin = 512;
  if (nbytes <= kMin) return kMin;
  std::size_t octave = std::bit_floor(nbytes - 1);    // largest power of two below nbytes
  std::size_t step = std::max(kMin, octave / 4);
  return (nbytes + step - 1) / step * step;
}

void* CachingAllocator::allocate(std::size_t nbytes) {
  std::size_t size = round_size(nbytes);
  std::lock_guard<std::mutex> lock(mutex_);
  void* ptr = nullptr;
  auto cached = free_.find(size);
  if (cached != free_.end() && !cached->second.empty()) {
    ptr = cached->second.back();
    cached->second.pop_back();
    cached_ -= size;
  } else {
    PX_CUDA_CHECK(cudaSetDevice(device_));
    cudaError_t status = cudaMalloc(&ptr, size);
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      std::size_t was_cached = cached_;
      free_cached_blocks();
      status = cudaMalloc(&ptr, size);
      if (status == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        std::size_t device_free = 0, device_total = 0;
        cudaMemGetInfo(&device_free, &device_total);
        cudaGetLastError();
        throw OutOfMemoryError(::px::detail::str(
            "CUDA out of memory on cuda:", device_, ": cannot allocate ", nbytes, " bytes (",
            static_cast<double>(nbytes) / (1 << 30), " GiB); ", current_,
            " bytes are in use by tensors and ", was_cached,
            " bytes were cached (the cache was freed and the allocation retried); the device has ",
            device_free, " of ", device_total, " bytes free"));
      }
    }
    PX_CUDA_CHECK(status);
  }
  in_use_.emplace(ptr, size);
  current_ += size;
  peak_ = std::max(peak_, current_);
  return ptr;
}

void CachingAllocator::release(void* ptr) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = in_use_.find(ptr);
  if (it == in_use_.end()) return;  // not ours: nothing safe to do
  std::size_t size = it->second;
  in_use_.erase(it);
  current_ -= size;
  try {
    free_[size].push_back(ptr);
    cached_ += size;
  } catch (...) {
    cudaFree(ptr);  // could not record it: give it back to the driver instead
  }
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  free_cached_blocks();
}

void CachingAllocator::free_cached_blocks() {
  if (cached_ == 0) return;
  PX_CUDA_CHECK(cudaSetDevice(device_));
  for (auto& [size, blocks] : free_) {
    for (void* ptr : blocks) PX_CUDA_CHECK(cudaFree(ptr));  // cudaFree waits for the device
    cached_ -= size * blocks.size();
    blocks.clear();
  }
  free_.clear();
}

void CachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  peak_ = current_;
}

MemoryStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return {current_, peak_, cached_};
}

}  // namespace px::cuda
