// Scalar proxes against the brute-force 1-D oracle, the golden values of ALGORITHMS.md §1.10,
// the threshold/jump values, stationarity, and the closed forms against the general-lq root finder.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "prox_oracle.h"
#include "proxima/optim/prox/scalar_prox.h"
#include "proxima/optim/prox/scalar_prox_penalties.h"

using namespace px::optim::prox;
using px::test::brute_min;

namespace {

std::vector<double> test_inputs(unsigned seed) {  // random z in [-4, 4] plus fixed points
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-4, 4);
  std::vector<double> z = {0.0, 1.0, -1.0, 0.05, 2.5};
  for (int k = 0; k < 10; ++k) z.push_back(u(rng));
  return z;
}

// phi(P(z)) <= brute-force min + 1e-9 for every z and t.
template <class Prox, class Pen>
void check_brute_force(Prox prox, Pen pen, const std::vector<double>& ts, std::vector<double> special = {},
                       double M = 3) {
  for (double t : ts) {
    for (double z : test_inputs(17)) {
      auto phi = [&](double x) { return t * pen(x) + 0.5 * (x - z) * (x - z); };
      const double x = prox(z, t);
      const double best = brute_min(phi, z, std::max(M, 1 + std::fabs(z)), special);
      CHECK_MESSAGE(phi(x) <= best + 1e-9, "z=", z, " t=", t, " P=", x, " phi=", phi(x), " min=", best);
    }
  }
}

const std::vector<double> kTs = {0.01, 0.1, 0.5, 1.0, 2.0};

}  // namespace

TEST_CASE("prox brute force: l1 l0 l12 l23 lq l2") {
  check_brute_force([](double z, double t) { return prox_l1(z, t); }, [](double x) { return std::fabs(x); }, kTs);
  check_brute_force([](double z, double t) { return prox_l0(z, t); }, [](double x) { return x != 0 ? 1.0 : 0.0; },
                    kTs);
  check_brute_force([](double z, double t) { return prox_l12(z, t); },
                    [](double x) { return px::test::pen_power(x, 0.5); }, kTs);
  check_brute_force([](double z, double t) { return prox_l23(z, t); },
                    [](double x) { return px::test::pen_power(x, 2.0 / 3.0); }, kTs);
  for (double q : {0.1, 0.3, 0.75, 0.9}) {
    check_brute_force([q](double z, double t) { return prox_lq(z, t, q); },
                      [q](double x) { return px::test::pen_power(x, q); }, kTs);
  }
  check_brute_force([](double z, double t) { return prox_l2(z, t); }, [](double x) { return 0.5 * x * x; }, kTs);
}

TEST_CASE("prox brute force: MCP both branches") {
  const double lam = 1.0, gam = 2.0;
  for (double ratio : {0.1, 0.9, 1.0, 1.5, 10.0}) {  // eta / gamma
    const double eta = ratio * gam;
    check_brute_force([&](double z, double) { return prox_mcp(z, eta, lam, gam); },
                      [&](double x) { return eta * px::test::pen_mcp(x, lam, gam); }, {1.0}, {gam * lam}, 6);
  }
}

TEST_CASE("prox brute force: SCAD both sides of a = 1 + eta") {
  const double lam = 1.0;
  for (auto [eta, a] : std::vector<std::pair<double, double>>{{0.5, 3.7}, {2.0, 3.7}, {2.7, 3.7}, {3.0, 3.7},
                                                             {2.0, 2.5}, {1.0, 2.1}}) {
    check_brute_force([&](double z, double) { return prox_scad(z, eta, lam, a); },
                      [&](double x) { return eta * px::test::pen_scad(x, lam, a); }, {1.0}, {lam, a * lam}, 6);
  }
}

TEST_CASE("prox brute force: ProxQuant W-prox and literal prox for q in 0, 1/2, 2/3, 1") {
  for (double q : {0.0, 0.5, 2.0 / 3.0, 1.0}) {
    check_brute_force([q](double z, double t) { return prox_binary(z, t, q); },
                      [q](double x) { return px::test::pen_binary(x, q); }, kTs);
    check_brute_force([q](double z, double t) { return prox_binary(z, t, q, BinaryZero::literal); },
                      [q](double x) { return px::test::pen_binary(x, q, true); }, kTs);
  }
}

