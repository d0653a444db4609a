// Optimizer behaviour: special cases, parameter groups, zero_grad, skipped parameters, state
// dicts (round trip and validation) and error messages.
#include <functional>

#include "optim/optim_helpers.h"
#include "proxima/optim/adam.h"
#include "proxima/optim/sgd.h"

using namespace px;
using namespace px::test;

namespace {

std::unique_ptr<optim::Optimizer> make(const std::string& name, const std::vector<Tensor>& params,
                                       const optim::OptimizerConfig& config) {
  return optim::make_optimizer(name, {{.params = params}}, config);
}

// A configuration of each optimizer that uses every state entry it has.
std::vector<std::pair<std::string, optim::OptimizerConfig>> full_state_configs() {
  return {{"sgd", {.lr = 0.05, .momentum = 0.9}},
          {"adam", {.lr = 0.01, .amsgrad = true}},
          {"adamw", {.lr = 0.01, .weight_decay = 0.1}},
          {"adagrad", {.lr = 0.1, .lr_decay = 0.01}},
          {"rmsprop", {.lr = 0.003, .momentum = 0.5, .centered = true}}};
}

template <class E>
void check_throws(const std::function<void()>& f, const std::string& needle) {
  INFO("expected a message containing: ", needle);
  bool thrown = false;
  try {
    f();
  } catch (const E& e) {
    thrown = true;
    INFO("message: ", e.what());
    CHECK(std::string(e.what()).find(needle) != std::string::npos);
  }
  CHECK(thrown);
}

}  // namespace

TEST_CASE("special case: SGD with momentum 0 is plain gradient descent") {
  TanhNet a = TanhNet::random(1), b = TanhNet::random(1);
  auto opt = make("sgd", a.params, {.lr = 0.1});
  for (int step = 0; step < 20; ++step) {
    a.train_step(*opt);
    for (auto& p : b.params) p.zero_grad();
    backward(b.loss());
    for (auto& p : b.params) {
      NoGradGuard guard;
      ops::copy_(p, ops::sub(p, ops::mul(p.grad(), 0.1)));
    }
  }
  // Equal to rounding: the optimizer's loop may fuse p + (-lr) g into one FMA.
  for (std::size_t k = 0; k < 3; ++k)
    check_close("param " + std::to_string(k), values(a.params[k]), values(b.params[k]), 1e-14, 1e-15);
  CHECK(opt->state(0, 0).empty());
  CHECK(opt->state_dict().empty());
}

TEST_CASE("special case: AdamW with weight_decay 0 equals Adam, bit for bit") {
  for (bool amsgrad : {false, true}) {
    TanhNet a = TanhNet::random(2), b = TanhNet::random(2);
    auto adam = make("adam", a.params, {.lr = 0.01, .amsgrad = amsgrad});
    auto adamw = make("adamw", b.params, {.lr = 0.01, .weight_decay = 0.0, .amsgrad = amsgrad});
    for (int step = 0; step < 30; ++step) {
      a.train_step(*adam);
      b.train_step(*adamw);
    }
    for (std::size_t k = 0; k < 3; ++k) check_same("param " + std::to_string(k), a.params[k], b.params[k]);
  }
}

