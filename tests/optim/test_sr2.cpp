// SR2 (optim/prox/sr2.h): ALGORITHMS.md §11 D oracles 25-27 (model decrease with the exact prox,
// acceptance on quadratics with known L, exact restoration, R2 parity), the preconditioners and
// the closure errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "proxima/core/factory.h"
#include "proxima/core/ops.h"
#include "prox_test_util.h"
#include "sr2_test_util.h"

namespace px::test {
namespace {

using optim::prox::SR2;
using optim::prox::SR2Options;
using optim::prox::SR2StepResult;

}  // namespace

TEST_CASE("sr2: oracle 25, xi = h(x) - v's - h(x+s) >= s'Ds/2 with the exact prox, every regulariser") {
  for (const std::string reg : {"l1", "l0", "l12", "l23", "lq:0.3", "mcp", "scad", "bin-l1"}) {
    for (const std::string precond : {"none", "adam"}) {
      for (std::uint64_t seed = 1; seed <= 3; ++seed) {
        for (const double lambda : {0.05, 0.7}) {
          for (const double sigma : {0.5, 3.0}) {
            CAPTURE(reg); CAPTURE(precond); CAPTURE(seed); CAPTURE(lambda); CAPTURE(sigma);
            SR2Quadratic q = make_quadratic(spread(16, -1, 4), seed, 2.0);
            SR2 opt(one_group(q.params, reg, lambda),
                    {.sigma0 = sigma, .preconditioner = precond, .beta = 0, .ema_beta = 0});
            const std::vector<double> x0 = q.x();
            const std::vector<double> g = q.gradient(x0);
            std::vector<double> x1;
            const SR2StepResult r = opt.step([&](bool with_grad) {
              if (!with_grad) x1 = q.x();
              return q(with_grad);
            });
            REQUIRE(x1.size() == x0.size());
            double sds = 0, gs = 0, h0 = 0, h1 = 0;
            for (std::size_t i = 0; i < x0.size(); ++i) {
              const double s = x1[i] - x0[i];
              const double d = precond == "adam" ? sigma + std::fabs(g[i]) : sigma;  // ema_beta 0: e = g^2
              sds += d * s * s;
              gs += g[i] * s;
              if (reg == "l1" || reg == "l0" || reg == "l12" || reg == "l23" || reg == "lq:0.3") {
                h0 += lambda * reference_r(reg, x0[i]);
                h1 += lambda * reference_r(reg, x1[i]);
              }
            }
            if (reg == "l1" || reg == "l0" || reg == "l12" || reg == "l23" || reg == "lq:0.3") {
              CHECK(r.xi == doctest::Approx(h0 - gs - h1).epsilon(1e-10));
              CHECK(r.h_decrease == doctest::Approx(h0 - h1).epsilon(1e-10));
            }
            CHECK(r.xi >= 0.5 * sds - 1e-12);
            CHECK(sds > 0);  // the step moved
          }
        }
      }
    }
  }
}

TEST_CASE("sr2: oracle 26, sigma >= L/(1 - eta1) never rejects and rho >= 1 - L/sigma") {
  const double L = 4.0;
  for (const std::string reg : {"l1", "l0", "none"}) {
    for (std::uint64_t seed = 11; seed <= 13; ++seed) {
      CAPTURE(reg); CAPTURE(seed);
      SR2Quadratic q = make_quadratic(spread(16, -L, L), seed);
      const SR2Options o{.sigma0 = L / (1 - 7.5e-4), .beta = 0, .gamma3 = 1.0};
      SR2 opt(one_group(q.params, reg, reg == "none" ? 0.0 : 0.1), o);
      for (int k = 0; k < 40; ++k) {
        const SR2StepResult r = opt.step(q.closure());
        CHECK(r.accepted);
        if (!std::isnan(r.rho)) CHECK(r.rho >= 1 - L / r.sigma - 1e-9);
      }
      CHECK(opt.epoch_stats().rejected == 0);
      CHECK(opt.epoch_stats().accepted == 40);
    }
  }
}

TEST_CASE("sr2: oracle 26, linear f gives rho = 1 and rho >= eta2 multiplies sigma by gamma3") {
  for (const std::string reg : {"l1", "l0", "l12"}) {
    CAPTURE(reg);
    SR2Quadratic q = make_quadratic(std::vector<double>(16, 0.0), 21);
    SR2 opt(one_group(q.params, reg, 0.2), {.sigma0 = 2.0, .beta = 0});
    for (int k = 0; k < 5; ++k) {
      const double sigma = opt.sigma();
      const SR2StepResult r = opt.step(q.closure());
      CHECK(r.rho == doctest::Approx(1.0).epsilon(1e-12));
      CHECK(r.accepted);
      CHECK(r.sigma_next == doctest::Approx(0.79 * sigma).epsilon(1e-15));
      CHECK(opt.sigma() == r.sigma_next);
    }
  }
}

TEST_CASE("sr2: eta1 <= rho < eta2 keeps sigma, rho < eta1 rejects and multiplies sigma by gamma1") {
  // f = L/2 ||x||^2 + b'x, h = 0, beta = 0: s = -g/sigma and rho = 1 - L/(2 sigma) exactly.
  const double L = 3.0;
  for (const auto& [sigma, expect_accept] : std::vector<std::pair<double, bool>>{{L, true}, {L / 4, false}}) {
    SR2Quadratic q = make_quadratic(std::vector<double>(16, L), 31);
    SR2 opt(q.params, {.sigma0 = sigma, .beta = 0});
    const std::vector<double> x0 = q.x();
    const SR2StepResult r = opt.step(q.closure());
    CHECK(r.rho == doctest::Approx(1 - L / (2 * sigma)).epsilon(1e-12));
    CHECK(r.accepted == expect_accept);
    CHECK(opt.sigma() == (expect_accept ? sigma : 5.57 * sigma));
    if (!expect_accept) CHECK(q.x() == x0);
  }
}

TEST_CASE("sr2: a rejection restores x and the EMA bit-exactly (float32), v = g or restored, sigma *= gamma1") {
  for (const bool restart : {true, false}) {
  for (const std::string precond : {"none", "adam", "andrei"}) {
    CAPTURE(restart); CAPTURE(precond);
    std::mt19937_64 rng(5);
    std::normal_distribution<float> normal;
    std::vector<Tensor> params;
    for (const Shape& s : std::vector<Shape>{{4, 3}, {7}}) {
      std::vector<float> v(static_cast<std::size_t>(shape_numel(s)));
      for (float& a : v) a = normal(rng);
      params.push_back(from_vector(v, s));
    }
    // Scripted losses: gradients are fresh random draws, the trial loss decides the outcome.
    double trial_loss = -100;
    std::vector<std::vector<float>> last_grad(params.size());
    const auto closure = [&](bool with_grad) {
      if (!with_grad) return trial_loss;
      for (std::size_t k = 0; k < params.size(); ++k) {
        std::vector<float> g(static_cast<std::size_t>(params[k].numel()));
        for (float& a : g) a = normal(rng);
        params[k].set_grad(from_vector(g, params[k].shape()));
        last_grad[k] = g;
      }
      return 1.0;
    };
    SR2 opt(one_group(params, "l1", 0.05),
            {.sigma0 = 2.0, .preconditioner = precond, .beta = 0.9, .restart_momentum = restart,
             .momentum_check = restart});
    for (int k = 0; k < 3; ++k) REQUIRE(opt.step(closure).accepted);
    const std::vector<std::vector<float>> x_before = {params[0].to_vector<float>(), params[1].to_vector<float>()};
    const optim::NamedTensors state_before = opt.state_dict();
    const double sigma_before = opt.sigma();
    trial_loss = 1e3;
    bool moved = false;
    const SR2StepResult r = opt.step([&](bool with_grad) {
      if (!with_grad) moved = params[0].to_vector<float>() != x_before[0];
      return closure(with_grad);
    });
    CHECK(moved);
    CHECK_FALSE(r.accepted);
    CHECK(r.rho < 0);
    CHECK(opt.sigma() == 5.57 * sigma_before);
    for (std::size_t k = 0; k < params.size(); ++k) {
      const auto now = params[k].to_vector<float>();
      CHECK(std::memcmp(now.data(), x_before[k].data(), now.size() * sizeof(float)) == 0);
    }
    const optim::NamedTensors state_after = opt.state_dict();
    REQUIRE(state_after.size() == state_before.size());
    for (std::size_t k = 0; k < state_after.size(); ++k) {
      const std::string& key = state_after[k].first;
      CAPTURE(key);
      if (key.find("sigma") != std::string::npos) continue;
      const Tensor& a = state_after[k].second;
      const bool is_v = key.size() > 2 && key.compare(key.size() - 2, 2, ".v") == 0;
      if (is_v && restart) {  // the momentum restarts at this step's minibatch gradient, bit for bit
        const std::size_t p = key.find("param1.") != std::string::npos ? 1 : 0;
        CHECK(a.to_vector<float>() == last_grad[p]);
        CHECK(a.to_vector<float>() != state_before[k].second.to_vector<float>());
        continue;
      }
      const Tensor& b = state_before[k].second;
      CHECK(std::memcmp(a.data_ptr(), b.data_ptr(), static_cast<std::size_t>(a.numel()) * sizeof(float)) == 0);
    }
    // A non-finite trial loss is a rejection too.
    trial_loss = std::numeric_limits<double>::quiet_NaN();
    CHECK_FALSE(opt.step(closure).accepted);
    CHECK(params[1].to_vector<float>() == x_before[1]);
  }
  }
}

TEST_CASE("sr2: oracle 27, beta 0, full batch, plain sigma reproduces a reference R2 loop (ALGORITHMS.md §7.2)") {
  for (const std::string reg : {"l1", "l0"}) {
    for (std::uint64_t seed = 41; seed <= 43; ++seed) {
      CAPTURE(reg); CAPTURE(seed);
      const double lambda = 0.3, gamma = 3, eta1 = 1e-4, eta2 = 0.9, sigma_min = 1e-8;
      SR2Quadratic q = make_quadratic(spread(16, 0.2, 12), seed, 3.0);
      std::vector<double> x = q.x();
      SR2 opt(one_group(q.params, reg, lambda), {.sigma0 = 1.0, .beta = 0, .eta1 = eta1, .eta2 = eta2,
                                                 .gamma1 = gamma, .gamma3 = 1 / gamma, .sigma_min = sigma_min});
      // R2: s = prox_{h/sigma}(x - grad/sigma) - x, xi = h(x) - grad's - h(x+s),
      // rho = (F(x) - F(x+s) + d) / (xi + d) with R2's guard d = 10 eps max(1, |F(x)|).
      const auto prox = [&](double z, double t) {
        if (reg == "l1") return std::fabs(z) > t ? z - std::copysign(t, z) : 0.0;
        return 0.5 * z * z > t ? z : 0.0;
      };
      const auto h = [&](const std::vector<double>& y) {
        double s = 0;
        for (double a : y) s += lambda * reference_r(reg, a);
        return s;
      };
      double sigma = 1.0;
      int rejections = 0;
      for (int k = 0; k < 30; ++k) {
        const std::vector<double> g = q.gradient(x);
        std::vector<double> xp(x.size());
        double gs = 0;
        for (std::size_t i = 0; i < x.size(); ++i) {
          xp[i] = prox(x[i] - g[i] / sigma, lambda / sigma);
          gs += g[i] * (xp[i] - x[i]);
        }
        const double xi = h(x) - gs - h(xp);
        const double F = q.value(x) + h(x);
        const double d = 10 * std::numeric_limits<double>::epsilon() * std::max(1.0, std::fabs(F));
        const double rho = (F - q.value(xp) - h(xp) + d) / (xi + d);
        const double sigma_used = sigma;
        if (rho >= eta2) sigma = std::max(sigma / gamma, sigma_min);
        if (rho >= eta1) x = xp;
        if (rho < eta1) sigma = gamma * sigma, ++rejections;

        const SR2StepResult r = opt.step(q.closure());
        CHECK(r.sigma == doctest::Approx(sigma_used).epsilon(1e-12));
        CHECK(r.accepted == (rho >= eta1));
        CHECK(r.xi == doctest::Approx(xi).epsilon(1e-9));
        const std::vector<double> mine = q.x();
        for (std::size_t i = 0; i < x.size(); ++i) CHECK(mine[i] == doctest::Approx(x[i]).epsilon(1e-10));
      }
      CHECK(rejections > 0);  // sigma0 = 1 < L: the loop exercised both branches
    }
  }
}

TEST_CASE("sr2: unregularised groups take s = -v/D and contribute no h") {
  SR2Quadratic q = make_quadratic(spread(16, 0.5, 2), 51);
  optim::ParamGroup reg_group{.params = {q.params[0], q.params[1]}};
  reg_group.options = {{"regularizer", std::string("l1")}, {"lambda", 0.4}};
  optim::ParamGroup plain{.params = {q.params[2]}};
  const double sigma = 1.5;
  SR2 opt({reg_group, plain}, {.sigma0 = sigma, .beta = 0});
  const std::vector<double> x0 = q.x(), g = q.gradient(x0);
  std::vector<double> x1;
  const SR2StepResult r = opt.step([&](bool with_grad) {
    if (!with_grad) x1 = q.x();
    return q(with_grad);
  });
  REQUIRE(x1.size() == 16);
  double h0 = 0, h1 = 0, gs = 0;
  for (std::size_t i = 0; i < 16; ++i) {
    gs += g[i] * (x1[i] - x0[i]);
    if (i < 11) {
      h0 += 0.4 * std::fabs(x0[i]);
      h1 += 0.4 * std::fabs(x1[i]);
    } else {
      CHECK(x1[i] == doctest::Approx(x0[i] - g[i] / sigma).epsilon(1e-14));
    }
  }
  CHECK(r.xi == doctest::Approx(h0 - gs - h1).epsilon(1e-12));
  CHECK(r.h_decrease == doctest::Approx(h0 - h1).epsilon(1e-12));
}

TEST_CASE("sr2: adam uses sqrt(EMA g^2) + sigma and keeps sigma out of the EMA") {
  std::vector<Tensor> params = {from_vector(std::vector<double>{0.5, -1.0, 2.0}, {3})};
  const std::vector<std::vector<double>> grads = {{0.3, -2.0, 1.0}, {-0.4, 0.5, 3.0}};
  int call = 0;
  const auto closure = [&](bool with_grad) {
    if (with_grad) params[0].set_grad(from_vector(grads[static_cast<std::size_t>(call++)], {3}));
    return with_grad ? 1.0 : -1e3;  // always accepted
  };
  SR2 opt(params, {.sigma0 = 2.0, .preconditioner = "adam", .beta = 0, .gamma3 = 1.0, .ema_beta = 0.9});
  opt.step(closure);
  const std::vector<double> x1 = params[0].to_vector<double>();
  opt.step(closure);
  const std::vector<double> x2 = params[0].to_vector<double>();
  const std::vector<double> e = opt.state(0, 0).at("e").to_vector<double>();
  for (std::size_t i = 0; i < 3; ++i) {
    const double e2 = 0.9 * 0.1 * grads[0][i] * grads[0][i] + 0.1 * grads[1][i] * grads[1][i];
    CHECK(e[i] == doctest::Approx(e2).epsilon(1e-14));
    CHECK(x2[i] - x1[i] == doctest::Approx(-grads[1][i] / (2.0 + std::sqrt(e2))).epsilon(1e-12));
  }
}

TEST_CASE("sr2: andrei's diagonal satisfies the weak secant equation s'B+s = s'y") {
  SR2Quadratic q = make_quadratic(spread(16, 0.5, 6), 61);
  SR2 opt(one_group(q.params, "l1", 0.05), {.sigma0 = 10.0, .preconditioner = "andrei", .beta = 0.9});
  for (int k = 0; k < 6; ++k) {
    const std::vector<double> x0 = q.x();
    const SR2StepResult r = opt.step(q.closure());
    if (!r.accepted) continue;
    const std::vector<double> x1 = q.x();
    std::vector<double> s(16), B;
    for (std::size_t i = 0; i < 16; ++i) s[i] = x1[i] - x0[i];
    for (std::size_t p = 0; p < 3; ++p)
      for (double b : opt.state(0, p).at("B").to_vector<double>()) B.push_back(b);
    double sbs = 0, sas = 0;
    for (std::size_t i = 0; i < 16; ++i) {
      sbs += B[i] * s[i] * s[i];
      for (std::size_t j = 0; j < 16; ++j) sas += s[i] * q.A[i * 16 + j] * s[j];  // s'y with y = A s
    }
    CHECK(sbs == doctest::Approx(sas).epsilon(1e-8));
  }
  CHECK(q.grad_calls > 6);  // the accepted steps evaluated g(x + s)
}

TEST_CASE("sr2: closure errors and refused settings") {
  std::vector<Tensor> params = {from_vector(std::vector<double>{1, 2}, {2})};
  SR2 opt(params);
  check_value_error([&] { opt.step(); }, "closure");
  check_value_error([&] { opt.step(optim::prox::SR2Closure{}); }, "empty closure");
  check_value_error([&] { opt.step([](bool) { return std::numeric_limits<double>::infinity(); }); }, "non-finite");
  check_value_error([&] { SR2 bad(params, {.weight_decay = 0.1}); }, "weight_decay");
  check_value_error([&] { SR2 bad(params, {.sigma0 = 0}); }, "sigma0");
  check_value_error([&] { SR2 bad(params, {.preconditioner = "lbfgs"}); }, "preconditioner");
  check_value_error([&] { SR2 bad(params, {.gamma1 = 1.0}); }, "gamma1");
  check_value_error([&] { SR2 bad(one_group(params, "group", 0.1)); }, "not separable");
  optim::ParamGroup decayed{.params = params, .weight_decay = 0.01};
  check_value_error([&] { SR2 bad(std::vector<optim::ParamGroup>{decayed}); }, "weight_decay");
}

TEST_CASE("sr2: sigma is in the state dict, a fresh optimizer that loads it continues identically") {
  SR2Quadratic q = make_quadratic(spread(16, -1, 5), 71);
  SR2Quadratic q2 = q;
  for (Tensor& p : q2.params) p = p.clone();
  SR2 a(one_group(q.params, "l0", 0.1), {.sigma0 = 0.3});
  for (int k = 0; k < 4; ++k) a.step(q.closure());
  CHECK(a.epoch_stats().steps() == 4);
  CHECK(a.epoch_stats().rejected > 0);
  for (std::size_t k = 0; k < q.params.size(); ++k) ops::copy_(q2.params[k], q.params[k]);
  SR2 b(one_group(q2.params, "l0", 0.1), {.sigma0 = 0.3});
  CHECK_FALSE(b.has_state());
  b.load_state_dict(a.state_dict());
  CHECK(b.has_state());
  CHECK(b.sigma() == a.sigma());
  for (int k = 0; k < 4; ++k) {
    const SR2StepResult ra = a.step(q.closure()), rb = b.step(q2.closure());
    CHECK(ra.accepted == rb.accepted);
    CHECK(ra.sigma_next == rb.sigma_next);
  }
  CHECK(q.x() == q2.x());
  a.reset_epoch_stats();
  CHECK(a.epoch_stats().steps() == 0);
}

}  // namespace px::test
