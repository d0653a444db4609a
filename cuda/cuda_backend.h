// CudaBackend: the Backend of CUDA devices (our kernels, cuBLAS, cuDNN, a caching allocator).
// Private to cuda/: it includes CUDA headers.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn_graph.h>

#include <memory>
#include <mutex>
#include <vector>

#include "proxima/core/backend.h"
#include "proxima/cuda/allocator.h"

namespace px::cuda {

// Failures found inside kernels (bad index values), reported at the next synchronisation.
enum class KernelErrorCode : int { none = 0, index_select = 1, index_add = 2, max_pool2d_backward = 3 };
struct KernelErrorRecord {
  int code;           // a KernelErrorCode; the first failing thread wins (atomicCAS)
  long long value;    // the offending index
  long long bound;    // the size of the indexed dimension (max_pool2d_backward: the output position)
};

// Everything one device needs. CONVENTION: all work of a device runs on `stream`
// (kernels, copies, cuBLAS, cuDNN), so work is ordered without host synchronisation; only
// copy_to_host and synchronize wait for the stream.
struct DeviceContext {
  int index = 0;
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  cudnnHandle_t cudnn = nullptr;    // bound to `stream`, like cublas
  std::unique_ptr<CachingAllocator> allocator;
  KernelErrorRecord* errors = nullptr;  // mapped pinned memory: host and device address
  int num_sms = 1;
};

class CudaBackend final : public Backend {
 public:
  std::string name() const override { return "cuda"; }

  std::shared_ptr<Storage> allocate(std::size_t nbytes, Device device) override;
  void copy_from_host(const Tensor& dst, const void* src) override;
  void copy_to_host(void* dst, const Tensor& src) override;
  void synchronize(Device device) override;
  MemoryStats memory_stats(Device device) override;

  void copy(const Tensor& src, const Tensor& dst) override;
  void fill(const Tensor& dst, double value) override;
  void random(const Tensor& dst, RandomKind kind, double a, double b, std::uint64_t seed,
              std::uint64_t offset) override;

  void unary(UnaryOp op, const Tensor& x, const Tensor& out) override;
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) override;
  void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) override;

  void reduce(ReduceOp op, const Tensor& x, const Tensor& out, std::int64_t outer, std::int64_t n,
              std::int64_t inner) override;
  void matmul(const Tensor& a, const Tensor& b, const Tensor& out, bool trans_a,
              bool trans_b) override;

  void conv2d(const Tensor& x, const Tensor& w, const Tensor& out, const Conv2dParams& p) override;
  void conv2d_backward_input(const Tensor& grad_out, const Tensor& w, const Tensor& grad_x,
                             const Conv2dParams& p) override;
  void conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Tensor& grad_w,
                              const Conv2dParams& p) override;
  void max_pool2d(const Tensor& x, const Tensor& out, const Tensor& indices,
                  const Pool2dParams& p) override;
  void max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const Tensor& grad_x,
                           const Pool2dParams& p) override;
  void avg_pool2d(const Tensor& x, const Tensor& out, const Pool2dParams& p) override;
  void avg_pool2d_backward(const Tensor& grad_out, const Tensor& grad_x,
                           const Pool2dParams& p) override;
  void softmax(const Tensor& x, const Tensor& out, bool log) override;

  void index_select(const Tensor& x, std::int64_t dim, const Tensor& index,
                    const Tensor& out) override;
  void index_add(const Tensor& dst, std::int64_t dim, const Tensor& index,
                 const Tensor& src) override;

  // batch_norm.cu
  void batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                          const Tensor& mean, const Tensor& invstd, const Tensor& y, double eps,
                          bool training) override;
  void batch_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                           const Tensor& mean, const Tensor& invstd, const Tensor& grad_x,
                           const Tensor& grad_weight, const Tensor& grad_bias,
                           bool training) override;

  // The context of `device` (created on first use), made the calling thread's current
  // device. Throws DeviceError("no CUDA device is available: ...") naming the device.
  DeviceContext& context(Device device);

 private:
  void raise_kernel_errors(DeviceContext& ctx);  // after a stream synchronisation

  std::mutex mutex_;
  std::vector<std::unique_ptr<DeviceContext>> contexts_;
};

CudaBackend& cuda_backend_impl();

}  // namespace px::cuda
