// SubgradientOptimizer (subgrad-adam / subgrad-sgd) against reference AdamW / SGD loops run on a
// gradient augmented by a reference subgradient written here from the penalties' formulas; the
// lambda = 0 identity with AdamW / SGD; no exact zeros where ProxGen makes them; rejected specs.
#include <cmath>
#include <functional>
#include <limits>

#include "optim/optim_helpers.h"
#include "optim/prox_test_util.h"
#include "proxima/optim/adam.h"
#include "proxima/optim/prox/proxgen.h"
#include "proxima/optim/prox/subgradient.h"
#include "proxima/optim/sgd.h"

using namespace px;
using namespace px::test;
using Vec = std::vector<double>;
using px::optim::prox::SubgradientOptimizer;
using px::optim::prox::SubgradientOptions;

namespace {

double sgn(double x) { return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0); }

// d/dx (|x| + s)^q for x != 0, 0 at 0.
double power_d(double x, double q, double s) { return x == 0 ? 0.0 : sgn(x) * q * std::pow(std::fabs(x) + s, q - 1); }

// The reference subgradient of R over a whole tensor (values x of shape `shape`).
using RefSub = std::function<Vec(const Vec& x, const Shape& shape)>;

RefSub separable(std::function<double(double)> d) {
  return [d](const Vec& x, const Shape&) {
    Vec out(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) out[i] = d(x[i]);
    return out;
  };
}

// Group lasso: theta_g / ||theta_g||, blocks of `block(shape)` consecutive values.
RefSub group_lasso(std::function<std::size_t(const Shape&)> block) {
  return [block](const Vec& x, const Shape& shape) {
    const std::size_t n = block(shape);
    Vec out(x.size(), 0.0);
    for (std::size_t b = 0; b < x.size(); b += n) {
      double sq = 0;
      for (std::size_t i = b; i < b + n; ++i) sq += x[i] * x[i];
      if (sq > 0)
        for (std::size_t i = b; i < b + n; ++i) out[i] = x[i] / std::sqrt(sq);
    }
    return out;
  };
}

struct SpecCase {
  std::string spec;
  std::map<std::string, optim::GroupOption> extra;
  RefSub sub;
  double smoothing = 1e-6;
};

// lambda 0.5 for MCP / SCAD puts randn values in all three of their regions.
std::vector<SpecCase> spec_cases(double lam) {
  const double s = 1e-6;
  const double gamma = 3, a = 3.7;
  auto mcp = [=](double x) {  // (lam - |x| / gamma) sgn x inside gamma lam, 0 outside; over lam
    return std::fabs(x) <= gamma * lam ? sgn(x) * (lam - std::fabs(x) / gamma) / lam : 0.0;
  };
  auto scad = [=](double x) {
    const double ax = std::fabs(x);
    if (ax <= lam) return sgn(x);
    return ax <= a * lam ? sgn(x) * (a * lam - ax) / ((a - 1) * lam) : 0.0;
  };
  auto binary = [=](double q, double smooth) {  // sgn(x) d/dd (|d| + s)^q at d = |x| - 1, sgn(0) = +1
    return [=](double x) { return (x < 0 ? -1.0 : 1.0) * power_d(std::fabs(x) - 1, q, smooth); };
  };
  return {
      {"l1", {}, separable([](double x) { return sgn(x); })},
      {"l12", {}, separable([=](double x) { return power_d(x, 0.5, s); })},
      {"l12", {}, separable([=](double x) { return power_d(x, 0.5, 0.0); }), 0.0},  // raw subgradient
      {"l23", {}, separable([=](double x) { return power_d(x, 2.0 / 3.0, 1e-2); }), 1e-2},
      {"lq:0.3", {}, separable([=](double x) { return power_d(x, 0.3, s); })},
      {"l2", {}, separable([](double x) { return x; })},
      {"mcp", {}, separable(mcp)},
      {"scad", {}, separable(scad)},
      {"bin-l1", {}, separable(binary(1.0, 0.0))},
      {"bin-l12", {}, separable(binary(0.5, s))},
      {"bin-l23", {}, separable(binary(2.0 / 3.0, 1e-3)), 1e-3},
      {"group", {{"grouping", std::string("whole")}}, group_lasso([](const Shape& sh) {
         return static_cast<std::size_t>(shape_numel(sh));
       })},
      {"group", {{"grouping", std::string("rows")}}, group_lasso([](const Shape& sh) {
         return static_cast<std::size_t>(shape_numel(sh) / sh[0]);
       })},
  };
}

