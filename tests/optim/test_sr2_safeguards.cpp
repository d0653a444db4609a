// SR2's safeguards (optim/prox/sr2.h, docs/sr2.md "Safeguards"): the momentum restarts (the check
// before the evaluation, the restart on rejection), the round-off guard of rho (R2's
// 10 eps max(1, |F|)), s = 0 never freezing sigma, and sigma_max.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>

#include "proxima/core/factory.h"
#include "prox_test_util.h"
#include "sr2_test_util.h"

namespace px::test {
namespace {

using optim::prox::SR2;
using optim::prox::SR2Options;
using optim::prox::SR2StepResult;

// f(x) = c + sum_i (a_i x_i^2 / 2 + b_i x_i) over one float32 tensor, computed in double and
// rounded once to float32: a float32 loss whose only error is its final rounding (|err| <= eps|f|/2).
struct Float32Quadratic {
  Tensor x;
  std::vector<double> a, b;
  double c = 0;
  int value_calls = 0;

  double operator()(bool with_grad) {
    const std::vector<float> xs = x.to_vector<float>();
    double f = c;
    std::vector<float> g(xs.size());
    for (std::size_t i = 0; i < xs.size(); ++i) {
      f += 0.5 * a[i] * xs[i] * xs[i] + b[i] * xs[i];
      g[i] = static_cast<float>(a[i] * xs[i] + b[i]);
    }
    if (with_grad) x.set_grad(from_vector(g, x.shape()));
    else ++value_calls;
    return static_cast<double>(static_cast<float>(f));
  }
};

Float32Quadratic float32_quadratic(std::uint64_t seed, double c) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(-1, 1);
  Float32Quadratic q;
  std::vector<float> x(16);
  for (std::size_t i = 0; i < 16; ++i) {
    x[i] = static_cast<float>(2 * unit(rng));
    q.a.push_back(2.5 + 1.5 * unit(rng));  // L <= 4
    q.b.push_back(unit(rng));
  }
  q.x = from_vector(x, {16});
  q.c = c;
  return q;
}

// An SR2 on q whose momentum is primed with v = -g(x): one step with zero gradients creates the state
// (s = 0), then v is overwritten; sigma is set to sigma.
void prime_against_gradient(SR2& opt, SR2Quadratic& q, double sigma) {
  const SR2StepResult r0 = opt.step([&](bool) {
    for (Tensor& p : q.params) p.set_grad(zeros(p.shape(), {.dtype = p.dtype()}));
    return q.value(q.x());
  });
  REQUIRE(r0.accepted);
  const std::vector<double> g = q.gradient(q.x());
  std::size_t at = 0;
  for (std::size_t i = 0; i < q.params.size(); ++i) {
    double* v = opt.state(0, i).at("v").data<double>();
    for (std::int64_t k = 0; k < q.params[i].numel(); ++k) v[k] = -g[at++];
  }
  opt.set_sigma(sigma);
}

}  // namespace

