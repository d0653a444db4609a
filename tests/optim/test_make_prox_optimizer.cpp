// make_prox_optimizer: every method by name, options reaching the optimizer, trajectories equal to
// the directly built optimizer, unknown methods and unused options as ValueErrors.
#include <functional>

#include "optim/optim_helpers.h"
#include "optim/prox_test_util.h"
#include "proxima/optim/prox/prox.h"

using namespace px;
using namespace px::test;
using namespace px::optim::prox;

namespace {

std::vector<optim::ParamGroup> one_group(const Tensor& p) { return {optim::ParamGroup{.params = {p}}}; }

Tensor fresh(std::uint64_t seed) {
  Generator gen(seed);
  return ops::mul(randn({4, 6}, {.dtype = DType::float64}, &gen), 0.7);
}

// Runs both optimizers for 4 steps with the same random gradients and checks identical iterates.
void check_same_trajectory(const std::string& what, const std::function<std::unique_ptr<ProxOptimizer>(Tensor)>& a,
                           const std::function<std::unique_ptr<ProxOptimizer>(Tensor)>& b) {
  INFO(what);
  Tensor x = fresh(1), y = fresh(1);
  auto oa = a(x), ob = b(y);
  Generator gen(2);
  for (int step = 0; step < 4; ++step) {
    Tensor g = randn({4, 6}, {.dtype = DType::float64}, &gen);
    x.set_grad(g.clone());
    y.set_grad(g.clone());
    oa->step();
    ob->step();
    check_same(detail::str("step ", step), x, y);
  }
}

}  // namespace

TEST_CASE("make_prox_optimizer: every name builds the optimizer of that name") {
  const auto names = prox_optimizer_names();
  CHECK(names == std::vector<std::string>{"proxgen", "proxsgd", "proxquant", "binaryconnect", "subgrad-adam",
                                          "subgrad-sgd"});
  for (const auto& name : names) {
    INFO(name);
    // proxquant regularises with "bin-l1" by default, so it needs an explicit lambda (0 was the
    // silent default before lambda became required).
    auto opt = make_prox_optimizer(name, one_group(fresh(3)),
                                   name == "proxquant" ? ProxConfig{.lambda = 0.0} : ProxConfig{});
    CHECK(opt->name() == name);
  }
}

TEST_CASE("make_prox_optimizer: proxgen and proxquant receive their options") {
  auto opt = make_prox_optimizer("proxgen", one_group(fresh(3)),
                                 {.lr = 0.02, .preconditioner = "rmsprop", .momentum = 0.5, .beta2 = 0.9,
                                  .delta = 1e-6, .regularizer = "l12", .lambda = 0.3, .weight_decay = 0.1,
                                  .clip = 2.0});
  auto* pg = dynamic_cast<ProxGen*>(opt.get());
  REQUIRE(pg);
  CHECK(pg->options().lr == 0.02);
  CHECK(pg->preconditioner().kind == PreconditionerKind::rmsprop);
  CHECK(pg->preconditioner().momentum == 0.5);
  CHECK(pg->preconditioner().beta2 == 0.9);
  CHECK(pg->preconditioner().delta == 1e-6);
  CHECK(pg->regularizer(0)->name() == "l12");
  CHECK(pg->lambda(0) == 0.3);
  CHECK(pg->param_groups()[0].weight_decay == 0.1);
  CHECK(pg->options().metric_prox);
  CHECK(*pg->options().clip == 2.0);

  auto quant = make_prox_optimizer("proxquant", one_group(fresh(3)), {.lambda = 1e-4});
  auto* pq = dynamic_cast<ProxGen*>(quant.get());
  REQUIRE(pq);
  CHECK(!pq->options().metric_prox);
  CHECK(pq->preconditioner().kind == PreconditionerKind::adam);
  CHECK(*pq->options().clip == 1.0);
  CHECK(pq->options().lr == 0.01);
  CHECK(pq->regularizer(0)->name() == "bin-l1");

  check_same_trajectory(
      "proxquant = ProxGen(metric_prox false, clip 1, adam, bin-l1)",
      [](Tensor p) { return make_prox_optimizer("proxquant", one_group(p), {.lr = 0.05, .lambda = 0.5}); },
      [](Tensor p) {
        return std::make_unique<ProxGen>(one_group(p), ProxGenOptions{.lr = 0.05, .preconditioner = "adam",
                                                                      .regularizer = "bin-l1", .lambda = 0.5,
                                                                      .metric_prox = false, .clip = 1.0});
      });
}

