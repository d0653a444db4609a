// Optimizer: parameter groups, per-parameter state keyed by (group, index), step loop, state dicts.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "proxima/core/tensor.h"

namespace px::optim {

// An ordered list of named tensors (the shape of a state dict, as nn::StateDict).
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Marks a ParamGroup hyper-parameter as "use the optimizer's value" (as a PyTorch param group
// that leaves out "lr"). The optimizer's constructor replaces it with the concrete value.
inline constexpr double kUseOptimizerDefault = std::numeric_limits<double>::quiet_NaN();

// An extra per-group setting read by the optimizers that understand its key. The classic
// optimizers understand none; proximal ones will read keys such as "regularizer" ("l1"),
// "lambda" (1e-4) or "prox" (true). An optimizer rejects keys it does not know, so a
// regulariser is never silently ignored.
using GroupOption = std::variant<bool, std::int64_t, double, std::string>;

// A set of parameters sharing hyper-parameters (PyTorch's param_groups entry).
struct ParamGroup {
  std::vector<Tensor> params{};
  std::vector<std::string> names{};  // empty, or one per parameter (used in messages)
  double lr = kUseOptimizerDefault;
  double weight_decay = kUseOptimizerDefault;
  std::map<std::string, GroupOption> options{};

  // Typed reads of `options`: `fallback` when the key is absent, ValueError when it holds
  // another type (an int64 is accepted where a double is asked for).
  double number_option(const std::string& key, double fallback) const;
  bool flag_option(const std::string& key, bool fallback) const;
  std::string text_option(const std::string& key, const std::string& fallback) const;
};

// One group holding `params` with every hyper-parameter unset: what the optimizers' plain
// (std::vector<Tensor>) constructors use.
std::vector<ParamGroup> single_group(std::vector<Tensor> params);

// What one state entry of a parameter is, so loaded state can be checked.
enum class StateKind {
  per_coordinate,  // the parameter's shape, dtype and device (moment buffers ...)
  count,           // 0-d int64 on the CPU (step counts)
  scalar,          // 0-d float64 on the CPU
};
struct StateEntrySpec {
  std::string name;
  StateKind kind = StateKind::per_coordinate;
};

// The state of one parameter: named entries, empty until the first step that saw a gradient.
class ParamState {
 public:
  bool empty() const { return entries_.empty(); }
  bool has(const std::string& name) const;
  Tensor& at(const std::string& name);  // throws ValueError when missing
  const Tensor& at(const std::string& name) const;
  void set(const std::string& name, Tensor value);  // adds or replaces
  void clear() { entries_.clear(); }
  const NamedTensors& entries() const { return entries_; }

 private:
  NamedTensors entries_;
};

// CONVENTION: hyper-parameters live in the ParamGroups (lr, weight_decay, options) and in each
// optimizer's option struct; per-parameter state lives in state_[group][index], keyed by the
// parameter's position, never by its address. step() skips parameters whose .grad() is
// undefined (their state is untouched). state_dict() holds the state only, under keys
// "group<g>.param<i>.<entry>", in group, parameter and entry order; hyper-parameters come from
// the options and the schedule when a run resumes.
//
// Parameters that change dtype or device after the optimizer stepped (nn::Module::to keeps the
// tensor handles the optimizer holds): every step first brings each per-coordinate state entry
// (moment buffers, ...) to its parameter's current dtype and device, so the run goes on
// (float32 -> float64 is exact; float64 -> float32 rounds the state to nearest, as the parameters
// were). Step counts and scalar entries stay int64 / float64 on the CPU. Unlike PyTorch, which
// fails on the next step in that case, this holds for every optimizer (it is done in the base,
// see align_state()).
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  virtual std::string name() const = 0;  // "sgd", "adam", ...

  // One update of every parameter that has a gradient.
  virtual void step();
  // Drops every parameter's gradient (undefined again, as PyTorch's set_to_none=True).
  void zero_grad();

  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }

  // The first group's learning rate; set_lr sets every group's.
  double lr() const;
  void set_lr(double lr);
  // Every group's lr becomes (its lr at construction) * factor: a schedule that keeps
  // per-group ratios.
  void scale_lr(double factor);
  const std::vector<double>& initial_lrs() const { return initial_lrs_; }

  ParamState& state(std::size_t group, std::size_t index);
  const ParamState& state(std::size_t group, std::size_t index) const;

  // Copies of the state (see CONVENTION). load_state_dict replaces all state; it throws, before
  // changing anything, on unknown keys, keys out of range, a parameter with only part of its
  // entries, and entries of the wrong shape or dtype.
  NamedTensors state_dict() const;
  void load_state_dict(const NamedTensors& state);

  // "group0.param3" or "group0.param3 (conv1.weight)" when the group has names.
  std::string param_label(std::size_t group, std::size_t index) const;

 protected:
  explicit Optimizer(std::vector<ParamGroup> groups);

  // Derived constructors call this once their options are validated: fills unset group
  // hyper-parameters, validates the groups and allocates the (empty) state.
  void init_groups(double default_lr, double default_weight_decay);

  // The entries a parameter has after its first step (depends on the options).
  virtual std::vector<StateEntrySpec> state_spec() const = 0;
  // Group option keys this optimizer reads (others are rejected).
  virtual std::vector<std::string> known_group_options() const { return {}; }
  // Updates one parameter in place. param is contiguous; grad is contiguous with the same
  // shape, dtype and device.
  virtual void update(const ParamGroup& group, const Tensor& param, const Tensor& grad,
                      ParamState& state) = 0;
  // One parameter of a device update: its position in the group, the parameter (contiguous),
  // its gradient (contiguous, same shape, dtype and device) and its state.
  struct DeviceParam {
    std::size_t index = 0;
    Tensor param, grad;
    ParamState* state = nullptr;
  };
  // Updates together the parameters of `group` that live on one non-CPU device (step() calls it
  // once per group and device, after the group's CPU parameters): optimizers with CUDA kernels
  // fuse them into one launch per state layout (optim/device_loop.h). The default throws
  // DeviceError "<name> on <device> is not implemented yet".
  virtual void update_device(const ParamGroup& group, std::vector<DeviceParam>& params);
  // Hooks of step(): called once before the updates; a group it skips keeps its parameters and
  // state untouched.
  virtual void begin_step() {}
  virtual bool skips_group(std::size_t /*group*/) const { return false; }
  // Creates the entries of state_spec() in order: per-coordinate zeros like param, 0-d zero
  // counts and scalars on the CPU.
  void init_state(ParamState& state, const Tensor& param) const;
  // Converts every per-coordinate state entry whose dtype or device differs from its parameter's
  // (the parameters were moved, e.g. by nn::Module::to, after a step) to the parameter's dtype and
  // device; ShapeError naming the optimizer, the parameter and the entry when the shapes differ.
  // A no-op when everything matches. step() calls it first; a derived class whose own step does
  // not go through Optimizer::step() calls it once before touching the state (SR2::step(closure)).
  void align_state();
  // Throws DeviceError "<name> on <device> is not implemented yet" for non-CPU tensors.
  void require_cpu(const Tensor& param) const;

 private:
  void check_grad(std::size_t g, std::size_t i, const Tensor& grad) const;
  std::vector<ParamGroup> groups_;
  std::vector<std::vector<ParamState>> state_;
  std::vector<double> initial_lrs_;
};

// Checks a hyper-parameter: throws ValueError "<optimizer>: <option> must be <expected>, got <v>"
// unless ok (NaN is never ok).
void check_option(bool ok, const char* optimizer, const char* option, double value,
                  const char* expected);

}  // namespace px::optim
