// Scalar proximal maps of the power penalties r(x) = |x|^q (q = 1, 0, 1/2, 2/3, general 0 < q < 1)
// and of the squared l2 penalty, shared by the CPU loops and the CUDA kernels.
//
// Every map solves, for one coordinate with threshold parameter t >= 0 (ProxGen's
// t_i = alpha * lambda / (C_i + delta), computed by the optimizer, never here):
//
//     P_r(z; t) = argmin_x  t * r(x) + 1/2 (x - z)^2
//
// Conventions (ALGORITHMS.md §1 and "Conventions proxima adopts"; ALGORITHMS.md is the project's math
// reference, kept beside the repository as ../shared/ALGORITHMS.md):
// * sgn(0) = 0: every map returns 0 for z = 0 and is odd, P(-z) = -P(z).
// * Ties at a nonconvex threshold return 0 (the sparser point); keep_at_tie = true returns the
//   nonzero point instead (SR2's rule).
// * Masks come before transcendental functions; the l1/2, l2/3 and general-lq branches run in
//   double even for float tensors; no NaN comes out for any finite or infinite z and t >= 0.
#pragma once

#include <cmath>

#include "proxima/core/hd.h"

namespace px::optim::prox {

inline constexpr double kPi = 3.14159265358979323846;

// ---- l1: soft threshold (Donoho 1995; ALGORITHMS.md §1.1) ----
//   P(z) = sgn(z) * max(|z| - t, 0)
template <class T>
PX_HD T prox_l1(T z, T t) {
  const T shrunk = std::fabs(z) - t;
  return shrunk > T(0) ? std::copysign(shrunk, z) : T(0);
}

// ---- l0, r(x) = 1[x != 0]: hard threshold (Blumensath & Davies 2008; ALGORITHMS.md §1.2) ----
//   P(z) = z if |z| > sqrt(2t), 0 if |z| < sqrt(2t), {0, z} at the tie.
// Compared as 1/2 z^2 > t ("keeping costs t, zeroing costs z^2/2"), in double so z^2 never overflows.
template <class T>
PX_HD T prox_l0(T z, T t, bool keep_at_tie = false) {
  const double half_sq = 0.5 * double(z) * double(z);
  const bool keep = keep_at_tie ? half_sq >= double(t) : half_sq > double(t);
  return keep ? z : T(0);
}

// ---- squared l2, r(x) = x^2 / 2 (Tikhonov; the (lambda/2)||W||^2 of PathProx) ----
//   P(z) = z / (1 + t)
template <class T>
PX_HD T prox_l2(T z, T t) {
  return std::isinf(double(t)) ? T(0) : z / (T(1) + t);  // t = inf: 0, also for z = +-inf (not inf/inf)
}

// ---- general lq, 0 < q < 1 (ALGORITHMS.md §1.5): the reference for the closed forms ----
//   x_tau = (2t(1 - q))^(1/(2-q)),   tau = (2 - q) / (2(1 - q)) * x_tau
//   P(z) = 0 for |z| < tau, {0, sgn(z) x_tau} at |z| = tau, else sgn(z) x* with x* the larger
//   root of  g(x) = x + t q x^(q-1) - |z| = 0  in [x_tau, |z|].
// g is convex and increasing on [x_tau, inf) (g' = 1 - t q (1-q) x^(q-2) >= 1 - q/2 there), so
// Newton started at x = |z| (where g > 0) decreases monotonically onto the root; the bracket
// [x_tau, x] safeguards it against rounding.
PX_HD double lq_threshold_point(double t, double q) {  // x_tau
  return std::pow(2.0 * t * (1.0 - q), 1.0 / (2.0 - q));
}
PX_HD double lq_threshold(double t, double q) {  // tau
  return (2.0 - q) / (2.0 * (1.0 - q)) * lq_threshold_point(t, q);
}

PX_HD double lq_active_root(double a, double t, double q) {  // a = |z| > tau
  const double lo = lq_threshold_point(t, q);
  double x = a;
  for (int it = 0; it < 200; ++it) {
    const double xq1 = std::pow(x, q - 1.0);
    const double g = x + t * q * xq1 - a;
    const double dg = 1.0 - t * q * (1.0 - q) * xq1 / x;
    double next = x - g / dg;
    if (!(next > lo)) next = 0.5 * (lo + x);  // safeguard: stay inside the bracket
    if (!(next < x)) break;                   // no more progress: converged
    const bool done = x - next <= 1e-16 * x;
    x = next;
    if (done) break;
  }
  return x;
}

// tau is rounded (pow, then a product: a few ulps), so an exact tie such as z = 6, t = 8, q = 1/2
// (F(0) = F(4) = 18, tau = 6) can fall on either side of it. Within 8 ulps of tau, objectives
// F(x) = (x - a)^2 / 2 + t x^q and F(0) = a^2 / 2 that are exactly equal are such a tie and follow
// the tie rule, as the closed forms do; otherwise |z| against the rounded tau decides.
template <class T>
PX_HD T prox_lq(T z, T t, double q, bool keep_at_tie = false) {
  const double a = std::fabs(double(z));
  const double td = double(t);
  if (td <= 0.0 || std::isinf(a)) return z;
  const double tau = lq_threshold(td, q);
  const double slack = 8.0 * 2.220446049250313e-16 * tau;
  if (a < tau - slack) return T(0);
  const double x = a > tau ? lq_active_root(a, td, q) : lq_threshold_point(td, q);
  bool zero = a < tau || (a == tau && !keep_at_tie);
  if (a <= tau + slack && 0.5 * (x - a) * (x - a) + td * std::pow(x, q) == 0.5 * a * a) zero = !keep_at_tie;
  return zero ? T(0) : T(std::copysign(x, double(z)));
}

// ---- l1/2: half thresholding (Xu, Chang, Xu & Zhang, IEEE TNNLS 2012; ALGORITHMS.md §1.3) ----
// Xu et al. minimise (x - z)^2 + mu |x|^(1/2); here mu = 2t.
//   tau = (3/2) t^(2/3);   P(z) = 0 for |z| <= tau (tie: {0, sgn(z) t^(2/3)})
//   |z| > tau:  phi = arccos( (t/4) (|z|/3)^(-3/2) ),   P(z) = (4/3) z cos^2(pi/3 - phi/3)
// (the cancellation-free form of (2/3) z (1 + cos(2pi/3 - 2phi/3))).
template <class T>
PX_HD T prox_l12(T z, T t, bool keep_at_tie = false) {
  const double a = std::fabs(double(z));
  const double td = double(t);
  if (td <= 0.0 || std::isinf(a)) return z;
  const double cbrt_t = std::cbrt(td);
  const double jump = cbrt_t * cbrt_t;  // t^(2/3), without underflow for denormal t
  const double tau = 1.5 * jump;
  if (a < tau || (a == tau && !keep_at_tie)) return T(0);
  if (a == tau) return T(std::copysign(jump, double(z)));
  // (t/4)(|z|/3)^(-3/2) written as (1/4)(3 t^(2/3) / |z|)^(3/2): the ratio is <= 2 on this
  // branch, so nothing overflows; the argument lies in (0, cos(pi/4)].
  double arg = 0.25 * std::pow(3.0 * jump / a, 1.5);
  arg = arg < -1.0 ? -1.0 : (arg > 1.0 ? 1.0 : arg);
  const double c = std::cos(kPi / 3.0 - std::acos(arg) / 3.0);
  return T(std::copysign(4.0 / 3.0 * a * c * c, double(z)));
}

// ---- l2/3 (Cao, Sun & Xu, J. Vis. Commun. Image R. 2013; ALGORITHMS.md §1.4) ----
// Cao et al. minimise (x - z)^2 + mu |x|^(2/3); here mu = 2t.
//   tau = 2 (2t/3)^(3/4);   P(z) = 0 for |z| <= tau (tie: {0, sgn(z) (2t/3)^(3/4)})
//   |z| > tau:  X = 27 z^2 / (16 mu^(3/2)),  cosh(arccosh(X)/3) = (u + 1/u)/2 with
//   u = (X + sqrt(X^2 - 1))^(1/3)  (Chebyshev; 1/u instead of the cancelling (X - sqrt(..))^(1/3)),
//   A = (2/sqrt 3) mu^(1/4) sqrt(cosh(..)),   P(z) = sgn(z) ((A + sqrt(2|z|/A - A^2)) / 2)^3.
// X > 1e100 (tiny t, or |z| near the double range) would overflow X^2: the general-lq root
// finder, which needs no such intermediate, answers there.
template <class T>
PX_HD T prox_l23(T z, T t, bool keep_at_tie = false) {
  const double a = std::fabs(double(z));
  const double td = double(t);
  if (td <= 0.0 || std::isinf(a)) return z;
  const double jump = std::pow(2.0 * td / 3.0, 0.75);
  const double tau = 2.0 * jump;
  if (a < tau || (a == tau && !keep_at_tie)) return T(0);
  if (a == tau) return T(std::copysign(jump, double(z)));
  const double mu = 2.0 * td;
  const double X = 27.0 * a * a / (16.0 * mu * std::sqrt(mu));  // >= 1.299 on this branch
  if (!(X <= 1e100)) return T(std::copysign(lq_active_root(a, td, 2.0 / 3.0), double(z)));
  const double u = std::cbrt(X + std::sqrt(X * X - 1.0));
  const double cosh_third = 0.5 * (u + 1.0 / u);
  const double A = 2.0 / std::sqrt(3.0) * std::sqrt(std::sqrt(mu)) * std::sqrt(cosh_third);
  double inner = 2.0 * a / A - A * A;
  inner = inner > 0.0 ? inner : 0.0;
  const double half = 0.5 * (A + std::sqrt(inner));
  return T(std::copysign(half * half * half, double(z)));
}

// ---- the power family by exponent: q = 0 (l0), 1 (l1), 1/2, 2/3 (closed forms), else lq ----
template <class T>
PX_HD T prox_power(T z, T t, double q, bool keep_at_tie = false) {
  if (q == 1.0) return prox_l1(z, t);
  if (q == 0.0) return prox_l0(z, t, keep_at_tie);
  if (q == 0.5) return prox_l12(z, t, keep_at_tie);
  if (q == 2.0 / 3.0) return prox_l23(z, t, keep_at_tie);
  return prox_lq(z, t, q, keep_at_tie);
}

// r(x) = |x|^q with 0^0 := 0 (so q = 0 is the l0 count), in double.
PX_HD double power_value(double x, double q) {
  const double a = std::fabs(x);
  if (q == 0.0) return a != 0.0 ? 1.0 : 0.0;
  if (q == 1.0) return a;
  return a == 0.0 ? 0.0 : std::pow(a, q);
}

// d|x|^q/dx for x != 0, and 0 at x = 0 (0 lies in the subdifferential there for q <= 1).
// q = 0 has derivative 0 everywhere it exists.
PX_HD double power_subgradient(double x, double q) {
  if (x == 0.0 || q == 0.0) return 0.0;
  if (q == 1.0) return x > 0.0 ? 1.0 : -1.0;
  return std::copysign(q * std::pow(std::fabs(x), q - 1.0), x);
}

}  // namespace px::optim::prox
