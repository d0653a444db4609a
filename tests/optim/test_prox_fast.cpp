// The vectorisable l1/2 and l2/3 proxes of fast_prox.h against the closed forms of scalar_prox.h:
// random and near-threshold inputs (1e-12 relative), exact ties (0, or the jump with keep_at_tie),
// float inputs, no NaN/Inf at the extreme inputs of oracle 8 (ALGORITHMS.md §11 A), and ProxGen's
// closed-form fallback for float64 values outside the fast range.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "proxima/core/factory.h"
#include "proxima/optim/prox/fast_prox.h"
#include "proxima/optim/prox/proxgen.h"

using namespace px::optim::prox;

namespace {

double tau_l12(double t) { return 1.5 * std::cbrt(t) * std::cbrt(t); }
double tau_l23(double t) { return 2.0 * std::pow(2.0 * t / 3.0, 0.75); }

// fast(z, t) against ref(z, t): 1e-12 relative, except within 1e-13 of the threshold, where either
// side is a minimiser to rounding (then the fast answer must be 0 or the jump tau * ratio).
template <class Fast, class Ref>
void check_agree(double z, double t, Fast fast, Ref ref, double tau, double jump_ratio, int& near) {
  const double got = fast(z, t), want = ref(z, t);
  CAPTURE(z);
  CAPTURE(t);
  REQUIRE(std::isfinite(got));
  if (std::abs(std::abs(z) / tau - 1.0) < 1e-13) {
    ++near;
    const bool zero = got == 0.0;
    const bool jump = std::abs(std::abs(got) - jump_ratio * tau) <= 1e-12 * tau;
    CHECK((zero || jump));
    return;
  }
  CHECK(std::abs(got - want) <= 1e-12 * std::abs(want));
  CHECK((got == 0.0) == (want == 0.0));
}

template <class Fast, class Ref, class Tau>
void check_family(Fast fast, Ref ref, Tau tau_of, double jump_ratio) {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  int near = 0;
  for (int i = 0; i < 200000; ++i) {
    const double t = std::pow(10.0, -14.0 + 16.0 * unit(rng));  // 1e-14 .. 1e2
    const double tau = tau_of(t);
    const double sign = unit(rng) < 0.5 ? -1.0 : 1.0;
    double z;
    switch (i % 4) {
      case 0: z = tau * std::pow(10.0, -1.0 + 5.0 * unit(rng)); break;               // 0.1 tau .. 1e4 tau
      case 1: z = tau * (1.0 + std::pow(10.0, -12.0 + 11.0 * unit(rng))); break;     // just above
      case 2: z = tau * (1.0 - std::pow(10.0, -12.0 + 11.0 * unit(rng))); break;     // just below
      default: z = tau * (1.0 + (unit(rng) - 0.5) * 1e-14); break;                    // at rounding level
    }
    check_agree(sign * z, t, fast, ref, tau, jump_ratio, near);
  }
  MESSAGE("coordinates within 1e-13 of the threshold: ", near);
}

}  // namespace

TEST_CASE("fast l1/2 agrees with the closed form to 1e-12 on random and near-threshold inputs") {
  check_family([](double z, double t) { return fast::prox_l12(z, t); },
               [](double z, double t) { return prox_l12(z, t); }, tau_l12, 2.0 / 3.0);
}

TEST_CASE("fast l2/3 agrees with the closed form to 1e-12 on random and near-threshold inputs") {
  check_family([](double z, double t) { return fast::prox_l23(z, t); },
               [](double z, double t) { return prox_l23(z, t); }, tau_l23, 0.5);
}

TEST_CASE("fast l1/2 and l2/3 keep the tie rule at exact ties") {
  // l1/2: t = k^3 gives tau = 1.5 k^2 and the jump k^2, all exact.
  for (double k : {0.5, 2.0, 4.0}) {  // (the closed form's cbrt need not be exact here)
    const double t = k * k * k, tau = 1.5 * k * k;
    for (double s : {1.0, -1.0}) {
      CHECK(fast::prox_l12(s * tau, t) == 0.0);
      CHECK(fast::prox_l12(s * tau, t, true) == doctest::Approx(s * k * k).epsilon(1e-14));
    }
  }
  // l2/3: t = 1.5 k^4 gives tau = 2 k^3 and the jump k^3.
  for (double k : {0.5, 2.0}) {
    const double t = 1.5 * k * k * k * k, tau = 2.0 * k * k * k;
    for (double s : {1.0, -1.0}) {
      CHECK(fast::prox_l23(s * tau, t) == 0.0);
      CHECK(fast::prox_l23(s * tau, t, true) == doctest::Approx(s * k * k * k).epsilon(1e-14));
      CHECK(prox_l23(s * tau, t) == 0.0);
    }
  }
  // l0 functor: 1/2 z^2 == t exactly at z = 2, t = 2.
  CHECK(fast::L0{false}(2.0f, 2.0f) == 0.0f);
  CHECK(fast::L0{true}(2.0f, 2.0f) == 2.0f);
}

