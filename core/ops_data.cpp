// Data movement ops: device transfers, dtype casts, contiguous copies, copy_ and fill_.
#include "proxima/core/detail/ops_util.h"
#include "proxima/core/ops.h"

namespace px::ops {

using detail::backend_of;

Tensor to_device(const Tensor& x, Device device) {
  detail::check_defined(x, "to_device", "x");
  if (x.device() == device) return x;
  Tensor src = contiguous(x);
  Tensor dst = detail::alloc(x.shape(), x.dtype(), device);
  if (x.numel() == 0) return dst;
  if (src.device().is_cpu()) {
    backend_for(device).copy_from_host(dst, src.data_ptr());
  } else if (device.is_cpu()) {
    backend_of(src).copy_to_host(dst.data_ptr(), src);
  } else {  // between two accelerators: stage through the host
    Tensor staged = to_device(src, Device::cpu());
    backend_for(device).copy_from_host(dst, staged.data_ptr());
  }
  return dst;
}

Tensor to_dtype(const Tensor& x, DType dtype) {
  detail::check_defined(x, "to_dtype", "x");
  if (x.dtype() == dtype) return x;
  Tensor out = detail::alloc(x.shape(), dtype, x.device());
  if (x.numel() > 0) backend_of(x).copy(x, out);
  return out;
}

Tensor contiguous(const Tensor& x) {
  detail::check_defined(x, "contiguous", "x");
  return x.is_contiguous() ? x : clone(x);
}

Tensor clone(const Tensor& x) {
  detail::check_defined(x, "clone", "x");
  Tensor out = detail::alloc_like(x, x.shape());
  if (x.numel() > 0) backend_of(x).copy(x, out);
  return out;
}

void copy_(const Tensor& dst, const Tensor& src) {
  detail::check_defined(dst, "copy_", "dst");
  detail::check_defined(src, "copy_", "src");
  detail::check_same_device("copy_", "dst", dst, "src", src);
  Shape target = broadcast_shapes(src.shape(), dst.shape(), "copy_ (src to dst)");
  PX_CHECK(target == dst.shape(), ShapeError, "copy_: src of shape ", shape_str(src.shape()),
           " cannot be broadcast to dst of shape ", shape_str(dst.shape()));
  if (dst.numel() == 0) return;
  // Backends assume outputs never alias inputs: copy overlapping sources first.
  Tensor source = src.storage() == dst.storage() ? clone(src) : src;
  backend_of(dst).copy(expand(source, dst.shape()), dst);
}

void fill_(const Tensor& dst, double value) {
  detail::check_defined(dst, "fill_", "dst");
  if (dst.numel() > 0) backend_of(dst).fill(dst, value);
}

}  // namespace px::ops
