// px::cpu_backend(): the CPU backend singleton and its memory methods (aligned allocation).
#include "proxima/core/cpu/cpu_backend.h"
#include "proxima/core/cpu/cpu_eigen.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "proxima/core/error.h"

namespace px {
namespace cpu {
namespace {

constexpr std::size_t kAlignment = 64;  // one cache line; enough for AVX-512 loads

std::atomic<std::size_t> g_current_bytes{0};
std::atomic<std::size_t> g_peak_bytes{0};

void note_allocation(std::size_t nbytes) {
  std::size_t now = g_current_bytes.fetch_add(nbytes) + nbytes;
  std::size_t peak = g_peak_bytes.load();
  while (now > peak && !g_peak_bytes.compare_exchange_weak(peak, now)) {
  }
}

}  // namespace

std::shared_ptr<Storage> CpuBackend::allocate(std::size_t nbytes, Device device) {
  // Round up to the alignment (aligned_alloc requires it) and never ask for 0 bytes, so
  // every storage has a valid, distinct address.
  std::size_t rounded = (std::max<std::size_t>(nbytes, 1) + kAlignment - 1) / kAlignment * kAlignment;
  void* data = std::aligned_alloc(kAlignment, rounded);
  PX_CHECK(data != nullptr, OutOfMemoryError, "cpu allocate: could not allocate ", nbytes,
           " bytes of host memory");
  note_allocation(nbytes);
  return std::make_shared<Storage>(data, nbytes, Device::cpu(), [nbytes](void* p) {
    std::free(p);
    g_current_bytes.fetch_sub(nbytes);
  });
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
  MemoryStats stats;
  stats.current_bytes = g_current_bytes.load();
  stats.peak_bytes = g_peak_bytes.load();
  return stats;
}

CpuBackend::CpuBackend() { Eigen::setNbThreads(1); }

}  // namespace cpu

Backend& cpu_backend() {
  static cpu::CpuBackend backend;
  return backend;
}

}  // namespace px
