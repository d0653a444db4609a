// Tensor: construction, metadata accessors, conversions (through ops) and host reads.
#include "proxima/core/tensor.h"

#include <cstring>

#include "proxima/core/backend.h"
#include "proxima/core/ops.h"

namespace px {

Tensor::Tensor(std::shared_ptr<Storage> storage, Shape shape, Shape strides, std::int64_t offset,
               DType dtype) {
  PX_CHECK(storage != nullptr, ValueError, "Tensor: storage is null");
  PX_CHECK(shape.size() == strides.size(), ShapeError, "Tensor: strides ", shape_str(strides),
           " must have one entry per dim of shape ", shape_str(shape));
  PX_CHECK(offset >= 0, ValueError, "Tensor: offset = ", offset, " must be >= 0");
  std::int64_t last = offset;  // highest element index touched
  bool empty = false;
  for (std::size_t k = 0; k < shape.size(); ++k) {
    PX_CHECK(shape[k] >= 0, ValueError, "Tensor: shape ", shape_str(shape), " has a negative size");
    PX_CHECK(strides[k] >= 0, ValueError, "Tensor: strides ", shape_str(strides),
             " has a negative stride");
    if (shape[k] == 0) empty = true;
    else last += (shape[k] - 1) * strides[k];
  }
  auto capacity = static_cast<std::int64_t>(storage->nbytes() / dtype_size(dtype));
  PX_CHECK(empty || last < capacity, ShapeError, "Tensor: shape ", shape_str(shape), " strides ",
           shape_str(strides), " offset ", offset, " reach element ", last, " but the storage holds ",
           capacity, " ", dtype_name(dtype), " elements");
  impl_ = std::make_shared<TensorImpl>();
  impl_->storage = std::move(storage);
  impl_->shape = std::move(shape);
  impl_->strides = std::move(strides);
  impl_->offset = offset;
  impl_->dtype = dtype;
}

void Tensor::check_defined(const char* what) const {
  PX_CHECK(impl_ != nullptr, ValueError, "Tensor::", what, " called on an undefined tensor");
}

const Shape& Tensor::shape() const { check_defined("shape"); return impl_->shape; }
const Shape& Tensor::strides() const { check_defined("strides"); return impl_->strides; }
std::int64_t Tensor::dim() const { return static_cast<std::int64_t>(shape().size()); }

std::int64_t Tensor::size(std::int64_t d) const {
  PX_CHECK(dim() > 0, IndexError, "Tensor::size: dim = ", d, " but the tensor is 0-d");
  return impl_->shape[normalize_dim(d, dim(), "dim")];
}

std::int64_t Tensor::stride(std::int64_t d) const {
  PX_CHECK(dim() > 0, IndexError, "Tensor::stride: dim = ", d, " but the tensor is 0-d");
  return impl_->strides[normalize_dim(d, dim(), "dim")];
}

std::int64_t Tensor::numel() const { return shape_numel(shape()); }
std::int64_t Tensor::offset() const { check_defined("offset"); return impl_->offset; }
DType Tensor::dtype() const { check_defined("dtype"); return impl_->dtype; }
Device Tensor::device() const { check_defined("device"); return impl_->storage->device(); }
const std::shared_ptr<Storage>& Tensor::storage() const { check_defined("storage"); return impl_->storage; }

bool Tensor::is_contiguous() const {
  check_defined("is_contiguous");
  if (numel() == 0) return true;
  std::int64_t expected = 1;
  for (std::size_t k = impl_->shape.size(); k-- > 0;) {
    if (impl_->shape[k] == 1) continue;  // the stride of a size-1 dim never matters
    if (impl_->strides[k] != expected) return false;
    expected *= impl_->shape[k];
  }
  return true;
}

void* Tensor::data_ptr() const {
  check_defined("data_ptr");
  return static_cast<char*>(impl_->storage->data()) + impl_->offset * dtype_size(impl_->dtype);
}

Tensor Tensor::to(Device device) const { check_defined("to"); return ops::to_device(*this, device); }
Tensor Tensor::to(DType dtype) const { check_defined("to"); return ops::to_dtype(*this, dtype); }
Tensor Tensor::contiguous() const { check_defined("contiguous"); return ops::contiguous(*this); }
Tensor Tensor::clone() const { check_defined("clone"); return ops::clone(*this); }

namespace {

// Row-major host copy of t's elements as raw bytes.
std::vector<unsigned char> host_bytes(const Tensor& t) {
  std::vector<unsigned char> bytes(static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype()));
  if (bytes.empty()) return bytes;
  Tensor c = t.contiguous();
  backend_for(c.device()).copy_to_host(bytes.data(), c);
  return bytes;
}

double element_as_double(const unsigned char* p, DType dtype) {
  switch (dtype) {
    case DType::float32: { float v; std::memcpy(&v, p, 4); return v; }
    case DType::float64: { double v; std::memcpy(&v, p, 8); return v; }
    case DType::int64: { std::int64_t v; std::memcpy(&v, p, 8); return static_cast<double>(v); }
    case DType::uint8: return *p;
  }
  return 0;
}

}  // namespace

