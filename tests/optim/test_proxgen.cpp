// ProxGen: the optimizer-level oracles of ALGORITHMS.md §11 B (lambda = 0 is Adam/AdamW/AdaGrad/
// RMSprop, the identity preconditioner without momentum is proximal SGD, per-coordinate thresholds,
// zero-history coordinates), a reference loop for every preconditioner and regulariser, group
// lasso, ProxQuant's scalar threshold and clip, freeze, lambda scale, penalty and errors.
#include <cmath>

#include "optim/optim_helpers.h"
#include "proxima/optim/adagrad.h"
#include "proxima/optim/adam.h"
#include "proxima/optim/prox/proxgen.h"
#include "proxima/optim/rmsprop.h"

using namespace px;
using namespace px::test;
using namespace px::optim::prox;
using px::optim::ParamGroup;
using Vec = std::vector<double>;

namespace {

const TensorOptions kF64{.dtype = DType::float64};

// Runs `steps` training steps of the tanh net with each optimizer and compares every parameter.
template <class MakeA, class MakeB>
void check_same_trajectory(const std::string& what, MakeA make_a, MakeB make_b, int steps, double rtol) {
  const TanhNet base = TanhNet::random(7);
  TanhNet a(base.x, base.target, base.params), b(base.x, base.target, base.params);
  auto opt_a = make_a(a.params);
  auto opt_b = make_b(b.params);
  for (int s = 0; s < steps; ++s) {
    a.train_step(*opt_a);
    b.train_step(*opt_b);
  }
  for (std::size_t i = 0; i < a.params.size(); ++i) {
    check_close(what + " param " + std::to_string(i), values(a.params[i]), values(b.params[i]), rtol, 1e-300);
  }
}

// A reference ProxGen step over plain vectors (double), any preconditioner, a scalar prox.
struct RefProxGen {
  Preconditioner pc;
  double lr, lambda, wd;
  bool metric = true;
  Vec m, v;
  int k = 0;
  void step(Vec& p, const Vec& g, const SeparableProx& r) {
    if (m.empty()) m.assign(p.size(), 0), v.assign(p.size(), 0);
    ++k;
    for (std::size_t i = 0; i < p.size(); ++i) {
      p[i] *= 1 - lr * wd;
      m[i] = pc.momentum * m[i] + (1 - pc.momentum) * g[i];
      double d = 1 + pc.delta;
      if (pc.kind == PreconditionerKind::adam) {
        v[i] = pc.beta2 * v[i] + (1 - pc.beta2) * g[i] * g[i];
        d = std::sqrt(v[i]) / std::sqrt(1 - std::pow(pc.beta2, k)) + pc.delta;
      } else if (pc.kind == PreconditionerKind::adagrad) {
        v[i] += g[i] * g[i];
        d = std::sqrt(v[i]) + pc.delta;
      } else if (pc.kind == PreconditionerKind::rmsprop) {
        v[i] = pc.beta2 * v[i] + (1 - pc.beta2) * g[i] * g[i];
        d = std::sqrt(v[i]) + pc.delta;
      }
      const double z = p[i] - lr / (1 - std::pow(pc.momentum, k)) * m[i] / d;
      p[i] = lambda > 0 ? r.apply(z, metric ? lr * lambda / d : lr * lambda) : z;
    }
  }
};

Vec random_vec(std::size_t n, std::uint64_t seed, double scale) {
  Generator gen(seed);
  return values(ops::mul(randn({static_cast<std::int64_t>(n)}, kF64, &gen), scale));
}

SeparableProx scalar_of(const std::string& spec, double lambda) {
  RegularizerParams params;
  if (spec == "mcp" || spec == "scad") params["lambda"] = lambda;
  auto reg = make_regularizer(spec, params);
  return dynamic_cast<const SeparableRegularizer&>(*reg).scalar();
}

// ProxGen on one float64 tensor against RefProxGen, with gradients given step by step.
void check_against_reference(const std::string& precond, const std::string& spec, double lambda, double wd,
                             bool metric, DType dtype) {
  CAPTURE(precond);
  CAPTURE(spec);
  const std::size_t n = 70000;  // above the parallel loop's grain
  Vec p0 = random_vec(n, 1, 0.3);
  Tensor param = ops::to_dtype(from_vector(p0, {70, 1000}), dtype);
  ProxGenOptions o{.lr = 0.01, .preconditioner = precond, .regularizer = spec, .lambda = lambda,
                   .weight_decay = wd, .metric_prox = metric};
  ProxGen opt({param}, o);
  RefProxGen ref{opt.preconditioner(), o.lr, lambda, wd, metric};
  Vec p = values(param);
  const SeparableProx r = scalar_of(spec, lambda);
  for (int s = 0; s < 5; ++s) {
    Vec g = random_vec(n, 100 + static_cast<std::uint64_t>(s), 1.0);
    for (std::size_t i = 0; i < n; i += 97) g[i] = 0;  // some coordinates with a zero gradient history
    param.set_grad(ops::to_dtype(from_vector(g, {70, 1000}), dtype));
    opt.step();
    ref.step(p, g, r);
  }
  if (dtype == DType::float64) {
    check_close("proxgen vs reference", values(param), p, 1e-12, 1e-14);
  } else {  // float32: agree except near thresholds, where rounding may flip a coordinate
    const Vec got = values(param);
    std::size_t far = 0;
    for (std::size_t i = 0; i < n; ++i) far += std::abs(got[i] - p[i]) > 1e-4 * (1 + std::abs(p[i]));
    CHECK(far <= n / 1000);
  }
}

}  // namespace

