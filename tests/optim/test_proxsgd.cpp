// ProxSGD against a plain double reference loop written here from ALGORITHMS.md §5.2, oracle 14
// (ProxGen = ProxSGD at eps_t = 1, alpha = 1), the box, lr as epsilon0, state and option checks.
#include <cmath>
#include <optional>

#include "optim/optim_helpers.h"
#include "optim/prox_test_util.h"
#include "proxima/optim/prox/proxgen.h"
#include "proxima/optim/prox/proxsgd.h"
#include "proxima/optim/prox/regularizer.h"

using namespace px;
using namespace px::test;
using namespace px::optim::prox;
using Vec = std::vector<double>;

namespace {

struct RefOptions {
  double eps0 = 0.06, eps_decay = 0.5, rho0 = 0.9, rho_decay = 0.5, offset = 4, beta = 0.999, delta = 1e-8;
  std::string reg = "none";  // none | l1 | l0 | l12 | l2 | group (rows)
  double lambda = 0, wd = 0;
  std::optional<double> low, high;
};

ProxSGDOptions options_of(const RefOptions& r) {
  return {.epsilon0 = r.eps0, .epsilon_decay = r.eps_decay, .rho0 = r.rho0, .rho_decay = r.rho_decay,
          .step_offset = r.offset, .beta = r.beta, .delta = r.delta, .regularizer = r.reg, .lambda = r.lambda,
          .weight_decay = r.wd, .clip_low = r.low, .clip_high = r.high};
}

struct RefState {
  Vec v, r;
  int step = 0;
};

// The prox of t * r at z, written out (group: the library's group prox, tested on its own).
void ref_prox(const std::string& reg, Vec& z, const Vec& t, const Shape& shape) {
  if (reg == "group") {
    Tensor zt = from_vector(z, shape), tt = from_vector(t, shape);
    make_regularizer("group", {{"grouping", std::string("rows")}})->prox_(zt, tt);
    z = values(zt);
    return;
  }
  for (std::size_t i = 0; i < z.size(); ++i) {
    const double a = std::fabs(z[i]);
    if (reg == "l1") z[i] = a > t[i] ? std::copysign(a - t[i], z[i]) : 0.0;
    else if (reg == "l0") z[i] = 0.5 * a * a > t[i] ? z[i] : 0.0;
    else if (reg == "l12") z[i] = prox_l12(z[i], t[i]);
    else if (reg == "l2") z[i] = z[i] / (1.0 + t[i]);
  }
}

// One ProxSGD step of one tensor (p, g as doubles).
void ref_step(Vec& p, const Vec& g, RefState& s, const RefOptions& o, const Shape& shape) {
  ++s.step;
  const double t_plus = s.step + o.offset;
  const double eps = o.eps0 / std::pow(t_plus, o.eps_decay), rho = o.rho0 / std::pow(t_plus, o.rho_decay);
  const std::size_t n = p.size();
  Vec z(n), thr(n);
  for (std::size_t i = 0; i < n; ++i) {
    p[i] *= 1 - eps * o.wd;
    s.v[i] = (1 - rho) * s.v[i] + rho * g[i];
    s.r[i] = o.beta * s.r[i] + (1 - o.beta) * g[i] * g[i];
    const double tau = std::sqrt(s.r[i] / (1 - std::pow(o.beta, s.step))) + o.delta;
    z[i] = p[i] - s.v[i] / tau;
    thr[i] = o.lambda / tau;
  }
  if (o.reg != "none" && o.lambda > 0) ref_prox(o.reg, z, thr, shape);
  for (std::size_t i = 0; i < n; ++i) {
    double x_hat = z[i];
    if (o.low) x_hat = std::max(x_hat, *o.low);
    if (o.high) x_hat = std::min(x_hat, *o.high);
    p[i] += eps * (x_hat - p[i]);
  }
}

// 5 steps with random gradients on several shapes; float64 to 1e-12, float32 to 2e-5.
void check_against_reference(const RefOptions& o, std::vector<DType> dtypes) {
  std::vector<Shape> shapes = {{7}, {3, 5}, {4, 3, 2, 2}, {70000}};
  if (o.reg == "group") shapes = {{7, 1}, {3, 5}, {4, 3, 2, 2}, {700, 100}};  // rows need 2 dims
  for (DType dtype : dtypes) {
    INFO("regularizer ", o.reg, " dtype ", dtype_name(dtype));
    Generator gen(99);
    std::vector<Tensor> params;
    std::vector<Vec> ref_p;
    std::vector<RefState> ref_s;
    for (const Shape& s : shapes) {
      params.push_back(ops::to_dtype(randn(s, {.dtype = DType::float64}, &gen), dtype));
      ref_p.push_back(values(params.back()));
      ref_s.push_back({Vec(ref_p.back().size(), 0), Vec(ref_p.back().size(), 0), 0});
    }
    optim::ParamGroup group{.params = params};
    if (o.reg == "group") group.options["grouping"] = std::string("rows");
    ProxSGD opt({group}, options_of(o));
    for (int step = 1; step <= 5; ++step) {
      for (std::size_t k = 0; k < params.size(); ++k) {
        Tensor g = ops::to_dtype(ops::mul(randn(shapes[k], {.dtype = DType::float64}, &gen), 0.5 * step), dtype);
        params[k].set_grad(g);
        ref_step(ref_p[k], values(g), ref_s[k], o, shapes[k]);
      }
      opt.step();
      for (std::size_t k = 0; k < params.size(); ++k) {
        const double tol = dtype == DType::float64 ? 1e-12 : 2e-5;
        check_close(detail::str("shape ", shape_str(shapes[k]), " step ", step), values(params[k]), ref_p[k], tol,
                    tol);
      }
    }
  }
}

std::int64_t count_zeros(const Tensor& t) {
  std::int64_t n = 0;
  for (double x : values(t)) n += x == 0.0;
  return n;
}

}  // namespace

