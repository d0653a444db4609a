// The MCP functor and the branch-free SCAD and binary-family functors of fast_prox_penalties.h (as ProxGen's
// fused loop runs them: operator(), or exact() where in_range is false) against
// SeparableProx::apply (the closed forms of scalar_prox_penalties.h), float and double, on random,
// breakpoint-adjacent and extreme inputs; and one float ProxGen step with each against the
// closed form.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "proxima/core/factory.h"
#include "proxima/optim/prox/fast_prox_penalties.h"
#include "proxima/optim/prox/proxgen.h"

using namespace px::optim::prox;

namespace {

template <class T, class F>
T run_functor(const F& f, T z, T t) {
  if constexpr (F::template checks_range<T>) {
    if (!f.in_range(z, t)) return f.exact(z, t);
  }
  return f(z, t);
}

// Inputs: t log-uniform over [1e-10, 1e1] (and beyond the convex regime of MCP/SCAD), z near
// each breakpoint of (t, lambda), log-uniform, and the extremes.
struct Inputs {
  std::vector<double> z, t;
};
Inputs make_inputs(const std::vector<double>& breaks_per_t, double lambda, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  Inputs in;
  const double inf = std::numeric_limits<double>::infinity();
  for (int i = 0; i < 60000; ++i) {
    const double t = std::pow(10.0, -10.0 + 11.5 * unit(rng)) * lambda;
    std::vector<double> cands = {t, lambda + t, 1.0, 1.0 + t, 1.0 - t, 2.0};
    for (double b : breaks_per_t) cands.push_back(b);
    const double base = cands[i % cands.size()];
    double z;
    switch (i % 3) {
      case 0: z = base * (1.0 + (unit(rng) - 0.5) * 1e-6); break;
      case 1: z = base * (1.0 + (unit(rng) - 0.5) * 1e-12); break;
      default: z = std::pow(10.0, -8.0 + 12.0 * unit(rng)); break;
    }
    in.z.push_back(unit(rng) < 0.5 ? -z : z);
    in.t.push_back(t);
  }
  for (double z : {0.0, -0.0, 1.0, -1.0, 1e-30, 1e30, -1e30, inf, -inf})
    for (double t : {0.0, 1e-30, 1e-3, 1.0, 1e30, inf}) in.z.push_back(z), in.t.push_back(t);
  return in;
}

// fast vs closed form. Both round differently where the result cancels (|z| - t for the soft
// part of MCP/SCAD, 1 + P(|z| - 1) for the binary family), so errors are measured against the
// input scale (|z| + t, or |z| + 1 for the binary family): double to rel * scale, float to one
// ulp of the result + 1e-13 * scale; float results that differ at all are counted where the
// result is not cancelled (|want| > 1e-5 scale). NaN where the closed form is NaN.
template <class T, class F>
int compare(const F& fast, const SeparableProx& ref, const Inputs& in, double rel, bool binary) {
  int differ = 0;
  for (std::size_t i = 0; i < in.z.size(); ++i) {
    const T z = T(in.z[i]), t = T(in.t[i]);
    const T got = run_functor(fast, z, t), want = ref.apply(z, t);
    CAPTURE(double(z));
    CAPTURE(double(t));
    if (std::isnan(want)) {
      CHECK(std::isnan(got));
      continue;
    }
    if (std::isinf(want) || std::isinf(z) || std::isinf(t)) {
      CHECK(got == want);
      continue;
    }
    const double scale = std::abs(double(z)) + (binary ? 1.0 : double(t));
    const double tol = sizeof(T) == 4 ? 1.2e-7 * std::abs(double(want)) + 1e-13 * scale : rel * scale;
    CHECK(std::abs(double(got) - double(want)) <= tol);
    differ += got != want && std::abs(double(want)) > 1e-5 * scale;
  }
  return differ;
}

template <class F>
void check_both(const F& fast, const SeparableProx& ref, const Inputs& in, double rel, bool bitwise) {
  const bool binary = ref.kind == SeparableKind::binary;
  const int dd = compare<double>(fast, ref, in, rel, binary);
  const int df = compare<float>(fast, ref, in, rel, binary);
  MESSAGE("differing results (not cancelled): double ", dd, ", float ", df, " of ", in.z.size());
  if (bitwise) {
    CHECK(dd == 0);
    CHECK(df == 0);
  }
  CHECK(df < int(in.z.size() / 1000) + 1);
}

}  // namespace

TEST_CASE("fast MCP and SCAD functors agree with the closed forms, convex and nonconvex regimes") {
  const double lambda = 0.7;
  SUBCASE("mcp") {
    for (bool tie : {false, true}) {
      const SeparableProx ref{.kind = SeparableKind::mcp, .lambda = lambda, .shape = 3.0, .keep_at_tie = tie};
      const Inputs in = make_inputs({3.0 * lambda, 2.1 * lambda, 5.0}, lambda, 11);
      check_both(fast::Mcp{lambda, 3.0, tie}, ref, in, 1e-13, false);
    }
  }
  SUBCASE("scad") {
    for (bool tie : {false, true}) {
      const SeparableProx ref{.kind = SeparableKind::scad, .lambda = lambda, .shape = 3.7, .keep_at_tie = tie};
      const Inputs in = make_inputs({3.7 * lambda, 2.7 * lambda, 1.9 * lambda, 5.0}, lambda, 12);
      check_both(fast::Scad{lambda, 3.7, tie}, ref, in, 1e-13, false);
    }
  }
}