TEST_CASE("proxgen with lambda = 0 is Adam, and AdamW with decoupled weight decay, to 1e-12") {
  check_same_trajectory(
      "adam", [](auto& p) { return std::make_unique<optim::Adam>(p); },
      [](auto& p) { return std::make_unique<ProxGen>(p, ProxGenOptions{.regularizer = "l1", .lambda = 0}); }, 100,
      1e-12);
  check_same_trajectory(
      "adamw", [](auto& p) { return std::make_unique<optim::AdamW>(p, optim::AdamWOptions{.weight_decay = 0.05}); },
      [](auto& p) { return std::make_unique<ProxGen>(p, ProxGenOptions{.weight_decay = 0.05}); }, 100, 1e-12);
}

TEST_CASE("proxgen adagrad and rmsprop without momentum and lambda are AdaGrad and RMSprop") {
  check_same_trajectory(
      "adagrad", [](auto& p) { return std::make_unique<optim::Adagrad>(p, optim::AdagradOptions{.lr = 0.05}); },
      [](auto& p) { return std::make_unique<ProxGen>(p, ProxGenOptions{.lr = 0.05, .preconditioner = "adagrad"}); },
      50, 1e-12);
  check_same_trajectory(
      "rmsprop", [](auto& p) { return std::make_unique<optim::RMSprop>(p, optim::RmspropOptions{.lr = 0.01}); },
      [](auto& p) { return std::make_unique<ProxGen>(p, ProxGenOptions{.lr = 0.01, .preconditioner = "rmsprop"}); },
      50, 1e-12);
}

TEST_CASE("proxgen with the identity preconditioner and no momentum is proximal SGD") {
  for (const std::string spec : {"l1", "l0", "l12", "l23"}) {
    CAPTURE(spec);
    const TanhNet base = TanhNet::random(3);
    TanhNet net(base.x, base.target, base.params);
    const double lr = 0.1, lambda = 0.05;
    ProxGen opt({ParamGroup{.params = {net.params[0], net.params[2]}, .options = {{"regularizer", spec}}},
                 ParamGroup{.params = {net.params[1]}}},
                ProxGenOptions{.lr = lr, .preconditioner = "none", .momentum = 0.0, .delta = 0.0, .lambda = lambda});
    const SeparableProx r = scalar_of(spec, lambda);
    for (int s = 0; s < 20; ++s) {
      opt.zero_grad();
      backward(net.loss());
      std::vector<Vec> want;
      for (std::size_t i = 0; i < 3; ++i) {
        Vec p = values(net.params[i]);
        const Vec g = values(net.params[i].grad());
        for (std::size_t j = 0; j < p.size(); ++j) {
          const double z = p[j] - lr * g[j];
          p[j] = i == 1 ? z : r.apply(z, lr * lambda);
        }
        want.push_back(p);
      }
      opt.step();
      for (std::size_t i = 0; i < 3; ++i) check_close("step " + std::to_string(s), values(net.params[i]), want[i], 1e-14, 1e-16);
    }
  }
}