TEST_CASE("proxsgd: equals the reference loop with the released code's defaults and l1") {
  check_against_reference({.reg = "l1", .lambda = 0.3}, {DType::float64, DType::float32});
}

TEST_CASE("proxsgd: equals the reference loop with other schedules, weight decay and a box") {
  RefOptions o{.eps0 = 0.5, .eps_decay = 0.3, .rho0 = 0.7, .rho_decay = 0.2, .offset = 1, .beta = 0.9,
               .delta = 1e-6, .reg = "l1", .lambda = 0.2, .wd = 0.05, .low = -0.8, .high = 1.2};
  check_against_reference(o, {DType::float64, DType::float32});
  o.reg = "none";
  check_against_reference(o, {DType::float64, DType::float32});
  o.low.reset();  // one-sided box
  check_against_reference(o, {DType::float64});
}

TEST_CASE("proxsgd: equals the reference loop with nonconvex, squared l2 and group regularisers") {
  for (const char* reg : {"l0", "l12", "l2", "group"}) {
    RefOptions o{.eps0 = 0.7, .eps_decay = 0.2, .rho0 = 0.8, .rho_decay = 0.3, .beta = 0.95, .reg = reg,
                 .lambda = 0.25, .wd = 0.01, .low = -1.5, .high = 1.5};
    check_against_reference(o, {DType::float64});
  }
  // constant eps_t and rho_t (both decays 0)
  check_against_reference({.eps0 = 0.3, .eps_decay = 0, .rho0 = 0.6, .rho_decay = 0, .reg = "l1", .lambda = 0.1},
                          {DType::float64});
}

