// make_prox_optimizer: method name -> proximal optimizer, with a check that no unused field was set.
#include "proxima/optim/prox/make_prox_optimizer.h"

#include <algorithm>

#include "proxima/optim/prox/binaryconnect.h"
#include "proxima/optim/prox/proxgen.h"
#include "proxima/optim/prox/proxsgd.h"
#include "proxima/optim/prox/subgradient.h"

namespace px::optim::prox {
namespace {

// Where a make_prox_optimizer caller sets the default lambda (require_lambdas' message).
const char* const kLambdaField = "ProxConfig::lambda";

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// The key the usage table is written in: the method, or "binaryconnect/<inner>".
std::string usage_key(const std::string& method, const ProxConfig& c) {
  return method == "binaryconnect" ? "binaryconnect/" + c.inner.value_or(BinaryConnectOptions{}.inner) : method;
}

// Throws when a field that `method` does not read was set.
void check_unused(const std::string& method, const ProxConfig& c) {
  const std::string key = usage_key(method, c);
  struct Field {
    const char* option;
    bool set;
    std::vector<std::string> users;
  };
  const std::string bc_adam = "binaryconnect/adam", bc_sgd = "binaryconnect/sgd";
  const Field fields[] = {
      {"preconditioner", c.preconditioner.has_value(), {"proxgen"}},
      {"momentum", c.momentum.has_value(), {"proxgen", "proxquant", bc_adam, bc_sgd, "subgrad-adam", "subgrad-sgd"}},
      {"beta2", c.beta2.has_value(), {"proxgen", "proxquant", "proxsgd", bc_adam, "subgrad-adam"}},
      {"delta", c.delta.has_value(), {"proxgen", "proxquant", "proxsgd", bc_adam, "subgrad-adam"}},
      {"lambda", c.lambda.has_value(), {"proxgen", "proxquant", "proxsgd", "subgrad-adam", "subgrad-sgd"}},
      {"clip", c.clip.has_value(), {"proxgen", "proxquant", "proxsgd", bc_adam, bc_sgd}},
      {"epsilon_decay", c.epsilon_decay.has_value(), {"proxsgd"}},
      {"rho0", c.rho0.has_value(), {"proxsgd"}},
      {"rho_decay", c.rho_decay.has_value(), {"proxsgd"}},
      {"step_offset", c.step_offset.has_value(), {"proxsgd"}},
      {"inner", c.inner.has_value(), {bc_adam, bc_sgd}},
      {"nesterov", c.nesterov, {bc_sgd, "subgrad-sgd"}},
      {"smoothing", c.smoothing.has_value(), {"subgrad-adam", "subgrad-sgd"}},
  };
  for (const Field& f : fields) {
    const bool used = std::find(f.users.begin(), f.users.end(), key) != f.users.end();
    PX_CHECK(used || !f.set, ValueError, "make_prox_optimizer: ", key, " does not use option '", f.option,
             "' (used by ", joined(f.users), "); leave it unset");
  }
}

std::unique_ptr<ProxOptimizer> make_proxgen(std::vector<ParamGroup> groups, const ProxConfig& c, bool quant) {
  const ProxGenOptions d;
  ProxGenOptions o{.lr = c.lr.value_or(quant ? 1e-2 : d.lr),
                   .preconditioner = c.preconditioner.value_or("adam"),
                   .momentum = c.momentum,
                   .beta2 = c.beta2,
                   .delta = c.delta,
                   .regularizer = c.regularizer.value_or(quant ? "bin-l1" : d.regularizer),
                   .lambda = c.lambda,
                   .weight_decay = c.weight_decay,
                   .metric_prox = !quant,
                   .clip = quant ? std::optional<double>(c.clip.value_or(1.0)) : c.clip};
  require_lambdas(quant ? "proxquant" : "proxgen", groups, o.regularizer, o.lambda, kLambdaField);
  return std::make_unique<ProxGen>(std::move(groups), o);
}

std::unique_ptr<ProxOptimizer> make_proxsgd(std::vector<ParamGroup> groups, const ProxConfig& c) {
  const ProxSGDOptions d;
  ProxSGDOptions o{.epsilon0 = c.lr.value_or(d.epsilon0),
                   .epsilon_decay = c.epsilon_decay.value_or(d.epsilon_decay),
                   .rho0 = c.rho0.value_or(d.rho0),
                   .rho_decay = c.rho_decay.value_or(d.rho_decay),
                   .step_offset = c.step_offset.value_or(d.step_offset),
                   .beta = c.beta2.value_or(d.beta),
                   .delta = c.delta.value_or(d.delta),
                   .regularizer = c.regularizer.value_or(d.regularizer),
                   .lambda = c.lambda,
                   .weight_decay = c.weight_decay};
  require_lambdas("proxsgd", groups, o.regularizer, o.lambda, kLambdaField);
  if (c.clip) {
    check_option(*c.clip > 0, "proxsgd", "clip", *c.clip, "> 0 (the box [-clip, clip])");
    o.clip_low = -*c.clip;
    o.clip_high = *c.clip;
  }
  return std::make_unique<ProxSGD>(std::move(groups), o);
}

std::unique_ptr<ProxOptimizer> make_binaryconnect(std::vector<ParamGroup> groups, const ProxConfig& c) {
  BinaryConnectOptions o;
  o.inner = c.inner.value_or(o.inner);
  o.lr = c.lr.value_or(o.lr);
  if (o.inner == "sgd") {
    o.momentum = c.momentum.value_or(o.momentum);
  } else {
    o.beta1 = c.momentum.value_or(o.beta1);
  }
  o.beta2 = c.beta2.value_or(o.beta2);
  o.eps = c.delta.value_or(o.eps);
  o.nesterov = c.nesterov;
  o.weight_decay = c.weight_decay;
  o.clip = c.clip.value_or(o.clip);
  o.regularizer = c.regularizer.value_or(o.regularizer);
  return std::make_unique<BinaryConnect>(std::move(groups), o);
}

std::unique_ptr<ProxOptimizer> make_subgradient(std::vector<ParamGroup> groups, const ProxConfig& c, bool adam) {
  SubgradientOptions o;
  o.inner = adam ? "adam" : "sgd";
  o.lr = c.lr.value_or(o.lr);
  if (adam) {
    o.beta1 = c.momentum.value_or(o.beta1);
  } else {
    o.momentum = c.momentum.value_or(o.momentum);
  }
  o.beta2 = c.beta2.value_or(o.beta2);
  o.eps = c.delta.value_or(o.eps);
  o.nesterov = c.nesterov;
  o.weight_decay = c.weight_decay;
  o.regularizer = c.regularizer.value_or(o.regularizer);
  require_lambdas(adam ? "subgrad-adam" : "subgrad-sgd", groups, o.regularizer, c.lambda, kLambdaField);
  o.lambda = c.lambda;
  o.smoothing = c.smoothing.value_or(o.smoothing);
  return std::make_unique<SubgradientOptimizer>(std::move(groups), o);
}

}  // namespace

std::vector<std::string> prox_optimizer_names() {
  return {"proxgen", "proxsgd", "proxquant", "binaryconnect", "subgrad-adam", "subgrad-sgd"};
}

std::unique_ptr<ProxOptimizer> make_prox_optimizer(const std::string& method, std::vector<ParamGroup> groups,
                                                   const ProxConfig& c) {
  const auto names = prox_optimizer_names();
  PX_CHECK(std::find(names.begin(), names.end(), method) != names.end(), ValueError,
           "make_prox_optimizer: unknown method '", method, "'; known: ", joined(names));
  if (method == "binaryconnect" && c.inner) {
    PX_CHECK(*c.inner == "adam" || *c.inner == "sgd", ValueError, "make_prox_optimizer: binaryconnect: inner must be ",
             "adam or sgd, got '", *c.inner, "'");
  }
  check_unused(method, c);
  if (method == "proxgen" || method == "proxquant") return make_proxgen(std::move(groups), c, method == "proxquant");
  if (method == "proxsgd") return make_proxsgd(std::move(groups), c);
  if (method == "binaryconnect") return make_binaryconnect(std::move(groups), c);
  return make_subgradient(std::move(groups), c, method == "subgrad-adam");
}

}  // namespace px::optim::prox
