// The CPU caching allocator: size classes, reuse, alignment, statistics, threads, limits, errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/reference.h"
#include "proxima/core/backend.h"
#include "proxima/core/cpu/cpu_allocator.h"
#include "proxima/core/cpu_memory.h"
#include "proxima/core/factory.h"

using namespace px;
using px::cpu::CachingAllocator;

namespace {

constexpr std::size_t kNoLimit = std::size_t{1} << 40;

bool aligned(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) % CachingAllocator::kAlignment == 0;
}

// Request sizes spread over the small classes and many octaves.
std::vector<std::size_t> random_sizes(std::size_t count, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::size_t> sizes;
  for (std::size_t i = 0; i < count; ++i) {
    const int bits = static_cast<int>(rng() % 23);  // up to 8 MiB
    sizes.push_back(std::size_t{rng()} % (std::size_t{1} << bits) + (i % 7 == 0 ? 0 : 1));
  }
  return sizes;
}

}  // namespace

TEST_CASE("cpu allocator: round_size covers the request with at most 25% or 63 bytes of waste") {
  for (std::size_t n : random_sizes(5000, 1)) {
    const std::size_t size = CachingAllocator::round_size(n);
    INFO("request " << n << " -> block " << size);
    CHECK(size >= std::max<std::size_t>(n, 1));
    CHECK(size % CachingAllocator::kAlignment == 0);
    const std::size_t asked = std::max<std::size_t>(n, 1);
    CHECK((size - asked < 64 || static_cast<double>(size - asked) <= 0.25 * static_cast<double>(asked)));
    CHECK(CachingAllocator::round_size(size) == size);  // a block size is its own class
  }
}

TEST_CASE("cpu allocator: class_index is a bijection from block sizes onto consecutive integers") {
  // Walk every block size in increasing order up to 2^40: indices must be 0, 1, 2, ...
  std::size_t expected = 0;
  for (std::size_t n = 1; n <= (std::size_t{1} << 40);) {
    const std::size_t size = CachingAllocator::round_size(n);
    INFO("block " << size);
    CHECK(CachingAllocator::class_index(size) == expected);
    ++expected;
    n = size + 1;
  }
  const std::size_t largest = CachingAllocator::round_size(CachingAllocator::kMaxRequest);
  CHECK(CachingAllocator::class_index(largest) > expected);
}

TEST_CASE("cpu allocator: a released block comes back for a request of the same class") {
  CachingAllocator allocator(true, kNoLimit);
  for (std::size_t n : random_sizes(200, 2)) {
    void* first = allocator.allocate(n);
    allocator.release(first, n);
    // Another request of the same class (the block size itself) gets the same block.
    const std::size_t same_class = CachingAllocator::round_size(n);
    void* second = allocator.allocate(same_class);
    CHECK(second == first);
    allocator.release(second, same_class);
  }
  // One block per class was ever needed: every later request found it in the cache.
  std::set<std::size_t> classes;
  for (std::size_t n : random_sizes(200, 2)) classes.insert(CachingAllocator::round_size(n));
  const CpuMemoryStats s = allocator.stats();
  CHECK(s.os_allocations == classes.size());
  CHECK(s.os_allocations + s.cache_hits == 400);
  CHECK(s.current_bytes == 0);
}

TEST_CASE("cpu allocator: blocks are 64-byte aligned, distinct, and writable over the whole request") {
  CachingAllocator allocator(true, kNoLimit);
  const std::vector<std::size_t> sizes = random_sizes(300, 3);
  std::vector<void*> blocks;
  for (std::size_t n : sizes) {
    void* p = allocator.allocate(n);
    CHECK(aligned(p));
    std::memset(p, static_cast<int>(blocks.size() & 0xff), n);  // ASan/valgrind would catch overruns
    blocks.push_back(p);
  }
  CHECK(std::set<void*>(blocks.begin(), blocks.end()).size() == blocks.size());
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const auto* bytes = static_cast<const unsigned char*>(blocks[i]);
    if (sizes[i] > 0) CHECK((bytes[0] == (i & 0xff) && bytes[sizes[i] - 1] == (i & 0xff)));
    allocator.release(blocks[i], sizes[i]);
  }
}