TEST_CASE("proxgen equals a reference loop for every preconditioner and regulariser, float64") {
  for (const char* precond : {"none", "adam", "adagrad", "rmsprop"}) {
    for (const char* spec : {"l1", "l0", "l12", "l23", "lq:0.3", "mcp", "scad", "bin-l1", "bin-l12", "l2"}) {
      check_against_reference(precond, spec, 1e-2, 0.0, true, DType::float64);
    }
  }
  check_against_reference("adam", "l1", 1e-2, 0.1, true, DType::float64);      // with decoupled decay
  check_against_reference("adam", "bin-l1", 1e-2, 0.0, false, DType::float64);  // ProxQuant's scalar t
}

TEST_CASE("proxgen float32 follows the float64 reference") {
  for (const char* spec : {"l1", "l0", "l12", "l23", "l2"}) check_against_reference("adam", spec, 1e-2, 0.0, true, DType::float32);
}

TEST_CASE("proxgen zero-history coordinates get t = lr lambda / delta and delta moves pruning as predicted") {
  // Coordinate 0 never sees a gradient (d = delta), coordinate 1 does. l0 keeps x iff x^2 > 2 t.
  for (double delta : {1e-8, 1e-3, 1e-1}) {
    CAPTURE(delta);
    const double lr = 1e-3, lambda = 1e-4, x0 = 0.3;
    Tensor p = from_vector(Vec{x0, x0}, {2});
    ProxGen opt({p}, ProxGenOptions{.lr = lr, .delta = delta, .regularizer = "l0", .lambda = lambda});
    opt.set_record_thresholds(true);
    p.set_grad(from_vector(Vec{0.0, 1.0}, {2}));
    opt.step();
    const double t0 = lr * lambda / delta;
    CHECK(opt.thresholds().count == 2);
    CHECK(opt.thresholds().max == doctest::Approx(t0).epsilon(1e-12));
    const bool kept = x0 * x0 > 2 * t0;
    CHECK((values(p)[0] != 0) == kept);
    CHECK(values(p)[0] == (kept ? x0 : 0.0));
  }
}

TEST_CASE("proxgen threshold record: count, bounds and decade histogram") {
  Tensor p = from_vector(Vec{1, 1, 1, 1}, {4});
  ProxGen opt({p}, ProxGenOptions{.lr = 0.1, .regularizer = "l1", .lambda = 1e-3});
  p.set_grad(from_vector(Vec{0, 1, 10, 100}, {4}));
  opt.step();
  CHECK(opt.thresholds().count == 0);  // not recording
  opt.set_record_thresholds(true);
  opt.step();
  const ThresholdStats& t = opt.thresholds();
  CHECK(t.count == 4);
  std::int64_t total = 0;
  for (auto c : t.decades) total += c;
  CHECK(total == 4);
  CHECK(t.min <= t.mean());
  CHECK(t.mean() <= t.max);
  CHECK(ThresholdStats::bin_label(0) == "<1e-11");
  CHECK(ThresholdStats::bin_label(ThresholdStats::kBins - 1) == ">=1e4");
}