TEST_CASE("state_dict: saving mid-trajectory and loading into a fresh optimizer continues identically") {
  for (const auto& [name, config] : full_state_configs()) {
    INFO("optimizer ", name);
    TanhNet a = TanhNet::random(3);
    auto opt_a = make(name, a.params, config);
    for (int step = 0; step < 5; ++step) a.train_step(*opt_a);
    const optim::NamedTensors saved = opt_a->state_dict();
    std::vector<Tensor> saved_params;
    for (const auto& p : a.params) saved_params.push_back(p.clone());
    const std::vector<double> saved_first = values(saved.front().second);
    for (int step = 0; step < 5; ++step) a.train_step(*opt_a);
    check_close("state_dict returns copies", values(saved.front().second), saved_first, 0);

    TanhNet b(a.x, a.target, saved_params);
    auto opt_b = make(name, b.params, config);
    opt_b->load_state_dict(saved);
    const optim::NamedTensors reloaded = opt_b->state_dict();
    REQUIRE(reloaded.size() == saved.size());
    for (std::size_t i = 0; i < saved.size(); ++i) {
      CHECK(reloaded[i].first == saved[i].first);
      CHECK(reloaded[i].second.dtype() == saved[i].second.dtype());
      check_same("round trip of " + saved[i].first, reloaded[i].second, saved[i].second);
    }
    for (int step = 0; step < 5; ++step) b.train_step(*opt_b);
    for (std::size_t k = 0; k < 3; ++k) check_same("param " + std::to_string(k), b.params[k], a.params[k]);
  }
}

TEST_CASE("state_dict: keys name group, parameter and entry, scalars are 0-d int64") {
  TanhNet net = TanhNet::random(4);
  auto opt = optim::make_optimizer("adam", {{.params = {net.params[0]}}, {.params = {net.params[1], net.params[2]}}},
                                   {.amsgrad = true});
  net.train_step(*opt);
  net.train_step(*opt);
  const auto state = opt->state_dict();
  std::vector<std::string> keys;
  for (const auto& [k, v] : state) keys.push_back(k);
  const std::vector<std::string> expected = {
      "group0.param0.step", "group0.param0.exp_avg", "group0.param0.exp_avg_sq", "group0.param0.max_exp_avg_sq",
      "group1.param0.step", "group1.param0.exp_avg", "group1.param0.exp_avg_sq", "group1.param0.max_exp_avg_sq",
      "group1.param1.step", "group1.param1.exp_avg", "group1.param1.exp_avg_sq", "group1.param1.max_exp_avg_sq"};
  CHECK(keys == expected);
  CHECK(state[0].second.dim() == 0);
  CHECK(state[0].second.dtype() == DType::int64);
  CHECK(state[0].second.item() == 2);
  CHECK(state[1].second.shape() == net.params[0].shape());
}

TEST_CASE("param groups: each group steps with its own lr, unset values come from the options") {
  Generator gen(5);
  const TensorOptions f64{.dtype = DType::float64};
  Tensor p0 = randn({4}, f64, &gen), p1 = randn({2, 3}, f64, &gen);
  const std::vector<double> v0 = values(p0), v1 = values(p1);
  optim::SGD opt({{.params = {p0}, .lr = 0.5}, {.params = {p1}}}, {.lr = 0.01, .weight_decay = 0.1});
  CHECK(opt.param_groups()[0].lr == 0.5);
  CHECK(opt.param_groups()[1].lr == 0.01);
  CHECK(opt.param_groups()[0].weight_decay == 0.1);
  Tensor g0 = randn({4}, f64, &gen), g1 = randn({2, 3}, f64, &gen);
  p0.set_grad(g0);
  p1.set_grad(g1);
  opt.step();
  std::vector<double> want0 = v0, want1 = v1;
  for (std::size_t i = 0; i < want0.size(); ++i) want0[i] -= 0.5 * (values(g0)[i] + 0.1 * v0[i]);
  for (std::size_t i = 0; i < want1.size(); ++i) want1[i] -= 0.01 * (values(g1)[i] + 0.1 * v1[i]);
  check_close("group 0", values(p0), want0, 1e-15, 1e-15);
  check_close("group 1", values(p1), want1, 1e-15, 1e-15);

  CHECK(opt.lr() == 0.5);
  opt.scale_lr(0.1);
  CHECK(opt.param_groups()[0].lr == doctest::Approx(0.05));
  CHECK(opt.param_groups()[1].lr == doctest::Approx(0.001));
  opt.set_lr(0.2);
  CHECK(opt.param_groups()[0].lr == 0.2);
  CHECK(opt.param_groups()[1].lr == 0.2);
  CHECK(opt.initial_lrs() == std::vector<double>{0.5, 0.01});
}