struct Ref {
  Vec p, m, v;
  int step = 0;
};

void ref_adamw(Ref& r, const Vec& g, double lr, double b1, double b2, double eps, double wd) {
  ++r.step;
  for (std::size_t i = 0; i < r.p.size(); ++i) {
    r.p[i] *= 1 - lr * wd;
    r.m[i] = b1 * r.m[i] + (1 - b1) * g[i];
    r.v[i] = b2 * r.v[i] + (1 - b2) * g[i] * g[i];
    const double m_hat = r.m[i] / (1 - std::pow(b1, r.step));
    r.p[i] -= lr * m_hat / (std::sqrt(r.v[i] / (1 - std::pow(b2, r.step))) + eps);
  }
}

void ref_sgd(Ref& r, const Vec& g0, double lr, double momentum, bool nesterov, double wd) {
  ++r.step;
  for (std::size_t i = 0; i < r.p.size(); ++i) {
    double d = g0[i] + wd * r.p[i];
    if (momentum != 0) {
      r.m[i] = r.step == 1 ? d : momentum * r.m[i] + d;
      d = nesterov ? d + momentum * r.m[i] : r.m[i];
    }
    r.p[i] -= lr * d;
  }
}

// Group 0: regularised tensors of several shapes (spec, lambda); group 1: an unregularised bias.
// 4 steps with random gradients against the reference on g + lambda dR (group 0) and g (group 1).
void check_case(const SpecCase& c, const SubgradientOptions& o, DType dtype) {
  const double lam = 0.5;
  const std::vector<Shape> shapes = {{3, 5}, {2, 3, 2, 2}, {4, 5000}, {4}};
  Generator gen(77);
  std::vector<Tensor> params;
  std::vector<Ref> refs;
  for (const Shape& s : shapes) {
    params.push_back(ops::to_dtype(randn(s, {.dtype = DType::float64}, &gen), dtype));
    const Vec p0 = values(params.back());
    refs.push_back({p0, Vec(p0.size(), 0), Vec(p0.size(), 0), 0});
  }
  std::map<std::string, optim::GroupOption> options = c.extra;
  options["regularizer"] = c.spec;
  options["lambda"] = lam;
  std::vector<optim::ParamGroup> groups = {{.params = {params[0], params[1], params[2]}, .options = options},
                                           {.params = {params[3]}}};
  SubgradientOptions opts = o;
  opts.smoothing = c.smoothing;
  SubgradientOptimizer opt(groups, opts);
  for (int step = 1; step <= 4; ++step) {
    for (std::size_t k = 0; k < params.size(); ++k) {
      Tensor g = ops::to_dtype(randn(shapes[k], {.dtype = DType::float64}, &gen), dtype);
      params[k].set_grad(g);
      Vec ga = values(g);
      if (k < 3) {
        const Vec d = c.sub(refs[k].p, shapes[k]);
        for (std::size_t i = 0; i < ga.size(); ++i) ga[i] += lam * d[i];
      }
      if (o.inner == "adam") ref_adamw(refs[k], ga, o.lr, o.beta1, o.beta2, o.eps, o.weight_decay);
      else ref_sgd(refs[k], ga, o.lr, o.momentum, o.nesterov, o.weight_decay);
    }
    opt.step();
    for (std::size_t k = 0; k < params.size(); ++k) {
      // SGD steps are not normalised: a coordinate landing within ~1e-8 of 0 (after a cancelling
      // update) gets a subgradient ~|x|^(q-1) whose rounding error the next step carries unscaled.
      const bool f64 = dtype == DType::float64, sgd = o.inner == "sgd";
      check_close(detail::str(opt.name(), " ", c.spec, " smoothing ", c.smoothing, " ", dtype_name(dtype), " shape ",
                              shape_str(shapes[k]), " step ", step),
                  values(params[k]), refs[k].p, f64 ? (sgd ? 1e-10 : 1e-12) : 2e-5, f64 ? (sgd ? 1e-10 : 1e-14) : 2e-5);
    }
  }
}

}  // namespace