double Tensor::item() const {
  check_defined("item");
  PX_CHECK(numel() == 1, ValueError, "Tensor::item: needs a tensor with one element, got shape ",
           shape_str(shape()), " (", numel(), " elements)");
  return element_as_double(host_bytes(*this).data(), dtype());
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  check_defined("to_vector");
  PX_CHECK(dtype() == dtype_of<T>(), DTypeError, "Tensor::to_vector<", dtype_name(dtype_of<T>()),
           ">: the tensor has dtype ", dtype_name(dtype()), "; convert with .to(DType) first");
  std::vector<T> values(static_cast<std::size_t>(numel()));
  if (values.empty()) return values;
  Tensor c = contiguous();
  backend_for(c.device()).copy_to_host(values.data(), c);
  return values;
}

template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<std::int64_t> Tensor::to_vector<std::int64_t>() const;
template std::vector<std::uint8_t> Tensor::to_vector<std::uint8_t>() const;

// ---- autograd slot ----

bool Tensor::requires_grad() const {
  check_defined("requires_grad");
  return impl_->autograd && impl_->autograd->requires_grad;
}

Tensor& Tensor::set_requires_grad(bool value) {
  check_defined("set_requires_grad");
  PX_CHECK(is_leaf(), AutogradError,
           "set_requires_grad: only leaf tensors can change requires_grad; this tensor was produced "
           "by an operation (use detach() to get a leaf)");
  PX_CHECK(!value || is_floating(dtype()), AutogradError,
           "set_requires_grad: only float tensors can require gradients, got dtype ", dtype_name(dtype()));
  if (value || impl_->autograd) ensure_autograd_meta().requires_grad = value;
  return *this;
}

bool Tensor::is_leaf() const {
  check_defined("is_leaf");
  return !impl_->autograd || !impl_->autograd->grad_fn;
}

Tensor Tensor::grad() const {
  check_defined("grad");
  return impl_->autograd ? impl_->autograd->grad : Tensor();
}

void Tensor::set_grad(const Tensor& grad) {
  check_defined("set_grad");
  if (grad.defined()) {
    PX_CHECK(grad.shape() == shape(), ShapeError, "set_grad: grad has shape ", shape_str(grad.shape()),
             " but the tensor has shape ", shape_str(shape()));
    PX_CHECK(grad.dtype() == dtype(), DTypeError, "set_grad: grad has dtype ", dtype_name(grad.dtype()),
             " but the tensor has dtype ", dtype_name(dtype()));
    PX_CHECK(grad.device() == device(), DeviceError, "set_grad: grad is on ", grad.device().str(),
             " but the tensor is on ", device().str());
  } else if (!impl_->autograd) {
    return;
  }
  ensure_autograd_meta().grad = grad;
}

void Tensor::zero_grad() {
  check_defined("zero_grad");
  if (impl_->autograd) impl_->autograd->grad = Tensor();
}

Tensor Tensor::detach() const {
  check_defined("detach");
  return Tensor(impl_->storage, impl_->shape, impl_->strides, impl_->offset, impl_->dtype);
}

AutogradMeta* Tensor::autograd_meta() const {
  check_defined("autograd_meta");
  return impl_->autograd.get();
}

AutogradMeta& Tensor::ensure_autograd_meta() {
  check_defined("ensure_autograd_meta");
  if (!impl_->autograd) impl_->autograd = std::make_unique<AutogradMeta>();
  return *impl_->autograd;
}

}  // namespace px
