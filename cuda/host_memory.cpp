// cuda::pinned_empty (a pool of page-locked host blocks, reused once their copies have run) and
// cuda::host_sync_count.
#include "proxima/cuda/host_memory.h"

#include <array>
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <unordered_set>
#include <utility>

#include "proxima/cuda/check.h"
#include "proxima/cuda/cuda.h"
#include "proxima/cuda/cuda_backend.h"

namespace px::cuda {
namespace {

// CONVENTION: every block came from cudaHostAlloc with exactly `nbytes` bytes (a
// CachingAllocator::round_size) and is at every moment either owned by one Storage or in
// free_[{device, nbytes}], oldest release first, with `event` recorded on that device's stream
// when its Storage was released. A free block is handed out only when its event has completed:
// every copy that read it (enqueued before the release) has then run. Blocks are never returned
// to the driver (the pool holds what one training run's prefetching and queued steps need).
struct PinnedBlock {
  void* ptr = nullptr;
  cudaEvent_t event = nullptr;
};

// Released blocks of one size still waiting for their copies before allocate() waits for the
// oldest instead of allocating another (bounds the pool when the host runs far ahead).
constexpr std::size_t kMaxPendingPerSize = 8;

class PinnedPool {
 public:
  void* allocate(std::size_t nbytes, int device) {
    PinnedBlock block;
    bool must_wait = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto& list = free_[{device, nbytes}];
      if (!list.empty()) {
        const cudaError_t status = cudaEventQuery(list.front().event);
        if (status == cudaSuccess || list.size() >= kMaxPendingPerSize) {
          must_wait = status != cudaSuccess;
          block = list.front();
          list.pop_front();
        } else if (status != cudaErrorNotReady) {
          PX_CUDA_CHECK(status);
        } else {
          cudaGetLastError();  // cudaErrorNotReady is not an error
        }
      }
    }
    if (must_wait) PX_CUDA_CHECK(cudaEventSynchronize(block.event));  // outside the lock
    if (block.ptr) return remember(block);
    PX_CUDA_CHECK(cudaHostAlloc(&block.ptr, nbytes, cudaHostAllocPortable));
    PX_CUDA_CHECK(cudaEventCreateWithFlags(&block.event, cudaEventDisableTiming));
    return remember(block);
  }

  // Records the release point on the device's stream; a failure (e.g. the driver shutting down
  // at exit) leaks the block rather than risk reusing it early.
  void release(void* ptr, std::size_t nbytes, int device) noexcept {
    try {
      DeviceContext& ctx = cuda_backend_impl().context(Device::cuda(device));
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = events_.find(ptr);
      if (it == events_.end() || cudaEventRecord(it->second, ctx.stream) != cudaSuccess) return;
      free_[{device, nbytes}].push_back({ptr, it->second});
    } catch (...) {
    }
  }

  bool contains(const void* ptr) {
    std::lock_guard<std::mutex> lock(mutex_);
    return events_.count(const_cast<void*>(ptr)) > 0;
  }

 private:
  void* remember(const PinnedBlock& block) {
    std::lock_guard<std::mutex> lock(mutex_);
    events_[block.ptr] = block.event;
    return block.ptr;
  }

  std::mutex mutex_;
  std::map<std::pair<int, std::size_t>, std::deque<PinnedBlock>> free_;
  std::map<void*, cudaEvent_t> events_;  // every block ever allocated, handed out or free
};

PinnedPool& pinned_pool() {
  static PinnedPool* pool = new PinnedPool();  // never destroyed, like the backend
  return *pool;
}

constexpr int kMaxCountedDevices = 64;
std::array<std::atomic<std::size_t>, kMaxCountedDevices> g_host_syncs{};

}  // namespace

void note_host_sync(int index) noexcept {
  if (index >= 0 && index < kMaxCountedDevices) g_host_syncs[index].fetch_add(1, std::memory_order_relaxed);
}

std::size_t host_sync_count(int index) {
  return index >= 0 && index < kMaxCountedDevices ? g_host_syncs[index].load() : 0;
}

Tensor pinned_empty(const Shape& shape, DType dtype, Device device) {
  PX_CHECK(device.is_cuda(), ValueError, "pinned_empty: device = ", device.str(),
           ", expected cuda:N (the device its copies go to)");
  cuda_backend_impl().context(device);  // DeviceError naming the device when there is none
  const std::size_t nbytes = static_cast<std::size_t>(shape_numel(shape)) * dtype_size(dtype);
  const std::size_t size = CachingAllocator::round_size(nbytes);
  void* ptr = pinned_pool().allocate(size, device.index);
  const int index = device.index;
  auto storage = std::make_shared<Storage>(ptr, nbytes, Device::cpu(),
                                           [size, index](void* p) { pinned_pool().release(p, size, index); });
  return Tensor(std::move(storage), shape, contiguous_strides(shape), 0, dtype);
}

bool is_pinned(const Tensor& t) {
  return t.defined() && t.storage() && t.storage()->data() && pinned_pool().contains(t.storage()->data());
}

}  // namespace px::cuda
