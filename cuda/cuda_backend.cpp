// CudaBackend: device contexts, memory methods, device discovery and the cuda.h switches.
#include "proxima/cuda/cuda_backend.h"

#include <atomic>
#include <string>

#include "proxima/cuda/check.h"
#include "proxima/cuda/cuda.h"
#include "proxima/cuda/host_memory.h"

namespace px {

namespace {

struct DeviceCount {
  int count = 0;
  std::string failure;  // why there is no device, when count == 0
};

// cudaGetDeviceCount once per process; never throws (no driver counts as no device).
const DeviceCount& device_count_once() {
  static const DeviceCount result = [] {
    DeviceCount r;
    int count = 0;
    cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) {
      cudaGetLastError();
      r.failure = detail::str("cudaGetDeviceCount failed with ", cudaGetErrorName(status), " (",
                              cudaGetErrorString(status), ")");
      return r;
    }
    r.count = count;
    if (count == 0) r.failure = "cudaGetDeviceCount reported 0 devices";
    return r;
  }();
  return result;
}

}  // namespace

int cuda_device_count() { return device_count_once().count; }
bool cuda_available() { return cuda_device_count() >= 1; }
Backend& cuda_backend() { return cuda::cuda_backend_impl(); }

namespace cuda {

namespace {
std::atomic<bool> g_allow_tf32{true};
}

void set_allow_tf32(bool allow) { g_allow_tf32.store(allow); }
bool allow_tf32() { return g_allow_tf32.load(); }

void empty_cache(int index) {
  cuda_backend_impl().context(Device::cuda(index)).allocator->empty_cache();
}

void reset_peak_memory_stats(int index) {
  cuda_backend_impl().context(Device::cuda(index)).allocator->reset_peak();
}

CudaBackend& cuda_backend_impl() {
  // Never destroyed: storages released during static destruction still find their allocator.
  static CudaBackend* backend = new CudaBackend();
  return *backend;
}

DeviceContext& CudaBackend::context(Device device) {
  const DeviceCount& devices = device_count_once();
  PX_CHECK(devices.count > 0, DeviceError, "no CUDA device is available: ", device.str(),
           " was requested but ", devices.failure);
  PX_CHECK(device.is_cuda() && device.index >= 0 && device.index < devices.count, DeviceError,
           "no CUDA device is available: ", device.str(), " was requested but only ",
           devices.count, " device(s) are present (cuda:0 to cuda:", devices.count - 1, ")");
  std::lock_guard<std::mutex> lock(mutex_);
  if (contexts_.empty()) contexts_.resize(devices.count);
  auto& slot = contexts_[device.index];
  PX_CUDA_CHECK(cudaSetDevice(device.index));
  if (!slot) {
    auto ctx = std::make_unique<DeviceContext>();
    ctx->index = device.index;
    PX_CUDA_CHECK(cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking));
    PX_CUBLAS_CHECK(cublasCreate(&ctx->cublas));
    PX_CUBLAS_CHECK(cublasSetStream(ctx->cublas, ctx->stream));
    // cuBLAS repeats its results bit for bit on one stream unless routines may sum with atomics
    // (CUBLAS_ATOMICS_ALLOWED). Not-allowed is the default; stated here because --deterministic
    // relies on it (one handle bound to one stream: cuBLAS's multi-stream caveat does not apply).
    PX_CUBLAS_CHECK(cublasSetAtomicsMode(ctx->cublas, CUBLAS_ATOMICS_NOT_ALLOWED));
    PX_CUDNN_CHECK(cudnnCreate(&ctx->cudnn));
    PX_CUDNN_CHECK(cudnnSetStream(ctx->cudnn, ctx->stream));
    ctx->allocator = std::make_unique<CachingAllocator>(device.index);
    void* errors = nullptr;
    PX_CUDA_CHECK(cudaHostAlloc(&errors, sizeof(KernelErrorRecord), cudaHostAllocMapped));
    ctx->errors = static_cast<KernelErrorRecord*>(errors);
    *ctx->errors = KernelErrorRecord{0, 0, 0};
    PX_CUDA_CHECK(cudaDeviceGetAttribute(&ctx->num_sms, cudaDevAttrMultiProcessorCount, device.index));
    slot = std::move(ctx);
  }
  return *slot;
}

void CudaBackend::raise_kernel_errors(DeviceContext& ctx) {
  volatile KernelErrorRecord* record = ctx.errors;
  int code = record->code;
  if (code == 0) return;
  long long value = record->value, bound = record->bound;
  record->code = 0;
  if (code == static_cast<int>(KernelErrorCode::max_pool2d_backward)) {
    throw IndexError(detail::str("max_pool2d_backward: indices[", bound, "] = ", value,
                                 " is not a position inside the pooling window of output ", bound,
                                 " (indices must come from max_pool2d; found on cuda:", ctx.index,
                                 " when the queued work finished; the output is not valid)"));
  }
  const char* op = code == static_cast<int>(KernelErrorCode::index_select) ? "index_select" : "index_add_";
  throw IndexError(detail::str(op, ": index ", value, " is out of range for a dimension of size ",
                               bound, " (found on cuda:", ctx.index,
                               " when the queued work finished; the output is not valid)"));
}

std::shared_ptr<Storage> CudaBackend::allocate(std::size_t nbytes, Device device) {
  DeviceContext& ctx = context(device);
  if (nbytes == 0) return std::make_shared<Storage>(nullptr, 0, device, nullptr);
  CachingAllocator* allocator = ctx.allocator.get();
  void* ptr = allocator->allocate(nbytes);
  return std::make_shared<Storage>(ptr, nbytes, device,
                                   [allocator](void* p) { allocator->release(p); });
}

void CudaBackend::copy_from_host(const Tensor& dst, const void* src) {
  DeviceContext& ctx = context(dst.device());
  std::size_t nbytes = static_cast<std::size_t>(dst.numel()) * dtype_size(dst.dtype());
  if (nbytes == 0) return;
  // From pageable memory the call returns once `src` has been staged, so the caller may
  // free it at once; the transfer itself stays ordered on the stream.
  PX_CUDA_CHECK(cudaMemcpyAsync(dst.data_ptr(), src, nbytes, cudaMemcpyHostToDevice, ctx.stream));
}

void CudaBackend::copy_to_host(void* dst, const Tensor& src) {
  DeviceContext& ctx = context(src.device());
  std::size_t nbytes = static_cast<std::size_t>(src.numel()) * dtype_size(src.dtype());
  if (nbytes > 0) {
    PX_CUDA_CHECK(cudaMemcpyAsync(dst, src.data_ptr(), nbytes, cudaMemcpyDeviceToHost, ctx.stream));
  }
  note_host_sync(ctx.index);  // cuda::host_sync_count (host_memory.cpp)
  PX_CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
  raise_kernel_errors(ctx);
}

void CudaBackend::synchronize(Device device) {
  DeviceContext& ctx = context(device);
  note_host_sync(ctx.index);
  PX_CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
  raise_kernel_errors(ctx);
}

MemoryStats CudaBackend::memory_stats(Device device) { return context(device).allocator->stats(); }

}  // namespace cuda
}  // namespace px