TEST_CASE("cpu allocator: current, peak, cached and OS counts follow a script of requests") {
  CachingAllocator allocator(true, kNoLimit);
  const std::vector<std::size_t> sizes = random_sizes(50, 4);
  std::size_t live = 0, peak = 0;
  std::vector<void*> blocks;
  for (std::size_t n : sizes) {
    blocks.push_back(allocator.allocate(n));
    live += CachingAllocator::round_size(n);
    peak = std::max(peak, live);
    CHECK(allocator.stats().current_bytes == live);
  }
  CHECK(allocator.stats().peak_bytes == peak);
  CHECK(allocator.stats().os_allocations == sizes.size());
  for (std::size_t i = 0; i < sizes.size(); i += 2) {  // release every other block
    allocator.release(blocks[i], sizes[i]);
    live -= CachingAllocator::round_size(sizes[i]);
  }
  std::size_t cached = peak - live;
  CpuMemoryStats s = allocator.stats();
  CHECK(s.current_bytes == live);
  CHECK(s.cached_bytes == cached);
  CHECK(s.peak_bytes == peak);
  allocator.reset_peak();
  CHECK(allocator.stats().peak_bytes == live);
  for (std::size_t i = 0; i < sizes.size(); i += 2) blocks[i] = allocator.allocate(sizes[i]);  // all hits
  s = allocator.stats();
  CHECK(s.cached_bytes == 0);
  CHECK(s.os_allocations == sizes.size());
  CHECK(s.cache_hits == (sizes.size() + 1) / 2);
  CHECK(s.peak_bytes == peak);
  for (std::size_t i = 0; i < sizes.size(); ++i) allocator.release(blocks[i], sizes[i]);
  CHECK(allocator.stats().current_bytes == 0);
  CHECK(allocator.stats().cached_bytes == peak);
}

TEST_CASE("cpu allocator: empty_cache gives every free block back and keeps live ones") {
  CachingAllocator allocator(true, kNoLimit);
  void* kept = allocator.allocate(1 << 20);
  std::vector<std::size_t> sizes = random_sizes(40, 5);
  std::vector<void*> blocks;
  for (std::size_t n : sizes) blocks.push_back(allocator.allocate(n));
  for (std::size_t i = 0; i < sizes.size(); ++i) allocator.release(blocks[i], sizes[i]);
  CHECK(allocator.stats().cached_bytes > 0);
  allocator.empty_cache();
  const CpuMemoryStats s = allocator.stats();
  CHECK(s.cached_bytes == 0);
  CHECK(s.os_frees == sizes.size());
  CHECK(s.current_bytes == CachingAllocator::round_size(1 << 20));
  std::memset(kept, 1, 1 << 20);  // still ours
  allocator.release(kept, 1 << 20);
  CHECK(allocator.stats().cached_bytes == CachingAllocator::round_size(1 << 20));
}

TEST_CASE("cpu allocator: the cache never holds more than its limit") {
  const std::size_t limit = 3 << 20;
  CachingAllocator allocator(true, limit);
  std::vector<void*> blocks;
  for (int i = 0; i < 5; ++i) blocks.push_back(allocator.allocate(1 << 20));
  for (void* p : blocks) allocator.release(p, 1 << 20);
  CpuMemoryStats s = allocator.stats();
  CHECK(s.cached_bytes == limit);  // three blocks kept, two given back
  CHECK(s.os_frees == 2);
  allocator.set_cache_limit(1 << 20);  // below what is cached: the cache is emptied
  CHECK(allocator.stats().cached_bytes == 0);
}

TEST_CASE("cpu allocator: with caching off every release goes back to the OS") {
  CachingAllocator allocator(false, kNoLimit);
  for (std::size_t n : random_sizes(30, 6)) allocator.release(allocator.allocate(n), n);
  CpuMemoryStats s = allocator.stats();
  CHECK(s.cached_bytes == 0);
  CHECK(s.cache_hits == 0);
  CHECK(s.os_allocations == 30);
  CHECK(s.os_frees == 30);
  CHECK(!s.caching);
  CachingAllocator switched(true, kNoLimit);
  switched.release(switched.allocate(4096), 4096);
  CHECK(switched.stats().cached_bytes == 4096);
  switched.set_caching(false);  // turning it off empties the cache
  CHECK(switched.stats().cached_bytes == 0);
  CHECK(switched.stats().os_frees == 1);
}