TEST_CASE("sr2: momentum against the gradient rejects forever without the restart, once with it") {
  const double L = 4, lambda = 0.01, sigma0 = 2 * L;
  for (const std::string reg : {"none", "l1"}) {
    for (std::uint64_t seed = 81; seed <= 83; ++seed) {
      CAPTURE(reg); CAPTURE(seed);
      SUBCASE("without the restarts: v is restored, every step is rejected, sigma stops at sigma_max") {
        SR2Quadratic q = make_quadratic(spread(16, 0.5, L), seed, 2.0);
        SR2 opt(one_group(q.params, reg, lambda), {.sigma0 = sigma0, .beta = 0.9, .restart_momentum = false,
                                                  .momentum_check = false, .sigma_max = 1e9});
        prime_against_gradient(opt, q, sigma0);
        const std::vector<double> x0 = q.x();
        for (int k = 0; k < 30; ++k) {
          const SR2StepResult r = opt.step(q.closure());
          CHECK_FALSE(r.accepted);
          CHECK(r.rho < 0);
          CHECK(opt.sigma() <= 1e9);
        }
        CHECK(q.x() == x0);
        CHECK(opt.sigma() == 1e9);
        CHECK(opt.epoch_stats().sigma_max_hits > 0);
      }
      SUBCASE("with the restart on rejection: one rejection, then the pure prox-gradient step is accepted") {
        SR2Quadratic q = make_quadratic(spread(16, 0.5, L), seed, 2.0);
        SR2 opt(one_group(q.params, reg, lambda), {.sigma0 = sigma0, .beta = 0.9, .momentum_check = false});
        prime_against_gradient(opt, q, sigma0);
        const std::vector<double> x0 = q.x(), g0 = q.gradient(x0);
        const double f0 = q.value(x0);
        CHECK_FALSE(opt.step(q.closure()).accepted);
        CHECK(q.x() == x0);
        const double sigma1 = 5.57 * sigma0;
        CHECK(opt.sigma() == sigma1);
        const SR2StepResult r = opt.step(q.closure());
        CHECK(r.accepted);
        CHECK(r.rho >= 1 - L / sigma1 - 1e-9);  // R2's bound for the exact prox-gradient step
        const std::vector<double> x1 = q.x();
        for (std::size_t i = 0; i < x0.size(); ++i) {  // x1 = prox(x0 - g/sigma; lambda/sigma)
          const double z = x0[i] - g0[i] / sigma1, t = reg == "l1" ? lambda / sigma1 : 0.0;
          const double expect = std::fabs(z) > t ? z - std::copysign(t, z) : 0.0;
          CHECK(x1[i] == doctest::Approx(expect).epsilon(1e-12));
        }
        for (int k = 0; k < 30; ++k) opt.step(q.closure());
        CHECK(q.value(q.x()) < f0);
        CHECK(opt.epoch_stats().rejected < 5);
      }
      SUBCASE("with the momentum check: no rejection, the first step is the pure prox-gradient step") {
        SR2Quadratic q = make_quadratic(spread(16, 0.5, L), seed, 2.0);
        SR2 opt(one_group(q.params, reg, lambda), {.sigma0 = sigma0, .beta = 0.9});
        prime_against_gradient(opt, q, sigma0);
        const std::vector<double> x0 = q.x(), g0 = q.gradient(x0);
        const int values_before = q.value_calls;
        const SR2StepResult r = opt.step(q.closure());
        CHECK(r.restarted);
        CHECK(r.accepted);
        CHECK(q.value_calls == values_before + 1);  // the momentum step was never evaluated
        CHECK(opt.epoch_stats().restarts == 1);
        CHECK(opt.epoch_stats().rejected == 0);
        const std::vector<double> x1 = q.x();
        for (std::size_t i = 0; i < x0.size(); ++i) {
          const double z = x0[i] - g0[i] / sigma0, t = reg == "l1" ? lambda / sigma0 : 0.0;
          const double expect = std::fabs(z) > t ? z - std::copysign(t, z) : 0.0;
          CHECK(x1[i] == doctest::Approx(expect).epsilon(1e-12));
        }
        const std::vector<double> v = opt.state(0, 0).at("v").to_vector<double>();
        for (std::size_t i = 0; i < v.size(); ++i) CHECK(v[i] == g0[i]);  // v = g exactly
      }
    }
  }
}

