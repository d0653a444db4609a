// px::cpu_backend(): the CPU backend singleton and its memory methods (caching allocator).
#include "proxima/core/cpu/cpu_backend.h"
#include "proxima/core/cpu/cpu_eigen.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "proxima/core/cpu/cpu_allocator.h"

namespace px {
namespace cpu {
namespace {

// PX_CPU_POISON_MEMORY=1 fills every new storage with 0xFF bytes (NaN in float32 and float64,
// -1 in the integer dtypes): a debugging switch that makes any read of memory an op never wrote
// show up as NaN instead of as whatever a reused block held.
bool poison_memory() {
  static const bool on = [] {
    const char* value = std::getenv("PX_CPU_POISON_MEMORY");
    return value != nullptr && std::string(value) != "0" && std::string(value) != "off";
  }();
  return on;
}

}  // namespace

std::shared_ptr<Storage> CpuBackend::allocate(std::size_t nbytes, Device device) {
  // Blocks come from the caching allocator (cpu_allocator.h): 64-byte aligned, never
  // empty, so every storage has a valid, distinct address.
  CachingAllocator* allocator = &host_allocator();
  void* data = allocator->allocate(nbytes);
  if (poison_memory()) std::memset(data, 0xFF, nbytes);
  return std::make_shared<Storage>(data, nbytes, Device::cpu(),
                                   [allocator, nbytes](void* p) { allocator->release(p, nbytes); });
}

void CpuBackend::copy_from_host(const Tensor& dst, const void* src) {
  std::size_t n = static_cast<std::size_t>(dst.numel()) * dtype_size(dst.dtype());
  if (n > 0) std::memcpy(dst.data_ptr(), src, n);
}

void CpuBackend::copy_to_host(void* dst, const Tensor& src) {
  std::size_t n = static_cast<std::size_t>(src.numel()) * dtype_size(src.dtype());
  if (n > 0) std::memcpy(dst, src.data_ptr(), n);
}

MemoryStats CpuBackend::memory_stats(Device device) {
  const CpuMemoryStats stats = host_allocator().stats();
  return {stats.current_bytes, stats.peak_bytes, stats.cached_bytes};
}

CpuBackend::CpuBackend() { Eigen::setNbThreads(1); }

}  // namespace cpu

Backend& cpu_backend() {
  static cpu::CpuBackend backend;
  return backend;
}

}  // namespace px
