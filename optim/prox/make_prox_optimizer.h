// make_prox_optimizer: builds any proximal optimizer (proxgen, proxsgd, proxquant, binaryconnect,
// subgrad-adam, subgrad-sgd) by name from one config.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proxima/optim/prox/prox_optimizer.h"

namespace px::optim::prox {

// Every option of the proximal optimizers. An unset optional field takes the chosen method's
// default (the defaults of ProxGenOptions, ProxSGDOptions, BinaryConnectOptions and
// SubgradientOptions, except where noted). A field the chosen method does not use must stay unset
// (or at its default), else make_prox_optimizer throws ValueError naming it, so a setting is never
// silently ignored.
//
// The methods and the fields they read:
//   proxgen        lr, preconditioner, momentum, beta2, delta, regularizer, lambda, weight_decay, clip
//   proxquant      ProxGen with metric_prox = false and preconditioner adam (original ProxQuant):
//                  lr (default 0.01, the ProxQuant scripts' Adam lr), momentum, beta2, delta,
//                  regularizer (default "bin-l1"), lambda, weight_decay, clip (default 1)
//   proxsgd        lr (= epsilon0, default 0.06), beta2 (= beta), delta, regularizer, lambda,
//                  weight_decay, clip (the box [-clip, clip]), epsilon_decay, rho0, rho_decay, step_offset
//   binaryconnect  lr, inner ("adam" | "sgd"), momentum (adam: beta1; sgd: momentum), beta2 and
//                  delta (= eps; adam only), nesterov (sgd only), regularizer (marks the binarised
//                  groups, default "bin-l1"), weight_decay, clip (default 1)
//   subgrad-adam   lr, momentum (= beta1), beta2, delta (= eps), regularizer, lambda, weight_decay,
//                  smoothing
//   subgrad-sgd    lr, momentum, nesterov, regularizer, lambda, weight_decay, smoothing
// So "momentum" is the first-moment coefficient of every method (Adam's beta1) and "delta" the
// denominator's additive constant (Adam's eps).
struct ProxConfig {
  std::optional<double> lr{};
  std::optional<std::string> preconditioner{};  // none | adam | adagrad | rmsprop
  std::optional<double> momentum{};
  std::optional<double> beta2{};
  std::optional<double> delta{};
  std::optional<std::string> regularizer{};     // a make_regularizer spec, or "none"
  // The groups' default lambda. Unset: every group with a regulariser (its "regularizer" option,
  // else `regularizer`, else the method's default: "bin-l1" for proxquant) must set its own
  // "lambda", else ValueError (require_lambdas); 0 is accepted when given.
  std::optional<double> lambda{};
  double weight_decay = 0;                    // decoupled where the method says so
  std::optional<double> clip{};
  // proxsgd
  std::optional<double> epsilon_decay{}, rho0{}, rho_decay{}, step_offset{};
  // binaryconnect
  std::optional<std::string> inner{};           // adam | sgd
  // binaryconnect (inner sgd), subgrad-sgd
  bool nesterov = false;
  // subgrad-adam, subgrad-sgd
  std::optional<double> smoothing{};
};

// {"proxgen", "proxsgd", "proxquant", "binaryconnect", "subgrad-adam", "subgrad-sgd"}.
std::vector<std::string> prox_optimizer_names();

// Unknown method -> ValueError listing the known ones; a set field the method does not read ->
// ValueError naming the field and the methods that read it. Groups that leave lr / weight_decay
// unset take the config's (or the method's default) values.
std::unique_ptr<ProxOptimizer> make_prox_optimizer(const std::string& method, std::vector<ParamGroup> groups,
                                                   const ProxConfig& config = {});

}  // namespace px::optim::prox