TEST_CASE("sr2: the momentum check fires exactly when h(x) - g's - h(x+s) < eta1 xi of the momentum step") {
  const double sigma = 3.0, lambda = 0.2, beta = 0.9, eta1 = 7.5e-4;
  int fired = 0, kept = 0;
  for (const std::string reg : {"l1", "l0"}) {
    for (std::uint64_t seed = 131; seed <= 150; ++seed) {
      CAPTURE(reg); CAPTURE(seed);
      std::mt19937_64 rng(seed);
      std::normal_distribution<double> normal;
      std::vector<double> x(12), v(12), g(12);
      for (std::size_t i = 0; i < 12; ++i) x[i] = normal(rng), v[i] = normal(rng), g[i] = normal(rng);
      std::vector<Tensor> params = {from_vector(x, {12})};
      SR2 opt(one_group(params, reg, lambda), {.sigma0 = sigma, .beta = beta, .gamma3 = 1.0});
      opt.step([&](bool) {  // creates the state (s = 0), then v is primed
        params[0].set_grad(zeros({12}, {.dtype = DType::float64}));
        return 0.0;
      });
      double* vs = opt.state(0, 0).at("v").data<double>();
      for (std::size_t i = 0; i < 12; ++i) vs[i] = v[i];
      x = params[0].to_vector<double>();  // the priming step pruned (l0) or shrank (l1) x
      // The momentum step and its two decreases, from the definitions.
      double xi = 0, xi_g = 0;
      for (std::size_t i = 0; i < 12; ++i) {
        const double vm = beta * v[i] + (1 - beta) * g[i], z = x[i] - vm / sigma, t = lambda / sigma;
        const double x1 =
            reg == "l1" ? (std::fabs(z) > t ? z - std::copysign(t, z) : 0.0) : (0.5 * z * z > t ? z : 0.0);
        const double dh = lambda * (reference_r(reg, x[i]) - reference_r(reg, x1));
        xi += dh - vm * (x1 - x[i]);
        xi_g += dh - g[i] * (x1 - x[i]);
      }
      const SR2StepResult r = opt.step([&](bool with_grad) {
        if (with_grad) params[0].set_grad(from_vector(g, {12}));
        return with_grad ? 1.0 : 1.0 - 1e-3;
      });
      CHECK(r.restarted == (xi_g < eta1 * xi));
      if (!r.restarted) CHECK(r.xi == doctest::Approx(xi).epsilon(1e-12));
      (r.restarted ? fired : kept)++;
    }
  }
  CHECK(fired > 3);
  CHECK(kept > 3);
}

TEST_CASE("sr2: with beta = 0 the momentum restarts are no-ops (bit-identical trajectories)") {
  for (const std::string reg : {"l1", "l0", "none"}) {
    CAPTURE(reg);
    SR2Quadratic qa = make_quadratic(spread(16, -1, 6), 91, 2.0);
    SR2Quadratic qb = qa;
    for (Tensor& p : qb.params) p = p.clone();
    SR2 a(one_group(qa.params, reg, 0.1), {.sigma0 = 0.5, .beta = 0});
    SR2 b(one_group(qb.params, reg, 0.1),
          {.sigma0 = 0.5, .beta = 0, .restart_momentum = false, .momentum_check = false});
    for (int k = 0; k < 25; ++k) {
      const SR2StepResult ra = a.step(qa.closure()), rb = b.step(qb.closure());
      CHECK(ra.accepted == rb.accepted);
      CHECK(ra.sigma_next == rb.sigma_next);
    }
    CHECK(a.epoch_stats().rejected > 0);  // both branches ran
    CHECK(a.epoch_stats().restarts == 0);
    CHECK(qa.x() == qb.x());
  }
}

TEST_CASE("sr2: a step below the float32 loss's resolution gets rho -> 1 (R2's guard), the unguarded ratio is noise") {
  int noisy = 0, trials = 0;
  for (std::uint64_t seed = 101; seed <= 106; ++seed) {
    for (const double sigma : {1e6, 3e6, 1e7}) {
      CAPTURE(seed); CAPTURE(sigma);
      Float32Quadratic q = float32_quadratic(seed, 1e4);  // ulp(f) ~ 1e-3
      SR2 opt(std::vector<Tensor>{q.x}, {.sigma0 = sigma, .beta = 0});
      const std::vector<float> x0 = q.x.to_vector<float>();
      const SR2StepResult r = opt.step([&](bool with_grad) { return q(with_grad); });
      REQUIRE(q.value_calls == 1);  // s != 0: the trial point was evaluated
      REQUIRE(q.x.to_vector<float>() != x0);
      const double d = 10 * std::numeric_limits<float>::epsilon() * std::fabs(r.loss);
      CHECK(r.guard == doctest::Approx(d).epsilon(1e-12));
      CHECK(r.xi < d / 20);  // below resolution
      CHECK(r.rho == doctest::Approx((r.loss - r.trial_loss + d) / (r.xi + d)).epsilon(1e-12));
      CHECK(std::fabs(r.rho - 1) <= 0.15);  // |rounding of the loss difference| <= eps |f| = d / 10
      CHECK(r.accepted);
      ++trials;
      if (std::fabs((r.loss - r.trial_loss) / r.xi - 1) > 0.5) ++noisy;
    }
  }
  CHECK(noisy > trials / 3);  // without the guard these ratios would decide at random
}

