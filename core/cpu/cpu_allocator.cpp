// CachingAllocator (size-class free lists of aligned host blocks) and the public px::cpu_* memory API.
#include "proxima/core/cpu/cpu_allocator.h"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <string>

#include "proxima/core/error.h"

namespace px::cpu {

std::size_t CachingAllocator::round_size(std::size_t nbytes) {
  constexpr std::size_t kSmallMax = kSmallClasses * kAlignment;  // 4 KiB
  if (nbytes <= kSmallMax) {
    return std::max<std::size_t>(nbytes + kAlignment - 1, kAlignment) / kAlignment * kAlignment;
  }
  std::size_t octave = std::bit_floor(nbytes - 1);  // largest power of two below nbytes
  std::size_t step = octave / 4;
  return (nbytes + step - 1) / step * step;
}

std::size_t CachingAllocator::class_index(std::size_t block_size) {
  if (block_size <= kSmallClasses * kAlignment) return block_size / kAlignment - 1;
  std::size_t octave = std::bit_floor(block_size - 1);
  std::size_t quarter = (block_size - octave) / (octave / 4) - 1;  // 0..3
  return kSmallClasses + 4 * static_cast<std::size_t>(std::countr_zero(octave) - 12) + quarter;
}

CachingAllocator::CachingAllocator(bool caching, std::size_t cache_limit)
    : limit_(cache_limit), caching_(caching) {}

CachingAllocator::~CachingAllocator() {
  for (void* ptr : take_cached_blocks()) std::free(ptr);
}

void* CachingAllocator::allocate(std::size_t nbytes) {
  PX_CHECK(nbytes <= kMaxRequest, OutOfMemoryError, "cpu allocate: cannot allocate ", nbytes,
           " bytes of host memory (more than the 2^62 bytes any request may ask for); ",
           stats().current_bytes, " bytes are in use by tensors");
  const std::size_t size = round_size(nbytes);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<void*>& blocks = free_[class_index(size)];
    if (!blocks.empty()) {
      void* ptr = blocks.back();
      blocks.pop_back();
      cached_ -= size;
      current_ += size;
      peak_ = std::max(peak_, current_);
      ++hits_;
      return ptr;
    }
  }
  void* ptr = std::aligned_alloc(kAlignment, size);
  std::size_t was_cached = 0;
  if (ptr == nullptr) {  // give the cache back to the OS and try once more
    std::vector<void*> cached;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      was_cached = cached_;
      cached = take_cached_blocks();
    }
    for (void* block : cached) std::free(block);
    ptr = std::aligned_alloc(kAlignment, size);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  PX_CHECK(ptr != nullptr, OutOfMemoryError, "cpu allocate: could not allocate ", nbytes,
           " bytes (block of ", size, " bytes) of host memory; ", current_,
           " bytes are in use by tensors and ", was_cached,
           " bytes were cached (the cache was freed and the allocation retried)");
  current_ += size;
  peak_ = std::max(peak_, current_);
  ++os_allocations_;
  return ptr;
}

void CachingAllocator::release(void* ptr, std::size_t nbytes) noexcept {
  const std::size_t size = round_size(nbytes);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    current_ -= size;
    if (caching_ && cached_ + size <= limit_) {
      try {
        free_[class_index(size)].push_back(ptr);
        cached_ += size;
        return;
      } catch (...) {  // could not record it: give it back to the OS instead
      }
    }
    ++os_frees_;
  }
  std::free(ptr);
}

std::vector<void*> CachingAllocator::take_cached_blocks() {
  std::vector<void*> taken;
  for (std::vector<void*>& blocks : free_) {
    taken.insert(taken.end(), blocks.begin(), blocks.end());
    blocks = {};  // drop the capacity too
  }
  os_frees_ += taken.size();
  cached_ = 0;
  return taken;
}

void CachingAllocator::empty_cache() {
  std::vector<void*> cached;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    cached = take_cached_blocks();
  }
  for (void* ptr : cached) std::free(ptr);
}

void CachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  peak_ = current_;
}

void CachingAllocator::set_caching(bool enabled) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    caching_ = enabled;
  }
  if (!enabled) empty_cache();
}

void CachingAllocator::set_cache_limit(std::size_t bytes) {
  bool over = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    limit_ = bytes;
    over = cached_ > limit_;
  }
  if (over) empty_cache();
}

CpuMemoryStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return {current_, peak_, cached_, limit_, os_allocations_, os_frees_, hits_, caching_};
}

namespace {

bool caching_from_environment() {
  const char* value = std::getenv("PX_CPU_CACHING_ALLOCATOR");
  if (value == nullptr) return true;
  const std::string text = value;
  return !(text == "0" || text == "off" || text == "false");
}

std::size_t cache_limit_from_environment() {
  if (const char* value = std::getenv("PX_CPU_CACHE_LIMIT_MB")) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long mib = std::strtoull(value, &end, 10);
    PX_CHECK(end != value && *end == '\0' && errno == 0 && mib < (1ull << 40), ValueError,
             "PX_CPU_CACHE_LIMIT_MB: got '", value, "', expected a number of mebibytes");
    return static_cast<std::size_t>(mib) << 20;
  }
  const long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGE_SIZE);
  const std::size_t physical = pages > 0 && page_size > 0
                                   ? static_cast<std::size_t>(pages) * static_cast<std::size_t>(page_size)
                                   : std::size_t{0};
  constexpr std::size_t kDefaultMax = std::size_t{4} << 30;
  return physical == 0 ? kDefaultMax : std::min(kDefaultMax, physical / 4);
}

}  // namespace

CachingAllocator& host_allocator() {
  static CachingAllocator* allocator =
      new CachingAllocator(caching_from_environment(), cache_limit_from_environment());
  return *allocator;
}

}  // namespace px::cpu

namespace px {

CpuMemoryStats cpu_memory_stats() { return cpu::host_allocator().stats(); }
void empty_cpu_cache() { cpu::host_allocator().empty_cache(); }
void reset_cpu_peak_memory_stats() { cpu::host_allocator().reset_peak(); }
void set_cpu_caching_allocator(bool enabled) { cpu::host_allocator().set_caching(enabled); }
bool cpu_caching_allocator() { return cpu::host_allocator().stats().caching; }
void set_cpu_cache_limit(std::size_t bytes) { cpu::host_allocator().set_cache_limit(bytes); }

}  // namespace px
