// cuda/cuda.h in a build without CUDA, so that code using it builds either way: the switches
// keep their value and do nothing, the device queries answer "nothing", and what needs a device
// (pinned memory) throws CudaUnavailableError.
#include <atomic>

#include "proxima/cuda/cuda.h"

namespace px::cuda {
namespace {
std::atomic<bool> g_allow_tf32{true};
std::atomic<std::size_t> g_conv_workspace_limit{std::size_t{1} << 30};
std::atomic<bool> g_deterministic{false};
}  // namespace

void set_allow_tf32(bool allow) { g_allow_tf32.store(allow); }
bool allow_tf32() { return g_allow_tf32.load(); }
void empty_cache(int) {}              // no cache without CUDA
void reset_peak_memory_stats(int) {}  // nor any statistics
void set_conv_workspace_limit(std::size_t bytes) { g_conv_workspace_limit.store(bytes); }
std::size_t conv_workspace_limit() { return g_conv_workspace_limit.load(); }
std::size_t conv_algorithm_cache_size() { return 0; }
void set_deterministic_algorithms(bool on) { g_deterministic.store(on); }
bool deterministic_algorithms() { return g_deterministic.load(); }

Tensor pinned_empty(const Shape&, DType, Device device) {
  throw CudaUnavailableError(detail::str(
      "proxima was built without CUDA (PX_CUDA=OFF or CUDA not found): cannot allocate pinned memory for ",
      device.str(), "; rebuild with -DPX_CUDA=ON or use Device::cpu()"));
}
bool is_pinned(const Tensor&) { return false; }
std::size_t host_sync_count(int) { return 0; }

}  // namespace px::cuda