TEST_CASE("proxsgd: oracle 14, ProxGen-Adam with alpha 1 and momentum 0 equals ProxSGD with eps_t = 1, v = g") {
  for (const std::string reg : {"none", "l1", "l0", "group"}) {
    INFO("regularizer ", reg);
    const double lambda = reg == "group" ? 3.0 : 0.2;
    Generator gen(5);
    const Shape shape{6, 4, 3};
    Tensor init = randn(shape, {.dtype = DType::float64}, &gen);
    Tensor a = init.clone(), b = init.clone();
    optim::ParamGroup ga{.params = {a}}, gb{.params = {b}};
    if (reg == "group") ga.options["grouping"] = gb.options["grouping"] = std::string("rows");
    ProxGen proxgen({ga}, {.lr = 1, .preconditioner = "adam", .momentum = 0.0, .beta2 = 0.99, .delta = 1e-7,
                           .regularizer = reg, .lambda = lambda, .weight_decay = 0.01});
    ProxSGD proxsgd({gb}, {.epsilon0 = 1, .epsilon_decay = 0, .rho0 = 1, .rho_decay = 0, .beta = 0.99, .delta = 1e-7,
                           .regularizer = reg, .lambda = lambda, .weight_decay = 0.01});
    for (int step = 1; step <= 6; ++step) {
      Tensor g = randn(shape, {.dtype = DType::float64}, &gen);
      a.set_grad(g.clone());
      b.set_grad(g.clone());
      proxgen.step();
      proxsgd.step();
      check_close(detail::str("step ", step), values(b), values(a), 1e-12, 1e-15);
    }
    if (reg != "none") CHECK(count_zeros(a) > 0);
  }
}

TEST_CASE("proxsgd: with eps_t < 1 and l1 the iterate is not exactly 0 where x_hat is (ProxGen §5)") {
  Generator gen(8);
  const Shape shape{500};
  Tensor init = ops::add(rand(shape, {.dtype = DType::float64}, &gen), 0.1);  // every x != 0
  Tensor x_hat = init.clone(), x = init.clone();
  ProxGen exact({x_hat}, {.lr = 1, .momentum = 0.0, .regularizer = "l1", .lambda = 0.5});
  const double eps = 0.4;
  ProxSGD proxsgd({x}, {.epsilon0 = eps, .epsilon_decay = 0, .rho0 = 1, .rho_decay = 0, .regularizer = "l1",
                        .lambda = 0.5});
  Tensor g = randn(shape, {.dtype = DType::float64}, &gen);
  x_hat.set_grad(g.clone());
  x.set_grad(g.clone());
  exact.step();
  proxsgd.step();
  CHECK(count_zeros(x_hat) > 50);
  CHECK(count_zeros(x) == 0);
  const Vec x0 = values(init), xh = values(x_hat);
  Vec want(x0.size());
  for (std::size_t i = 0; i < want.size(); ++i) want[i] = x0[i] + eps * (xh[i] - x0[i]);
  check_close("x = x0 + eps (x_hat - x0)", values(x), want, 1e-12, 1e-15);
}

TEST_CASE("proxsgd: the box X holds after every step") {
  const double low = -0.5, high = 0.7;
  for (double eps0 : {1.0, 0.3}) {
    Generator gen(21);
    const Shape shape{40, 30};
    Tensor x = ops::add(ops::mul(rand(shape, {.dtype = DType::float32}, &gen), high - low), low);
    ProxSGD opt({x}, {.epsilon0 = eps0, .epsilon_decay = 0.1, .regularizer = "l1", .lambda = 0.01,
                      .clip_low = low, .clip_high = high});
    bool reached_bound = false;
    for (int step = 0; step < 10; ++step) {
      x.set_grad(ops::mul(randn(shape, {.dtype = DType::float32}, &gen), 10.0));
      opt.step();
      for (double v : values(x)) {
        REQUIRE(v >= low);
        REQUIRE(v <= high);
        reached_bound = reached_bound || v == low || v == high;
      }
    }
    if (eps0 == 1.0) CHECK(reached_bound);
  }
}

TEST_CASE("proxsgd: a group's lr is its epsilon0, so lr schedules scale eps_t") {
  RefOptions o{.eps0 = 0.8, .eps_decay = 0.5, .reg = "l1", .lambda = 0.1};
  Generator gen(3);
  const Shape shape{50};
  Tensor x = randn(shape, {.dtype = DType::float64}, &gen);
  Vec ref = values(x);
  RefState s{Vec(50, 0), Vec(50, 0), 0};
  ProxSGD opt({x}, options_of(o));
  CHECK(opt.lr() == 0.8);
  for (double lr : {0.8, 0.4, 0.1}) {
    opt.set_lr(lr);
    o.eps0 = lr;
    Tensor g = randn(shape, {.dtype = DType::float64}, &gen);
    x.set_grad(g);
    opt.step();
    ref_step(ref, values(g), s, o, shape);
    check_close(detail::str("lr ", lr), values(x), ref, 1e-12, 1e-15);
  }
  check_value_error([&] { ProxSGD({optim::ParamGroup{.params = {x.clone()}, .lr = 1.5}}); }, "lr");
}

