// make_optimizer: name -> optimizer, with a check that no unused setting was changed.
#include "proxima/optim/make_optimizer.h"

#include <algorithm>

#include "proxima/optim/adagrad.h"
#include "proxima/optim/adam.h"
#include "proxima/optim/rmsprop.h"
#include "proxima/optim/sgd.h"

namespace px::optim {
namespace {

// Throws when a setting that `name` does not read differs from its default.
void check_unused(const std::string& name, const OptimizerConfig& c) {
  const OptimizerConfig d;
  struct Field {
    const char* option;
    bool changed;
    std::vector<std::string> users;
  };
  const Field fields[] = {
      {"momentum", c.momentum != d.momentum, {"sgd", "rmsprop"}},
      {"dampening", c.dampening != d.dampening, {"sgd"}},
      {"nesterov", c.nesterov != d.nesterov, {"sgd"}},
      {"beta1", c.beta1 != d.beta1, {"adam", "adamw"}},
      {"beta2", c.beta2 != d.beta2, {"adam", "adamw"}},
      {"amsgrad", c.amsgrad != d.amsgrad, {"adam", "adamw"}},
      {"lr_decay", c.lr_decay != d.lr_decay, {"adagrad"}},
      {"initial_accumulator_value", c.initial_accumulator_value != d.initial_accumulator_value, {"adagrad"}},
      {"alpha", c.alpha != d.alpha, {"rmsprop"}},
      {"centered", c.centered != d.centered, {"rmsprop"}},
  };
  for (const Field& f : fields) {
    const bool used = std::find(f.users.begin(), f.users.end(), name) != f.users.end();
    PX_CHECK(used || !f.changed, ValueError, "make_optimizer: ", name, " does not use option '",
             f.option, "' (it is used by ", f.users.front(), f.users.size() > 1 ? " and " : "",
             f.users.size() > 1 ? f.users.back() : "", "); leave it at its default");
  }
}

}  // namespace

std::vector<std::string> optimizer_names() { return {"sgd", "adam", "adamw", "adagrad", "rmsprop"}; }

std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<ParamGroup> groups,
                                          const OptimizerConfig& c) {
  const auto names = optimizer_names();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    std::string known;
    for (const auto& n : names) {
      if (!known.empty()) known += ", ";
      known += n;
    }
    throw ValueError(detail::str("make_optimizer: unknown optimizer '", name, "'; known: ", known));
  }
  check_unused(name, c);
  if (name == "sgd") {
    return std::make_unique<SGD>(std::move(groups),
                                 SgdOptions{.lr = c.lr.value_or(0.01), .momentum = c.momentum,
                                            .dampening = c.dampening, .nesterov = c.nesterov,
                                            .weight_decay = c.weight_decay.value_or(0)});
  }
  if (name == "adam") {
    return std::make_unique<Adam>(std::move(groups),
                                  AdamOptions{.lr = c.lr.value_or(1e-3), .beta1 = c.beta1, .beta2 = c.beta2,
                                              .eps = c.eps.value_or(1e-8),
                                              .weight_decay = c.weight_decay.value_or(0),
                                              .amsgrad = c.amsgrad});
  }
  if (name == "adamw") {
    return std::make_unique<AdamW>(std::move(groups),
                                   AdamWOptions{.lr = c.lr.value_or(1e-3), .beta1 = c.beta1, .beta2 = c.beta2,
                                                .eps = c.eps.value_or(1e-8),
                                                .weight_decay = c.weight_decay.value_or(0.01),
                                                .amsgrad = c.amsgrad});
  }
  if (name == "adagrad") {
    return std::make_unique<Adagrad>(std::move(groups),
                                     AdagradOptions{.lr = c.lr.value_or(0.01), .lr_decay = c.lr_decay,
                                                    .weight_decay = c.weight_decay.value_or(0),
                                                    .initial_accumulator_value = c.initial_accumulator_value,
                                                    .eps = c.eps.value_or(1e-10)});
  }
  return std::make_unique<RMSprop>(std::move(groups),
                                   RmspropOptions{.lr = c.lr.value_or(0.01), .alpha = c.alpha,
                                                  .eps = c.eps.value_or(1e-8),
                                                  .weight_decay = c.weight_decay.value_or(0),
                                                  .momentum = c.momentum, .centered = c.centered});
}

}  // namespace px::optim