TEST_CASE("sr2: below resolution the guarded run never rejects and sigma shrinks, the unguarded one rejects") {
  for (std::uint64_t seed = 111; seed <= 113; ++seed) {
    CAPTURE(seed);
    Float32Quadratic guarded = float32_quadratic(seed, 1e4), unguarded = guarded;
    unguarded.x = guarded.x.clone();
    SR2 a(std::vector<Tensor>{guarded.x}, {.sigma0 = 1e7, .beta = 0.9});
    SR2 b(std::vector<Tensor>{unguarded.x}, {.sigma0 = 1e7, .beta = 0.9, .loss_epsilon = 1e-300});
    for (int k = 0; k < 60; ++k) {
      a.step([&](bool with_grad) { return guarded(with_grad); });
      b.step([&](bool with_grad) { return unguarded(with_grad); });
    }
    CHECK(a.epoch_stats().rejected == 0);
    CHECK(a.sigma() < 1e7 * std::pow(0.79, 10));
    CHECK(b.epoch_stats().rejected > 0);
  }
}

TEST_CASE("sr2: s = 0 (xi = 0) is accepted with rho = 1 and shrinks sigma, never freezing it") {
  SUBCASE("zero gradient") {
    SR2Quadratic q = make_quadratic(spread(16, 0.5, 2), 121);
    SR2 opt(q.params, {.sigma0 = 3.0});
    for (int k = 0; k < 4; ++k) {
      const double sigma = opt.sigma();
      const SR2StepResult r = opt.step([&](bool) {
        for (Tensor& p : q.params) p.set_grad(zeros(p.shape(), {.dtype = p.dtype()}));
        return 1.0;
      });
      CHECK(r.accepted);
      CHECK(r.rho == 1);
      CHECK(r.xi == 0);
      CHECK(opt.sigma() == doctest::Approx(0.79 * sigma).epsilon(1e-15));
    }
    CHECK(q.value_calls == 0);
  }
  SUBCASE("a step below the parameters' float32 resolution") {
    Float32Quadratic q = float32_quadratic(122, 0);
    SR2 opt(std::vector<Tensor>{q.x}, {.sigma0 = 1e11, .beta = 0});
    const std::vector<float> x0 = q.x.to_vector<float>();
    const SR2StepResult r = opt.step([&](bool with_grad) { return q(with_grad); });
    CHECK(q.x.to_vector<float>() == x0);
    CHECK(q.value_calls == 0);
    CHECK(r.accepted);
    CHECK(r.rho == 1);
    CHECK(opt.sigma() == doctest::Approx(0.79e11).epsilon(1e-12));
  }
}

TEST_CASE("sr2: sigma never exceeds sigma_max, each clamp is counted") {
  std::vector<Tensor> params = {from_vector(std::vector<double>{0.5, -1.0, 2.0}, {3})};
  const auto reject = [&](bool with_grad) {
    if (with_grad) params[0].set_grad(from_vector(std::vector<double>{0.3, -2.0, 1.0}, {3}));
    return with_grad ? 1.0 : 1e3;  // the trial point is always worse
  };
  const double sigma_max = 1e3;
  SR2 opt(params, {.sigma0 = 1.0, .sigma_max = sigma_max});
  double sigma = 1.0;
  std::int64_t hits = 0;
  for (int k = 0; k < 10; ++k) {
    sigma *= 5.57;
    if (sigma > sigma_max) sigma = sigma_max, ++hits;
    const SR2StepResult r = opt.step(reject);
    CHECK_FALSE(r.accepted);
    CHECK(r.sigma_clamped == (r.sigma_next == sigma_max && 5.57 * r.sigma > sigma_max));
    CHECK(opt.sigma() == doctest::Approx(sigma).epsilon(1e-14));
    CHECK(opt.sigma() <= sigma_max);
  }
  CHECK(hits == 6);
  CHECK(opt.epoch_stats().sigma_max_hits == hits);
  check_value_error([&] { opt.set_sigma(2 * sigma_max); }, "sigma_max");
  check_value_error([&] { SR2 bad(params, {.sigma0 = 10, .sigma_max = 5}); }, "sigma_max");
  check_value_error([&] { SR2 bad(params, {.loss_epsilon = -1}); }, "loss_epsilon");
}

}  // namespace px::test