TEST_CASE("subgradient: subgrad-adam is AdamW on g + lambda dR (every regulariser, both dtypes)") {
  const SubgradientOptions o{.inner = "adam", .lr = 0.01, .beta1 = 0.8, .beta2 = 0.95, .eps = 1e-6,
                             .weight_decay = 0.1};
  for (const SpecCase& c : spec_cases(0.5))
    for (DType dtype : {DType::float64, DType::float32}) check_case(c, o, dtype);
}

TEST_CASE("subgradient: subgrad-sgd is SGD (momentum, nesterov, coupled decay) on g + lambda dR") {
  for (bool nesterov : {false, true}) {
    const SubgradientOptions o{.inner = "sgd", .lr = 0.02, .momentum = 0.9, .nesterov = nesterov,
                               .weight_decay = 0.01};
    for (const SpecCase& c : spec_cases(0.5)) check_case(c, o, DType::float64);
  }
  const SubgradientOptions plain{.inner = "sgd", .lr = 0.05, .momentum = 0};
  check_case(spec_cases(0.5)[0], plain, DType::float64);
}

TEST_CASE("subgradient: lambda 0 is exactly AdamW / SGD") {
  for (const std::string spec : {"none", "l1", "l12"}) {
    TanhNet a = TanhNet::random(5), b = TanhNet::random(5), c = TanhNet::random(5), d = TanhNet::random(5);
    SubgradientOptimizer sub_adam({{.params = a.params}},
                                  {.inner = "adam", .lr = 0.01, .weight_decay = 0.2, .regularizer = spec,
                                   .lambda = 0.0});
    optim::AdamW adamw(b.params, {.lr = 0.01, .weight_decay = 0.2});
    SubgradientOptimizer sub_sgd({{.params = c.params}}, {.inner = "sgd", .lr = 0.05, .momentum = 0.9,
                                                          .nesterov = true, .weight_decay = 0.01, .regularizer = spec,
                                                          .lambda = 0.0});
    optim::SGD sgd(d.params, {.lr = 0.05, .momentum = 0.9, .nesterov = true, .weight_decay = 0.01});
    for (int step = 0; step < 10; ++step) {
      a.train_step(sub_adam);
      b.train_step(adamw);
      c.train_step(sub_sgd);
      d.train_step(sgd);
    }
    for (std::size_t k = 0; k < 3; ++k) {
      check_same("subgrad-adam vs adamw, " + spec, a.params[k], b.params[k]);
      check_same("subgrad-sgd vs sgd, " + spec, c.params[k], d.params[k]);
    }
    // The same state entries as AdamW / SGD.
    const auto sa = sub_adam.state_dict(), sb = adamw.state_dict();
    REQUIRE(sa.size() == sb.size());
    for (std::size_t i = 0; i < sa.size(); ++i) CHECK(sa[i].first == sb[i].first);
    CHECK(sub_sgd.state_dict().size() == sgd.state_dict().size());
  }
}

