// The Backend interface: one virtual method per primitive, implemented once per device kind.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "proxima/core/tensor.h"

namespace px {

enum class UnaryOp { neg, abs, sign, exp, log, sqrt, rsqrt, relu, sigmoid, tanh };
enum class BinaryOp { add, sub, mul, div, pow, minimum, maximum, eq, ne, lt, le, gt, ge };
enum class ReduceOp { sum, max, min, argmax, argmin };
enum class RandomKind { uniform, normal };

inline bool is_comparison(BinaryOp op) {
  return op == BinaryOp::eq || op == BinaryOp::ne || op == BinaryOp::lt || op == BinaryOp::le ||
         op == BinaryOp::gt || op == BinaryOp::ge;
}

struct Conv2dParams {
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t pad_h = 0, pad_w = 0;
  std::int64_t dilation_h = 1, dilation_w = 1;
  std::int64_t groups = 1;
};

struct Pool2dParams {
  std::int64_t kernel_h = 2, kernel_w = 2;
  std::int64_t stride_h = 2, stride_w = 2;
  std::int64_t pad_h = 0, pad_w = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;  // average pooling only (PyTorch's default)
};

struct MemoryStats {
  std::size_t current_bytes = 0;  // in use by live tensors
  std::size_t peak_bytes = 0;     // high-water mark of current_bytes
  std::size_t cached_bytes = 0;   // held by a caching allocator but free
};

// CONVENTION (what every backend may assume; the front-end in core/ops*.cpp guarantees it):
// - all tensors passed to one call live on this backend's device and are defined;
// - "any strides" means arbitrary non-negative strides (0 for broadcast inputs); outputs
//   never alias an input and never have stride 0 unless they have a single element;
// - "contiguous" means row-major with no gaps (is_contiguous());
// - outputs are allocated by the front-end with their final shape and dtype, and are
//   overwritten (never accumulated into) unless the method says otherwise;
// - backends compute; they do not validate shapes or dtypes, and they do not throw except
//   for failures of the device itself (out of memory, launch failure) and index values
//   out of range where checking is cheap.
// Methods are asynchronous on devices that can be: only copy_to_host and synchronize wait.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // ---- memory ----
  virtual std::shared_ptr<Storage> allocate(std::size_t nbytes, Device device) = 0;
  // dst contiguous; copies dst.numel() elements of dst.dtype() from host memory.
  virtual void copy_from_host(const Tensor& dst, const void* src) = 0;
  // src contiguous; waits for pending work, then copies src to host memory.
  virtual void copy_to_host(void* dst, const Tensor& src) = 0;
  virtual void synchronize(Device device) = 0;
  virtual MemoryStats memory_stats(Device device) = 0;

  // ---- data movement ----
  // src and dst have the same shape, any strides, any dtypes (converts like a C cast;
  // float to uint8/int64 truncates toward zero).
  virtual void copy(const Tensor& src, const Tensor& dst) = 0;
  virtual void fill(const Tensor& dst, double value) = 0;  // dst any strides
  // dst contiguous float32/float64. uniform: U[a, b); normal: N(mean a, std b). Element i
  // is philox::uniform_at / normal_at(seed, offset, i) transformed, on every backend.
  virtual void random(const Tensor& dst, RandomKind kind, double a, double b, std::uint64_t seed,
                      std::uint64_t offset) = 0;

