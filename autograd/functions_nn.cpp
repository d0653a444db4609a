// Differentiable matmul, conv2d (+ bias), pooling and (log-)softmax.
#include "proxima/autograd/functions.h"
#include "proxima/core/ops.h"

namespace px {

using autograd::Needs;
using autograd::record;
using autograd::TensorList;

// y = a @ b. 1-D operands are promoted to matrices ([K] -> [1, K] on the left, [K, 1] on the
// right), so every case is the batched rule da = g @ b^T, db = a^T @ g, summed over the batch
// dims an operand was broadcast along.
Tensor matmul(const Tensor& a, const Tensor& b) {
  Tensor y = ops::matmul(a, b);  // validates shapes
  return record(
      "matmul", {a, b}, y, [a = a.detach(), b = b.detach()](const Tensor& g, const Needs& needs) -> TensorList {
        const Tensor a2 = a.dim() == 1 ? ops::unsqueeze(a, 0) : a;
        const Tensor b2 = b.dim() == 1 ? ops::unsqueeze(b, 1) : b;
        Shape batch_a(a2.shape().begin(), a2.shape().end() - 2);
        Shape batch_b(b2.shape().begin(), b2.shape().end() - 2);
        Shape y2 = broadcast_shapes(batch_a, batch_b, "matmul batch");
        y2.push_back(a2.size(-2));
        y2.push_back(b2.size(-1));
        const Tensor g2 = ops::reshape(g, y2);
        Tensor ga, gb;
        if (needs[0]) {
          ga = ops::reshape(autograd::sum_to(ops::matmul(g2, ops::transpose(b2, -1, -2)), a2.shape()), a.shape());
        }
        if (needs[1]) {
          gb = ops::reshape(autograd::sum_to(ops::matmul(ops::transpose(a2, -1, -2), g2), b2.shape()), b.shape());
        }
        return {ga, gb};
      });
}

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p) {
  Tensor y = ops::conv2d(x, w, p);  // validates x, w and p
  if (bias.defined()) {
    const std::int64_t k = w.size(0);
    PX_CHECK(bias.dim() == 1 && bias.size(0) == k, ShapeError, "conv2d: bias must have shape [", k,
             "] (one value per output channel), got ", shape_str(bias.shape()));
    y = ops::add(y, ops::reshape(bias, {1, k, 1, 1}));
  }
  return record("conv2d", {x, w, bias}, y,
                [x = x.detach(), w = w.detach(), p](const Tensor& grad, const Needs& needs) -> TensorList {
                  const Tensor g = ops::contiguous(grad);
                  Tensor gx, gw, gb;
                  if (needs[0]) gx = ops::conv2d_backward_input(g, w, x.shape(), p);
                  if (needs[1]) gw = ops::conv2d_backward_weight(g, x, w.shape(), p);
                  if (needs[2]) gb = ops::sum(g, {0, 2, 3});
                  return {gx, gw, gb};
                });
}

Tensor max_pool2d(const Tensor& x, const Pool2dParams& p) {
  ops::MaxPoolResult r = ops::max_pool2d(x, p);
  return record("max_pool2d", {x}, r.out,
                [indices = r.indices, in = x.shape(), p](const Tensor& g, const Needs&) -> TensorList {
                  return {ops::max_pool2d_backward(ops::contiguous(g), indices, in, p)};
                });
}

Tensor avg_pool2d(const Tensor& x, const Pool2dParams& p) {
  return record("avg_pool2d", {x}, ops::avg_pool2d(x, p),
                [in = x.shape(), p](const Tensor& g, const Needs&) -> TensorList {
                  return {ops::avg_pool2d_backward(ops::contiguous(g), in, p)};
                });
}

// y = softmax(x): dx = y (g - sum(g y)).
Tensor softmax(const Tensor& x, std::int64_t dim) {
  Tensor y = ops::softmax(x, dim);
  return record("softmax", {x}, y, [y = y.detach(), dim](const Tensor& g, const Needs&) -> TensorList {
    Tensor dot = ops::sum(ops::mul(g, y), {dim}, /*keepdim=*/true);
    return {ops::mul(y, ops::sub(g, dot))};
  });
}

// y = log_softmax(x): dx = g - exp(y) sum(g).
Tensor log_softmax(const Tensor& x, std::int64_t dim) {
  Tensor y = ops::log_softmax(x, dim);
  return record("log_softmax", {x}, y, [y = y.detach(), dim](const Tensor& g, const Needs&) -> TensorList {
    return {ops::sub(g, ops::mul(ops::exp(y), ops::sum(g, {dim}, /*keepdim=*/true)))};
  });
}

}  // namespace px