TEST_CASE("cpu allocator: threads allocating and releasing at once keep the counts consistent") {
  CachingAllocator allocator(true, kNoLimit);
  constexpr int kThreads = 4, kRounds = 300;
  std::vector<std::thread> threads;
  std::vector<int> corrupted(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::vector<std::size_t> sizes = random_sizes(kRounds, 100 + static_cast<std::uint32_t>(t));
      std::vector<std::pair<unsigned char*, std::size_t>> held;
      for (int r = 0; r < kRounds; ++r) {
        const std::size_t n = sizes[static_cast<std::size_t>(r)] + 1;
        auto* p = static_cast<unsigned char*>(allocator.allocate(n));
        std::memset(p, t + 1, n);  // a block handed to two threads at once would be overwritten
        held.emplace_back(p, n);
        if (r % 3 == 2) {  // release the oldest two, checking nobody else wrote into them
          for (int k = 0; k < 2; ++k) {
            auto [q, m] = held.front();
            corrupted[static_cast<std::size_t>(t)] += q[0] != t + 1 || q[m - 1] != t + 1;
            allocator.release(q, m);
            held.erase(held.begin());
          }
        }
      }
      for (auto [q, m] : held) allocator.release(q, m);
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) CHECK(corrupted[static_cast<std::size_t>(t)] == 0);
  const CpuMemoryStats s = allocator.stats();
  CHECK(s.current_bytes == 0);
  CHECK(s.os_allocations + s.cache_hits == kThreads * kRounds);
  CHECK(s.os_frees == 0);
  allocator.empty_cache();
  CHECK(allocator.stats().os_frees == s.os_allocations);  // every OS block was cached exactly once
}

TEST_CASE("cpu allocator: a request no machine can satisfy throws OutOfMemoryError naming it") {
  CachingAllocator allocator(true, kNoLimit);
  void* held = allocator.allocate(1000);
  for (std::size_t huge : {std::size_t{1} << 61, CachingAllocator::kMaxRequest + 1, SIZE_MAX}) {
    try {
      allocator.allocate(huge);
      FAIL("no exception for a request of " << huge << " bytes");
    } catch (const OutOfMemoryError& e) {
      const std::string message = e.what();
      INFO(message);
      CHECK(message.find(std::to_string(huge)) != std::string::npos);
      CHECK(message.find("1024 bytes are in use") != std::string::npos);
    }
  }
  CHECK(allocator.stats().current_bytes == 1024);
  allocator.release(held, 1000);
}

TEST_CASE("cpu allocator: CPU tensors reuse the block of a dropped tensor of the same size") {
  set_cpu_caching_allocator(true);
  const void* first = nullptr;
  {
    Tensor a = empty({300, 500});
    first = a.data_ptr();
  }
  const CpuMemoryStats before = cpu_memory_stats();
  Tensor b = zeros({500, 300});  // same byte count, another shape
  CHECK(b.data_ptr() == first);
  const CpuMemoryStats after = cpu_memory_stats();
  CHECK(after.cache_hits == before.cache_hits + 1);
  CHECK(after.current_bytes == before.current_bytes + CachingAllocator::round_size(300 * 500 * 4));
  CHECK(cpu_backend().memory_stats(Device::cpu()).current_bytes == after.current_bytes);
  const std::vector<float> values = b.to_vector<float>();  // a reused block is still zero-filled by zeros()
  CHECK(std::count(values.begin(), values.end(), 0.0f) == static_cast<std::ptrdiff_t>(values.size()));
}

TEST_CASE("cpu allocator: the public switches reach the allocator of CPU tensors") {
  { Tensor t = empty({1 << 16}); }
  CHECK(cpu_memory_stats().cached_bytes > 0);
  empty_cpu_cache();
  CHECK(cpu_memory_stats().cached_bytes == 0);
  set_cpu_caching_allocator(false);
  CHECK(!cpu_caching_allocator());
  const CpuMemoryStats before = cpu_memory_stats();
  { Tensor t = empty({1 << 16}); }
  CHECK(cpu_memory_stats().cached_bytes == 0);
  CHECK(cpu_memory_stats().os_frees == before.os_frees + 1);
  set_cpu_caching_allocator(true);
  CHECK(cpu_caching_allocator());
  { Tensor t = empty({1 << 16}); }
  reset_cpu_peak_memory_stats();
  CHECK(cpu_memory_stats().peak_bytes == cpu_memory_stats().current_bytes);
  set_cpu_cache_limit(0);
  CHECK(cpu_memory_stats().cached_bytes == 0);
  set_cpu_cache_limit(std::size_t{1} << 30);
}
