// train_cifar's PathProx: the optimizer on the model's homogeneous units, the weight-decay SGD
// baseline's parameter groups, and the path-norm metrics of both (docs/pathprox.md).
#include <set>

#include "common/trainer_session.h"
#include "proxima/nn/homogeneous.h"
#include "proxima/optim/make_optimizer.h"
#include "proxima/optim/prox/pathprox.h"

namespace px::apps {
namespace prox = optim::prox;

std::optional<nn::HomogeneousUnits> homogeneous_units_of(const TrainSession& s) {
  try {
    return nn::require_homogeneous_units(*s.model, s.config.model);
  } catch (const ValueError&) {
    return std::nullopt;
  }
}

void build_pathprox_optimizer(TrainSession& s) {
  const TrainConfig& c = s.config;
  // Throws ValueError naming the model and why (BatchNorm, residual connections, ...): exit 2.
  nn::HomogeneousUnits units = nn::require_homogeneous_units(*s.model, c.model);
  s.optimizer = std::make_unique<prox::PathProx>(std::move(units), s.model->named_parameters(),
                                                 prox::PathProxOptions{.lr = c.lr, .lambda = c.lambda, .momentum = c.momentum});
  s.prox = nullptr;
}

bool build_wd_baseline_optimizer(TrainSession& s) {
  const TrainConfig& c = s.config;
  if (c.optimizer != "sgd") return false;
  const auto units = homogeneous_units_of(s);
  if (!units) return false;
  // PathProx's weight-decay baseline decays the conv / linear weights only: biases get weight_decay 0.
  std::set<std::string> weights;
  for (const auto& g : units->groups) weights.insert(g.w.weight_name), weights.insert(g.v.weight_name);
  for (const auto& o : units->others) weights.insert(o.layer.weight_name);
  optim::ParamGroup decayed{.weight_decay = c.weight_decay}, rest{.weight_decay = 0.0};
  for (auto& [name, p] : s.model->named_parameters()) {
    optim::ParamGroup& g = weights.count(name) ? decayed : rest;
    g.params.push_back(p);
    g.names.push_back(name);
  }
  std::vector<optim::ParamGroup> groups;
  for (auto* g : {&decayed, &rest})
    if (!g->params.empty()) groups.push_back(std::move(*g));
  optim::OptimizerConfig o;
  o.lr = c.lr;
  o.weight_decay = c.weight_decay;
  o.momentum = c.momentum;
  s.optimizer = optim::make_optimizer("sgd", std::move(groups), o);
  s.prox = nullptr;
  return true;
}

namespace {

// The same units with host copies of their tensors (a device model's metrics are computed on the CPU).
nn::HomogeneousUnits host_copy(nn::HomogeneousUnits units) {
  const auto to_host = [](nn::UnitLayer& layer) {
    layer.weight = layer.weight.to(Device::cpu());
    if (layer.bias.defined()) layer.bias = layer.bias.to(Device::cpu());
  };
  for (nn::HomogeneousGroup& g : units.groups) {
    to_host(g.w);
    to_host(g.v);
  }
  for (nn::OtherLayer& o : units.others) to_host(o.layer);
  return units;
}

}  // namespace

void add_pathprox_metrics(TrainSession& s, EpochMetrics& m) {
  const auto* pathprox = dynamic_cast<const prox::PathProx*>(s.optimizer.get());
  // PathProx runs, and the weight-decay baseline it compares with: --optimizer sgd with
  // --weight-decay > 0 on a model with homogeneous units (found once per epoch).
  const bool baseline = !pathprox && s.config.optimizer == "sgd" && s.config.weight_decay > 0;
  std::optional<nn::HomogeneousUnits> found;
  if (pathprox) found = pathprox->units();
  else if (baseline) found = homogeneous_units_of(s);
  if (!found) return;
  const nn::HomogeneousUnits units = host_copy(*found);  // the metrics below are CPU loops
  const double lambda = pathprox ? pathprox->lambda() : s.config.weight_decay;
  const double path = prox::path_norm(units);
  const double l2_objective = m.train_loss + 0.5 * lambda * prox::all_weights_sq_norm(units);
  // objective: PathProx's own (loss + lambda path norm + lambda/2 other layers); the baseline's
  // literal loss-term objective (loss + lambda/2 all weights). Equal at the infimum over rescalings.
  const double objective =
      pathprox ? m.train_loss + lambda * (path + 0.5 * prox::other_weights_sq_norm(units)) : l2_objective;
  for (auto& [name, value] : m.extra) {
    if (name == "lambda") value = lambda;
    if (name == "objective") value = objective;
  }
  m.extra.emplace_back("active_units", prox::active_units(units).percent());
  m.extra.emplace_back("path_norm", path);
  m.extra.emplace_back("wd_objective", m.train_loss + lambda * path);
  m.extra.emplace_back("l2_objective", l2_objective);
}

}  // namespace px::apps
