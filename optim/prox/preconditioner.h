// ProxGen's diagonal preconditioners C_t and the per-coordinate gradient half of Algorithm 1,
// shared by the CPU loops and the CUDA kernels.
//
// ProxGen (Yun, Lozano & Yang, NeurIPS 2021, Algorithm 1; ALGORITHMS.md §2.2), per coordinate:
//   p   = (1 - lr wd) p                       decoupled weight decay (0 by default, convention 6)
//   m   = rho m + (1 - rho) g                 momentum, bias-corrected: m^ = m / (1 - rho^k)
//   v   = the preconditioner's statistic of g (below),   d = C(v) + delta
//   z   = p - lr m^ / d                       the preconditioned gradient step
//   t   = lr lambda / d                       the threshold of the exact metric prox (convention 2)
//   p   = P_r(z; t)                           (the regulariser's scalar prox, separable_prox.h)
// The preconditioners C (and the defaults a ProxGen option left unset takes):
//   none     C = 1                                  rho 0.9, delta 0 (C + delta = 1: proximal SGD)
//   adam     v = b2 v + (1 - b2) g^2, C = sqrt(v / (1 - b2^k))   rho 0.9, b2 0.999, delta 1e-8
//            (Kingma & Ba 2015; PyTorch's order: sqrt(v) / sqrt(1 - b2^k) + delta)
//   adagrad  v = v + g^2, C = sqrt(v)               rho 0, delta 1e-10 (Duchi et al. 2011)
//   rmsprop  v = b2 v + (1 - b2) g^2, C = sqrt(v)   rho 0, b2 0.99, delta 1e-8 (Hinton, 6e)
// With wd = 0 and lambda = 0 each is its classic optimizer's update: adam with rho = beta1 (0.9,
// the default) is Adam exactly; adagrad and rmsprop with rho = 0 (their defaults) are AdaGrad
// without lr decay and RMSprop without momentum.
// The step's coefficients are computed once per tensor and step in double on the host, then
// cast to the parameter's type T (as update_rules.h does).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "proxima/core/elementwise_math.h"
#include "proxima/core/hd.h"

namespace px::optim::prox {

enum class PreconditionerKind : unsigned char { none, adam, adagrad, rmsprop };

// "none" | "identity" -> none, "adam", "adagrad", "rmsprop"; ValueError listing them otherwise.
PreconditionerKind parse_preconditioner(const std::string& name);
const char* preconditioner_name(PreconditionerKind kind);

// The preconditioner's settings, every field resolved (see with_defaults).
struct Preconditioner {
  PreconditionerKind kind = PreconditionerKind::adam;
  double momentum = 0.9;  // rho in [0, 1)
  double beta2 = 0.999;   // adam, rmsprop: in [0, 1)
  double delta = 1e-8;    // >= 0; none: added to C = 1
};
// The kind's defaults (table above).
Preconditioner default_preconditioner(PreconditionerKind kind);

template <class T>
struct ProxGenCoefficients {
  PreconditionerKind kind = PreconditionerKind::adam;
  T decay_factor;   // 1 - lr wd
  T rho, one_minus_rho;
  T neg_step;       // -lr / (1 - rho^k)
  T beta2, one_minus_beta2;
  T bias_correction2_sqrt;  // adam: sqrt(1 - b2^k); others 1
  T inv_bias_correction2_sqrt;  // its reciprocal (the fused loops multiply)
  T delta;
  T lr_lambda;      // lr * lambda: t = lr_lambda / d (metric prox) or lr_lambda (ProxQuant)
  bool metric_prox = true;
};

// step: the count k after incrementing (1 at the first step).
template <class T>
ProxGenCoefficients<T> make_proxgen_coefficients(const Preconditioner& pc, double lr, double lambda,
                                                 double weight_decay, bool metric_prox, std::int64_t step) {
  const double k = static_cast<double>(step);
  ProxGenCoefficients<T> c{};
  c.kind = pc.kind;
  c.decay_factor = T(1 - lr * weight_decay);
  c.rho = T(pc.momentum);
  c.one_minus_rho = T(1 - pc.momentum);
  c.neg_step = T(-(lr / (1 - std::pow(pc.momentum, k))));
  c.beta2 = T(pc.beta2);
  c.one_minus_beta2 = T(1 - pc.beta2);
  c.bias_correction2_sqrt = T(pc.kind == PreconditionerKind::adam ? std::sqrt(1 - std::pow(pc.beta2, k)) : 1.0);
  c.inv_bias_correction2_sqrt = T(1.0 / double(c.bias_correction2_sqrt));
  c.delta = T(pc.delta);
  c.lr_lambda = T(lr * lambda);
  c.metric_prox = metric_prox;
  return c;
}

// d = C(v) + delta.
template <class T>
PX_HD T proxgen_denominator(T v, const ProxGenCoefficients<T>& c) {
  switch (c.kind) {
    case PreconditionerKind::none: return T(1) + c.delta;
    case PreconditionerKind::adam: return px::math::sqrt(v) / c.bias_correction2_sqrt + c.delta;
    default: return px::math::sqrt(v) + c.delta;
  }
}

// The gradient half: updates p (decay, then z = p - lr m^ / d), m and v in place and returns the
// threshold t of the prox that follows. v is not touched by `none`.
template <class T>
PX_HD T proxgen_gradient_step(T& p, T g, T& m, T& v, const ProxGenCoefficients<T>& c) {
  p = p * c.decay_factor;
  m = m * c.rho + c.one_minus_rho * g;
  switch (c.kind) {
    case PreconditionerKind::none: break;
    case PreconditionerKind::adagrad: v = v + g * g; break;
    default: v = v * c.beta2 + c.one_minus_beta2 * g * g; break;
  }
  const T d = proxgen_denominator(v, c);
  p = p + c.neg_step * m / d;
  return c.metric_prox ? c.lr_lambda / d : c.lr_lambda;
}

// The same two functions with the preconditioner kind fixed at compile time, for loops
// instantiated once per kind: no switch per coordinate, so they vectorise. They divide once per
// coordinate (r = 1 / d, then m r and lr lambda r; sqrt(v) times 1 / sqrt(1 - b2^k)), which agrees
// with the forms above to a few ulps: the fused loops are compute bound on the divider.
template <PreconditionerKind K, class T>
PX_HD T proxgen_denominator_k(T v, const ProxGenCoefficients<T>& c) {
  if constexpr (K == PreconditionerKind::none) return T(1) + c.delta;
  else if constexpr (K == PreconditionerKind::adam) return px::math::sqrt(v) * c.inv_bias_correction2_sqrt + c.delta;
  else return px::math::sqrt(v) + c.delta;
}

// The gradient half without the threshold: returns 1 / d (t = lr_lambda / d with the metric prox).
template <PreconditionerKind K, class T>
PX_HD T proxgen_gradient_half_k(T& p, T g, T& m, T& v, const ProxGenCoefficients<T>& c) {
  p = p * c.decay_factor;
  m = m * c.rho + c.one_minus_rho * g;
  if constexpr (K == PreconditionerKind::adagrad) v = v + g * g;
  else if constexpr (K != PreconditionerKind::none) v = v * c.beta2 + c.one_minus_beta2 * g * g;
  const T inv_d = T(1) / proxgen_denominator_k<K>(v, c);
  p = p + c.neg_step * m * inv_d;
  return inv_d;
}

}  // namespace px::optim::prox