  // ---- elementwise ----
  // x and out: same shape, any strides, same dtype (float32/float64; neg/abs/sign also int64).
  virtual void unary(UnaryOp op, const Tensor& x, const Tensor& out) = 0;
  // a and b: already broadcast to out's shape (stride-0 views), any strides, same dtype
  // (float32, float64 or int64; uint8 too for comparisons). out has that dtype, or uint8
  // (0/1) for comparisons. pow is float only.
  virtual void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  // cond uint8 (non-zero = take a); a, b, out same dtype; all broadcast to out's shape.
  virtual void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) = 0;

  // ---- reductions ----
  // x contiguous, viewed as [outer, n, inner] with n >= 1; out contiguous [outer, inner].
  // sum/max/min: out dtype = x dtype. argmax/argmin: out int64, the first index on ties.
  virtual void reduce(ReduceOp op, const Tensor& x, const Tensor& out, std::int64_t outer,
                      std::int64_t n, std::int64_t inner) = 0;

  // ---- linear algebra ----
  // Batched GEMM, all contiguous float32/float64: a is [B, M, K] ([B, K, M] if trans_a),
  // b is [B, K, N] ([B, N, K] if trans_b), out is [B, M, N]. out = op(a) @ op(b).
  virtual void matmul(const Tensor& a, const Tensor& b, const Tensor& out, bool trans_a,
                      bool trans_b) = 0;

  // ---- network primitives (all tensors contiguous, NCHW, one float dtype) ----
  // x [N, C, H, W], w [K, C/groups, R, S], out [N, K, P, Q].
  virtual void conv2d(const Tensor& x, const Tensor& w, const Tensor& out, const Conv2dParams& p) = 0;
  virtual void conv2d_backward_input(const Tensor& grad_out, const Tensor& w, const Tensor& grad_x,
                                     const Conv2dParams& p) = 0;
  virtual void conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Tensor& grad_w,
                                      const Conv2dParams& p) = 0;
  // indices int64 [N, C, P, Q]: the argmax's flat position h * W + w inside its H x W plane.
  virtual void max_pool2d(const Tensor& x, const Tensor& out, const Tensor& indices,
                          const Pool2dParams& p) = 0;
  virtual void max_pool2d_backward(const Tensor& grad_out, const Tensor& indices,
                                   const Tensor& grad_x, const Pool2dParams& p) = 0;
  virtual void avg_pool2d(const Tensor& x, const Tensor& out, const Pool2dParams& p) = 0;
  virtual void avg_pool2d_backward(const Tensor& grad_out, const Tensor& grad_x,
                                   const Pool2dParams& p) = 0;
  // x, out contiguous [outer, n]; (log-)softmax over n.
  virtual void softmax(const Tensor& x, const Tensor& out, bool log) = 0;

  // ---- batch normalisation (all tensors contiguous, one float dtype) ----
  // x and y are [N, C, L] (NCHW with L = H * W, or [N, C] with L = 1); weight, bias, mean and
  // invstd are [C]; weight and bias may be undefined (1 and 0).
  // training: writes mean[c] and invstd[c] = 1 / sqrt(biased variance + eps) over N and L;
  // otherwise reads them (the front-end derives them from the running statistics).
  // y = (x - mean) * invstd * weight + bias.
  virtual void batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                  const Tensor& mean, const Tensor& invstd, const Tensor& y,
                                  double eps, bool training);
  // With xhat = (x - mean) * invstd: grad_bias = sum(gy), grad_weight = sum(gy * xhat) over N
  // and L; grad_x = weight * invstd * (gy - [training] (grad_bias + xhat * grad_weight) / (N L)).
  // Any of grad_x, grad_weight, grad_bias may be undefined (not wanted).
  virtual void batch_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                                   const Tensor& mean, const Tensor& invstd, const Tensor& grad_x,
                                   const Tensor& grad_weight, const Tensor& grad_bias,
                                   bool training);
  // Batch norm then ReLU, one op: y = max(0, batch_norm(x)); arguments as batch_norm_forward.
  // The default composes batch_norm_forward and unary(relu) through a temporary.
  virtual void batch_norm_relu_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                       const Tensor& mean, const Tensor& invstd, const Tensor& y,
                                       double eps, bool training);
  // Its backward: y is the fused OUTPUT (contiguous, x's shape); batch_norm_backward applied to
  // the masked gradient gy * [y > 0]. The default masks into a temporary (gy * sign(y), since
  // y >= 0) and calls batch_norm_backward.
  virtual void batch_norm_relu_backward(const Tensor& grad_y, const Tensor& x, const Tensor& y,
                                        const Tensor& weight, const Tensor& mean,
                                        const Tensor& invstd, const Tensor& grad_x,
                                        const Tensor& grad_weight, const Tensor& grad_bias,
                                        bool training);

  // ---- indexing (x, out, src, dst contiguous; index int64 contiguous 1-D) ----
  // out = x with dimension `dim` replaced by x.index(dim, index[i]) for each i.
  virtual void index_select(const Tensor& x, std::int64_t dim, const Tensor& index,
                            const Tensor& out) = 0;
  // dst.index(dim, index[i]) += src.index(dim, i): accumulates into dst.
  virtual void index_add(const Tensor& dst, std::int64_t dim, const Tensor& index,
                         const Tensor& src) = 0;
};

// The backend that serves a device kind. The CPU backend always exists; the CUDA one is
// the real one in a CUDA build and a stub throwing CudaUnavailableError otherwise.
Backend& backend_for(Device device);
Backend& cpu_backend();
Backend& cuda_backend();
bool cuda_available();  // built with CUDA and at least one device present
int cuda_device_count();

// Threads used by the CPU backend (default: hardware concurrency).
void set_num_threads(int n);
int get_num_threads();

}  // namespace px