TEST_CASE("fast binary functors (q = 1, 0, 1/2, 2/3) agree with prox_binary") {
  for (BinaryZero zero : {BinaryZero::plus_one, BinaryZero::keep_zero})
    for (bool tie : {false, true}) {
      const bool keep_zero = zero == BinaryZero::keep_zero;
      CAPTURE(keep_zero);
      CAPTURE(tie);
      auto ref = [&](double q) {
        return SeparableProx{.kind = SeparableKind::binary, .q = q, .keep_at_tie = tie, .binary_zero = zero};
      };
      // breakpoints: 1 +- the inner thresholds at t = 1e-3 and t = 0.1
      const Inputs in = make_inputs({1.0 + 1e-3, 1.0 - 0.0447, 1.0 + 0.0323, 0.5, 1.5}, 1.0, 13);
      check_both(fast::Binary<fast::BinaryQ::l1>{keep_zero, tie}, ref(1.0), in, 0.0, true);
      check_both(fast::Binary<fast::BinaryQ::l0>{keep_zero, tie}, ref(0.0), in, 0.0, true);
      // the fast l1/2, l2/3 forms: 1e-12 relative on P(|z| - 1), so 1e-12 of |z| + 1 on the result
      check_both(fast::Binary<fast::BinaryQ::l12>{keep_zero, tie}, ref(0.5), in, 1e-12, false);
      check_both(fast::Binary<fast::BinaryQ::l23>{keep_zero, tie}, ref(2.0 / 3.0), in, 1e-12, false);
    }
}

TEST_CASE("float l1/2 and l2/3 fast forms: the double value before rounding is within 1e-12 of the closed form") {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  double worst12 = 0, worst23 = 0;
  for (int i = 0; i < 300000; ++i) {
    const float t = static_cast<float>(std::pow(10.0, -44.0 + 82.0 * unit(rng)));
    const bool q23 = i % 2;
    const double tau = q23 ? 2.0 * std::pow(2.0 * t / 3.0, 0.75) : 1.5 * std::pow(double(t), 2.0 / 3.0);
    const double f = i % 3 == 0 ? 1.0 + std::pow(10.0, -7.0 + 7.0 * unit(rng)) : std::pow(10.0, 40.0 * unit(rng));
    const float z = static_cast<float>(tau * f);
    if (!std::isfinite(z) || double(z) <= tau * (1 + 1e-9)) continue;
    const double got = q23 ? fast::l23_magnitude<float>(z, t, z, t, false) : fast::l12_magnitude<float>(z, t, z, t, false);
    const double want = q23 ? prox_l23<double>(z, t) : prox_l12<double>(z, t);
    const double err = std::abs(got - want) / want;
    (q23 ? worst23 : worst12) = std::max(q23 ? worst23 : worst12, err);
  }
  MESSAGE("worst relative error: l1/2 ", worst12, ", l2/3 ", worst23);
  CHECK(worst12 < 1e-12);
  CHECK(worst23 < 1e-12);
}

TEST_CASE("proxgen float32 step with scad, mcp and the binary family equals the closed form") {
  // Zero gradients: m = v = 0, d = delta, z = p, so one step is P(p; lr lambda / delta).
  std::mt19937_64 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> p0(5000);
  for (auto& x : p0) x = normal(rng);
  p0[0] = 0.0f, p0[1] = 1.0f, p0[2] = -1.0f, p0[3] = 1e30f;
  struct Case {
    std::string spec;
    SeparableProx ref;
  };
  const std::vector<Case> cases = {
      {"bin-l1", {.kind = SeparableKind::binary, .q = 1.0}},
      {"bin-l0", {.kind = SeparableKind::binary, .q = 0.0}},
      {"bin-l12", {.kind = SeparableKind::binary, .q = 0.5}},
      {"bin-l23", {.kind = SeparableKind::binary, .q = 2.0 / 3.0}},
  };
  for (const auto& c : cases)
    for (double lambda : {1e-12, 1e-9, 1e-8}) {
      CAPTURE(c.spec);
      CAPTURE(lambda);
      px::Tensor param = px::from_vector(p0, {static_cast<std::int64_t>(p0.size())});
      param.set_grad(px::zeros({static_cast<std::int64_t>(p0.size())}));
      ProxGen opt({param}, ProxGenOptions{.lr = 0.5, .regularizer = c.spec, .lambda = lambda});
      opt.step();
      // the fused loop forms t = lr lambda * (1 / d) (one division per coordinate)
      const float t = float(0.5 * lambda) * (1.0f / float(1e-8));
      const std::vector<float> got = param.to_vector<float>();
      int differ = 0;
      for (std::size_t i = 0; i < p0.size(); ++i) {
        const float want = c.ref.apply(p0[i], t);
        CAPTURE(p0[i]);
        CHECK(std::abs(double(got[i]) - double(want)) <= 1.2e-7 * std::abs(double(want)) + 1e-30);
        differ += got[i] != want;
      }
      CHECK(differ <= 5);
    }
}