TEST_CASE("zero_grad drops every gradient") {
  TanhNet net = TanhNet::random(6);
  auto opt = make("sgd", net.params, {});
  backward(net.loss());
  for (const auto& p : net.params) CHECK(p.grad().defined());
  opt->zero_grad();
  for (const auto& p : net.params) CHECK_FALSE(p.grad().defined());
}

TEST_CASE("parameters without a gradient are skipped and keep no state") {
  for (const auto& [name, config] : full_state_configs()) {
    INFO("optimizer ", name);
    Generator gen(7);
    const TensorOptions f64{.dtype = DType::float64};
    std::vector<Tensor> ps = {randn({3}, f64, &gen), randn({3}, f64, &gen)};
    const std::vector<double> before = values(ps[1]);
    auto opt = make(name, ps, config);
    ps[0].set_grad(randn({3}, f64, &gen));
    opt->step();
    opt->step();
    check_close("untouched", values(ps[1]), before, 0);
    CHECK(opt->state(0, 1).empty());
    CHECK_FALSE(opt->state(0, 0).empty());
    // A later gradient starts that parameter's state at its first step.
    ps[1].set_grad(randn({3}, f64, &gen));
    opt->step();
    if (opt->state(0, 1).has("step")) CHECK(opt->state(0, 1).at("step").item() == 1);
    if (opt->state(0, 0).has("step")) CHECK(opt->state(0, 0).at("step").item() == 3);
  }
}

TEST_CASE("errors: bad hyper-parameters name the option and the value") {
  std::vector<Tensor> ps = {zeros({2}, {.dtype = DType::float64})};
  using optim::make_optimizer;
  check_throws<ValueError>([&] { make("sgd", ps, {.lr = -1.0}); }, "lr must be >= 0, got -1");
  check_throws<ValueError>([&] { make("sgd", ps, {.lr = std::nan("")}); }, "lr must be >= 0");
  check_throws<ValueError>([&] { make("sgd", ps, {.momentum = -0.5}); }, "momentum must be >= 0");
  check_throws<ValueError>([&] { make("sgd", ps, {.nesterov = true}); }, "nesterov requires momentum > 0");
  check_throws<ValueError>([&] { make("sgd", ps, {.momentum = 0.9, .dampening = 0.1, .nesterov = true}); },
                           "dampening 0");
  check_throws<ValueError>([&] { make("adam", ps, {.beta1 = 1.0}); }, "beta1 must be in [0, 1), got 1");
  check_throws<ValueError>([&] { make("adamw", ps, {.beta2 = -0.1}); }, "adamw: beta2 must be in [0, 1)");
  check_throws<ValueError>([&] { make("adam", ps, {.eps = -1e-8}); }, "eps must be >= 0");
  check_throws<ValueError>([&] { make("adam", ps, {.weight_decay = -1.0}); }, "weight_decay must be >= 0");
  check_throws<ValueError>([&] { make("adagrad", ps, {.lr_decay = -1.0}); }, "lr_decay must be >= 0");
  check_throws<ValueError>([&] { make("adagrad", ps, {.initial_accumulator_value = -1.0}); },
                           "initial_accumulator_value must be >= 0");
  check_throws<ValueError>([&] { make("rmsprop", ps, {.alpha = -0.5}); }, "alpha must be >= 0");
  check_throws<ValueError>([&] { make("momentum", ps, {}); },
                           "unknown optimizer 'momentum'; known: sgd, adam, adamw, adagrad, rmsprop");
  check_throws<ValueError>([&] { make("adam", ps, {.momentum = 0.9}); },
                           "adam does not use option 'momentum' (it is used by sgd and rmsprop)");
  check_throws<ValueError>([&] { make("sgd", ps, {.centered = true}); }, "sgd does not use option 'centered'");
  optim::SGD opt(ps);
  check_throws<ValueError>([&] { opt.set_lr(-0.1); }, "set_lr: lr must be >= 0, got -0.1");
}