TEST_CASE("prox golden values of ALGORITHMS.md 1.10") {
  const std::vector<double> z = {-2.0, -0.8, 0.3, 0.9, 1.2, 3.0};
  const std::vector<std::vector<double>> want = {
      {-1.5, -0.3, 0, 0.4, 0.7, 2.5},
      {-2, 0, 0, 0, 1.2, 3},
      {-1.81440201858, 0, 0, 0, 0.942484825671, 2.85196377346},
      {-1.72189428264, 0, 0, 0.471829066989, 0.847807916802, 2.76243560141}};
  for (std::size_t i = 0; i < z.size(); ++i) {
    CHECK(std::fabs(prox_l1(z[i], 0.5) - want[0][i]) <= 1e-10);
    CHECK(std::fabs(prox_l0(z[i], 0.5) - want[1][i]) <= 1e-10);
    CHECK(std::fabs(prox_l12(z[i], 0.5) - want[2][i]) <= 1e-10);
    CHECK(std::fabs(prox_l23(z[i], 0.5) - want[3][i]) <= 1e-10);
  }
  CHECK(std::fabs(lq_threshold(0.5, 0.5) - 0.9449407874211548) <= 1e-14);
  CHECK(std::fabs(lq_threshold(0.5, 2.0 / 3.0) - 0.8773826753016616) <= 1e-14);

  const std::vector<double> zm = {-2.0, -0.8, 0.3, 0.9, 1.2, 3.0, -4.0};
  const std::vector<double> mcp_convex = {-1.8, -0.36, 0, 0.48, 0.84, 3, -4};
  const std::vector<double> mcp_hard = {-2, 0, 0, 0, 0, 3, -4};
  const std::vector<double> scad = {-1.61363636364, -0.3, 0, 0.4, 0.7, 2.84090909091, -4};
  for (std::size_t i = 0; i < zm.size(); ++i) {
    CHECK(std::fabs(prox_mcp(zm[i], 0.5, 1.0, 3.0) - mcp_convex[i]) <= 1e-10);
    CHECK(std::fabs(prox_mcp(zm[i], 2.0, 1.0, 1.5) - mcp_hard[i]) <= 1e-10);
    CHECK(std::fabs(prox_scad(zm[i], 0.5, 1.0, 3.7) - scad[i]) <= 1e-10);
  }

  const std::vector<double> zb = {-1.6, -0.5, 0.05, 0.7, 1.05, 1.6};
  const std::vector<std::pair<double, std::vector<double>>> bin = {
      {1.0, {-1.5, -0.6, 0.15, 0.8, 1, 1.5}},
      {0.5, {-1.53141095554, -0.57686536946, 0.1027864045, 1, 1, 1.53141095554}},
      {2.0 / 3.0, {-1.51693256973, -0.589718371959, 0.119557134346, 0.817540171543, 1, 1.51693256973}},
      {0.0, {-1.6, -0.5, 0.05, 1, 1, 1.6}}};
  for (const auto& [q, values] : bin)
    for (std::size_t i = 0; i < zb.size(); ++i)
      CHECK_MESSAGE(std::fabs(prox_binary(zb[i], 0.1, q) - values[i]) <= 1e-10, "q=", q, " z=", zb[i]);
}

TEST_CASE("prox threshold and jump values") {
  for (double t : {1e-4, 0.01, 0.5, 3.0}) {
    const double l0 = std::sqrt(2 * t);  // l0: 0 up to sqrt(2t), then z
    CHECK(prox_l0(l0 * (1 - 1e-9), t) == 0);
    CHECK(prox_l0(l0 * (1 + 1e-9), t) == doctest::Approx(l0 * (1 + 1e-9)));
    const double t12 = 1.5 * std::cbrt(t * t), j12 = std::cbrt(t * t);  // l1/2: jump to t^(2/3)
    CHECK(prox_l12(t12 * (1 - 1e-9), t) == 0);
    CHECK(std::fabs(prox_l12(t12 * (1 + 1e-12), t) - j12) <= 1e-5 * j12);
    const double j23 = std::pow(2 * t / 3, 0.75), t23 = 2 * j23;  // l2/3: jump to (2t/3)^(3/4)
    CHECK(prox_l23(t23 * (1 - 1e-9), t) == 0);
    CHECK(std::fabs(prox_l23(t23 * (1 + 1e-12), t) - j23) <= 1e-5 * j23);
    CHECK(std::fabs(lq_threshold(t, 0.5) - t12) <= 1e-13 * t12);
    CHECK(std::fabs(lq_threshold(t, 2.0 / 3.0) - t23) <= 1e-13 * t23);
  }
}

