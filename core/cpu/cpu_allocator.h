// CachingAllocator: thread-safe size-class free lists of host memory for CpuBackend::allocate.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "proxima/core/cpu_memory.h"

namespace px::cpu {

// CONVENTION: every block was obtained from std::aligned_alloc(kAlignment, size) with
// size = round_size(request), and is at every moment either owned by exactly one Storage
// (counted in current_) or in free_[class_index(size)] (counted in cached_); its size is
// never stored: the Storage's release passes the request back and round_size recomputes it.
// peak_ = max of current_ since the last reset; cached_ <= limit_; when caching_ is false
// free_ is empty and every released block goes straight back to the OS. The mutex guards
// all of it; OS calls (aligned_alloc, free) run outside it.
//
// Size classes (round_size): multiples of 64 bytes up to 4 KiB (64 classes, waste < 64 B:
// small tensors are many, so keep them tight), then four classes per power-of-two octave:
// (2^k, 2^(k+1)] rounds up to a multiple of 2^(k-2), so at most 25% of a block is waste
// (and untouched pages of it are never resident). A request is served only by a block of
// its own class: no splitting, hence no fragmentation bookkeeping; a training step asks for
// the same sizes every step, so after the first step every request is a hit.
class CachingAllocator {
 public:
  static constexpr std::size_t kAlignment = 64;  // one cache line; enough for AVX-512 loads
  // Larger requests cannot be rounded without overflow and could never be satisfied.
  static constexpr std::size_t kMaxRequest = std::size_t{1} << 62;

  CachingAllocator(bool caching, std::size_t cache_limit);
  ~CachingAllocator();  // gives cached blocks back; blocks still owned by storages stay valid
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // A block of at least max(nbytes, 1) bytes, kAlignment-aligned, contents unspecified. On
  // failure empties the cache and retries once, then throws px::OutOfMemoryError naming the
  // request and the bytes in use.
  void* allocate(std::size_t nbytes);
  // Takes back a block that allocate(nbytes) returned; never throws (called from ~Storage).
  void release(void* ptr, std::size_t nbytes) noexcept;

  void empty_cache();
  void reset_peak();
  void set_caching(bool enabled);
  void set_cache_limit(std::size_t bytes);
  CpuMemoryStats stats() const;

  static std::size_t round_size(std::size_t nbytes);
  static std::size_t class_index(std::size_t block_size);  // block_size = round_size(some n)

 private:
  static constexpr std::size_t kSmallClasses = 64;                  // 64 B .. 4 KiB
  static constexpr std::size_t kClasses = kSmallClasses + 4 * 51;   // octaves 2^12 .. 2^62
  std::vector<void*> take_cached_blocks();  // caller holds mutex_; empties free_

  mutable std::mutex mutex_;
  std::array<std::vector<void*>, kClasses> free_;
  std::size_t current_ = 0, peak_ = 0, cached_ = 0, limit_ = 0;
  std::uint64_t os_allocations_ = 0, os_frees_ = 0, hits_ = 0;
  bool caching_ = true;
};

// The allocator of CpuBackend (created on first use, never destroyed so that storages
// released during static destruction still find it). Caching follows the environment
// variable PX_CPU_CACHING_ALLOCATOR ("0": off) and the limit PX_CPU_CACHE_LIMIT_MB.
CachingAllocator& host_allocator();

}  // namespace px::cpu
