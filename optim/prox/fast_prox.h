// Branch-free, libm-free forms of the l1/2 and l2/3 proxes (scalar_prox.h) that vectorise, and
// the per-regulariser functors the fused ProxGen loops are instantiated with.
//
// The closed forms of scalar_prox.h stay the reference (tests/optim/test_prox_fast.cpp compares
// both on random and near-threshold inputs). The fast forms:
// * mask first with powers instead of roots (no cbrt/pow):
//     l1/2:  |z| > (3/2) t^(2/3)     <=>  |z|^3 > (27/8) t^2
//     l2/3:  |z| > 2 (2t/3)^(3/4)    <=>  27 |z|^4 > 128 t^3
//   ties (equality) return 0, or the jump point with keep_at_tie, as the closed forms do; within
//   ~1e-16 relative of the threshold the two forms may round to different sides (both points
//   are then minimisers to that accuracy);
// * solve the active branch on a normalised polynomial whose root lies in a fixed interval: a
//   Chebyshev-fit start and one Halley step (mul, fma, two divisions and at most one sqrt):
//     l1/2:  x = |z| w^2,  w the largest root of w^3 - w + c = 0,  c = t / (2 |z|^(3/2)) in [0, 0.2722]
//            (the stationarity condition s^3 - |z| s + t/2 = 0 with s = sqrt(x) = sqrt(|z|) w);
//     l2/3:  x = |z| (1 - u),  u the root in (0, 1/2] of u^3 (1 - u) = c,  c = (2t/3)^3 / |z|^4 < 1/16
//            (the stationarity condition x - |z| + (2t/3) x^(-1/3) = 0 cubed);
// * run in double (ALGORITHMS.md: the l1/2, l2/3 branches are evaluated in double even for float
//   tensors). Float tensors take the float start + double Newton forms of fast_prox_float.h
//   instead of the Chebyshev + Halley forms below (no double division or square root). For float inputs every intermediate stays inside the double range. For double inputs
//   outside in_fast_range() (|z| or t beyond 1e+-60, where |z|^4 or t^3 could overflow or
//   underflow) callers use the closed form instead.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "proxima/core/hd.h"
#include "proxima/optim/prox/fast_prox_ff.h"
#include "proxima/optim/prox/fast_prox_float.h"
#include "proxima/optim/prox/scalar_prox.h"
#include "proxima/optim/prox/scalar_prox_penalties.h"
#include "proxima/optim/prox/separable_prox.h"

