// Module: registration, tree walks, train/eval, state dicts and in-place device/dtype moves.
#include "proxima/nn/module.h"

#include <map>
#include <sstream>

#include "proxima/autograd/autograd.h"
#include "proxima/core/ops.h"

namespace px::nn {

namespace {

std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

// Moves one live tensor (and its gradient) to a new device/dtype in place.
template <class Convert>
void convert_in_place(const Tensor& t, Convert convert) {
  const Tensor grad = t.grad();
  replace_tensor_contents(t, convert(t.detach()));
  if (grad.defined()) {
    Tensor handle = t;  // shares t's TensorImpl
    handle.set_grad(convert(grad));
  }
}

}  // namespace

void replace_tensor_contents(const Tensor& handle, const Tensor& value) {
  PX_CHECK(handle.defined() && value.defined(), ValueError, "replace_tensor_contents: both tensors must be defined");
  TensorImpl* impl = handle.impl();
  impl->storage = value.storage();
  impl->shape = value.shape();
  impl->strides = value.strides();
  impl->offset = value.offset();
  impl->dtype = value.dtype();
}

void Module::check_new_name(const std::string& name) const {
  PX_CHECK(!name.empty() && name.find('.') == std::string::npos, ValueError,
           "Module: a name must be non-empty and contain no '.', got \"", name, "\"");
  auto taken = [&](const auto& list) {
    for (const auto& entry : list)
      if (entry.first == name) return true;
    return false;
  };
  PX_CHECK(!taken(parameters_) && !taken(buffers_) && !taken(children_), ValueError, "Module ", this->name(),
           ": the name \"", name, "\" is already registered");
}

Tensor Module::register_parameter(std::string name, Tensor value) {
  check_new_name(name);
  PX_CHECK(value.defined(), ValueError, "register_parameter(\"", name, "\"): the tensor is undefined");
  value.set_requires_grad(true);
  parameters_.emplace_back(std::move(name), value);
  return value;
}

Tensor Module::register_buffer(std::string name, Tensor value) {
  check_new_name(name);
  PX_CHECK(value.defined(), ValueError, "register_buffer(\"", name, "\"): the tensor is undefined");
  buffers_.emplace_back(std::move(name), value);
  return value;
}

void Module::add_child(std::string name, std::shared_ptr<Module> module) {
  check_new_name(name);
  PX_CHECK(module != nullptr, ValueError, "register_module(\"", name, "\"): the module is null");
  children_.emplace_back(std::move(name), std::move(module));
}

void Module::collect(const std::string& prefix, bool params, bool buffers, StateDict& out) const {
  if (params)
    for (const auto& [name, t] : parameters_) out.emplace_back(join(prefix, name), t);
  if (buffers)
    for (const auto& [name, t] : buffers_) out.emplace_back(join(prefix, name), t);
  for (const auto& [name, child] : children_) child->collect(join(prefix, name), params, buffers, out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  StateDict out;
  collect("", true, false, out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& entry : named_parameters()) out.push_back(entry.second);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  StateDict out;
  collect("", false, true, out);
  return out;
}

StateDict Module::state_dict() const {
  StateDict out;
  collect("", true, true, out);
  return out;
}

void Module::collect_modules(const std::string& prefix, std::vector<std::pair<std::string, Module*>>& out) {
  out.emplace_back(prefix, this);
  for (const auto& [name, child] : children_) child->collect_modules(join(prefix, name), out);
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out;
  collect_modules("", out);
  return out;
}

std::int64_t Module::parameter_count() const {
  std::int64_t total = 0;
  for (const auto& [name, t] : named_parameters()) total += t.numel();
  return total;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& entry : children_) entry.second->train(on);
}

LoadStateDictResult Module::load_state_dict(const StateDict& dict, bool strict) {
  const StateDict own = state_dict();
  std::map<std::string, const Tensor*> given;
  for (const auto& [name, t] : dict) given[name] = &t;
  std::map<std::string, bool> own_names;
  LoadStateDictResult result;
  std::vector<std::pair<Tensor, Tensor>> to_copy;  // (destination, source)
  for (const auto& [name, dst] : own) {
    own_names[name] = true;
    auto it = given.find(name);
    if (it == given.end()) {
      result.missing_keys.push_back(name);
    } else if (!it->second->defined() || it->second->shape() != dst.shape()) {
      result.mismatched_keys.push_back(name + ": expected " + shape_str(dst.shape()) + " vs got " +
                                       (it->second->defined() ? shape_str(it->second->shape()) : "undefined"));
    } else {
      to_copy.emplace_back(dst, *it->second);
    }
  }
  for (const auto& [name, t] : dict)
    if (!own_names.count(name)) result.unexpected_keys.push_back(name);
  const bool clean =
      result.missing_keys.empty() && result.unexpected_keys.empty() && result.mismatched_keys.empty();
  if (strict && !clean) {
    std::ostringstream out;
    out << "load_state_dict: the state dict does not match " << name() << " (strict):";
    auto list = [&](const char* what, const std::vector<std::string>& keys) {
      if (keys.empty()) return;
      out << "\n  " << what << " (" << keys.size() << "):";
      for (const auto& k : keys) out << "\n    " << k;
    };
    list("missing keys", result.missing_keys);
    list("unexpected keys", result.unexpected_keys);
    list("mis-shaped keys", result.mismatched_keys);
    throw ValueError(out.str());
  }
  NoGradGuard no_grad;
  for (const auto& [dst, src] : to_copy) ops::copy_(dst, ops::to_device(src.detach(), dst.device()));
  return result;
}

void Module::to(Device device) {
  for (const auto& [name, t] : state_dict())
    convert_in_place(t, [&](const Tensor& x) { return ops::to_device(x, device); });
}

void Module::to(DType dtype) {
  PX_CHECK(is_floating(dtype), DTypeError, "Module::to(DType): expected float32 or float64, got ",
           dtype_name(dtype));
  for (const auto& [name, t] : state_dict())
    if (is_floating(t.dtype())) convert_in_place(t, [&](const Tensor& x) { return ops::to_dtype(x, dtype); });
}

void Module::collect_regularized(const std::string& prefix, std::vector<std::string>& out) const {
  for (const std::string& name : own_regularized_parameters()) out.push_back(join(prefix, name));
  for (const auto& [name, child] : children_) child->collect_regularized(join(prefix, name), out);
}

std::vector<std::string> Module::regularized_weight_names() const {
  std::vector<std::string> out;
  collect_regularized("", out);
  return out;
}

}  // namespace px::nn
