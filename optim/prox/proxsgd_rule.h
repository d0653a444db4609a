// ProxSGD's per-coordinate update (proxsgd.h), shared by the CPU loops and future CUDA kernels.
//
// Per coordinate, with the step's host-computed coefficients (t = the 1-based step count):
//   p     = (1 - eps_t wd) p                      decoupled weight decay (0 by default)
//   v     = (1 - rho_t) v + rho_t g               momentum with a decaying weight, no bias correction
//   r     = beta r + (1 - beta) g^2
//   tau   = sqrt(r) / sqrt(1 - beta^t) + delta    (= sqrt(r / (1 - beta^t)) + delta, written as
//                                                  ProxGen-Adam's d so the two agree bit for bit)
//   z     = p - v / tau,   threshold = lambda / tau
//   x_hat = clip(P_r(z; threshold))               (the caller applies P_r; clip to the box X)
//   p     = p + eps_t (x_hat - p)                 the convex-combination step
// The coefficients are computed once per tensor and step in double, then cast to the
// parameter's type T (as update_rules.h does).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>

#include "proxima/core/elementwise_math.h"
#include "proxima/core/hd.h"

namespace px::optim::prox {

template <class T>
struct ProxSGDCoefficients {
  T decay_factor;              // 1 - eps_t wd
  T rho, one_minus_rho;        // rho_t
  T beta, one_minus_beta;
  T bias_correction_sqrt;      // sqrt(1 - beta^t)
  T delta;
  T lambda;                    // threshold = lambda / tau
  T epsilon;                   // eps_t
  T clip_low, clip_high;       // the box X (+-infinity on an open side)
};

// The schedules of the paper's (6) and (8), as the released code writes them:
//   eps_t = eps0 / (t + offset)^eps_decay,   rho_t = rho0 / (t + offset)^rho_decay.
inline double proxsgd_epsilon(double epsilon0, double epsilon_decay, double offset, std::int64_t step) {
  return epsilon0 / std::pow(static_cast<double>(step) + offset, epsilon_decay);
}
inline double proxsgd_rho(double rho0, double rho_decay, double offset, std::int64_t step) {
  return rho0 / std::pow(static_cast<double>(step) + offset, rho_decay);
}

// epsilon, rho: eps_t and rho_t of this step; step: the count t after incrementing (1 first).
template <class T>
ProxSGDCoefficients<T> make_proxsgd_coefficients(double epsilon, double rho, double beta, double delta,
                                                 double lambda, double weight_decay,
                                                 std::optional<double> clip_low,
                                                 std::optional<double> clip_high, std::int64_t step) {
  constexpr double inf = std::numeric_limits<double>::infinity();
  ProxSGDCoefficients<T> c{};
  c.decay_factor = T(1 - epsilon * weight_decay);
  c.rho = T(rho);
  c.one_minus_rho = T(1 - rho);
  c.beta = T(beta);
  c.one_minus_beta = T(1 - beta);
  c.bias_correction_sqrt = T(std::sqrt(1 - std::pow(beta, static_cast<double>(step))));
  c.delta = T(delta);
  c.lambda = T(lambda);
  c.epsilon = T(epsilon);
  c.clip_low = T(clip_low.value_or(-inf));
  c.clip_high = T(clip_high.value_or(inf));
  return c;
}

// The gradient half: decays p, updates v and r in place, and returns z = p - v / tau; sets
// `threshold` to lambda / tau.
template <class T>
PX_HD T proxsgd_direction(T& p, T g, T& v, T& r, const ProxSGDCoefficients<T>& c, T& threshold) {
  p = p * c.decay_factor;
  v = c.one_minus_rho * v + c.rho * g;
  r = c.beta * r + c.one_minus_beta * g * g;
  const T tau = px::math::sqrt(r) / c.bias_correction_sqrt + c.delta;
  threshold = c.lambda / tau;
  return p - v / tau;
}

// tau from the updated r (for recording the thresholds after the step).
template <class T>
PX_HD T proxsgd_tau(T r, const ProxSGDCoefficients<T>& c) {
  return px::math::sqrt(r) / c.bias_correction_sqrt + c.delta;
}

// The projection onto the box X (NaN passes through).
template <class T>
PX_HD T proxsgd_clip(T x, const ProxSGDCoefficients<T>& c) {
  if (x < c.clip_low) return c.clip_low;
  if (x > c.clip_high) return c.clip_high;
  return x;
}

// p <- p + eps_t (x_hat - p), x_hat already clipped.
template <class T>
PX_HD void proxsgd_combine(T& p, T x_hat, const ProxSGDCoefficients<T>& c) {
  p = p + c.epsilon * (x_hat - p);
}

}  // namespace px::optim::prox
