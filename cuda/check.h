// PX_CUDA_CHECK / PX_CUBLAS_CHECK / PX_CUDNN_CHECK: turn a failed CUDA, cuBLAS or cuDNN call into
// px::DeviceError.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn_graph.h>

#include "proxima/core/error.h"

namespace px::cuda::failure {

[[noreturn]] inline void throw_cuda_error(cudaError_t status, const char* call, const char* file,
                                          int line) {
  cudaGetLastError();  // clear a non-sticky error so later calls can proceed
  throw DeviceError(::px::detail::str("CUDA call ", call, " failed at ", file, ":", line, ": ",
                                      cudaGetErrorName(status), " (", cudaGetErrorString(status), ")"));
}

[[noreturn]] inline void throw_cublas_error(cublasStatus_t status, const char* call, const char* file,
                                            int line) {
  throw DeviceError(::px::detail::str("cuBLAS call ", call, " failed at ", file, ":", line, ": ",
                                      cublasGetStatusName(status), " (", cublasGetStatusString(status),
                                      ")"));
}

[[noreturn]] inline void throw_cudnn_error(cudnnStatus_t status, const char* call, const char* file,
                                           int line) {
  throw DeviceError(::px::detail::str("cuDNN call ", call, " failed at ", file, ":", line, ": ",
                                      cudnnGetErrorString(status), " (status ", static_cast<int>(status),
                                      ")"));
}

}  // namespace px::cuda::failure

#define PX_CUDA_CHECK(call)                                                          \
  do {                                                                               \
    cudaError_t px_status_ = (call);                                                 \
    if (px_status_ != cudaSuccess)                                                   \
      ::px::cuda::failure::throw_cuda_error(px_status_, #call, __FILE__, __LINE__);   \
  } while (0)

#define PX_CUBLAS_CHECK(call)                                                        \
  do {                                                                               \
    cublasStatus_t px_status_ = (call);                                              \
    if (px_status_ != CUBLAS_STATUS_SUCCESS)                                         \
      ::px::cuda::failure::throw_cublas_error(px_status_, #call, __FILE__, __LINE__); \
  } while (0)

#define PX_CUDNN_CHECK(call)                                                        \
  do {                                                                              \
    cudnnStatus_t px_status_ = (call);                                              \
    if (px_status_ != CUDNN_STATUS_SUCCESS)                                         \
      ::px::cuda::failure::throw_cudnn_error(px_status_, #call, __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: reports a bad launch configuration or an earlier async failure.
#define PX_CUDA_CHECK_LAUNCH() PX_CUDA_CHECK(cudaGetLastError())