TEST_CASE("proxsgd: state is step, v, r and a state dict resumes the run exactly") {
  Generator gen(4);
  const Shape shape{3, 7};
  Tensor x = randn(shape, {.dtype = DType::float64}, &gen);
  const ProxSGDOptions o{.regularizer = "l1", .lambda = 0.05};
  ProxSGD opt({x}, o);
  for (int i = 0; i < 3; ++i) {
    x.set_grad(randn(shape, {.dtype = DType::float64}, &gen));
    opt.step();
  }
  const auto state = opt.state_dict();
  REQUIRE(state.size() == 3);
  CHECK(state[0].first == "group0.param0.step");
  CHECK(state[1].first == "group0.param0.v");
  CHECK(state[2].first == "group0.param0.r");
  CHECK(state[0].second.to_vector<std::int64_t>()[0] == 3);
  Tensor y = x.clone();
  ProxSGD resumed({y}, o);
  resumed.load_state_dict(state);
  Tensor g = randn(shape, {.dtype = DType::float64}, &gen);
  x.set_grad(g.clone());
  y.set_grad(g.clone());
  opt.step();
  resumed.step();
  check_same("resumed", y, x);
}

TEST_CASE("proxsgd: recorded thresholds are lambda / tau over the regularised groups") {
  Generator gen(6);
  Tensor w = randn({20}, {.dtype = DType::float64}, &gen), b = randn({5}, {.dtype = DType::float64}, &gen);
  const double lambda = 0.3, beta = 0.99, delta = 1e-6;
  ProxSGD opt({optim::ParamGroup{.params = {w}}, optim::ParamGroup{.params = {b}, .options = {{"regularizer", std::string("none")}}}},
              {.beta = beta, .delta = delta, .regularizer = "l1", .lambda = lambda});
  opt.set_record_thresholds(true);
  Tensor g = randn({20}, {.dtype = DType::float64}, &gen);
  w.set_grad(g);
  b.set_grad(randn({5}, {.dtype = DType::float64}, &gen));
  opt.step();
  const ThresholdStats& stats = opt.thresholds();
  CHECK(stats.count == 20);
  double min = INFINITY, max = 0, sum = 0;
  for (double gi : values(g)) {
    const double tau = std::sqrt((1 - beta) * gi * gi / (1 - beta)) + delta;
    min = std::min(min, lambda / tau);
    max = std::max(max, lambda / tau);
    sum += lambda / tau;
  }
  CHECK(stats.min == doctest::Approx(min).epsilon(1e-12));
  CHECK(stats.max == doctest::Approx(max).epsilon(1e-12));
  CHECK(stats.mean() == doctest::Approx(sum / 20).epsilon(1e-12));
}

TEST_CASE("proxsgd: bad options are ValueErrors naming the option") {
  Tensor x = zeros({3});
  auto make = [&](ProxSGDOptions o) { return [=] { ProxSGD({x}, o); }; };
  check_value_error(make({.epsilon0 = 0}), "epsilon0");
  check_value_error(make({.epsilon0 = 1.5}), "epsilon0");
  check_value_error(make({.epsilon_decay = -0.1}), "epsilon_decay");
  check_value_error(make({.rho0 = 0}), "rho0");
  check_value_error(make({.rho0 = 1.1}), "rho0");
  check_value_error(make({.rho_decay = NAN}), "rho_decay");
  check_value_error(make({.step_offset = -1}), "step_offset");
  check_value_error(make({.beta = 1}), "beta");
  check_value_error(make({.delta = 0}), "delta");
  check_value_error(make({.regularizer = "l7"}), "l7");
  check_value_error(make({.lambda = -1}), "lambda");
  check_value_error(make({.weight_decay = -1}), "weight_decay");
  check_value_error(make({.clip_low = 1, .clip_high = 0}), "clip_low");
  check_value_error(make({.clip_high = NAN}), "clip_high");
}
