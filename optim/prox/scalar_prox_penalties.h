// Scalar proximal maps, values and subgradients of MCP, SCAD and ProxQuant's binary penalty
// |x - sgn x|^q, shared by the CPU loops and the CUDA kernels.
//
// MCP and SCAD carry their own lambda inside the penalty, as their papers write them; the prox
// step eta (ProxGen's alpha / (C_i + delta)) multiplies the whole penalty:
//     P(z) = argmin_x  eta * pen_{lambda, gamma or a}(x) + 1/2 (x - z)^2
// With the optimizer's per-coordinate t_i = alpha * lambda / (C_i + delta), eta_i = t_i / lambda.
// Ties return 0 by default, the nonzero point with keep_at_tie (ALGORITHMS.md conventions).
// Everything runs in double; no NaN comes out for finite or infinite z and eta >= 0.
#pragma once

#include <cmath>

#include "proxima/core/hd.h"
#include "proxima/optim/prox/scalar_prox.h"

namespace px::optim::prox {

// ---- MCP (Zhang, Ann. Statist. 2010; ALGORITHMS.md §1.6) ----
//   pen(x) = lambda |x| - x^2 / (2 gamma)   for |x| <= gamma lambda,   gamma lambda^2 / 2 beyond.
//   gamma > eta (convex subproblem, firm thresholding):
//     0 for |z| <= eta lambda;  sgn(z) gamma (|z| - eta lambda) / (gamma - eta) up to gamma lambda;  z beyond.
//   gamma <= eta (concave on [0, gamma lambda]; also when gamma - eta < 1e-12 gamma):
//     hard threshold, z if z^2 > lambda^2 eta gamma, else 0.
PX_HD double mcp_value(double x, double lambda, double gamma) {
  const double a = std::fabs(x);
  return a <= gamma * lambda ? lambda * a - a * a / (2.0 * gamma) : 0.5 * gamma * lambda * lambda;
}

PX_HD double mcp_subgradient(double x, double lambda, double gamma) {  // 0 at x = 0
  const double a = std::fabs(x);
  if (x == 0.0 || a > gamma * lambda) return 0.0;
  return std::copysign(lambda - a / gamma, x);
}

template <class T>
PX_HD T prox_mcp(T z, double eta, double lambda, double gamma, bool keep_at_tie = false) {
  const double zd = double(z);
  const double a = std::fabs(zd);
  if (eta <= 0.0 || std::isinf(a)) return z;
  if (gamma - eta < 1e-12 * gamma) {  // nonconvex branch: hard threshold at lambda sqrt(eta gamma)
    const double sq = a * a, cut = lambda * lambda * eta * gamma;
    return (keep_at_tie ? sq >= cut : sq > cut) ? z : T(0);
  }
  if (a <= eta * lambda) return T(0);
  if (a > gamma * lambda) return z;
  return T(std::copysign(gamma * (a - eta * lambda) / (gamma - eta), zd));
}

// ---- SCAD (Fan & Li, JASA 2001; ALGORITHMS.md §1.7), a > 2 ----
//   pen(x) = lambda |x|                                      for |x| <= lambda
//            (2 a lambda |x| - x^2 - lambda^2) / (2 (a - 1))  for lambda < |x| <= a lambda
//            lambda^2 (a + 1) / 2                            beyond.
//   a > 1 + eta: 0 for |z| <= eta lambda;  sgn(z)(|z| - eta lambda) up to (1 + eta) lambda;
//                sgn(z)((a - 1)|z| - eta a lambda) / (a - 1 - eta) up to a lambda;  z beyond.
//   a <= 1 + eta (or a - 1 - eta < 1e-12 a): the best of the candidates {0, sgn(z) clip(|z| - eta
//   lambda, 0, lambda), sgn(z) lambda, sgn(z) a lambda, the middle stationary point, z if |z| > a lambda}
//   under the true objective.
PX_HD double scad_value(double x, double lambda, double a) {
  const double v = std::fabs(x);
  if (v <= lambda) return lambda * v;
  if (v <= a * lambda) return (2.0 * a * lambda * v - v * v - lambda * lambda) / (2.0 * (a - 1.0));
  return 0.5 * lambda * lambda * (a + 1.0);
}

PX_HD double scad_subgradient(double x, double lambda, double a) {  // 0 at x = 0
  const double v = std::fabs(x);
  if (x == 0.0 || v > a * lambda) return 0.0;
  if (v <= lambda) return std::copysign(lambda, x);
  return std::copysign((a * lambda - v) / (a - 1.0), x);
}

// The candidate enumeration (exact for every eta, a); on |z| >= 0, result made odd by the caller.
PX_HD double scad_prox_enumerate(double v, double eta, double lambda, double a, bool keep_at_tie) {
  const double cands[6] = {
      0.0,
      std::fmin(std::fmax(v - eta * lambda, 0.0), lambda),
      lambda,
      a * lambda,
      a - 1.0 - eta != 0.0 ? ((a - 1.0) * v - eta * a * lambda) / (a - 1.0 - eta) : 0.0,
      v > a * lambda ? v : 0.0};
  double best = 0.0, best_obj = 0.5 * v * v;
  for (int k = 1; k < 6; ++k) {
    const double x = cands[k];
    if (!(x >= 0.0) || (k == 4 && !(x > lambda && x <= a * lambda))) continue;
    const double obj = eta * scad_value(x, lambda, a) + 0.5 * (x - v) * (x - v);
    const bool better = keep_at_tie && best == 0.0 ? obj <= best_obj : obj < best_obj;
    if (better) best = x, best_obj = obj;
  }
  return best;
}

template <class T>
PX_HD T prox_scad(T z, double eta, double lambda, double a, bool keep_at_tie = false) {
  const double zd = double(z);
  const double v = std::fabs(zd);
  if (eta <= 0.0 || std::isinf(v)) return z;
  double x;
  if (a - 1.0 - eta < 1e-12 * a) {
    x = scad_prox_enumerate(v, eta, lambda, a, keep_at_tie);
  } else if (v > a * lambda) {
    return z;
  } else if (v <= eta * lambda) {
    x = 0.0;
  } else if (v <= (1.0 + eta) * lambda) {
    x = v - eta * lambda;
  } else {
    x = ((a - 1.0) * v - eta * a * lambda) / (a - 1.0 - eta);
  }
  return T(std::copysign(x, zd));
}

// ---- ProxQuant's binary penalty (Bai, Wang & Liberty, ICLR 2019; ALGORITHMS.md §1.8) ----
// W-shaped distance to {-1, +1}:  r(x) = min(|x - 1|, |x + 1|)^q,  q in {0, 1/2, 2/3, 1} (any
// q in [0, 1] works), with 0^0 := 0 so that q = 0 counts the weights off {-1, +1}.
//   z != 0:  P(z) = sgn(z) (1 + P_q(|z| - 1; t))   (P_q: the power-family prox above)
//   z == 0:  set-valued; BinaryZero picks the answer:
//     plus_one  (default) sgn(0) := +1, P(0) = 1 + P_q(-1; t);
//     keep_zero (ProxQuant-code compatible) returns 0, a non-minimising fixed point;
//     literal   r(x) = |x - sgn x|^q with sgn(0) = 0: x = 0 costs nothing, so 0 is an extra
//               candidate for every z (effectively ternary); ties go to 0 unless keep_at_tie.
enum class BinaryZero : unsigned char { plus_one, keep_zero, literal };

PX_HD double binary_value(double x, double q, BinaryZero zero = BinaryZero::plus_one) {
  if (zero == BinaryZero::literal && x == 0.0) return 0.0;
  const double a = std::fabs(x);
  return power_value(a - 1.0, q);  // min(|x - 1|, |x + 1|) = ||x| - 1|
}

// d r/dx off the kinks; 0 at x = +-1 (a minimum), and the right derivative (sgn(0) = +1) at 0
// except in the literal mode, where 0 is a minimum.
PX_HD double binary_subgradient(double x, double q, BinaryZero zero = BinaryZero::plus_one) {
  if (zero == BinaryZero::literal && x == 0.0) return 0.0;
  const double s = x < 0.0 ? -1.0 : 1.0;
  return s * power_subgradient(std::fabs(x) - 1.0, q);
}

template <class T>
PX_HD T prox_binary(T z, T t, double q, BinaryZero zero = BinaryZero::plus_one,
                    bool keep_at_tie = false) {
  const double zd = double(z);
  const double a = std::fabs(zd);
  if (double(t) <= 0.0 || std::isinf(a)) return z;
  if (zd == 0.0 && zero != BinaryZero::plus_one) return T(0);
  const double s = zd < 0.0 ? -1.0 : 1.0;
  const double x = s * (1.0 + prox_power(a - 1.0, double(t), q, keep_at_tie));
  if (zero == BinaryZero::literal) {  // the zero-cost point 0 against the W-prox
    const double obj = double(t) * binary_value(x, q) + 0.5 * (x - zd) * (x - zd);
    const double at_zero = 0.5 * zd * zd;
    if (keep_at_tie ? at_zero < obj : at_zero <= obj) return T(0);
  }
  return T(x);
}

}  // namespace px::optim::prox