TEST_CASE("prox ties: zero at the threshold by default, the nonzero point with keep_at_tie") {
  const double t = 0.5;  // sqrt(2t) = 1 exactly
  CHECK(prox_l0(1.0, t) == 0);
  CHECK(prox_l0(1.0, t, true) == 1.0);
  CHECK(prox_l0(-1.0, t, true) == -1.0);
  const double tau = lq_threshold(t, 0.3);
  CHECK(prox_lq(tau, t, 0.3) == 0);
  CHECK(prox_lq(tau, t, 0.3, true) == doctest::Approx(lq_threshold_point(t, 0.3)));
  CHECK(prox_mcp(std::sqrt(3.0), 2.0, 1.0, 1.5) == 0);  // hard threshold lambda sqrt(eta gamma) = sqrt 3
  const double z = std::sqrt(3.0);
  CHECK((prox_mcp(z, 2.0, 1.0, 1.5, true) == z || prox_mcp(z, 2.0, 1.0, 1.5, true) == 0));
}

TEST_CASE("prox closed forms agree with the general lq root finder at q = 1/2 and 2/3") {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(-6, 6);
  for (double t : {1e-6, 0.01, 0.5, 2.0, 100.0}) {
    for (int k = 0; k < 200; ++k) {
      const double z = u(rng) * (1 + t);
      const double a = prox_l12(z, t), b = prox_lq(z, t, 0.5);
      CHECK_MESSAGE(std::fabs(a - b) <= 1e-12 * std::max(1.0, std::fabs(z)), "l12 z=", z, " t=", t);
      const double c = prox_l23(z, t), d = prox_lq(z, t, 2.0 / 3.0);
      CHECK_MESSAGE(std::fabs(c - d) <= 1e-12 * std::max(1.0, std::fabs(z)), "l23 z=", z, " t=", t);
    }
  }
}

TEST_CASE("prox stationarity on the active branch for q = 1/2, 2/3 and general q") {
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<double> u(-5, 5);
  for (double q : {0.5, 2.0 / 3.0, 0.2, 0.8}) {
    for (double t : {0.01, 0.5, 2.0}) {
      for (int k = 0; k < 100; ++k) {
        const double z = u(rng);
        const double x = q == 0.5 ? prox_l12(z, t) : q == 2.0 / 3.0 ? prox_l23(z, t) : prox_lq(z, t, q);
        if (x == 0) {
          CHECK(std::fabs(z) <= lq_threshold(t, q) * (1 + 1e-12));
          continue;
        }
        const double r = x - z + t * q * std::copysign(std::pow(std::fabs(x), q - 1), x);
        CHECK_MESSAGE(std::fabs(r) <= 1e-10 * std::max(1.0, std::fabs(z)), "q=", q, " z=", z, " t=", t);
      }
    }
  }
}

TEST_CASE("prox ties: the general lq follows the tie rule at exact ties that its rounded threshold misses") {
  // tau = 6 and 2 exactly, but lq_threshold rounds them (pow): the objectives decide within a few ulps.
  CHECK(prox_lq(6.0, 8.0, 0.5) == 0.0);             // F(0) = F(4) = 18
  CHECK(prox_lq(6.0, 8.0, 0.5, true) == 4.0);
  CHECK(prox_lq(-6.0, 8.0, 0.5, true) == -4.0);
  CHECK(prox_lq(2.0, 1.5, 2.0 / 3.0) == 0.0);       // F(0) = F(1) = 2
  CHECK(prox_lq(2.0, 1.5, 2.0 / 3.0, true) == doctest::Approx(1.0).epsilon(1e-15));
  CHECK(prox_lq(6.0, 8.0, 0.5) == prox_l12(6.0, 8.0));
  CHECK(prox_lq(6.0, 8.0, 0.5, true) == prox_l12(6.0, 8.0, true));
  // off the tie the rounded tau decides: a few ulps above it, the nonzero root
  CHECK(prox_lq(6.0 + 1e-14, 8.0, 0.5) == doctest::Approx(4.0));
  CHECK(prox_lq(6.0 - 1e-14, 8.0, 0.5, true) == 0.0);
}