TEST_CASE("errors: bad parameter groups") {
  Tensor p = zeros({2}, {.dtype = DType::float64});
  check_throws<ValueError>([&] { optim::SGD({{.params = {p}}, {.params = {p}}}); }, "appears more than once");
  check_throws<ValueError>([&] { optim::SGD({{.params = {p}, .names = {"a", "b"}}}); },
                           "names has 2 entries for 1 parameters");
  check_throws<ValueError>([&] { optim::SGD({{.params = {p}, .lr = -1.0}}); }, "param group 0: lr must be >= 0");
  check_throws<ValueError>([&] { optim::Adam({{.params = {p}, .options = {{"lambda", 1e-4}}}}); },
                           "option 'lambda' is not used by adam");
  check_throws<DTypeError>([&] { optim::SGD({zeros({2}, {.dtype = DType::int64})}); }, "dtype int64");
  check_throws<ValueError>([&] { optim::SGD(std::vector<optim::ParamGroup>{}); }, "at least one parameter group");
  check_throws<ValueError>([&] { optim::SGD({Tensor()}); }, "group0.param0 is an undefined tensor");
}

TEST_CASE("group options: typed reads with fallbacks") {
  optim::ParamGroup g{.options = {{"lambda", 1e-4}, {"count", std::int64_t{3}}, {"prox", true},
                                  {"regularizer", std::string("l1")}}};
  CHECK(g.number_option("lambda", 0) == 1e-4);
  CHECK(g.number_option("count", 0) == 3);
  CHECK(g.number_option("missing", 7) == 7);
  CHECK(g.flag_option("prox", false));
  CHECK(g.text_option("regularizer", "") == "l1");
  check_throws<ValueError>([&] { g.flag_option("lambda", false); }, "'lambda' must be a bool");
}

TEST_CASE("errors: load_state_dict rejects bad dicts and leaves the state unchanged") {
  TanhNet net = TanhNet::random(8);
  auto opt = make("adam", net.params, {});
  net.train_step(*opt);
  const auto good = opt->state_dict();
  auto with = [&](const std::function<void(optim::NamedTensors&)>& edit) {
    optim::NamedTensors d = good;
    edit(d);
    return d;
  };
  check_throws<ValueError>([&] { opt->load_state_dict(with([](auto& d) { d[1].first = "exp_avg"; })); },
                           "key 'exp_avg' is not of the form group<g>.param<i>.<entry>");
  check_throws<ValueError>([&] { opt->load_state_dict(with([](auto& d) { d[1].first = "group3.param0.exp_avg"; })); },
                           "names a parameter this optimizer does not have");
  check_throws<ValueError>([&] { opt->load_state_dict(with([](auto& d) { d[1].first = "group0.param0.momentum"; })); },
                           "has no state entry 'momentum'");
  check_throws<ValueError>([&] { opt->load_state_dict(with([](auto& d) { d.erase(d.begin() + 2); })); },
                           "missing 'group0.param0.exp_avg_sq'");
  check_throws<ShapeError>(
      [&] { opt->load_state_dict(with([](auto& d) { d[1].second = zeros({7}, {.dtype = DType::float64}); })); },
      "'group0.param0.exp_avg' has shape [7], expected [5, 3]");
  check_throws<DTypeError>(
      [&] { opt->load_state_dict(with([](auto& d) { d[0].second = zeros({}, {.dtype = DType::float64}); })); },
      "'group0.param0.step' has dtype float64, expected int64");
  check_throws<ValueError>([&] { opt->load_state_dict(with([](auto& d) { d.push_back(d[1]); })); }, "appears twice");
  const auto after = opt->state_dict();
  REQUIRE(after.size() == good.size());
  for (std::size_t i = 0; i < good.size(); ++i) check_same(good[i].first, after[i].second, good[i].second);
  // An empty dict is valid: no parameter has state yet.
  opt->load_state_dict({});
  CHECK(opt->state_dict().empty());
}
