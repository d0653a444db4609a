// GPU suite: the group lasso on CUDA (block prox with uniform and per-coordinate thresholds,
// subgradient, value) and inside ProxGen (every preconditioner, ProxQuant), ProxSGD and the
// subgradient baselines, against the same operations on CPU copies.
#include <memory>
#include <string>

#include "proxima/optim/prox/group_prox.h"
#include "proxima/optim/prox/proxgen.h"
#include "proxima/optim/prox/proxsgd.h"
#include "proxima/optim/prox/regularizer.h"
#include "proxima/optim/prox/subgradient.h"
#include "test_optim_util.h"

using namespace px;
using namespace px::optim;
using namespace px::optim::prox;
using px::gpu_test::check_optimizer_parity;

namespace {

// Every tensor has >= 2 dims (rows, columns, filters and channels need them). Groups of 1 to 4200
// elements: fewer and more than the 256 threads of the block that reduces a group.
std::vector<Shape> group_shapes() { return {{33, 5}, {3, 4, 5, 7}, {6, 700}, {300, 40}, {2, 1}, {16, 8, 3, 3}}; }

const char* const kGroupings[] = {"whole", "rows", "columns", "filters", "channels"};

// One group holding the params with the group lasso over `grouping`.
template <class Opt, class Options>
gpu_test::OptimizerFactory group_factory(Options o, const char* grouping) {
  o.regularizer = "group";
  return [o, grouping](std::vector<Tensor> params) -> std::unique_ptr<Optimizer> {
    std::vector<ParamGroup> groups = single_group(std::move(params));
    groups[0].options["grouping"] = std::string(grouping);
    return std::make_unique<Opt>(groups, o);
  };
}

}  // namespace

// The per-group kernels against the CPU loops on random inputs: thresholds per coordinate in
// [0.005, 0.3] (the metric prox's Newton root), one uniform threshold, the subgradient and the value.
// float64: the same formulas in double, only the summation order of the norms differs (relative
// 1e-16 per norm; the root moves by as much): 1e-12. float32: the same double math
// from the same float inputs, so the results differ by at most the final rounding (+- 1 ulp,
// relative 1.2e-7) unless a norm sits at a threshold: 1e-6.
TEST_CASE("cuda optim: group lasso prox, subgradient and value match the CPU for every grouping") {
  for (DType dtype : {DType::float64, DType::float32}) {
    const double rtol = dtype == DType::float64 ? 1e-12 : 1e-6, atol = dtype == DType::float64 ? 1e-15 : 1e-9;
    Generator gen(77);
    for (const char* grouping : kGroupings) {
      GroupLassoRegularizer reg(parse_grouping(grouping));
      for (const Shape& shape : group_shapes()) {
        const std::string what = std::string(grouping) + " " + shape_str(shape) + " " + std::string(dtype_name(dtype));
        const Tensor z = gpu_test::random_cpu(shape, dtype, gen, 0.1);
        const Tensor t = ops::add(ops::mul(rand(shape, {.dtype = dtype}, &gen), 0.295), 0.005);
        gpu_test::check_close(reg.prox(z, t), reg.prox(z.to(gpu_test::gpu()), t.to(gpu_test::gpu())), rtol, atol,
                              "metric prox " + what);
        for (double tu : {0.0, 0.05, 0.4}) {
          gpu_test::check_close(reg.prox(z, tu), reg.prox(z.to(gpu_test::gpu()), tu), rtol, atol,
                                "uniform prox " + what);
        }
        // A tensor of equal thresholds takes the closed form on both sides.
        const Tensor equal = full(shape, 0.05, {.dtype = dtype});
        gpu_test::check_close(reg.prox(z, equal), reg.prox(z.to(gpu_test::gpu()), equal.to(gpu_test::gpu())), rtol,
                              atol, "equal thresholds " + what);
        gpu_test::check_close(reg.subgradient(z), reg.subgradient(z.to(gpu_test::gpu())), rtol, atol,
                              "subgradient " + what);
        CHECK(reg.value(z.to(gpu_test::gpu())) == doctest::Approx(reg.value(z)).epsilon(1e-12));
      }
    }
    // A zero group stays zero, its subgradient is 0.
    GroupLassoRegularizer rows(Grouping::rows);
    Tensor z = gpu_test::random_cpu({4, 9}, dtype, gen);
    ops::copy_(ops::narrow(z, 0, 1, 1), zeros({1, 9}, {.dtype = dtype}));
    gpu_test::check_close(rows.subgradient(z), rows.subgradient(z.to(gpu_test::gpu())), rtol, atol, "zero group");
  }
}