TEST_CASE("fast l1/2 and l2/3 on float inputs round to the closed form's float") {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  int differ = 0;
  for (int i = 0; i < 200000; ++i) {
    const float t = static_cast<float>(std::pow(10.0, -10.0 + 10.0 * unit(rng)));
    const float z = static_cast<float>((unit(rng) - 0.5) * 4.0 * tau_l12(t) * std::pow(10.0, 3.0 * unit(rng)));
    for (int q = 0; q < 2; ++q) {
      const float got = q ? fast::prox_l23(z, t) : fast::prox_l12(z, t);
      const float want = q ? prox_l23(z, t) : prox_l12(z, t);
      const double tau = q ? tau_l23(t) : tau_l12(t);
      if (std::abs(std::abs(double(z)) / tau - 1.0) < 1e-13) continue;
      // equal, or one float ulp apart where the double results straddle a rounding boundary
      CHECK(std::abs(double(got) - double(want)) <= 1.2e-7 * std::abs(double(want)));
      differ += got != want;
    }
  }
  MESSAGE("float results one ulp apart: ", differ, " of 400000");
  CHECK(differ < 400);
}

TEST_CASE("fast l1/2 and l2/3: no NaN or Inf at extreme inputs, special values as the closed form") {
  const double inf = std::numeric_limits<double>::infinity();
  for (double t : {1e-30, 1e-8, 1.0, 1e8}) {
    std::vector<double> zs = {0.0, 1e-30, 1e30};
    for (double tau : {tau_l12(t), tau_l23(t)})
      for (double f : {1 - 1e-12, 1 + 1e-12}) zs.push_back(tau * f);
    for (double z0 : zs)
      for (double z : {z0, -z0}) {
        CAPTURE(z);
        CAPTURE(t);
        const double a = fast::prox_l12(z, t), b = fast::prox_l23(z, t);
        CHECK(std::isfinite(a));
        CHECK(std::isfinite(b));
        CHECK(std::isfinite(fast::prox_l12(float(z), float(t))));
        CHECK(std::isfinite(fast::prox_l23(float(z), float(t))));
        CHECK(a == doctest::Approx(prox_l12(z, t)).epsilon(1e-12));
        CHECK(b == doctest::Approx(prox_l23(z, t)).epsilon(1e-12));
      }
  }
  for (double z : {inf, -inf, 3.0}) {  // infinite z and t = 0 return z
    CHECK(fast::prox_l12(z, 0.0) == z);
    CHECK(fast::prox_l23(z, 0.0) == z);
  }
  CHECK(fast::prox_l12(-inf, 1.0) == -inf);
  CHECK(fast::prox_l23(inf, 1.0) == inf);
  CHECK(fast::prox_l12(3.0, 1.0) == doctest::Approx(prox_l12(3.0, 1.0)).epsilon(1e-12));
  CHECK(fast::prox_l23(3.0, 1.0) == doctest::Approx(prox_l23(3.0, 1.0)).epsilon(1e-12));
  CHECK(fast::prox_l12(0.5, inf) == 0.0);
  CHECK(fast::prox_l23(0.5, inf) == 0.0);
  CHECK(std::isnan(fast::prox_l12(std::nan(""), 1.0)));
  CHECK(std::isnan(fast::prox_l23(std::nan(""), 1.0)));
}

TEST_CASE("proxgen float64 l1/2 and l2/3 fall back to the closed form outside the fast range") {
  // Zero gradients: m = v = 0, d = delta, z = p, so one step is P(p; lr lambda / delta).
  std::vector<double> p0;
  for (double base : {1e70, 1e-70, 1e65, 3e-3, 0.7, 1e-61, 2e59})
    for (double s : {1.0, -1.0}) p0.push_back(s * base);
  while (p0.size() < 300) p0.push_back(0.01 * double(p0.size() % 17) - 0.08);  // in range, one block
  for (const char* spec : {"l12", "l23"})
    for (double lambda : {1e-12, 1e50, 1e-70}) {
      CAPTURE(spec);
      CAPTURE(lambda);
      px::Tensor param = px::from_vector(p0, {static_cast<std::int64_t>(p0.size())});
      param.set_grad(px::zeros({static_cast<std::int64_t>(p0.size())}, {.dtype = px::DType::float64}));
      ProxGen opt({param}, ProxGenOptions{.lr = 0.5, .regularizer = spec, .lambda = lambda});
      opt.step();
      const double t = (0.5 * lambda) / 1e-8;
      const std::vector<double> got = param.to_vector<double>();
      for (std::size_t i = 0; i < p0.size(); ++i) {
        const double want = std::string(spec) == "l12" ? prox_l12(p0[i], t) : prox_l23(p0[i], t);
        CAPTURE(p0[i]);
        CHECK(got[i] == doctest::Approx(want).epsilon(1e-12));
      }
    }
}
