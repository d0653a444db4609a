// CachingAllocator: per-device caching allocator of CUDA memory (no cudaMalloc per op).
#pragma once

#include <cstddef>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "proxima/core/backend.h"

namespace px::cuda {

// CONVENTION: every block was obtained from cudaMalloc on device `device_` with exactly
// round_size(request) bytes, and is at every moment in exactly one of `in_use_` (owned by
// a Storage) or `free_[its size]` (cached). current_ = sum of the in-use sizes, cached_ =
// sum of the cached sizes, peak_ = max of current_ over time. A released block is reused
// at once without synchronising: all work on a device runs on that device's single stream,
// so every kernel that touched the block was enqueued before any kernel of its next owner.
// Blocks go back to the driver only in empty_cache() (which synchronises the device).
class CachingAllocator {
 public:
  explicit CachingAllocator(int device) : device_(device) {}
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // nbytes > 0. On out-of-memory frees the cache and retries once, then throws
  // px::OutOfMemoryError naming the request and the bytes in use and cached.
  void* allocate(std::size_t nbytes);
  // Returns a block to the cache; never throws (called from Storage's destructor).
  void release(void* ptr) noexcept;
  void empty_cache();
  MemoryStats stats() const;
  void reset_peak();  // peak := current, to measure the high-water mark of one phase

  // Block size for a request: at least 512 bytes, then rounded up to a quarter of its
  // power-of-two octave (at most 25% waste), always a multiple of 512.
  static std::size_t round_size(std::size_t nbytes);

 private:
  void free_cached_blocks();  // caller holds mutex_

  int device_;
  mutable std::mutex mutex_;
  std::unordered_map<void*, std::size_t> in_use_;
  std::unordered_map<std::size_t, std::vector<void*>> free_;
  std::size_t current_ = 0, peak_ = 0, cached_ = 0;
};

}  // namespace px::cuda
