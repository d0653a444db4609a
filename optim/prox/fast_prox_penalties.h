// Branch-free functors for the fused ProxGen loops (proxgen.cpp) of MCP, SCAD and ProxQuant's
// binary family |x - sgn x|^q, q in {0, 1/2, 2/3, 1}, instead of the per-coordinate switch of
// SeparableProx::apply: every branch is computed and selected, so the loops vectorise.
//
// Functor interface (as fast_prox.h): operator()(z, t) -> P(z; t); checks_range<T>; where true,
// in_range(z, t) says whether operator() is valid for (z, t) and exact(z, t) (the closed form
// of scalar_prox_penalties.h) answers elsewhere (proxgen.cpp's blocked loop).
// * SCAD: the convex-subproblem closed form rewritten with eta lambda = t, so that one division
//   remains (the middle piece ((a-1)|z| - eta a lambda) / (a-1-eta) = lambda ((a-1)|z| - a t) /
//   ((a-1) lambda - t)). It agrees with the closed form to a few double ulps (not bitwise: eta =
//   t / lambda is not formed). Outside the convex regime (a - 1 - eta < 1e-12 a), within 2e-12
//   of its boundary, and for NaN t, in_range is false: the closed form (candidate enumeration).
// * MCP: the closed form (see below).
// * binary: P(z) = sgn(z) (1 + P_q(|z| - 1; t)) with sgn(0) = +1 (BinaryZero::plus_one) or
//   P(0) = 0 (keep_zero); |z| - 1 is exact in double for float z. q = 1/2, 2/3 use the fast
//   forms of fast_prox.h (float start + double Newton for float tensors); for double tensors
//   their range check applies to (|z| - 1, t). BinaryZero::literal and other q use
//   fast::Generic.
#pragma once

#include <cmath>

#include "proxima/core/hd.h"
#include "proxima/optim/prox/fast_prox.h"
#include "proxima/optim/prox/scalar_prox_penalties.h"

namespace px::optim::prox::fast {

// MCP: the closed form itself (GCC if-converts it; the fused loop vectorises). The branch-free
// rewrite with one division and the blocked fallback (as SCAD below) measured slower (1 thread,
// 10M float32: 63 ms against 49 ms per step), so it is not used.
struct Mcp {
  double lambda = 1.0, gamma = 3.0;
  bool keep_at_tie = false;
  template <class T> static constexpr bool checks_range = false;
  template <class T> PX_HD T operator()(T z, T t) const {
    return px::optim::prox::prox_mcp(z, double(t) / lambda, lambda, gamma, keep_at_tie);
  }
};

struct Scad {
  double lambda = 1.0, a = 3.7;
  bool keep_at_tie = false;
  template <class T> static constexpr bool checks_range = true;
  // a - 1 - eta >= 1e-12 a with eta = t / lambda, with a 2e-12 margin; t > 0 finite
  template <class T> PX_HD bool in_range(T z, T t) const {
    const double td = double(t);
    return (td > 0.0 && td <= lambda * (a - 1.0 - 2e-12 * a)) | (td <= 0.0);
  }
  template <class T> PX_HD T operator()(T z, T t) const {
    const double zd = double(z), td = double(t);
    const double v = std::fabs(zd);
    // 0 for v <= t; v - t up to lambda + t; lambda ((a-1) v - a t) / ((a-1) lambda - t) up to
    // a lambda; v beyond
    const double middle = lambda * ((a - 1.0) * v - a * td) / ((a - 1.0) * lambda - td);
    double x = v > a * lambda ? v : middle;
    x = v > lambda + td ? x : v - td;
    x = v > td ? x : 0.0;
    double r = std::copysign(x, zd);
    r = (td <= 0.0 || std::isinf(v)) ? zd : r;
    return T(r);
  }
  template <class T> PX_HD T exact(T z, T t) const {
    return px::optim::prox::prox_scad(z, double(t) / lambda, lambda, a, keep_at_tie);
  }
};

// The exponent of a binary functor: q = 1, 0, 1/2, 2/3.
enum class BinaryQ : unsigned char { l1, l0, l12, l23 };

template <BinaryQ Q>
struct Binary {
  bool keep_zero = false;  // BinaryZero::keep_zero (else plus_one)
  bool keep_at_tie = false;
  template <class T> static constexpr bool checks_range = (Q == BinaryQ::l12 || Q == BinaryQ::l23) && sizeof(T) > 4;
  template <class T> PX_HD bool in_range(T z, T t) const { return in_fast_range(std::fabs(z) - T(1), t); }

  // P_q(d; t) in double for d = |z| - 1.
  template <class T> PX_HD double inner(double d, double td) const {
    const double ad = std::fabs(d);
    if constexpr (Q == BinaryQ::l1) {
      const double shrunk = ad - td;
      return shrunk > 0.0 ? std::copysign(shrunk, d) : 0.0;
    } else if constexpr (Q == BinaryQ::l0) {
      const double half_sq = 0.5 * d * d;
      return ((half_sq > td) | (keep_at_tie & (half_sq == td))) ? d : 0.0;
    } else if constexpr (Q == BinaryQ::l12) {
      return std::copysign(l12_magnitude<T>(ad, td, float(ad), float(td), keep_at_tie), d);
    } else {
      return std::copysign(l23_magnitude<T>(ad, td, float(ad), float(td), keep_at_tie), d);
    }
  }

  template <class T> PX_HD T operator()(T z, T t) const {
    const double zd = double(z), td = double(t);
    const double a = std::fabs(zd);
    const double s = zd < 0.0 ? -1.0 : 1.0;
    double r = s * (1.0 + inner<T>(a - 1.0, td));
    r = (keep_zero & (zd == 0.0)) ? 0.0 : r;
    r = (td <= 0.0 || std::isinf(a)) ? zd : r;
    return T(r);
  }
  template <class T> PX_HD T exact(T z, T t) const {
    return px::optim::prox::prox_binary(z, t, q(), keep_zero ? BinaryZero::keep_zero : BinaryZero::plus_one,
                                        keep_at_tie);
  }
  static constexpr double q() {
    return Q == BinaryQ::l1 ? 1.0 : Q == BinaryQ::l0 ? 0.0 : Q == BinaryQ::l12 ? 0.5 : 2.0 / 3.0;
  }
};

}  // namespace px::optim::prox::fast
