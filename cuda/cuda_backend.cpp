// CudaBackend: device contexts, memory methods, device discovery and the cuda.h switches.
#include "proxima/cuda/cuda_backend.h"

#include <atomic>
#include <string>

#include "proxima/cuda/check.h"
#include "proxima/cuda/cuda.h"

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
  PX_CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
  raise_kernel_errors(ctx);
}

void CudaBackend::synchronize(Device device) {
  DeviceContext& ctx = context(device);
  PX_CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
  raise_kernel_errors(ctx);
}

MemoryStats CudaBackend::memory_stats(Device device) { return context(device).allocator->stats(); }

// ---- not yet on CUDA (cuDNN convolution and pooling come with the full GPU backend) ----
namespace {
[[noreturn]] void not_implemented(const char* op) {
  throw Error(detail::str(op, " is not implemented on CUDA yet"));
}
}  // namespace

void CudaBackend::conv2d(const Tensor&, const Tensor&, const Tensor&, const Conv2dParams&) {
  not_implemented("conv2d");
}
void CudaBackend::conv2d_backward_input(const Tensor&, const Tensor&, const Tensor&, const Conv2dParams&) {
  not_implemented("conv2d_backward_input");
}
void CudaBackend::conv2d_backward_weight(const Tensor&, const Tensor&, const Tensor&, const Conv2dParams&) {
  not_implemented("conv2d_backward_weight");
}
void CudaBackend::max_pool2d(const Tensor&, const Tensor&, const Tensor&, const Pool2dParams&) {
  not_implemented("max_pool2d");
}
void CudaBackend::max_pool2d_backward(const Tensor&, const Tensor&, const Tensor&, const Pool2dParams&) {
  not_implemented("max_pool2d_backward");
}
void CudaBackend::avg_pool2d(const Tensor&, const Tensor&, const Pool2dParams&) {
  not_implemented("avg_pool2d");
}
void CudaBackend::avg_pool2d_backward(const Tensor&, const Tensor&, const Pool2dParams&) {
  not_implemented("avg_pool2d_backward");
}

}  // namespace cuda
}  // namespace px
