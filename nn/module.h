// Module: the base of every layer and model (named parameters, buffers and children; state dicts).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "proxima/core/device.h"
#include "proxima/core/dtype.h"
#include "proxima/core/tensor.h"
#include "proxima/nn/homogeneous.h"

namespace px::nn {

// (dotted name, tensor) pairs in PyTorch's state_dict order.
using StateDict = std::vector<std::pair<std::string, Tensor>>;

// What a non-strict load_state_dict skipped (a strict load throws instead of returning any).
struct LoadStateDictResult {
  std::vector<std::string> missing_keys;     // in the module, absent from the dict
  std::vector<std::string> unexpected_keys;  // in the dict, absent from the module
  std::vector<std::string> mismatched_keys;  // "name: expected [..] vs got [..]"
};

// CONVENTION: a module owns, in registration order, its own parameters (leaf tensors that
// require grad), its own buffers (state that is saved but not trained, e.g. running_mean)
// and its children (held by shared_ptr). Everything that walks the tree (named_parameters,
// state_dict, ...) visits a module's own parameters, then its own buffers, then its children
// in order, with names joined by '.', exactly as PyTorch does. Tensor handles given out by
// register_parameter / register_buffer stay valid for the module's lifetime: load_state_dict
// and to() change the contents of the existing TensorImpl (storage, dtype, strides) instead of
// creating new tensors, so an optimizer holding those handles updates the converted tensors.
// Its per-coordinate state (moment buffers) is converted to the parameters' new dtype and device
// at its next step (optim::Optimizer::align_state; float64 -> float32 rounds the state; until
// then its state_dict() holds the old dtype); step counts stay as they were. Gradients are
// converted by to() too; anything else holding the old dtype (e.g. input batches) is the caller's
// to convert.
class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
  virtual std::string name() const = 0;  // the class name, e.g. "Conv2d"

  // ---- walking the tree ----
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<Tensor> parameters() const;
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  // ("", this) first, then every descendant depth-first with its dotted name (as PyTorch).
  std::vector<std::pair<std::string, Module*>> named_modules();
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const { return children_; }
  std::int64_t parameter_count() const;  // total number of parameter elements

  // ---- mode ----
  void train(bool on = true);  // recursive
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // ---- state ----
  StateDict state_dict() const;  // handles to the live tensors (not copies)
  // Copies the dict's values into the existing tensors (dtype cast, moved to their device)
  // under NoGradGuard. Strict: any missing, unexpected or mis-shaped key throws ONE
  // px::ValueError listing them all, and nothing is changed. Non-strict: loads every key
  // whose name and shape match and reports the rest.
  LoadStateDictResult load_state_dict(const StateDict& dict, bool strict = true);

  // Moves every parameter and buffer (and existing gradient) in place. to(DType) converts
  // floating tensors only (num_batches_tracked stays int64), like torch.nn.Module.to.
  void to(Device device);
  void to(DType dtype);

  // Dotted names of the weights regularisers act on by default: the weight of every Conv2d
  // and Linear layer, in state_dict order.
  std::vector<std::string> regularized_weight_names() const;

  // The model's positively homogeneous units (PathProx's groups, nn/homogeneous.h), or nullopt
  // when it declares none (require_homogeneous_units then derives or refuses).
  virtual std::optional<HomogeneousUnits> homogeneous_units() { return std::nullopt; }

 protected:
  Tensor register_parameter(std::string name, Tensor value);  // sets requires_grad
  Tensor register_buffer(std::string name, Tensor value);
  template <class M>
  std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> module) {
    add_child(std::move(name), module);
    return module;
  }
  // Names (among this module's own parameters) that regularized_weight_names reports;
  // Conv2d and Linear return {"weight"}.
  virtual std::vector<std::string> own_regularized_parameters() const { return {}; }

 private:
  void add_child(std::string name, std::shared_ptr<Module> module);
  void check_new_name(const std::string& name) const;
  void collect(const std::string& prefix, bool params, bool buffers, StateDict& out) const;
  void collect_modules(const std::string& prefix, std::vector<std::pair<std::string, Module*>>& out);
  void collect_regularized(const std::string& prefix, std::vector<std::string>& out) const;

  bool training_ = true;
  std::vector<std::pair<std::string, Tensor>> parameters_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

// Replaces the contents of `handle`'s TensorImpl with `value`'s (storage, shape, strides,
// offset, dtype), so every copy of the handle sees the new value; autograd state is kept.
void replace_tensor_contents(const Tensor& handle, const Tensor& value);

}  // namespace px::nn
