// Optimizer base: group validation, the step loop, lr access and state dicts.
#include "proxima/optim/optimizer.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "proxima/core/ops.h"

namespace px::optim {

// ---- ParamGroup options ----

double ParamGroup::number_option(const std::string& key, double fallback) const {
  auto it = options.find(key);
  if (it == options.end()) return fallback;
  if (auto* d = std::get_if<double>(&it->second)) return *d;
  if (auto* i = std::get_if<std::int64_t>(&it->second)) return static_cast<double>(*i);
  throw ValueError(detail::str("param group option '", key, "' must be a number"));
}

bool ParamGroup::flag_option(const std::string& key, bool fallback) const {
  auto it = options.find(key);
  if (it == options.end()) return fallback;
  if (auto* b = std::get_if<bool>(&it->second)) return *b;
  throw ValueError(detail::str("param group option '", key, "' must be a bool"));
}

std::string ParamGroup::text_option(const std::string& key, const std::string& fallback) const {
  auto it = options.find(key);
  if (it == options.end()) return fallback;
  if (auto* s = std::get_if<std::string>(&it->second)) return *s;
  throw ValueError(detail::str("param group option '", key, "' must be a string"));
}

// ---- ParamState ----

bool ParamState::has(const std::string& name) const {
  return std::any_of(entries_.begin(), entries_.end(), [&](const auto& e) { return e.first == name; });
}

Tensor& ParamState::at(const std::string& name) {
  for (auto& [key, value] : entries_)
    if (key == name) return value;
  throw ValueError(detail::str("optimizer state has no entry '", name, "'"));
}

const Tensor& ParamState::at(const std::string& name) const {
  return const_cast<ParamState*>(this)->at(name);
}

void ParamState::set(const std::string& name, Tensor value) {
  for (auto& [key, old] : entries_)
    if (key == name) {
      old = std::move(value);
      return;
    }
  entries_.emplace_back(name, std::move(value));
}

void check_option(bool ok, const char* optimizer, const char* option, double value,
                  const char* expected) {
  PX_CHECK(ok, ValueError, optimizer, ": ", option, " must be ", expected, ", got ", value);
}

// ---- Optimizer ----

Optimizer::Optimizer(std::vector<ParamGroup> groups) : groups_(std::move(groups)) {}

void Optimizer::init_groups(double default_lr, double default_weight_decay) {
  const std::string who = name();
  PX_CHECK(!groups_.empty(), ValueError, who, ": needs at least one parameter group");
  const auto known = known_group_options();
  std::set<const TensorImpl*> seen;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    ParamGroup& group = groups_[g];
    if (std::isnan(group.lr)) group.lr = default_lr;
    if (std::isnan(group.weight_decay)) group.weight_decay = default_weight_decay;
    const std::string where = detail::str(who, ": param group ", g);
    PX_CHECK(group.lr >= 0 && std::isfinite(group.lr), ValueError, where, ": lr must be >= 0, got ", group.lr);
    PX_CHECK(group.weight_decay >= 0 && std::isfinite(group.weight_decay), ValueError, where,
             ": weight_decay must be >= 0, got ", group.weight_decay);
    PX_CHECK(group.names.empty() || group.names.size() == group.params.size(), ValueError, where,
             ": names has ", group.names.size(), " entries for ", group.params.size(),
             " parameters (expected none or one per parameter)");
    for (const auto& [key, value] : group.options)
      PX_CHECK(std::find(known.begin(), known.end(), key) != known.end(), ValueError, where,
               ": option '", key, "' is not used by ", who,
               known.empty() ? " (it reads no group options)" : "");
    for (std::size_t i = 0; i < group.params.size(); ++i) {
      const Tensor& p = group.params[i];
      PX_CHECK(p.defined(), ValueError, who, ": ", param_label(g, i), " is an undefined tensor");
      PX_CHECK(is_floating(p.dtype()), DTypeError, who, ": ", param_label(g, i), " has dtype ",
               dtype_name(p.dtype()), ", expected float32 or float64");
      PX_CHECK(seen.insert(p.impl()).second, ValueError, who, ": ", param_label(g, i),
               " appears more than once in the parameter groups");
    }
  }
  state_.assign(groups_.size(), {});
  initial_lrs_.clear();
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    state_[g].resize(groups_[g].params.size());
    initial_lrs_.push_back(groups_[g].lr);
  }
}

std::string Optimizer::param_label(std::size_t g, std::size_t i) const {
  std::string label = detail::str("group", g, ".param", i);
  if (g < groups_.size() && i < groups_[g].names.size()) label += " (" + groups_[g].names[i] + ")";
  return label;
}

void Optimizer::init_state(ParamState& state, const Tensor& param) const {
  state.clear();
  for (const auto& e : state_spec()) {
    switch (e.kind) {
      case StateKind::per_coordinate: state.set(e.name, zeros_like(param)); break;
      case StateKind::count: state.set(e.name, zeros({}, {.dtype = DType::int64})); break;
      case StateKind::scalar: state.set(e.name, zeros({}, {.dtype = DType::float64})); break;
    }
  }
}

