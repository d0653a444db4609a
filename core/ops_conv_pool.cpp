// Convolution and pooling front-end: parameter and shape checks, output sizes, backend calls.
#include "proxima/core/detail/ops_util.h"
#include "proxima/core/ops.h"

namespace px::ops {
namespace {

void check_conv_params(const char* op, const Conv2dParams& p) {
  PX_CHECK(p.stride_h > 0 && p.stride_w > 0, ValueError, op, ": stride = (", p.stride_h, ", ", p.stride_w,
           ") must be positive");
  PX_CHECK(p.pad_h >= 0 && p.pad_w >= 0, ValueError, op, ": padding = (", p.pad_h, ", ", p.pad_w,
           ") must be >= 0");
  PX_CHECK(p.dilation_h > 0 && p.dilation_w > 0, ValueError, op, ": dilation = (", p.dilation_h, ", ",
           p.dilation_w, ") must be positive");
  PX_CHECK(p.groups > 0, ValueError, op, ": groups = ", p.groups, " must be positive");
}

// One spatial output size of a convolution; throws when the dilated kernel exceeds the padded input.
std::int64_t conv_out(const char* op, const char* axis, std::int64_t in, std::int64_t kernel,
                      std::int64_t stride, std::int64_t pad, std::int64_t dilation) {
  std::int64_t span = dilation * (kernel - 1) + 1;
  PX_CHECK(span <= in + 2 * pad, ShapeError, op, ": kernel ", axis, " = ", kernel, " (dilated to ", span,
           ") is larger than the padded input ", axis, " = ", in + 2 * pad);
  return (in + 2 * pad - span) / stride + 1;
}

// Checks x_shape [N, C, H, W] against w_shape [K, C/groups, R, S]; returns out's shape.
Shape conv_output_shape(const char* op, const Shape& x_shape, const Shape& w_shape, const Conv2dParams& p) {
  check_conv_params(op, p);
  PX_CHECK(x_shape.size() == 4, ShapeError, op, ": input must be 4-d [N, C, H, W], got shape ",
           shape_str(x_shape));
  PX_CHECK(w_shape.size() == 4, ShapeError, op, ": weight must be 4-d [K, C/groups, R, S], got shape ",
           shape_str(w_shape));
  std::int64_t channels = x_shape[1], filters = w_shape[0];
  PX_CHECK(channels % p.groups == 0, ValueError, op, ": input channels = ", channels,
           " are not divisible by groups = ", p.groups);
  PX_CHECK(filters % p.groups == 0, ValueError, op, ": weight out-channels = ", filters,
           " are not divisible by groups = ", p.groups);
  PX_CHECK(w_shape[1] * p.groups == channels, ShapeError, op, ": weight of shape ", shape_str(w_shape),
           " expects ", w_shape[1] * p.groups, " input channels (", w_shape[1], " x groups ", p.groups,
           ") but the input of shape ", shape_str(x_shape), " has ", channels);
  std::int64_t out_h = conv_out(op, "height", x_shape[2], w_shape[2], p.stride_h, p.pad_h, p.dilation_h);
  std::int64_t out_w = conv_out(op, "width", x_shape[3], w_shape[3], p.stride_w, p.pad_w, p.dilation_w);
  return {x_shape[0], filters, out_h, out_w};
}

void check_pair(const char* op, const char* arg_a, const Tensor& a, const char* arg_b, const Tensor& b) {
  detail::check_defined(a, op, arg_a);
  detail::check_defined(b, op, arg_b);
  detail::check_same_device(op, arg_a, a, arg_b, b);
  detail::check_float(a, op, arg_a);
  PX_CHECK(a.dtype() == b.dtype(), DTypeError, op, ": '", arg_a, "' is ", dtype_name(a.dtype()), " but '",
           arg_b, "' is ", dtype_name(b.dtype()));
}

void check_grad_shape(const char* op, const Tensor& grad_out, const Shape& expected) {
  PX_CHECK(grad_out.shape() == expected, ShapeError, op, ": grad_out has shape ", shape_str(grad_out.shape()),
           " but the forward output has shape ", shape_str(expected));
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Conv2dParams& p) {
  check_pair("conv2d", "x", x, "weight", w);
  Tensor out = detail::alloc_like(x, conv_output_shape("conv2d", x.shape(), w.shape(), p));
  if (out.numel() == 0) return out;
  detail::backend_of(x).conv2d(contiguous(x), contiguous(w), out, p);
  return out;
}

Tensor conv2d_backward_input(const Tensor& grad_out, const Tensor& w, const Shape& x_shape,
                             const Conv2dParams& p) {
  check_pair("conv2d_backward_input", "grad_out", grad_out, "weight", w);
  check_grad_shape("conv2d_backward_input", grad_out,
                   conv_output_shape("conv2d_backward_input", x_shape, w.shape(), p));
  Tensor grad_x = detail::alloc_like(w, x_shape);
  if (grad_x.numel() == 0) return grad_x;
  if (grad_out.numel() == 0) { fill_(grad_x, 0.0); return grad_x; }
  detail::backend_of(w).conv2d_backward_input(contiguous(grad_out), contiguous(w), grad_x, p);
  return grad_x;
}

Tensor conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Shape& w_shape,
                              const Conv2dParams& p) {
  check_pair("conv2d_backward_weight", "grad_out", grad_out, "x", x);
  check_grad_shape("conv2d_backward_weight", grad_out,
                   conv_output_shape("conv2d_backward_weight", x.shape(), w_shape, p));
  Tensor grad_w = detail::alloc_like(x, w_shape);
  if (grad_w.numel() == 0) return grad_w;
  if (grad_out.numel() == 0) { fill_(grad_w, 0.0); return grad_w; }
  detail::backend_of(x).conv2d_backward_weight(contiguous(grad_out), contiguous(x), grad_w, p);
  return grad_w;
}

std::int64_t pool_output_size(std::int64_t in, std::int64_t kernel, std::int64_t stride, std::int64_t pad,
                              bool ceil_mode) {
  PX_CHECK(kernel > 0 && stride > 0 && pad >= 0, ValueError, "pool_output_size: kernel = ", kernel,
           ", stride = ", stride, " must be positive and pad = ", pad, " >= 0");
  std::int64_t span = in + 2 * pad - kernel;
  PX_CHECK(span >= 0, ShapeError, "pool_output_size: kernel = ", kernel, " is larger than the padded input ",
           in + 2 * pad);
  std::int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
  // With ceil_mode the last window must still start inside the input or its left padding.
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

namespace {

Shape pool_output_shape(const char* op, const Shape& x_shape, const Pool2dParams& p) {
  PX_CHECK(x_shape.size() == 4, ShapeError, op, ": input must be 4-d [N, C, H, W], got shape ",
           shape_str(x_shape));
  PX_CHECK(p.kernel_h > 0 && p.kernel_w > 0, ValueError, op, ": kernel = (", p.kernel_h, ", ", p.kernel_w,
           ") must be positive");
  PX_CHECK(p.stride_h > 0 && p.stride_w > 0, ValueError, op, ": stride = (", p.stride_h, ", ", p.stride_w,
           ") must be positive");
  PX_CHECK(p.pad_h >= 0 && p.pad_w >= 0 && 2 * p.pad_h <= p.kernel_h && 2 * p.pad_w <= p.kernel_w,
           ValueError, op, ": padding = (", p.pad_h, ", ", p.pad_w, ") must be >= 0 and at most half the kernel (",
           p.kernel_h, ", ", p.kernel_w, ")");
  PX_CHECK(p.kernel_h <= x_shape[2] + 2 * p.pad_h && p.kernel_w <= x_shape[3] + 2 * p.pad_w, ShapeError, op,
           ": kernel = (", p.kernel_h, ", ", p.kernel_w, ") is larger than the padded input (",
           x_shape[2] + 2 * p.pad_h, ", ", x_shape[3] + 2 * p.pad_w, ")");
  return {x_shape[0], x_shape[1], pool_output_size(x_shape[2], p.kernel_h, p.stride_h, p.pad_h, p.ceil_mode),
          pool_output_size(x_shape[3], p.kernel_w, p.stride_w, p.pad_w, p.ceil_mode)};
}

}  // namespace

MaxPoolResult max_pool2d(const Tensor& x, const Pool2dParams& p) {
  detail::check_defined(x, "max_pool2d", "x");
  detail::check_float(x, "max_pool2d", "x");
  Shape shape = pool_output_shape("max_pool2d", x.shape(), p);
  MaxPoolResult r{detail::alloc_like(x, shape), detail::alloc(shape, DType::int64, x.device())};
  if (r.out.numel() > 0) detail::backend_of(x).max_pool2d(contiguous(x), r.out, r.indices, p);
  return r;
}

Tensor max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const Shape& x_shape,
                           const Pool2dParams& p) {
  detail::check_defined(grad_out, "max_pool2d_backward", "grad_out");
  detail::check_defined(indices, "max_pool2d_backward", "indices");
  detail::check_float(grad_out, "max_pool2d_backward", "grad_out");
  detail::check_same_device("max_pool2d_backward", "grad_out", grad_out, "indices", indices);
  PX_CHECK(indices.dtype() == DType::int64, DTypeError, "max_pool2d_backward: 'indices' must be int64, got ",
           dtype_name(indices.dtype()));
  Shape shape = pool_output_shape("max_pool2d_backward", x_shape, p);
  check_grad_shape("max_pool2d_backward", grad_out, shape);
  PX_CHECK(indices.shape() == shape, ShapeError, "max_pool2d_backward: 'indices' has shape ",
           shape_str(indices.shape()), " but expected ", shape_str(shape));
  Tensor grad_x = detail::alloc_like(grad_out, x_shape);
  if (grad_x.numel() == 0) return grad_x;
  if (grad_out.numel() == 0) { fill_(grad_x, 0.0); return grad_x; }
  detail::backend_of(grad_out).max_pool2d_backward(contiguous(grad_out), contiguous(indices), grad_x, p);
  return grad_x;
}

Tensor avg_pool2d(const Tensor& x, const Pool2dParams& p) {
  detail::check_defined(x, "avg_pool2d", "x");
  detail::check_float(x, "avg_pool2d", "x");
  Tensor out = detail::alloc_like(x, pool_output_shape("avg_pool2d", x.shape(), p));
  if (out.numel() > 0) detail::backend_of(x).avg_pool2d(contiguous(x), out, p);
  return out;
}

Tensor avg_pool2d_backward(const Tensor& grad_out, const Shape& x_shape, const Pool2dParams& p) {
  detail::check_defined(grad_out, "avg_pool2d_backward", "grad_out");
  detail::check_float(grad_out, "avg_pool2d_backward", "grad_out");
  check_grad_shape("avg_pool2d_backward", grad_out, pool_output_shape("avg_pool2d_backward", x_shape, p));
  Tensor grad_x = detail::alloc_like(grad_out, x_shape);
  if (grad_x.numel() == 0) return grad_x;
  if (grad_out.numel() == 0) { fill_(grad_x, 0.0); return grad_x; }
  detail::backend_of(grad_out).avg_pool2d_backward(contiguous(grad_out), grad_x, p);
  return grad_x;
}

}  // namespace px::ops