// Parameters ~ N(0, 0.1^2), lr 0.02, lambda 2: thresholds ~ 0.04 (Adam's d ~ |g| ~ 1) against group
// norms from 0.1 (1 element) to ~6 (whole tensors), so small groups are pruned and large ones
// shrink. "none" gives equal thresholds (the closed form), the others the metric prox.
TEST_CASE("cuda optim: proxgen with the group lasso matches the CPU (every preconditioner and grouping)") {
  for (const char* pc : {"adam", "none", "adagrad", "rmsprop"}) {
    for (const char* grouping : kGroupings) {
      ProxGenOptions o{.lr = 0.02, .preconditioner = pc, .lambda = 2.0};
      if (std::string(pc) == "none") o.lr = 0.005;
      check_optimizer_parity(group_factory<ProxGen>(o, grouping), std::string("proxgen-") + pc + " group " + grouping,
                             0.1, 20, false, group_shapes());
    }
  }
  // ProxQuant's uniform threshold and clip; decoupled weight decay.
  check_optimizer_parity(group_factory<ProxGen>(ProxGenOptions{.lr = 0.02, .lambda = 2.0, .metric_prox = false,
                                                               .clip = 0.15}, "rows"),
                         "proxquant group rows clip", 0.1, 20, false, group_shapes());
  check_optimizer_parity(group_factory<ProxGen>(ProxGenOptions{.lr = 0.02, .lambda = 2.0, .weight_decay = 0.1},
                                                "channels"),
                         "proxgen group wd", 0.1, 20, false, group_shapes());
}

TEST_CASE("cuda optim: proxsgd with the group lasso matches the CPU") {
  for (const char* grouping : kGroupings) {
    check_optimizer_parity(group_factory<ProxSGD>(ProxSGDOptions{.lambda = 0.05}, grouping),
                           std::string("proxsgd group ") + grouping, 0.1, 20, false, group_shapes());
  }
  check_optimizer_parity(group_factory<ProxSGD>(ProxSGDOptions{.epsilon_decay = 0, .rho_decay = 0, .lambda = 0.05,
                                                               .weight_decay = 0.1, .clip_low = -0.05, .clip_high = 0.08},
                                                "rows"),
                         "proxsgd group box", 0.1, 20, false, group_shapes());
}

TEST_CASE("cuda optim: subgradient baselines with the group lasso match the CPU") {
  for (const char* inner : {"adam", "sgd"}) {
    for (const char* grouping : {"rows", "channels", "whole"}) {
      SubgradientOptions o{.inner = inner, .lr = 0.01, .momentum = std::string(inner) == "sgd" ? 0.9 : 0.0,
                           .weight_decay = 1e-3, .lambda = 0.5};
      check_optimizer_parity(group_factory<SubgradientOptimizer>(o, grouping),
                             "subgrad-" + std::string(inner) + " group " + grouping, 0.1, 20, false, group_shapes());
    }
  }
}

TEST_CASE("cuda optim: proxgen group lasso threshold records and penalty agree with the CPU") {
  for (DType dtype : {DType::float64, DType::float32}) {
    Generator gen(5);
    gpu_test::OptimizerPair pair(group_factory<ProxGen>(ProxGenOptions{.lr = 0.02, .lambda = 2.0}, "rows"), dtype, gen,
                                 0.1, group_shapes());
    gpu_test::check_threshold_records(pair, dtype, gen);
  }
}
