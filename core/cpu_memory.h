// Public switches and statistics of the CPU caching allocator (no Eigen include).
#pragma once

#include <cstddef>
#include <cstdint>

namespace px {

// Host memory of CPU tensors comes from a caching allocator (core/cpu/cpu_allocator.h): a
// dropped tensor's block goes to a free list and the next request of the same size class
// takes it back, so a training loop stops asking the OS for memory (and stops paying its
// page faults and kernel zero-fills) after its first step.
struct CpuMemoryStats {
  std::size_t current_bytes = 0;      // in blocks held by live tensors (block sizes, rounded up)
  std::size_t peak_bytes = 0;         // high-water mark of current_bytes since the last reset
  std::size_t cached_bytes = 0;       // in free blocks kept for reuse
  std::size_t cache_limit_bytes = 0;  // cached_bytes never exceeds this
  std::uint64_t os_allocations = 0;   // blocks obtained from the OS (aligned_alloc) so far
  std::uint64_t os_frees = 0;         // blocks given back to the OS so far
  std::uint64_t cache_hits = 0;       // requests served from the free lists so far
  bool caching = true;                // false: every block goes back to the OS when dropped
};

CpuMemoryStats cpu_memory_stats();

// Gives every cached (free) block back to the OS; memory of live tensors is not touched.
void empty_cpu_cache();

// Sets peak_bytes to the bytes in use now, so that the next reading is the high-water mark
// since this call (the CPU twin of px::cuda::reset_peak_memory_stats).
void reset_cpu_peak_memory_stats();

// Turns caching on or off. Off (for valgrind or AddressSanitizer, which cannot see a reused
// block as freed) also empties the cache; every block then goes straight back to the OS.
// Default: on, unless the environment variable PX_CPU_CACHING_ALLOCATOR is "0" at first use.
void set_cpu_caching_allocator(bool enabled);
bool cpu_caching_allocator();

// Most bytes the cache may hold; a dropped block that would exceed it goes back to the OS.
// Lowering the limit below cached_bytes empties the cache. Default: a quarter of the
// physical memory, at most 4 GiB, or PX_CPU_CACHE_LIMIT_MB (mebibytes) if set at first use.
void set_cpu_cache_limit(std::size_t bytes);

}  // namespace px
