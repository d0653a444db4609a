// CpuBackend: the px::Backend implementation on the host (Eigen GEMM, OpenMP loops).
#pragma once

#include "proxima/core/backend.h"

namespace px::cpu {

// Methods are defined across the cpu_*.cpp files of this folder, one file per family.
class CpuBackend final : public Backend {
 public:
  CpuBackend();  // switches Eigen's own threading off: proxima threads GEMMs itself (cpu_gemm.cpp)
  std::string name() const override { return "cpu"; }

  // memory (cpu_backend.cpp)
  std::shared_ptr<Storage> allocate(std::size_t nbytes, Device device) override;
  void copy_from_host(const Tensor& dst, const void* src) override;
  void copy_to_host(void* dst, const Tensor& src) override;
  void synchronize(Device device) override {}
  MemoryStats memory_stats(Device device) override;

  // data movement (cpu_copy_fill.cpp)
  void copy(const Tensor& src, const Tensor& dst) override;
  void fill(const Tensor& dst, double value) override;
  void random(const Tensor& dst, RandomKind kind, double a, double b, std::uint64_t seed,
              std::uint64_t offset) override;

  // elementwise (cpu_elementwise.cpp)
  void unary(UnaryOp op, const Tensor& x, const Tensor& out) override;
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) override;
  void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) override;

  // reductions (cpu_reduce.cpp)
  void reduce(ReduceOp op, const Tensor& x, const Tensor& out, std::int64_t outer, std::int64_t n,
              std::int64_t inner) override;

  // GEMM (cpu_gemm.cpp)
  void matmul(const Tensor& a, const Tensor& b, const Tensor& out, bool trans_a,
              bool trans_b) override;

  // convolution (cpu_conv.cpp)
  void conv2d(const Tensor& x, const Tensor& w, const Tensor& out, const Conv2dParams& p) override;
  void conv2d_backward_input(const Tensor& grad_out, const Tensor& w, const Tensor& grad_x,
                             const Conv2dParams& p) override;
  void conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Tensor& grad_w,
                              const Conv2dParams& p) override;

  // pooling (cpu_pool.cpp)
  void max_pool2d(const Tensor& x, const Tensor& out, const Tensor& indices,
                  const Pool2dParams& p) override;
  void max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const Tensor& grad_x,
                           const Pool2dParams& p) override;
  void avg_pool2d(const Tensor& x, const Tensor& out, const Pool2dParams& p) override;
  void avg_pool2d_backward(const Tensor& grad_out, const Tensor& grad_x,
                           const Pool2dParams& p) override;

  // softmax and indexing (cpu_softmax_index.cpp)
  void softmax(const Tensor& x, const Tensor& out, bool log) override;
  void index_select(const Tensor& x, std::int64_t dim, const Tensor& index,
                    const Tensor& out) override;
  void index_add(const Tensor& dst, std::int64_t dim, const Tensor& index,
                 const Tensor& src) override;

  // batch normalisation (cpu_batch_norm.cpp)
  void batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                          const Tensor& mean, const Tensor& invstd, const Tensor& y, double eps,
                          bool training) override;
  void batch_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                           const Tensor& mean, const Tensor& invstd, const Tensor& grad_x,
                           const Tensor& grad_weight, const Tensor& grad_bias,
                           bool training) override;
  void batch_norm_relu_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                               const Tensor& mean, const Tensor& invstd, const Tensor& y, double eps,
                               bool training) override;
  void batch_norm_relu_backward(const Tensor& grad_y, const Tensor& x, const Tensor& y,
                                const Tensor& weight, const Tensor& mean, const Tensor& invstd,
                                const Tensor& grad_x, const Tensor& grad_weight,
                                const Tensor& grad_bias, bool training) override;
};

}  // namespace px::cpu
