// make_optimizer: builds an optimizer by name (sgd, adam, adamw, adagrad, rmsprop) from one config.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proxima/optim/optimizer.h"

namespace px::optim {

// Every hyper-parameter of the classic optimizers. Unset optional fields take the chosen
// optimizer's PyTorch default (lr: sgd 0.01, adam/adamw 1e-3, adagrad/rmsprop 0.01;
// weight_decay: adamw 0.01, others 0; eps: adagrad 1e-10, others 1e-8). A field the chosen
// optimizer does not use must keep its default, else make_optimizer throws ValueError (so a
// --momentum given to adam is never silently ignored).
struct OptimizerConfig {
  std::optional<double> lr;
  std::optional<double> weight_decay;
  std::optional<double> eps;
  double momentum = 0;   // sgd, rmsprop
  double dampening = 0;  // sgd
  bool nesterov = false;  // sgd
  double beta1 = 0.9, beta2 = 0.999;  // adam, adamw
  bool amsgrad = false;               // adam, adamw
  double lr_decay = 0;                   // adagrad
  double initial_accumulator_value = 0;  // adagrad
  double alpha = 0.99;                   // rmsprop
  bool centered = false;                 // rmsprop
};

std::vector<std::string> optimizer_names();  // {"sgd", "adam", "adamw", "adagrad", "rmsprop"}

// Unknown name -> ValueError listing the known names. Groups that leave lr / weight_decay unset
// take the config's (or the optimizer's default) values.
std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<ParamGroup> groups,
                                          const OptimizerConfig& config = {});

}  // namespace px::optim