TEST_CASE("make_prox_optimizer: proxsgd maps lr to epsilon0, beta2 to beta and clip to the box") {
  auto opt = make_prox_optimizer("proxsgd", one_group(fresh(3)),
                                 {.lr = 0.2, .beta2 = 0.99, .delta = 1e-7, .regularizer = "l1", .lambda = 0.01,
                                  .weight_decay = 0.001, .clip = 1.5, .epsilon_decay = 0.6, .rho0 = 0.8,
                                  .rho_decay = 0.4, .step_offset = 2});
  auto* ps = dynamic_cast<ProxSGD*>(opt.get());
  REQUIRE(ps);
  const ProxSGDOptions& o = ps->options();
  CHECK(o.epsilon0 == 0.2);
  CHECK(ps->lr() == 0.2);
  CHECK(o.beta == 0.99);
  CHECK(o.delta == 1e-7);
  CHECK(o.epsilon_decay == 0.6);
  CHECK(o.rho0 == 0.8);
  CHECK(o.rho_decay == 0.4);
  CHECK(o.step_offset == 2);
  CHECK(o.weight_decay == 0.001);
  CHECK(*o.clip_low == -1.5);
  CHECK(*o.clip_high == 1.5);
  CHECK(ps->regularizer(0)->name() == "l1");
  const ProxSGDOptions defaults;
  auto plain = make_prox_optimizer("proxsgd", one_group(fresh(3)));
  CHECK(dynamic_cast<ProxSGD*>(plain.get())->options().epsilon0 == defaults.epsilon0);
  CHECK(!dynamic_cast<ProxSGD*>(plain.get())->options().clip_low);
  check_value_error([] { make_prox_optimizer("proxsgd", one_group(fresh(3)), {.clip = -1.0}); }, "clip");

  check_same_trajectory(
      "proxsgd",
      [](Tensor p) {
        return make_prox_optimizer("proxsgd", one_group(p),
                                   {.lr = 0.5, .regularizer = "l1", .lambda = 0.1, .clip = 0.9, .rho0 = 0.7});
      },
      [](Tensor p) {
        return std::make_unique<ProxSGD>(one_group(p), ProxSGDOptions{.epsilon0 = 0.5, .rho0 = 0.7, .regularizer = "l1",
                                                                      .lambda = 0.1, .clip_low = -0.9,
                                                                      .clip_high = 0.9});
      });
}

