// Tensor: shape, strides, dtype, device and a shared storage handle (plus an autograd slot).
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "proxima/core/device.h"
#include "proxima/core/dtype.h"
#include "proxima/core/error.h"
#include "proxima/core/shape.h"
#include "proxima/core/storage.h"

namespace px {

namespace autograd {
struct Node;  // defined in autograd/; core only stores the pointer
}
struct AutogradMeta;
struct TensorImpl;

// CONVENTION: a Tensor is a cheap handle; copies share the same TensorImpl (and therefore
// storage, grad and autograd history). Element (i0, i1, ...) lives at
// storage.data + (offset + sum_k i_k * strides[k]) * dtype_size(dtype). Strides are in
// elements and may be 0 (broadcast views). A default-constructed Tensor is undefined.
class Tensor {
 public:
  Tensor() = default;
  Tensor(std::shared_ptr<Storage> storage, Shape shape, Shape strides, std::int64_t offset,
         DType dtype);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  const Shape& strides() const;
  std::int64_t dim() const;
  std::int64_t size(std::int64_t dim) const;    // negative dims count from the end
  std::int64_t stride(std::int64_t dim) const;
  std::int64_t numel() const;
  std::int64_t offset() const;
  DType dtype() const;
  Device device() const;
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const;

  // Address of element 0 (a device address for CUDA tensors: never dereference on the host).
  void* data_ptr() const;
  // Typed host pointer; throws DTypeError if T does not match, DeviceError if not on the CPU.
  template <class T> T* data() const;

  // Copies and conversions. `to` returns *this when nothing changes. Reading a CUDA tensor
  // on the host (item, to_vector, printing) synchronises. These are not recorded by autograd
  // (a converted tensor has no gradient history); px::to_dtype and px::to_device
  // (autograd/functions.h) are the differentiable conversions.
  Tensor to(Device device) const;
  Tensor to(DType dtype) const;
  Tensor contiguous() const;  // *this when already contiguous
  Tensor clone() const;       // always a fresh contiguous copy
  double item() const;        // single-element tensors only
  template <class T> std::vector<T> to_vector() const;  // host copy in row-major order, dtype must be T
  std::string str() const;    // shape, dtype, device and (up to 100) values

  // Autograd slot (the mechanism lives in autograd/).
  bool requires_grad() const;
  Tensor& set_requires_grad(bool value = true);  // leaves only: throws AutogradError otherwise
  bool is_leaf() const;                          // no grad_fn
  Tensor grad() const;                           // undefined until a backward reaches it
  void set_grad(const Tensor& grad);
  void zero_grad();                              // drops the gradient (undefined again)
  Tensor detach() const;                         // same storage, no autograd history
  AutogradMeta* autograd_meta() const;           // null when the tensor never joined autograd
  AutogradMeta& ensure_autograd_meta();

  TensorImpl* impl() const { return impl_.get(); }
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  void check_defined(const char* what) const;
  std::shared_ptr<TensorImpl> impl_;
};

struct AutogradMeta {
  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<autograd::Node> grad_fn;  // null for leaves
  std::uint32_t output_index = 0;           // which output of grad_fn this tensor is
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;
  std::int64_t offset = 0;
  DType dtype = DType::float32;
  std::unique_ptr<AutogradMeta> autograd;
};

std::ostream& operator<<(std::ostream& out, const Tensor& t);

template <class T>
T* Tensor::data() const {
  check_defined("data");
  PX_CHECK(dtype() == dtype_of<T>(), DTypeError, "Tensor::data<", dtype_name(dtype_of<T>()),
           ">() called on a tensor of dtype ", dtype_name(dtype()));
  PX_CHECK(device().is_cpu(), DeviceError, "Tensor::data<T>() needs a cpu tensor, got ",
           device().str(), "; use .to(Device::cpu()) first");
  return static_cast<T*>(data_ptr());
}

}  // namespace px