TEST_CASE("subgradient: no exact zeros on a lasso problem where ProxGen-l1 makes them (oracle 15)") {
  Generator gen(2024);
  const TensorOptions f64{.dtype = DType::float64};
  const std::int64_t n = 64, dim = 20;
  Tensor x = randn({n, dim}, f64, &gen);
  Vec truth(dim, 0.0);
  for (std::int64_t j : {1, 6, 11, 17}) truth[static_cast<std::size_t>(j)] = (j % 2 ? 2.0 : -1.5);
  Tensor w_true = from_vector(truth, {1, dim});
  Tensor y = ops::add(linear(x, w_true), ops::mul(randn({n, 1}, f64, &gen), 0.01));
  Tensor w0 = ops::mul(randn({1, dim}, f64, &gen), 0.5);
  Tensor w_prox = w0.clone().set_requires_grad(true), w_sub = w0.clone().set_requires_grad(true);
  const double lam = 0.05;
  optim::prox::ProxGen proxgen({w_prox}, {.lr = 0.01, .regularizer = "l1", .lambda = lam});
  SubgradientOptimizer sub({w_sub}, {.inner = "adam", .lr = 0.01, .regularizer = "l1", .lambda = lam});
  for (int step = 0; step < 1500; ++step)
    for (auto [w, opt] : {std::pair<Tensor, optim::Optimizer*>{w_prox, &proxgen}, {w_sub, &sub}}) {
      opt->zero_grad();
      backward(mse_loss(linear(x, w), y));
      opt->step();
    }
  const Vec wp = values(w_prox), ws = values(w_sub);
  int prox_zeros = 0, sub_zeros = 0, sub_small = 0;
  for (std::size_t j = 0; j < truth.size(); ++j) {
    INFO("coordinate ", j, ": truth ", truth[j], ", proxgen ", wp[j], ", subgrad-adam ", ws[j]);
    prox_zeros += wp[j] == 0.0;
    sub_zeros += ws[j] == 0.0;
    if (truth[j] != 0) {  // both keep the support
      CHECK(wp[j] != 0.0);
      CHECK(std::fabs(ws[j] - truth[j]) < 0.2);
    } else {
      sub_small += std::fabs(ws[j]) < 0.05;
    }
  }
  CHECK(prox_zeros >= 12);   // most of the 16 off-support coordinates are exactly 0
  CHECK(sub_zeros == 0);     // the subgradient baseline hovers around 0 without reaching it
  CHECK(sub_small >= 12);    // ... but close to it (thresholded sparsity, convention 7)
}

TEST_CASE("subgradient: l0 and bin-l0 are rejected naming the group and the spec, and bad options") {
  Tensor a = zeros({3, 3}, {.dtype = DType::float64}), b = zeros({3}, {.dtype = DType::float64});
  for (const std::string spec : {"l0", "bin-l0"}) {
    check_throws<ValueError>(
        [&] {
          SubgradientOptimizer({{.params = {b}}, {.params = {a}, .options = {{"regularizer", spec}}}}, {.lambda = 0.1});
        },
        {"subgrad-adam", "param group 1", "\"" + spec + "\"", "subgradient"});
  }
  check_throws<ValueError>([&] { SubgradientOptimizer({a}, {.regularizer = "l0", .lambda = 0.0}); }, {"param group 0", "\"l0\""});
  check_throws<ValueError>([&] { SubgradientOptimizer({a}, {.inner = "rmsprop"}); }, {"inner", "rmsprop"});
  check_throws<ValueError>([&] { SubgradientOptimizer({a}, {.smoothing = -1}); }, {"smoothing", "-1"});
  check_throws<ValueError>([&] { SubgradientOptimizer({a}, {.inner = "sgd", .momentum = 0, .nesterov = true}); },
                           {"subgrad-sgd", "nesterov"});
  // A regulariser without a lambda is an error, not a silently unregularised run; 0 when given is fine.
  check_throws<ValueError>([&] { SubgradientOptimizer({a}, {.regularizer = "l1"}); },
                           {"subgrad-adam", "param group 0", "'l1'", "no lambda", "SubgradientOptions::lambda"});
  check_throws<ValueError>(
      [&] { SubgradientOptimizer({{.params = {b}}, {.params = {a}, .options = {{"regularizer", "l12"}}}}); },
      {"param group 1", "'l12'", "no lambda"});
  CHECK_NOTHROW(SubgradientOptimizer({a}, {.regularizer = "l1", .lambda = 0.0}));
  CHECK_NOTHROW(SubgradientOptimizer({{.params = {a}, .options = {{"regularizer", "l1"}, {"lambda", 0.1}}}}));
  CHECK(SubgradientOptimizer({a}, {.inner = "sgd"}).name() == "subgrad-sgd");
  CHECK(SubgradientOptimizer({a}).name() == "subgrad-adam");
}