namespace px::optim::prox::fast {

// Whether the fast forms are exact-range-safe for (z, t): always for float; for double while
// |z| and t stay within [1e-60, 1e60] (|z| = 0, t = 0, infinities and NaN are handled by selects).
template <class T>
PX_HD bool in_fast_range(T z, T t) {
  if constexpr (sizeof(T) <= 4) {
    return true;
  } else {
    const double a = std::fabs(z);
    const bool a_ok = (a >= 1e-60 && a <= 1e60) || a == 0.0 || !(a == a) || std::isinf(a);
    const bool t_ok = (t >= 1e-60 && t <= 1e60) || t <= 0.0 || !(t == t);
    return a_ok && t_ok;
  }
}

// Horner in x of a polynomial with coefficients k[0] + k[1] x + ...
template <int N>
PX_HD double horner(double x, const double (&k)[N]) {
  double r = k[N - 1];
#pragma GCC unroll 16
  for (int i = N - 2; i >= 0; --i) r = r * x + k[i];
  return r;
}

// l1/2 active branch: x = argmin t sqrt(x) + (x - a)^2 / 2 for a above the threshold.
// w(c) on [0, kL12CMax] from a degree-10 Chebyshev fit (error < 2e-8) in x = 2c/cmax - 1, then
// one Halley step (cubic convergence: error ~1e-22, below rounding).
inline constexpr double kL12CMax = 0.2721655269759087;  // 1 / (2 (3/2)^(3/2)), at the threshold
PX_HD double l12_active_point(double a, double t) {
  constexpr double k[11] = {0.9233769022001137,     -0.0873516382523048,    -0.01356793933045268,
                            -0.0037851757706128036, -0.001302630291826494,  -0.0005109042920519443,
                            -0.00021324155027280448, -6.832994956355374e-05, -2.6756999282748643e-05,
                            -3.565154418043557e-05, -1.80410269895059e-05};
  const double c = t / (2.0 * a * std::sqrt(a));
  double w = horner(c * (2.0 / kL12CMax) - 1.0, k);
  const double f = w * (w * w - 1.0) + c, fp = 3.0 * w * w - 1.0, fpp = 6.0 * w;
  w -= 2.0 * f * fp / (2.0 * fp * fp - f * fpp);
  return a * w * w;
}

// c^(-1/3) for c > 0 normal, to 3.5%: the high word's exponent divided by -3 (a tuned constant).
PX_HD double inv_cbrt_rough(double c) {
  std::uint64_t bits;
  std::memcpy(&bits, &c, sizeof bits);
  const std::uint32_t hi = 1430188264u - static_cast<std::uint32_t>(bits >> 32) / 3u;
  bits = static_cast<std::uint64_t>(hi) << 32;
  double r;
  std::memcpy(&r, &bits, sizeof r);
  return r;
}

// c^(-1/3) for c > 0 normal: inv_cbrt_rough and Steps division-free Newton steps
// r <- r (4/3 - (c/3) r^3) (quadratic: 3.5% -> 2.5e-3 -> 1.2e-5 -> 3e-10 -> below double rounding).
template <int Steps>
PX_HD double inv_cbrt_newton(double c) {
  double r = inv_cbrt_rough(c);
  const double c3 = c / 3.0;
#pragma GCC unroll 4
  for (int it = 0; it < Steps; ++it) r = r * (4.0 / 3.0 - c3 * (r * r * r));
  return r;
}

// l2/3 active branch: x = argmin t x^(2/3) + (x - a)^2 / 2 for a above the threshold.
// e = c^(1/3) by three division-free Newton steps on r = c^(-1/3) (3.5% -> ~3e-10), then
// u = e v(e) with v from a degree-12 Chebyshev fit on [0, (1/16)^(1/3)] (error < 3e-7) and
// one Halley step on the equation of v.
inline constexpr double kL23EMax = 0.3968502629920499;  // (1/16)^(1/3), at the threshold
PX_HD double l23_active_point(double a, double t) {
  constexpr double k[13] = {1.0840859960602423,    0.10899168924146678,   0.03507336724699864,
                            0.015051425616559958,  0.007424597425268319,  0.003598313918938419,
                            0.001815175406237109,  0.0022356032634572153, 0.001722684538729243,
                            -0.0009141242055652745, -0.0009124389688255508, 0.0009974531903066625,
                            0.0007510801901176458};
  const double kk = 2.0 * t / 3.0;
  const double a2 = a * a;
  const double c = kk * kk * kk / (a2 * a2);
  const double cc = c > 1e-300 ? c : 1e-300;
  const double r = inv_cbrt_newton<3>(cc);
  // e = c r^2 and rho = c r^3 = 1 + delta (|delta| < 1e-9) satisfy e^3 = c rho^2, so u = e v with
  // v^3 (1 - e v) = 1 / rho^2 = 1 - 2 delta + 3 delta^2 (to 1e-26): an O(1) equation (no
  // under/overflow for tiny c), solved from the fit by one Halley step.
  const double e = cc * r * r;
  const double delta = cc * (r * r * r) - 1.0;
  const double rhs = 1.0 - delta * (2.0 - 3.0 * delta);
  double v = horner(e * (2.0 / kL23EMax) - 1.0, k);
  const double v2 = v * v, ev = e * v;
  const double h = v2 * v * (1.0 - ev) - rhs, hp = v2 * (3.0 - 4.0 * ev), hpp = v * (6.0 - 12.0 * ev);
  v -= 2.0 * h * hp / (2.0 * hp * hp - h * hpp);
  const double u = e * v;
  return a * (1.0 - u);
}

// |P_{1/2}(+-a; t)| for a >= 0, t > 0 (0 below the threshold): the double form above for double
// T, the float start + double Newton of fast_prox_float.h for float T, where af, tf are a and t
// as floats (a = |z| of a float z, or |z| - 1 for the binary family: af is then rounded, which
// only moves the start; a and t themselves are exact in double).
template <class T>
PX_HD double l12_magnitude(double a, double td, float af, float tf, bool keep_at_tie) {
  const double cube = a * a * a, cut = 3.375 * td * td;
  // above the threshold, or at the tie with keep_at_tie (bitwise: a select between two masks
  // does not vectorise); NaN -> active -> NaN out
  const bool active = (!(cube <= cut)) | (keep_at_tie & (cube == cut));
  double x;
  if constexpr (sizeof(T) <= 4) x = l12_refine(a, td, l12_start_f(af, tf));
  else x = l12_active_point(a, td);
  return active ? x : 0.0;
}

// |P_{2/3}(+-a; t)|, as l12_magnitude.
template <class T>
PX_HD double l23_magnitude(double a, double td, float af, float tf, bool keep_at_tie) {
  const double a2 = a * a;
  const double lhs = 27.0 * (a2 * a2), rhs = 128.0 * (td * td * td);
  const bool active = (!(lhs <= rhs)) | (keep_at_tie & (lhs == rhs));
  double x;
  if constexpr (sizeof(T) <= 4) x = l23_refine(a, td * (2.0 / 3.0), l23_start_f(af, tf));
  else x = l23_active_point(a, td);
  return active ? x : 0.0;
}

// P(z; t) for r = |x|^(1/2): agrees with prox_l12 (see the header comment).
template <class T>
PX_HD T prox_l12(T z, T t, bool keep_at_tie = false) {
  const double zd = double(z), td = double(t);
  const double a = std::fabs(zd);
  double r = std::copysign(l12_magnitude<T>(a, td, float(std::fabs(z)), float(t), keep_at_tie), zd);
  r = (td <= 0.0 || std::isinf(a)) ? zd : r;
  return T(r);
}

// P(z; t) for r = |x|^(2/3): agrees with prox_l23.
template <class T>
PX_HD T prox_l23(T z, T t, bool keep_at_tie = false) {
  const double zd = double(z), td = double(t);
  const double a = std::fabs(zd);
  double r = std::copysign(l23_magnitude<T>(a, td, float(std::fabs(z)), float(t), keep_at_tie), zd);
  r = (td <= 0.0 || std::isinf(a)) ? zd : r;
  return T(r);
}

// ---- functors for the fused loops: operator()(z, t) -> P(z; t); exact(z, t) is the closed form,
// used where in_range(z, t) is false (only the l1/2 and l2/3 functors check ranges) ----
struct Identity {
  template <class T> static constexpr bool checks_range = false;
  template <class T> PX_HD T operator()(T z, T) const { return z; }
};

struct L1 {
  template <class T> static constexpr bool checks_range = false;
  template <class T> PX_HD T operator()(T z, T t) const { return px::optim::prox::prox_l1(z, t); }
};

struct L0 {
  bool keep_at_tie = false;
  template <class T> static constexpr bool checks_range = false;
  template <class T> PX_HD T operator()(T z, T t) const {
    // 0.5 z^2 is exact in double for float z; the select is prox_l0's comparison.
    const double half_sq = 0.5 * double(z) * double(z);
    const bool keep = (half_sq > double(t)) | (keep_at_tie & (half_sq == double(t)));
    return keep ? z : T(0);
  }
};

struct L2 {
  template <class T> static constexpr bool checks_range = false;
  template <class T> PX_HD T operator()(T z, T t) const { return px::optim::prox::prox_l2(z, t); }
};

// has_ff: float tensors on the CPU take ff(z, t, redo) (fast_prox_ff.h), run by proxgen.cpp's
// flagged loop as its three passes ff_start, ff_middle, ff_finish, and operator() for the lanes it
// flags, where the build has a hardware fma (kFloatFfAvailable, checked by proxgen.cpp); other
// functors have no has_ff.
struct L12 {
  bool keep_at_tie = false;
  static constexpr bool has_ff = true;
  PX_HD float ff(float z, float t, int& redo) const { return prox_l12_ff(z, t, redo); }
  // ff in passes (proxgen.cpp): ff_finish(z, t, ff_middle(z, t, ff_start(z, t)), redo) is ff(z, t, redo)
  PX_HD FfStage ff_start(float z, float t) const { return l12_start_ff(z, t); }
  PX_HD FfStage ff_middle(float z, float t, FfStage s) const { return l12_mid_ff(z, t, s); }
  PX_HD float ff_finish(float z, float t, FfStage s, int& redo) const { return l12_finish_ff(z, t, s, redo); }
  template <class T> static constexpr bool checks_range = sizeof(T) > 4;
  template <class T> PX_HD T operator()(T z, T t) const { return fast::prox_l12(z, t, keep_at_tie); }
  template <class T> PX_HD bool in_range(T z, T t) const { return in_fast_range(z, t); }
  template <class T> PX_HD T exact(T z, T t) const { return px::optim::prox::prox_l12(z, t, keep_at_tie); }
};

struct L23 {
  bool keep_at_tie = false;
  static constexpr bool has_ff = true;
  PX_HD float ff(float z, float t, int& redo) const { return prox_l23_ff(z, t, redo); }
  // ff in passes (proxgen.cpp): ff_finish(z, t, ff_middle(z, t, ff_start(z, t)), redo) is ff(z, t, redo)
  PX_HD FfStage ff_start(float z, float t) const { return l23_start_ff(z, t); }
  PX_HD FfStage ff_middle(float z, float t, FfStage s) const { return l23_newton_ff(z, t, s); }
  PX_HD float ff_finish(float z, float t, FfStage s, int& redo) const { return l23_finish_ff(z, t, s, redo); }
  template <class T> static constexpr bool checks_range = sizeof(T) > 4;
  template <class T> PX_HD T operator()(T z, T t) const { return fast::prox_l23(z, t, keep_at_tie); }
  template <class T> PX_HD bool in_range(T z, T t) const { return in_fast_range(z, t); }
  template <class T> PX_HD T exact(T z, T t) const { return px::optim::prox::prox_l23(z, t, keep_at_tie); }
};

// Any other SeparableProx (lq, binary in the literal mode or with another q): its own apply().
// (MCP, SCAD and the binary family: fast_prox_penalties.h.)
struct Generic {
  SeparableProx r;
  template <class T> static constexpr bool checks_range = false;
  template <class T> PX_HD T operator()(T z, T t) const { return r.apply(z, t); }
};

}  // namespace px::optim::prox::fast
