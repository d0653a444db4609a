// Defining properties of every scalar prox (via SeparableProx): t = 0 is the identity, prox of 0,
// odd symmetry, monotonicity, shrinkage, scaling, no NaN on extreme inputs in float32 and float64,
// MCP/SCAD branch switches and ProxQuant's W-prox properties.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "proxima/optim/prox/separable_prox.h"

using namespace px::optim::prox;

namespace {

struct Named {
  const char* name;
  SeparableProx s;
};

std::vector<Named> all_separable() {
  std::vector<Named> v = {{"l1", {.kind = SeparableKind::l1}},
                          {"l0", {.kind = SeparableKind::l0}},
                          {"l12", {.kind = SeparableKind::l12}},
                          {"l23", {.kind = SeparableKind::l23}},
                          {"lq0.3", {.kind = SeparableKind::lq, .q = 0.3}},
                          {"l2", {.kind = SeparableKind::l2}},
                          {"mcp", {.kind = SeparableKind::mcp, .lambda = 0.7, .shape = 3.0}},
                          {"scad", {.kind = SeparableKind::scad, .lambda = 0.7, .shape = 3.7}}};
  for (double q : {0.0, 0.5, 2.0 / 3.0, 1.0}) v.push_back({"binary", {.kind = SeparableKind::binary, .q = q}});
  return v;
}

bool is_binary(const SeparableProx& s) { return s.kind == SeparableKind::binary; }

}  // namespace

TEST_CASE("prox properties: identity at t = 0, zero at z = 0, odd, monotone, shrinking") {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(-5, 5);
  for (const auto& [name, s] : all_separable()) {
    INFO(name, " q=", s.q);
    for (int k = 0; k < 50; ++k) {
      const double z = u(rng);
      CHECK(s.apply(z, 0.0) == z);
      CHECK(s.apply(float(z), 0.0f) == float(z));
    }
    if (!is_binary(s)) {
      for (double t : {0.0, 0.1, 5.0}) CHECK(s.apply(0.0, t) == 0.0);
    }
    for (double t : {0.05, 0.5, 3.0}) {
      std::vector<double> zs;
      for (int k = 0; k < 400; ++k) zs.push_back(u(rng));
      std::sort(zs.begin(), zs.end());
      double prev = -std::numeric_limits<double>::infinity();
      for (double z : zs) {
        const double x = s.apply(z, t);
        CHECK(x >= prev);  // monotone
        prev = x;
        if (z != 0) CHECK(s.apply(-z, t) == -x);  // odd
        if (!is_binary(s)) CHECK(std::fabs(x) <= std::fabs(z));  // shrinkage
      }
    }
  }
}

TEST_CASE("prox homogeneous scaling P_q(c z, t) = c P_q(z, t c^(q-2))") {
  std::mt19937_64 rng(4);
  std::uniform_real_distribution<double> u(-4, 4);
  for (double q : {0.5, 2.0 / 3.0, 0.3, 1.0}) {
    for (double c : {0.1, 3.0}) {
      for (int k = 0; k < 100; ++k) {
        const double z = u(rng), t = 0.4;
        const double lhs = prox_power(c * z, t, q), rhs = c * prox_power(z, t * std::pow(c, q - 2), q);
        if (std::fabs(std::fabs(z) - lq_threshold(t * std::pow(c, q - 2), q)) < 1e-6) continue;  // tie
        CHECK_MESSAGE(std::fabs(lhs - rhs) <= 1e-11 * std::max(1.0, std::fabs(c * z)), "q=", q, " c=", c, " z=", z);
      }
    }
  }
}

template <class T>
void check_no_nan() {
  const T inf = std::numeric_limits<T>::infinity();
  const T denorm = std::numeric_limits<T>::denorm_min();
  std::vector<T> zs = {T(0), T(-0.0), denorm, -denorm, T(1e-30), T(-1e-30), T(1e30), T(-1e30), inf, -inf, T(1), T(-1)};
  const std::vector<T> ts = {T(1e-30), T(1e-8), T(1), T(1e8), denorm, T(0), inf};  // ALGORITHMS.md §11 A8
  for (T t : ts) {  // thresholds times (1 +- 1e-12)
    if (std::isinf(t)) continue;
    for (double q : {0.5, 2.0 / 3.0, 0.3}) {
      const double tau = lq_threshold(double(t), q);
      for (double f : {1 - 1e-12, 1.0, 1 + 1e-12}) zs.push_back(T(tau * f));
    }
    zs.push_back(T(std::sqrt(2 * double(t))));
  }
  for (const auto& [name, s] : all_separable()) {
    for (T t : ts) {
      for (T z : zs) {
        const T x = s.apply(z, t);
        CHECK_MESSAGE(!std::isnan(x), name, " q=", s.q, " z=", double(z), " t=", double(t));
        if (std::isinf(z) && std::isfinite(t) && !is_binary(s)) CHECK(x == z);
      }
    }
  }
}

