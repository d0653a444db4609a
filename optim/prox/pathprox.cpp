// PathProx: parameter groups, the SGD part of the step (sgd_update_tensor), then balance and prox.
#include "proxima/optim/prox/pathprox.h"

#include <cmath>
#include <set>

#include "proxima/optim/cpu_loop.h"
#include "proxima/optim/sgd.h"
#include "proxima/optim/sgd_device.h"

namespace px::optim::prox {
namespace {

// Group 0: the "other" layers' weights (weight_decay lambda); group 1: the rest (loss gradient only).
std::vector<ParamGroup> pathprox_groups(const nn::HomogeneousUnits& units, const NamedTensors& params,
                                        double lambda) {
  std::set<std::string> others, known;
  for (const auto& o : units.others) others.insert(o.layer.weight_name);
  for (const auto& [name, p] : params) known.insert(name);
  auto require = [&](const nn::UnitLayer& l) {
    for (const std::string* name : {&l.weight_name, &l.bias_name}) {
      PX_CHECK(name->empty() || known.count(*name), ValueError, "pathprox: ", units.model, "'s unit tensor ", *name,
               " is not among the parameters given");
    }
  };
  for (const auto& g : units.groups) require(g.w), require(g.v);
  for (const auto& o : units.others) require(o.layer);
  ParamGroup decayed{.weight_decay = lambda}, rest{.weight_decay = 0.0};
  for (const auto& [name, p] : params) {
    ParamGroup& g = others.count(name) ? decayed : rest;
    g.params.push_back(p);
    g.names.push_back(name);
  }
  std::vector<ParamGroup> groups;
  if (!decayed.params.empty()) groups.push_back(std::move(decayed));
  if (!rest.params.empty()) groups.push_back(std::move(rest));
  return groups;
}

}  // namespace

PathProx::PathProx(nn::HomogeneousUnits units, const NamedTensors& params, const PathProxOptions& o)
    : Optimizer(pathprox_groups(units, params, o.lambda)), units_(std::move(units)), options_(o) {
  check_option(o.lr >= 0, "pathprox", "lr", o.lr, ">= 0");
  check_option(o.lambda >= 0 && std::isfinite(o.lambda), "pathprox", "lambda", o.lambda, ">= 0 and finite");
  check_option(o.momentum >= 0, "pathprox", "momentum", o.momentum, ">= 0");
  check_option(o.dampening >= 0 && o.dampening <= 1, "pathprox", "dampening", o.dampening, "in [0, 1]");
  PX_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0), ValueError,
           "pathprox: nesterov requires momentum > 0 and dampening 0, got momentum ", o.momentum, " and dampening ",
           o.dampening);
  nn::check_homogeneous_units(units_);
  PX_CHECK(!units_.groups.empty(), ValueError, "pathprox: ", units_.model, " has no group of homogeneous units");
  init_groups(o.lr, 0.0);
}

std::vector<StateEntrySpec> PathProx::state_spec() const {
  if (options_.momentum == 0) return {};
  return {{"momentum_buffer", StateKind::per_coordinate}};
}

void PathProx::update(const ParamGroup& group, const Tensor& param, const Tensor& grad, ParamState& state) {
  require_cpu(param);
  const bool use_momentum = options_.momentum != 0;
  const bool first = use_momentum && state.empty();
  if (first) init_state(state, param);
  const SgdOptions sgd{.momentum = options_.momentum, .dampening = options_.dampening, .nesterov = options_.nesterov};
  sgd_update_tensor(param, grad, use_momentum ? &state.at("momentum_buffer") : nullptr, group.lr,
                    group.weight_decay, sgd, first);
}

// Step 1 on a device: SGD's fused kernel (device::sgd_step, as SGD::update_device).
void PathProx::update_device(const ParamGroup& group, std::vector<DeviceParam>& params) {
  const SgdOptions sgd{.momentum = options_.momentum, .dampening = options_.dampening, .nesterov = options_.nesterov};
  device::sgd_step(params, group.lr, group.weight_decay, sgd,
                   [&](ParamState& state, const Tensor& param) { init_state(state, param); });
}

void PathProx::step() {
  Optimizer::step();  // 1. SGD on L + (lambda/2) sum_other ||W||^2
  // The lr of the grouped layers' group (the last group; both share the schedule).
  const double lr = param_groups().back().lr;
  if (options_.balance) last_balance_ = layerwise_balance(units_);  // 2.
  pathprox_prox(units_, options_.lambda * lr);                       // 3.
}

double PathProx::penalty() const {
  return options_.lambda * (path_norm(units_) + 0.5 * other_weights_sq_norm(units_));
}

}  // namespace px::optim::prox