void Optimizer::align_state() {
  std::vector<std::string> per_coordinate;
  for (auto& e : state_spec())
    if (e.kind == StateKind::per_coordinate) per_coordinate.push_back(std::move(e.name));
  for (std::size_t g = 0; g < state_.size(); ++g)
    for (std::size_t i = 0; i < state_[g].size(); ++i) {
      ParamState& state = state_[g][i];
      if (state.empty()) continue;
      const Tensor& p = groups_[g].params[i];
      for (const auto& [entry, value] : state.entries()) {
        if (std::find(per_coordinate.begin(), per_coordinate.end(), entry) == per_coordinate.end()) continue;
        PX_CHECK(value.shape() == p.shape(), ShapeError, name(), ": ", param_label(g, i), " has shape ",
                 shape_str(p.shape()), " but its state '", entry, "' has shape ", shape_str(value.shape()),
                 ": the parameter changed shape after the optimizer stepped; create a new optimizer");
        if (value.dtype() == p.dtype() && value.device() == p.device()) continue;
        // A new tensor (the dtype or the device differs); set() replaces the entry in place, so
        // the iteration stays valid.
        state.set(entry, value.to(p.dtype()).to(p.device()).contiguous());
      }
    }
}

void Optimizer::require_cpu(const Tensor& param) const {
  PX_CHECK(param.device().is_cpu(), DeviceError, name(), " on ", param.device().str(),
           " is not implemented yet");
}

void Optimizer::check_grad(std::size_t g, std::size_t i, const Tensor& grad) const {
  const Tensor& p = groups_[g].params[i];
  PX_CHECK(grad.shape() == p.shape(), ShapeError, name(), ": gradient of ", param_label(g, i),
           " has shape ", shape_str(grad.shape()), ", expected ", shape_str(p.shape()));
  PX_CHECK(grad.dtype() == p.dtype(), DTypeError, name(), ": gradient of ", param_label(g, i),
           " has dtype ", dtype_name(grad.dtype()), ", expected ", dtype_name(p.dtype()));
  PX_CHECK(grad.device() == p.device(), DeviceError, name(), ": gradient of ", param_label(g, i),
           " is on ", grad.device().str(), ", the parameter on ", p.device().str());
  PX_CHECK(p.is_contiguous(), ValueError, name(), ": ", param_label(g, i),
           " is not contiguous; optimizers update parameters in place and need contiguous ones");
}

std::vector<ParamGroup> single_group(std::vector<Tensor> params) {
  return {ParamGroup{.params = std::move(params)}};
}

void Optimizer::step() {
  align_state();  // parameters moved by Module::to since the last step
  begin_step();
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    if (skips_group(g)) continue;
    const ParamGroup& group = groups_[g];
    std::vector<DeviceParam> on_device;
    for (std::size_t i = 0; i < group.params.size(); ++i) {
      const Tensor& p = group.params[i];
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      check_grad(g, i, grad);
      if (p.device().is_cpu()) update(group, p, grad.contiguous(), state_[g][i]);
      else on_device.push_back({i, p, grad.contiguous(), &state_[g][i]});
    }
    while (!on_device.empty()) {  // one call per device (almost always one)
      const Device device = on_device.front().param.device();
      std::vector<DeviceParam> same, rest;
      for (auto& dp : on_device) (dp.param.device() == device ? same : rest).push_back(std::move(dp));
      update_device(group, same);
      on_device = std::move(rest);
    }
  }
}

void Optimizer::update_device(const ParamGroup& /*group*/, std::vector<DeviceParam>& params) {
  require_cpu(params.front().param);
}

void Optimizer::zero_grad() {
  for (auto& group : groups_)
    for (auto& p : group.params) p.zero_grad();
}

double Optimizer::lr() const { return groups_.at(0).lr; }

void Optimizer::set_lr(double lr) {
  PX_CHECK(lr >= 0 && std::isfinite(lr), ValueError, name(), ": set_lr: lr must be >= 0, got ", lr);
  for (auto& group : groups_) group.lr = lr;
}

void Optimizer::scale_lr(double factor) {
  PX_CHECK(factor >= 0 && std::isfinite(factor), ValueError, name(),
           ": scale_lr: factor must be >= 0, got ", factor);
  for (std::size_t g = 0; g < groups_.size(); ++g) groups_[g].lr = initial_lrs_[g] * factor;
}

ParamState& Optimizer::state(std::size_t group, std::size_t index) {
  PX_CHECK(group < state_.size() && index < state_[group].size(), IndexError, name(),
           ": no parameter ", index, " in group ", group);
  return state_[group][index];
}

const ParamState& Optimizer::state(std::size_t group, std::size_t index) const {
  return const_cast<Optimizer*>(this)->state(group, index);
}

}  // namespace px::optim
