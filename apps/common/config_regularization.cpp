// train_cifar's regularisation settings: optimizer names, per-optimizer and per-regulariser
// defaults (lr, weight decay, lambda, lambda schedule), and their validation.
#include <algorithm>
#include <cmath>

#include "common/config.h"
#include "proxima/core/error.h"
#include "proxima/optim/prox/lambda_schedule.h"
#include "proxima/optim/prox/make_prox_optimizer.h"
#include "proxima/optim/prox/regularizer.h"

namespace px::apps {
namespace {

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

double default_lr(const TrainConfig& c) {
  const std::string& o = c.optimizer;
  if (o == "sgd" || o == "subgrad-sgd") return 0.05;
  if (o == "adagrad") return 0.01;
  if (o == "proxgen") return c.precond == "none" ? 0.05 : c.precond == "adagrad" ? 0.01 : 1e-3;
  if (o == "proxsgd") return 0.06;
  if (o == "proxquant" || o == "binaryconnect") return 0.01;
  return 1e-3;  // adam, adamw, rmsprop, subgrad-adam
}

}  // namespace

std::vector<std::string> train_optimizer_names() {
  std::vector<std::string> names = {"sgd", "adam", "adamw", "adagrad", "rmsprop"};
  for (const std::string& n : optim::prox::prox_optimizer_names()) names.push_back(n);
  return names;
}

bool is_binary_regularizer(const std::string& reg) { return reg.rfind("bin-", 0) == 0; }

bool is_proximal_method(const std::string& optimizer) {
  return contains(optim::prox::prox_optimizer_names(), optimizer);
}

double default_lambda(const std::string& reg, const std::string& optimizer) {
  double lambda = 0;
  if (reg == "l1" || reg == "mcp" || reg == "scad" || is_binary_regularizer(reg)) lambda = 1e-4;
  else if (reg == "l0") lambda = 3e-4;
  else if (reg == "l12" || reg.rfind("lq:", 0) == 0) lambda = 3e-5;
  else if (reg == "l23") lambda = 5e-5;
  else if (reg == "group") lambda = 1e-3;
  else if (reg == "l2") lambda = 5e-4;
  // ProxSGD's threshold lambda / tau has no learning rate in it (ALGORITHMS.md §5.2).
  if (optimizer == "proxsgd") lambda *= 0.5;
  return lambda;
}

void resolve_defaults(TrainConfig& c, const std::vector<std::string>& explicit_flags) {
  const auto given = [&](const char* flag) { return contains(explicit_flags, flag); };
  const bool proximal = is_proximal_method(c.optimizer);
  if (!given("--lr")) c.lr = default_lr(c);
  if (!given("--weight-decay") && proximal) c.weight_decay = 0;
  // ProxGen's code keeps the lr constant for the first half of training: with a decaying lr the
  // l0 / lq thresholds (~ lr or lr^(2/3)) shrink more slowly than the steps (~ lr), and pruned
  // weights stop regrowing (docs/proximal.md).
  if (!given("--schedule") && proximal) c.schedule = "constant";
  PX_CHECK(!(given("--lambda") && c.lambda < 0), ValueError, "--lambda ", c.lambda, ": expected >= 0");
  PX_CHECK(!(given("--delta") && c.delta < 0), ValueError, "--delta ", c.delta, ": expected >= 0");
  resolve_auto(c);
}


void resolve_auto(TrainConfig& c) {
  const bool proximal = is_proximal_method(c.optimizer);
  if (c.reg == "auto") {
    c.reg = !proximal ? "none" : (c.optimizer == "proxquant" || c.optimizer == "binaryconnect") ? "bin-l1" : "l1";
  }
  if (c.lambda < 0) c.lambda = c.optimizer == "binaryconnect" ? 0.0 : default_lambda(c.reg, c.optimizer);
  if (c.lambda_schedule == "auto") c.lambda_schedule = c.optimizer == "proxquant" ? "homotopy" : "constant";
}

void validate_regularization(const TrainConfig& c) {
  const auto fail = [](const std::string& flag, const std::string& value, const std::string& expected) {
    throw ValueError(flag + " " + value + ": " + expected);
  };
  if (!contains(train_optimizer_names(), c.optimizer)) fail("--optimizer", c.optimizer, "unknown optimizer");
  const bool proximal = is_proximal_method(c.optimizer);
  if (c.reg != "none") {
    try {
      optim::prox::RegularizerParams params;
      if (c.reg == "mcp" || c.reg == "scad") params["lambda"] = 1.0;
      (void)optim::prox::make_regularizer(c.reg, params);
    } catch (const px::Error& e) {
      fail("--reg", c.reg, e.what());
    }
    if (!proximal) {
      fail("--reg", c.reg, "needs a proximal method (--optimizer proxgen, proxsgd, proxquant, binaryconnect, "
                           "subgrad-adam or subgrad-sgd); " + c.optimizer + " has no regulariser");
    }
  }
  if (!(std::isfinite(c.lambda) && c.lambda >= 0)) fail("--lambda", std::to_string(c.lambda), "expected >= 0");
  if (c.lambda > 0 && c.reg == "none") fail("--lambda", std::to_string(c.lambda), "needs a regulariser (--reg)");
  if ((c.optimizer == "proxquant" || c.optimizer == "binaryconnect") && !is_binary_regularizer(c.reg)) {
    fail("--reg", c.reg, c.optimizer + " needs a binary regulariser (bin-l1, bin-l12, bin-l23, bin-l0)");
  }
  if ((c.optimizer == "subgrad-adam" || c.optimizer == "subgrad-sgd") && (c.reg == "l0" || c.reg == "bin-l0")) {
    fail("--reg", c.reg, "has no subgradient (its derivative is 0 wherever it exists); use proxgen");
  }
  try {
    (void)optim::prox::LambdaSchedule::parse(c.lambda_schedule);
  } catch (const px::Error& e) {
    fail("--lambda-schedule", c.lambda_schedule, e.what());
  }
  if (c.freeze_epoch < 0) fail("--freeze-epoch", std::to_string(c.freeze_epoch), "expected >= 0");
  if (c.freeze_epoch > 0 && !is_binary_regularizer(c.reg)) {
    fail("--freeze-epoch", std::to_string(c.freeze_epoch), "needs a binary regulariser (--reg bin-*)");
  }
  if (c.optimizer != "proxgen" && c.precond != "adam") {
    fail("--precond", c.precond, "is proxgen's setting; " + c.optimizer + " does not read it");
  }
  if (!(c.mcp_gamma > 0)) fail("--mcp-gamma", std::to_string(c.mcp_gamma), "expected > 0");
  if (!(c.scad_a > 2)) fail("--scad-a", std::to_string(c.scad_a), "expected > 2");
}

}  // namespace px::apps