// The CPU loop adds lambda dR per block with branch-free forms for l1, l2, l12 and l23 (a sqrt
// and Newton steps on y^(-1/3) instead of pow); lanes the l23 form does not cover (double
// denormals, infinities, NaN) go back to the pow form. One plain SGD step (lr 1, no momentum)
// exposes g + lambda dR exactly: p' = p - (g + lambda dR(p)).
TEST_CASE("subgradient: the CPU block forms of dR agree with the pow forms, extreme inputs included") {
  const std::vector<double> xs = {0.0, -0.0, 1e-310, -4e-320, 1e-300, 3e-7, -0.25, 1.0, -7.5, 1e250, -1e300,
                                  1e305, std::numeric_limits<double>::infinity(),
                                  -std::numeric_limits<double>::infinity(), std::nan("")};
  for (const double s : {0.0, 1e-6}) {
    for (const std::string spec : {"l1", "l2", "l12", "l23"}) {
      for (const DType dtype : {DType::float64, DType::float32}) {
        std::vector<double> values;  // the inputs, then 600 random ones (several blocks, a partial last one)
        for (int rep = 0; rep < 3; ++rep) values.insert(values.end(), xs.begin(), xs.end());
        Generator gen(7);
        const Vec r = randn({600}, {.dtype = DType::float64}, &gen).to_vector<double>();
        for (double v : r) values.push_back(v * 3.0);
        const std::int64_t n = static_cast<std::int64_t>(values.size());
        Tensor p = ops::to_dtype(from_vector(values, {n}), dtype).set_requires_grad(true);
        Tensor p_before = p.clone();
        const Tensor g = ops::to_dtype(ops::mul(px::ones({n}, {.dtype = DType::float64}), 0.125), dtype);
        p.set_grad(g);
        const double lam = 0.01;
        SubgradientOptimizer opt({p}, {.inner = "sgd", .lr = 1.0, .momentum = 0.0, .regularizer = spec,
                                       .lambda = lam, .smoothing = s});
        opt.step();
        using optim::prox::SeparableKind;
        optim::prox::SeparableProx reg;
        reg.kind = spec == "l1" ? SeparableKind::l1 : spec == "l2" ? SeparableKind::l2
                 : spec == "l12" ? SeparableKind::l12 : SeparableKind::l23;
        const Vec got = ops::to_dtype(p, DType::float64).to_vector<double>();
        const Vec before = ops::to_dtype(p_before, DType::float64).to_vector<double>();
        int bad = 0;
        for (std::int64_t i = 0; i < n; ++i) {
          const double x = before[static_cast<std::size_t>(i)];
          double expect_aug = 0.125 + lam * optim::prox::smoothed_subgradient(reg, x, s);
          double expect = x - expect_aug;
          if (dtype == DType::float32) expect = double(float(x) - (0.125f + float(lam * optim::prox::smoothed_subgradient(reg, x, s))));
          const double have = got[static_cast<std::size_t>(i)];
          const bool same = (std::isnan(expect) && std::isnan(have)) || expect == have ||
                            std::fabs(have - expect) <= 2e-15 * std::fabs(expect);
          if (!same && ++bad <= 3)
            MESSAGE(spec, " s ", s, " ", dtype_name(dtype), " x ", x, ": got ", have, " expected ", expect, " rel ", (have - expect) / expect);
        }
        CHECK_MESSAGE(bad == 0, spec, " s ", s, " ", dtype_name(dtype), ": ", bad, " of ", n, " differ");
      }
    }
  }
}