TEST_CASE("proxgen group lasso uses the exact metric prox of each group") {
  Generator gen(5);
  Tensor w = randn({6, 4}, kF64, &gen);
  Tensor grad = randn({6, 4}, kF64, &gen);
  const Tensor w0 = w.clone();
  const double lr = 0.1, lambda = 20.0;
  ProxGen opt({ParamGroup{.params = {w}, .options = {{"regularizer", std::string("group")}, {"grouping", std::string("rows")}}}},
              ProxGenOptions{.lr = lr, .preconditioner = "adagrad", .lambda = lambda});
  w.set_grad(grad);
  opt.step();
  // Reference: the gradient step, then group_prox_ with the per-coordinate thresholds.
  Vec z = values(w0), g = values(grad), t(z.size());
  for (std::size_t i = 0; i < z.size(); ++i) {
    const double d = std::abs(g[i]) + 1e-10;
    z[i] -= lr * g[i] / d;
    t[i] = lr * lambda / d;
  }
  Tensor zt = from_vector(z, {6, 4}), tt = from_vector(t, {6, 4});
  group_prox_(zt, &tt, 0, Grouping::rows);
  check_close("group lasso", values(w), values(zt), 1e-12, 1e-15);
  std::int64_t zero_rows = 0;
  const Vec got = values(w);
  for (int r = 0; r < 6; ++r) zero_rows += got[r * 4] == 0 && got[r * 4 + 1] == 0 && got[r * 4 + 2] == 0 && got[r * 4 + 3] == 0;
  CHECK(zero_rows > 0);  // lambda chosen so that some rows vanish ...
  CHECK(zero_rows < 6);  // ... and some survive
}

TEST_CASE("proxquant: one scalar threshold, clip to [-1, 1], revised equals original when every d = 1") {
  Generator gen(9);
  Tensor a = ops::mul(randn({50}, kF64, &gen), 1.5);
  Tensor b = a.clone();
  Tensor grad = randn({50}, kF64, &gen);
  auto common = ProxGenOptions{.lr = 0.05, .preconditioner = "none", .momentum = 0.0, .delta = 0.0,
                               .regularizer = "bin-l1", .lambda = 2.0, .clip = 1.0};
  ProxGen revised({a}, common);
  common.metric_prox = false;
  ProxGen original({b}, common);
  CHECK(original.name() == "proxquant");
  for (int s = 0; s < 3; ++s) {
    a.set_grad(grad);
    b.set_grad(grad);
    revised.step();
    original.step();
  }
  check_close("revised vs original at d = 1", values(a), values(b), 0, 0);
  for (double x : values(b)) CHECK(std::abs(x) <= 1.0);
}

TEST_CASE("proxgen freeze: regularised tensors become signs and stop, the others keep training") {
  Tensor w = from_vector(Vec{0.5, -0.2, 0.0, 2.0}, {2, 2});
  Tensor bias = from_vector(Vec{0.1, 0.2}, {2});
  ProxGen opt({ParamGroup{.params = {w}, .options = {{"regularizer", std::string("bin-l1")}}},
               ParamGroup{.params = {bias}}},
              ProxGenOptions{.lr = 0.1, .lambda = 1e-3});
  opt.freeze_regularized();
  CHECK(opt.frozen());
  CHECK(values(w) == Vec{1, -1, 1, 1});
  w.set_grad(from_vector(Vec{1, 1, 1, 1}, {2, 2}));
  bias.set_grad(from_vector(Vec{1, 1}, {2}));
  opt.step();
  CHECK(values(w) == Vec{1, -1, 1, 1});
  CHECK(values(bias)[0] < 0.1);
  ProxGen l1({w}, ProxGenOptions{.regularizer = "l1", .lambda = 1e-3});
  CHECK_THROWS_WITH_AS(l1.freeze_regularized(), doctest::Contains("binary regulariser"), ValueError);
  // ProxQuant's code (binary_zero keep_zero) and the literal mode: sgn(0) = 0, an exact zero stays 0.
  for (const char* mode : {"keep_zero", "literal"}) {
    Tensor z = from_vector(Vec{0.5, -0.2, 0.0, -0.0}, {2, 2});
    ProxGen keep({ParamGroup{.params = {z}, .options = {{"regularizer", std::string("bin-l1")},
                                                         {"binary_zero", std::string(mode)}}}},
                 ProxGenOptions{.lr = 0.1, .lambda = 1e-3});
    keep.freeze_regularized();
    CHECK(values(z) == Vec{1, -1, 0, 0});
  }
}

