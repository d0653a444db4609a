// The general lq prox (0 < q < 1) in ProxGen's fused CPU loop: a vectorised test that settles the
// coordinates clearly below the threshold (P(z; t) = 0 there), and the exact root finder of
// scalar_prox.h for the others.
//
// Why: prox_lq computes the threshold tau = K t^(1/(2-q)) with a pow for every coordinate (and a
// Newton root with one pow per step above it), as a scalar call. In a sparse run most coordinates
// are far below tau. With e = 1 / (2 - q) and K = (2 - q) / (2 (1 - q)) (2 (1 - q))^e (scalar_prox.h):
//     |z| < tau   <=>   log2 |z| < e log2 t + log2 K.
// log2_approx (below) is within 2.5e-6 of log2 for every normal positive double, so the test with a
// margin of 2^-9 (|z| below tau (1 - 1.3e-3)) never settles a coordinate whose exact prox is not 0.
// It settles nothing unless t is a normal finite positive and |z| is 0 or normal: denormals, inf,
// NaN, t <= 0 and every coordinate near or above tau (ties included) go to prox_lq, so results
// are prox_lq's, bit for bit.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "proxima/core/hd.h"
#include "proxima/optim/prox/scalar_prox.h"

namespace px::optim::prox::fast {

// log2(x) for a normal positive finite double x, to 2.5e-6 absolute: the exponent, plus a degree-6
// fit of log2(1 + s) / s on the mantissa scaled to [sqrt(1/2), sqrt(2)), s = m - 1 (least squares
// on Chebyshev nodes; tests/optim/test_prox_fast_lq.cpp measures the bound).
PX_HD double log2_approx(double x) {
  std::uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  double exponent = double(static_cast<std::int64_t>(b >> 52) - 1023);
  const std::uint64_t mb = (b & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
  double m;
  std::memcpy(&m, &mb, sizeof m);
  const bool upper = m > 1.4142135623730951;
  m = upper ? 0.5 * m : m;
  exponent += upper ? 1.0 : 0.0;
  const double s = m - 1.0;
  constexpr double kP[6] = {1.4427157809122702, -0.7211225045092271, 0.4793240255838846,
                            -0.3677044337142887, 0.32208915962477974, -0.2053009795231563};
  const double p = kP[0] + s * (kP[1] + s * (kP[2] + s * (kP[3] + s * (kP[4] + s * kP[5]))));
  return exponent + s * p;
}

struct Lq {
  double q = 0.5;
  bool keep_at_tie = false;
  double e = 2.0 / 3.0, log2_k = 0.0;  // 1 / (2 - q) and log2 K: set by make()
  static constexpr double kMargin = 0x1p-9;

  static Lq make(double q, bool keep_at_tie) {  // K = tau at t = 1
    return Lq{q, keep_at_tie, 1.0 / (2.0 - q), std::log2(px::optim::prox::lq_threshold(1.0, q))};
  }

  template <class T> static constexpr bool checks_range = true;
  // True where P(z; t) = 0 is settled without the exact form (the header comment).
  template <class T> PX_HD bool in_range(T z, T t) const {
    const double a = std::fabs(double(z)), td = double(t);
    const bool t_normal = td >= DBL_MIN && td <= DBL_MAX;  // false for NaN
    const bool a_normal = a >= DBL_MIN && a <= DBL_MAX;
    const double la = log2_approx(a_normal ? a : 1.0), lt = log2_approx(t_normal ? td : 1.0);
    const bool below = la < e * lt + log2_k - kMargin;
    return t_normal & ((a == 0.0) | (a_normal & below));
  }
  template <class T> PX_HD T operator()(T, T) const { return T(0); }
  template <class T> PX_HD T exact(T z, T t) const { return px::optim::prox::prox_lq(z, t, q, keep_at_tie); }
};

}  // namespace px::optim::prox::fast
