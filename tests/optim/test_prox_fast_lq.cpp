// The general lq functor of ProxGen's fused loop (fast_prox_lq.h): its log2 bound, its settled
// coordinates against prox_lq bit for bit (float and double, five q, near the threshold and at the
// extremes), and that it settles nearly every coordinate clearly below the threshold.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "proxima/optim/prox/fast_prox_lq.h"

using namespace px::optim::prox;

namespace {

template <class T>
T run_functor(const fast::Lq& f, T z, T t) {
  return f.in_range(z, t) ? f(z, t) : f.exact(z, t);
}

template <class T>
bool same(T a, T b) {
  return (std::isnan(a) && std::isnan(b)) || (a == b && std::signbit(a) == std::signbit(b));
}

}  // namespace

TEST_CASE("lq functor: log2_approx is within 2.5e-6 of log2 over the normal doubles") {
  std::mt19937_64 rng(5);
  double worst = 0;
  for (int i = 0; i < 2000000; ++i) {
    // random mantissa, exponent over the whole normal range
    const double m = 1.0 + std::ldexp(double(rng() >> 11), -53);
    const int e = static_cast<int>(rng() % 2045) - 1022;
    const double x = std::ldexp(m, e);
    worst = std::max(worst, std::fabs(fast::log2_approx(x) - std::log2(x)));
  }
  for (double x : {std::numeric_limits<double>::min(), std::numeric_limits<double>::max(), 1.0, 2.0,
                   1.4142135623730951, 1.4142135623730954, 0.7071067811865476})
    worst = std::max(worst, std::fabs(fast::log2_approx(x) - std::log2(x)));
  CHECK(worst <= 2.5e-6);
  CHECK(worst > 1e-7);  // the bound is tight: a better fit would change the comment
}

TEST_CASE("lq functor: settled coordinates are prox_lq's zeros, bit for bit, the others prox_lq's values") {
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<double> unit(0, 1);
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  for (double q : {0.1, 0.3, 0.5, 2.0 / 3.0, 0.9}) {
    for (bool tie : {false, true}) {
      CAPTURE(q);
      const fast::Lq f = fast::Lq::make(q, tie);
      long settled_below = 0, below = 0;
      auto check_pair = [&](double z, double t) {
        CHECK(same(run_functor(f, z, t), prox_lq(z, t, q, tie)));
        const float zf = float(z), tf = float(t);
        CHECK(same(run_functor(f, zf, tf), prox_lq(zf, tf, q, tie)));
      };
      for (int i = 0; i < 100000; ++i) {
        const double t = std::pow(10.0, -30.0 + 35.0 * unit(rng));
        const double tau = lq_threshold(t, q);
        static const double kNear[] = {0.0, 1e-9, -1e-9, 1e-6, -1e-6, 1e-4, -1e-4, 1.2e-3, -1.2e-3, 1.4e-3,
                                       -1.4e-3, 1e-2, -1e-2, 0.5, -0.5};
        double z = i % 2 ? tau * (1.0 + kNear[i / 2 % 15]) : tau * std::pow(10.0, 4.0 * unit(rng) - 3.0);
        z = unit(rng) < 0.5 ? -z : z;
        check_pair(z, t);
        if (std::fabs(z) < 0.99 * tau) ++below, settled_below += f.in_range(z, t);
      }
      CHECK(below > 30000);
      CHECK(double(settled_below) / double(below) > 0.999);
      const double denorm = std::numeric_limits<double>::denorm_min(), fdenorm = 1e-45;
      for (double z : {0.0, -0.0, denorm, -denorm, fdenorm, 1e-300, 1e-30, 1.0, -1.0, 1e30, 1e300, inf, -inf, nan})
        for (double t : {0.0, -1.0, denorm, fdenorm, 1e-300, 1e-30, 1e-3, 1.0, 1e30, 1e300, inf, nan}) check_pair(z, t);
    }
  }
}