TEST_CASE("prox no NaN for extreme inputs, float64") { check_no_nan<double>(); }
TEST_CASE("prox no NaN for extreme inputs, float32") { check_no_nan<float>(); }

TEST_CASE("prox float32 evaluation matches float64 to float precision") {
  std::mt19937_64 rng(6);
  std::uniform_real_distribution<double> u(-4, 4);
  for (const auto& [name, s] : all_separable()) {
    for (int k = 0; k < 300; ++k) {
      const float z = float(u(rng)), t = 0.3f;
      const double want = s.apply(double(z), double(t));
      const float got = s.apply(z, t);
      CHECK_MESSAGE(std::fabs(double(got) - want) <= 1e-6 * std::max(1.0, std::fabs(want)), name, " z=", z);
    }
  }
}

TEST_CASE("prox MCP and SCAD branch switches") {
  std::mt19937_64 rng(8);
  std::uniform_real_distribution<double> u(-6, 6);
  for (int k = 0; k < 300; ++k) {
    const double z = u(rng), lam = 1.0;
    // MCP, gamma <= eta: hard threshold at lambda sqrt(eta gamma)
    for (auto [eta, gam] : std::vector<std::pair<double, double>>{{2.0, 1.5}, {3.0, 3.0}, {10.0, 1.0}}) {
      const double want = z * z > lam * lam * eta * gam ? z : 0.0;
      CHECK(prox_mcp(z, eta, lam, gam) == want);
    }
    // SCAD, a <= 1 + eta: the enumeration's answer (checked against brute force elsewhere) is
    // never beaten by the convex formula's candidates
    const double eta = 3.0, a = 3.7;
    const double x = prox_scad(z, eta, lam, a);
    auto phi = [&](double y) { return eta * scad_value(y, lam, a) + 0.5 * (y - z) * (y - z); };
    for (double c : {0.0, z, std::copysign(lam, z), std::copysign(a * lam, z)}) CHECK(phi(x) <= phi(c) + 1e-12);
  }
  // continuity of the convex branches
  for (double z = -6; z < 6; z += 1e-3) {
    CHECK(std::fabs(prox_mcp(z + 1e-7, 0.5, 1.0, 3.0) - prox_mcp(z, 0.5, 1.0, 3.0)) <= 1e-6);
    CHECK(std::fabs(prox_scad(z + 1e-7, 0.5, 1.0, 3.7) - prox_scad(z, 0.5, 1.0, 3.7)) <= 1e-6);
  }
}

TEST_CASE("prox ProxQuant W-prox properties") {
  std::mt19937_64 rng(10);
  std::uniform_real_distribution<double> u(-3, 3);
  for (double q : {0.0, 0.5, 2.0 / 3.0, 1.0}) {
    for (double t : {0.01, 0.1, 0.5, 2.0}) {
      CHECK(prox_binary(1.0, t, q) == 1.0);
      CHECK(prox_binary(-1.0, t, q) == -1.0);
      CHECK(prox_binary(0.0, t, q) == doctest::Approx(1.0 + prox_power(-1.0, t, q)));  // sgn(0) = +1
      CHECK(prox_binary(0.0, t, q, BinaryZero::keep_zero) == 0.0);
      for (int k = 0; k < 200; ++k) {
        const double z = u(rng);
        if (z == 0) continue;
        const double x = prox_binary(z, t, q), s = z > 0 ? 1.0 : -1.0;
        CHECK(x * z > 0);                                                  // sign kept, never 0
        CHECK(std::fabs(x - s) <= std::fabs(std::fabs(z) - 1) + 1e-15);    // moves toward sgn z
        if (std::fabs(std::fabs(z) - 1) < lq_threshold(t, q) * (1 - 1e-9) || (q == 1 && std::fabs(std::fabs(z) - 1) <= t))
          CHECK(x == s);                                                   // snapping region
        if (q == 1.0) {
          const double u1 = std::fabs(z) - 1;
          CHECK(std::fabs(x - s * (1 + std::copysign(std::max(std::fabs(u1) - t, 0.0), u1))) <= 1e-15);
        }
      }
    }
  }
}
