// backend_for, and the default (composed or throwing) implementations of optional Backend methods.
#include "proxima/core/backend.h"

#include "proxima/core/factory.h"

namespace px {

Backend& backend_for(Device device) {
  return device.is_cpu() ? cpu_backend() : cuda_backend();
}

// Until a backend implements the fused batch norm, it says so (the front-end then composes
// the normalisation from elementwise ops and reductions).
void Backend::batch_norm_forward(const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                 const Tensor&, const Tensor&, double, bool) {
  throw Error(detail::str(name(), ": batch_norm_forward is not implemented"));
}
void Backend::batch_norm_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                  const Tensor&, const Tensor&, const Tensor&, const Tensor&, bool) {
  throw Error(detail::str(name(), ": batch_norm_backward is not implemented"));
}

// Fused batch norm + ReLU: by default the two primitives (outputs never alias inputs, so the
// relu reads a temporary). A backend overrides these to save the extra passes.
void Backend::batch_norm_relu_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                      const Tensor& mean, const Tensor& invstd, const Tensor& y, double eps,
                                      bool training) {
  const Tensor pre = empty(x.shape(), {.dtype = x.dtype(), .device = x.device()});
  batch_norm_forward(x, weight, bias, mean, invstd, pre, eps, training);
  unary(UnaryOp::relu, pre, y);
}
void Backend::batch_norm_relu_backward(const Tensor& grad_y, const Tensor& x, const Tensor& y,
                                       const Tensor& weight, const Tensor& mean, const Tensor& invstd,
                                       const Tensor& grad_x, const Tensor& grad_weight, const Tensor& grad_bias,
                                       bool training) {
  const TensorOptions options{.dtype = x.dtype(), .device = x.device()};
  const Tensor mask = empty(y.shape(), options), masked = empty(y.shape(), options);
  unary(UnaryOp::sign, y, mask);  // y >= 0: sign(y) = [y > 0]
  binary(BinaryOp::mul, grad_y, mask, masked);
  batch_norm_backward(masked, x, weight, mean, invstd, grad_x, grad_weight, grad_bias, training);
}

}  // namespace px
