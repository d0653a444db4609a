// GPU suite: ProxGen (every preconditioner and separable regulariser), ProxQuant, ProxSGD, the
// subgradient baselines and BinaryConnect on CUDA against the same optimizers on CPU copies.
#include <memory>
#include <string>

#include "proxima/optim/prox/binaryconnect.h"
#include "proxima/optim/prox/proxgen.h"
#include "proxima/optim/prox/proxsgd.h"
#include "proxima/optim/prox/subgradient.h"
#include "test_optim_util.h"

using namespace px;
using namespace px::optim;
using namespace px::optim::prox;
using px::gpu_test::check_optimizer_parity;

namespace {

template <class Opt, class Options>
gpu_test::OptimizerFactory factory(Options o) {
  return [o](std::vector<Tensor> params) -> std::unique_ptr<Optimizer> { return std::make_unique<Opt>(params, o); };
}

const char* const kSeparable[] = {"l1", "l0", "l12", "l23", "lq:0.3", "mcp", "scad", "l2"};

}  // namespace

// Parameters ~ N(0, 0.1^2), lr 0.02, lambda 0.5: thresholds t = lr lambda / d around 1e-2 (Adam's
// d ~ |g| ~ 1), so every prox zeroes a good share of the coordinates and keeps the rest.
TEST_CASE("cuda optim: proxgen with every preconditioner and separable regulariser matches the CPU") {
  for (const char* pc : {"adam", "none", "adagrad", "rmsprop"}) {
    for (const char* reg : kSeparable) {
      ProxGenOptions o{.lr = 0.02, .preconditioner = pc, .regularizer = reg, .lambda = 0.5};
      if (std::string(pc) == "none") o.lr = 0.005;
      check_optimizer_parity(factory<ProxGen>(o), std::string("proxgen-") + pc + " " + reg, 0.1);
    }
  }
  // No regulariser (Adam with momentum), decoupled weight decay, a momentum override.
  check_optimizer_parity(factory<ProxGen>(ProxGenOptions{.lr = 0.02, .weight_decay = 0.1}), "proxgen none+wd", 0.1);
  check_optimizer_parity(factory<ProxGen>(ProxGenOptions{.lr = 0.02, .preconditioner = "rmsprop", .momentum = 0.5,
                                                         .regularizer = "l1", .lambda = 0.5}),
                         "proxgen-rmsprop momentum", 0.1);
}

TEST_CASE("cuda optim: proxgen keep_at_tie, binary regularisers and proxquant match the CPU") {
  for (const char* reg : {"bin-l1", "bin-l12", "bin-l23", "bin-l0"}) {
    check_optimizer_parity(factory<ProxGen>(ProxGenOptions{.lr = 0.05, .regularizer = reg, .lambda = 0.5}),
                           std::string("proxgen ") + reg, 0.5);
    check_optimizer_parity(factory<ProxGen>(ProxGenOptions{.lr = 0.05, .regularizer = reg, .lambda = 0.5,
                                                           .metric_prox = false, .clip = 1.0}),
                           std::string("proxquant ") + reg, 0.5);
  }
  // keep_at_tie and binary_zero come as group options.
  auto with_options = [](std::map<std::string, GroupOption> extra, const char* reg) {
    return [extra, reg](std::vector<Tensor> params) -> std::unique_ptr<Optimizer> {
      std::vector<ParamGroup> groups = single_group(params);
      groups[0].options = extra;
      return std::make_unique<ProxGen>(groups, ProxGenOptions{.lr = 0.05, .regularizer = reg, .lambda = 0.5});
    };
  };
  check_optimizer_parity(with_options({{"keep_at_tie", true}}, "l0"), "proxgen l0 keep_at_tie", 0.1);
  check_optimizer_parity(with_options({{"binary_zero", std::string("literal")}}, "bin-l1"), "bin-l1 literal", 0.5);
  check_optimizer_parity(with_options({{"binary_zero", std::string("keep_zero")}}, "bin-l12"), "bin-l12 keep_zero",
                         0.5);
}

TEST_CASE("cuda optim: proxsgd matches the CPU") {
  for (const char* reg : {"none", "l1", "l0", "mcp", "l23"}) {
    ProxSGDOptions o{.regularizer = reg, .lambda = 0.01};
    check_optimizer_parity(factory<ProxSGD>(o), std::string("proxsgd ") + reg, 0.1);
  }
  check_optimizer_parity(factory<ProxSGD>(ProxSGDOptions{.epsilon_decay = 0, .rho_decay = 0, .regularizer = "l1",
                                                         .lambda = 0.01, .weight_decay = 0.1, .clip_low = -0.05,
                                                         .clip_high = 0.08}),
                         "proxsgd box", 0.1);
}

TEST_CASE("cuda optim: subgradient baselines and binaryconnect match the CPU") {
  for (const char* inner : {"adam", "sgd"})
    for (const char* reg : {"none", "l1", "l12", "l23", "lq:0.3", "bin-l12", "scad"}) {
      SubgradientOptions o{.inner = inner, .lr = 0.01, .nesterov = std::string(inner) == "sgd",
                           .weight_decay = 1e-3, .regularizer = reg, .lambda = 0.01};
      const std::string r = reg;
      const bool singular = r == "l12" || r == "l23" || r == "lq:0.3" || r == "bin-l12";  // q < 1: see resync_float64
      check_optimizer_parity(factory<SubgradientOptimizer>(o), "subgrad-" + std::string(inner) + " " + r, 0.1, 20,
                             singular);
    }
  for (const char* inner : {"adam", "sgd"}) {
    check_optimizer_parity(factory<BinaryConnect>(BinaryConnectOptions{.inner = inner, .lr = 0.05}),
                           std::string("binaryconnect-") + inner, 0.5);
    check_optimizer_parity(
        factory<BinaryConnect>(BinaryConnectOptions{.inner = inner, .lr = 0.05, .regularizer = "none"}),
        std::string("binaryconnect-") + inner + " unbinarised", 0.5);
  }
}

TEST_CASE("cuda optim: threshold records and the penalty agree with the CPU, freeze binarises on CUDA") {
  for (DType dtype : {DType::float64, DType::float32}) {
    Generator gen(3);
    auto make = factory<ProxGen>(ProxGenOptions{.lr = 0.02, .regularizer = "bin-l1", .lambda = 0.5});
    gpu_test::OptimizerPair pair(make, dtype, gen, 0.5);
    auto [cpu, gpu] = gpu_test::check_threshold_records(pair, dtype, gen);
    CHECK(gpu.thresholds().decades == cpu.thresholds().decades);
    cpu.freeze_regularized();
    gpu.freeze_regularized();
    pair.compare(gpu_test::optim_tolerance(dtype, 0.5), false, "frozen");
    for (const Tensor& p : pair.gpu)
      CHECK(ops::count_nonzero(ops::ne(ops::abs(p), 1.0)).item() == 0);
  }
}
