// CudaBackend::matmul: batched row-major GEMM through cuBLAS (column-major trick).
#include <climits>

#include "proxima/cuda/check.h"
#include "proxima/cuda/cuda.h"
#include "proxima/cuda/cuda_backend.h"

namespace px::cuda {

namespace {
int to_int(std::int64_t value, const char* what) {
  PX_CHECK(value <= INT_MAX, ValueError, "matmul on CUDA: ", what, " = ", value,
           " exceeds cuBLAS's limit of ", INT_MAX);
  return static_cast<int>(value);
}
}  // namespace

// Row-major out[b] (M x N) = op(a[b]) (M x K) @ op(b[b]) (K x N). Read as column-major,
// each row-major matrix is its transpose, so cuBLAS computes out^T = op(b)^T @ op(a)^T:
// cuBLAS's A is our b, its B is our a, and m = N, n = M.
void CudaBackend::matmul(const Tensor& a, const Tensor& b, const Tensor& out, bool trans_a,
                         bool trans_b) {
  DeviceContext& ctx = context(out.device());
  const Shape& os = out.shape();
  std::int64_t batch = os[0], M = os[1], N = os[2];
  std::int64_t K = trans_a ? a.shape()[1] : a.shape()[2];
  if (batch == 0 || M == 0 || N == 0) return;
  if (K == 0) {  // empty sum: zeros
    PX_CUDA_CHECK(cudaMemsetAsync(out.data_ptr(), 0, out.numel() * dtype_size(out.dtype()), ctx.stream));
    return;
  }
  int m = to_int(N, "N (columns of the result)"), n = to_int(M, "M (rows of the result)");
  int k = to_int(K, "K (inner dimension)"), count = to_int(batch, "the batch size");
  cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  int ld_b = trans_b ? k : m;   // b is [K, N] or, transposed, [N, K]
  int ld_a = trans_a ? n : k;   // a is [M, K] or, transposed, [K, M]
  long long stride_a = M * K, stride_b = K * N, stride_c = M * N;

  if (out.dtype() == DType::float32) {
    float alpha = 1.0f, beta = 0.0f;
    cublasComputeType_t compute = allow_tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    PX_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
        ctx.cublas, op_b, op_a, m, n, k, &alpha, b.data_ptr(), CUDA_R_32F, ld_b, stride_b,
        a.data_ptr(), CUDA_R_32F, ld_a, stride_a, &beta, out.data_ptr(), CUDA_R_32F, m, stride_c,
        count, compute, CUBLAS_GEMM_DEFAULT));
  } else {
    double alpha = 1.0, beta = 0.0;
    PX_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
        ctx.cublas, op_b, op_a, m, n, k, &alpha, b.data_ptr(), CUDA_R_64F, ld_b, stride_b,
        a.data_ptr(), CUDA_R_64F, ld_a, stride_a, &beta, out.data_ptr(), CUDA_R_64F, m, stride_c,
        count, CUBLAS_COMPUTE_64F, CUBLAS_GEMM_DEFAULT));
  }
}

}  // namespace px::cuda