TEST_CASE("proxgen lambda scale: 0 switches the prox off, MCP follows the effective lambda, penalty is lambda R") {
  Tensor p = from_vector(Vec{0.001, -0.5, 0.02, 3.0}, {4});
  ProxGen opt({p}, ProxGenOptions{.lr = 0.1, .preconditioner = "none", .momentum = 0.0, .regularizer = "l1", .lambda = 0.5});
  CHECK(opt.penalty() == doctest::Approx(0.5 * (0.001 + 0.5 + 0.02 + 3.0)));
  opt.set_lambda_scale(0);
  CHECK_FALSE(opt.regularized(0));
  CHECK(opt.penalty() == 0.0);
  p.set_grad(zeros({4}, kF64));
  opt.step();
  CHECK(values(p) == Vec{0.001, -0.5, 0.02, 3.0});
  opt.set_lambda_scale(2);
  CHECK(opt.lambda(0) == 1.0);
  opt.step();
  CHECK(values(p) == Vec{0, -0.4, 0, 2.9});  // soft threshold at lr * lambda = 0.1

  Tensor q = from_vector(Vec{0.5}, {1});
  ProxGen mcp({q}, ProxGenOptions{.regularizer = "mcp", .lambda = 0.2});
  CHECK(mcp.separable(0)->lambda == 0.2);
  mcp.set_lambda_scale(3);
  CHECK(mcp.separable(0)->lambda == doctest::Approx(0.6));
  CHECK(mcp.penalty() == doctest::Approx(0.6 * 0.5 - 0.25 / 6));  // MCP_{0.6,3}(0.5) = lambda|x| - x^2/(2 gamma)
  CHECK_THROWS_AS(opt.set_lambda_scale(-1), ValueError);
}

TEST_CASE("proxgen state dict round trip continues identically") {
  const TanhNet base = TanhNet::random(11);
  TanhNet a(base.x, base.target, base.params), b(base.x, base.target, base.params);
  const ProxGenOptions o{.lr = 0.01, .regularizer = "l12", .lambda = 1e-3};
  ProxGen opt_a(a.params, o), opt_b(b.params, o);
  for (int s = 0; s < 5; ++s) a.train_step(opt_a), b.train_step(opt_b);
  ProxGen reloaded(b.params, o);
  reloaded.load_state_dict(opt_b.state_dict());
  for (int s = 0; s < 5; ++s) a.train_step(opt_a), b.train_step(reloaded);
  for (std::size_t i = 0; i < 3; ++i) check_same("param", a.params[i], b.params[i]);
}

TEST_CASE("proxgen errors name the option, the group and the spec") {
  Tensor p = zeros({3}, kF64);
  CHECK_THROWS_WITH_AS(ProxGen({p}, ProxGenOptions{.preconditioner = "lbfgs"}), doctest::Contains("lbfgs"), ValueError);
  CHECK_THROWS_WITH_AS(ProxGen({p}, ProxGenOptions{.delta = 0.0}), doctest::Contains("delta"), ValueError);
  CHECK_THROWS_WITH_AS(ProxGen({p}, ProxGenOptions{.momentum = 1.0}), doctest::Contains("momentum"), ValueError);
  CHECK_THROWS_WITH_AS(ProxGen({p}, ProxGenOptions{.lambda = -1}), doctest::Contains("lambda"), ValueError);
  CHECK_THROWS_WITH_AS(ProxGen({ParamGroup{.params = {p}, .options = {{"regularizer", std::string("l7")}}}}),
                       doctest::Contains("param group 0"), ValueError);
  CHECK_THROWS_WITH_AS(ProxGen({ParamGroup{.params = {p}, .options = {{"regularizer", std::string("l1")}, {"gamma", 3.0}}}}),
                       doctest::Contains("gamma"), ValueError);
  CHECK_THROWS_WITH_AS(ProxGen({ParamGroup{.params = {p}, .options = {{"lamda", 3.0}}}}), doctest::Contains("lamda"),
                       ValueError);
}