TEST_CASE("make_prox_optimizer: binaryconnect and the subgradient baselines receive their options") {
  auto bc = make_prox_optimizer("binaryconnect", one_group(fresh(3)),
                                {.lr = 0.003, .momentum = 0.5, .weight_decay = 0.01, .clip = 0.8, .inner = "sgd",
                                 .nesterov = true});
  auto* b = dynamic_cast<BinaryConnect*>(bc.get());
  REQUIRE(b);
  CHECK(b->options().inner == "sgd");
  CHECK(b->options().lr == 0.003);
  CHECK(b->options().momentum == 0.5);
  CHECK(b->options().nesterov);
  CHECK(b->options().clip == 0.8);
  CHECK(b->options().weight_decay == 0.01);
  CHECK(b->options().regularizer == "bin-l1");
  auto bc_adam = make_prox_optimizer("binaryconnect", one_group(fresh(3)),
                                     {.momentum = 0.7, .beta2 = 0.95, .delta = 1e-6});
  auto* ba = dynamic_cast<BinaryConnect*>(bc_adam.get());
  REQUIRE(ba);
  CHECK(ba->options().inner == "adam");
  CHECK(ba->options().beta1 == 0.7);
  CHECK(ba->options().beta2 == 0.95);
  CHECK(ba->options().eps == 1e-6);
  CHECK(ba->options().clip == 1.0);

  auto sa = make_prox_optimizer("subgrad-adam", one_group(fresh(3)),
                                {.lr = 0.004, .momentum = 0.8, .beta2 = 0.9, .delta = 1e-7, .regularizer = "l23",
                                 .lambda = 0.02, .weight_decay = 0.05, .smoothing = 1e-4});
  auto* s = dynamic_cast<SubgradientOptimizer*>(sa.get());
  REQUIRE(s);
  CHECK(s->options().inner == "adam");
  CHECK(s->options().lr == 0.004);
  CHECK(s->options().beta1 == 0.8);
  CHECK(s->options().beta2 == 0.9);
  CHECK(s->options().eps == 1e-7);
  CHECK(s->options().regularizer == "l23");
  CHECK(s->options().lambda == 0.02);
  CHECK(s->options().weight_decay == 0.05);
  CHECK(s->options().smoothing == 1e-4);
  auto ss = make_prox_optimizer("subgrad-sgd", one_group(fresh(3)), {.momentum = 0.6, .nesterov = true});
  auto* s2 = dynamic_cast<SubgradientOptimizer*>(ss.get());
  REQUIRE(s2);
  CHECK(s2->options().inner == "sgd");
  CHECK(s2->options().momentum == 0.6);
  CHECK(s2->options().nesterov);

  check_same_trajectory(
      "subgrad-sgd",
      [](Tensor p) {
        return make_prox_optimizer("subgrad-sgd", one_group(p),
                                   {.lr = 0.05, .momentum = 0.5, .regularizer = "l1", .lambda = 0.1});
      },
      [](Tensor p) {
        SubgradientOptions o;
        o.inner = "sgd";
        o.lr = 0.05;
        o.momentum = 0.5;
        o.regularizer = "l1";
        o.lambda = 0.1;
        return std::make_unique<SubgradientOptimizer>(one_group(p), o);
      });
}

TEST_CASE("make_prox_optimizer: an unknown method lists the known ones") {
  try {
    make_prox_optimizer("proxadam", one_group(fresh(3)));
    FAIL("no ValueError");
  } catch (const ValueError& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find("proxadam") != std::string::npos);
    for (const auto& name : prox_optimizer_names()) CHECK(msg.find(name) != std::string::npos);
  }
  check_value_error([] { make_prox_optimizer("binaryconnect", one_group(fresh(3)), {.inner = "rmsprop"}); },
                    "inner");
}

TEST_CASE("make_prox_optimizer: an option the method does not use is a ValueError naming it") {
  struct Case {
    const char* method;
    ProxConfig config;
    const char* option;
  };
  const Case cases[] = {
      {"proxgen", {.rho0 = 0.5}, "rho0"},
      {"proxgen", {.smoothing = 1e-3}, "smoothing"},
      {"proxgen", {.inner = "adam"}, "inner"},
      {"proxgen", {.nesterov = true}, "nesterov"},
      {"proxquant", {.preconditioner = "none"}, "preconditioner"},
      {"proxquant", {.epsilon_decay = 0.1}, "epsilon_decay"},
      {"proxsgd", {.momentum = 0.9}, "momentum"},
      {"proxsgd", {.preconditioner = "adam"}, "preconditioner"},
      {"proxsgd", {.smoothing = 0.0}, "smoothing"},
      {"binaryconnect", {.lambda = 0.1}, "lambda"},
      {"binaryconnect", {.step_offset = 1}, "step_offset"},
      {"binaryconnect", {.nesterov = true}, "nesterov"},  // inner adam by default
      {"binaryconnect", {.beta2 = 0.9, .inner = "sgd"}, "beta2"},
      {"binaryconnect", {.delta = 1e-6, .inner = "sgd"}, "delta"},
      {"subgrad-adam", {.nesterov = true}, "nesterov"},
      {"subgrad-adam", {.clip = 1.0}, "clip"},
      {"subgrad-sgd", {.beta2 = 0.9}, "beta2"},
      {"subgrad-sgd", {.delta = 1e-8}, "delta"},
      {"subgrad-sgd", {.rho_decay = 0.5}, "rho_decay"},
  };
  for (const Case& c : cases) {
    INFO(c.method, " with ", c.option);
    check_value_error([&] { make_prox_optimizer(c.method, one_group(fresh(3)), c.config); }, c.option);
  }
}
