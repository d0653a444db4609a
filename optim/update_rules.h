// The scalar math of each optimizer update, over one coordinate, shared by CPU loops and CUDA kernels.
//
// Each rule updates one coordinate of a parameter p (and its state) from its gradient g. The
// per-step coefficients are computed once per tensor and step on the host, in double as
// PyTorch does (bias corrections, 1 - lr*wd), then cast to the tensor's type T, so float32
// tensors are updated in float32 and float64 tensors in float64 (PyTorch 1.13 semantics,
// single-tensor path). The make_*_coefficients functions are host code for every backend.
#pragma once

#include <cmath>
#include <cstdint>

#include "proxima/core/elementwise_math.h"
#include "proxima/core/hd.h"

namespace px::optim::rules {

// ---- SGD with momentum (Sutskever et al. 2013; PyTorch's formulation) ----
//   d = g + wd p
//   buf = d                                  at the first step
//   buf = momentum buf + (1 - dampening) d   afterwards
//   d = d + momentum buf (nesterov)   or   d = buf
//   p = p - lr d
template <class T>
struct SgdCoefficients {
  T neg_lr, momentum, one_minus_dampening, weight_decay;
  bool nesterov = false;
  bool first_step = false;  // the momentum buffer takes d as it is
};

template <class T>
SgdCoefficients<T> make_sgd_coefficients(double lr, double momentum, double dampening,
                                         double weight_decay, bool nesterov, bool first_step) {
  return {T(-lr), T(momentum), T(1 - dampening), T(weight_decay), nesterov, first_step};
}

// buf is only read or written when momentum != 0.
template <class T>
PX_HD void sgd_update(T& p, T g, T& buf, const SgdCoefficients<T>& c) {
  T d = c.weight_decay != T(0) ? g + c.weight_decay * p : g;
  if (c.momentum != T(0)) {
    buf = c.first_step ? d : buf * c.momentum + c.one_minus_dampening * d;
    d = c.nesterov ? d + c.momentum * buf : buf;
  }
  p = p + c.neg_lr * d;
}

// ---- Adam (Kingma & Ba 2015), AMSGrad (Reddi et al. 2018), AdamW (Loshchilov & Hutter 2019) ----
//   p = (1 - lr wd) p                        (AdamW: decoupled decay)
//   g = g + wd p                             (Adam: L2 term in the gradient)
//   m = b1 m + (1 - b1) g,   v = b2 v + (1 - b2) g^2,   v_max = max(v_max, v)  (amsgrad)
//   denom = sqrt(v or v_max) / sqrt(1 - b2^t) + eps
//   p = p - lr / (1 - b1^t) * m / denom
template <class T>
struct AdamCoefficients {
  T beta1, one_minus_beta1, beta2, one_minus_beta2;
  T weight_decay;   // coupled (Adam) L2 coefficient; 0 for AdamW
  T decay_factor;   // decoupled (AdamW) factor 1 - lr wd, applied first
  bool decoupled = false;
  T neg_step_size;  // -lr / (1 - b1^t)
  T bias_correction2_sqrt;
  T eps;
  bool amsgrad = false;
};

// step: the step count t after incrementing (1 at the first step).
template <class T>
AdamCoefficients<T> make_adam_coefficients(double lr, double beta1, double beta2, double eps,
                                           double weight_decay, bool decoupled, bool amsgrad,
                                           std::int64_t step) {
  const double t = static_cast<double>(step);
  const double bias_correction1 = 1 - std::pow(beta1, t);
  const double bias_correction2 = 1 - std::pow(beta2, t);
  AdamCoefficients<T> c{};
  c.beta1 = T(beta1);
  c.one_minus_beta1 = T(1 - beta1);
  c.beta2 = T(beta2);
  c.one_minus_beta2 = T(1 - beta2);
  c.weight_decay = decoupled ? T(0) : T(weight_decay);
  c.decay_factor = decoupled ? T(1 - lr * weight_decay) : T(1);
  c.decoupled = decoupled;
  c.neg_step_size = T(-(lr / bias_correction1));
  c.bias_correction2_sqrt = T(std::sqrt(bias_correction2));
  c.eps = T(eps);
  c.amsgrad = amsgrad;
  return c;
}

// v_max is only read or written when amsgrad. The optional terms are selects rather than
// branches (same values), so that a CPU loop over this rule vectorises.
template <class T>
PX_HD void adam_update(T& p, T g, T& m, T& v, T& v_max, const AdamCoefficients<T>& c) {
  p = c.decoupled ? p * c.decay_factor : p;
  g = c.weight_decay != T(0) ? g + c.weight_decay * p : g;
  m = m * c.beta1 + c.one_minus_beta1 * g;
  v = v * c.beta2 + c.one_minus_beta2 * g * g;
  T second = v;
  if (c.amsgrad) {
    v_max = (v_max < v || v != v) ? v : v_max;  // NaN propagates, as torch.maximum
    second = v_max;
  }
  const T denom = px::math::sqrt(second) / c.bias_correction2_sqrt + c.eps;
  p = p + c.neg_step_size * m / denom;
}

// ---- AdaGrad (Duchi, Hazan & Singer 2011) ----
//   g = g + wd p,   clr = lr / (1 + (t - 1) lr_decay)
//   sum = sum + g^2,   p = p - clr g / (sqrt(sum) + eps)
template <class T>
struct AdagradCoefficients {
  T neg_clr, weight_decay, eps;
};

template <class T>
AdagradCoefficients<T> make_adagrad_coefficients(double lr, double lr_decay, double weight_decay,
                                                 double eps, std::int64_t step) {
  const double clr = lr / (1 + static_cast<double>(step - 1) * lr_decay);
  return {T(-clr), T(weight_decay), T(eps)};
}

template <class T>
PX_HD void adagrad_update(T& p, T g, T& sum, const AdagradCoefficients<T>& c) {
  if (c.weight_decay != T(0)) g = g + c.weight_decay * p;
  sum = sum + g * g;
  const T std_dev = px::math::sqrt(sum) + c.eps;
  p = p + c.neg_clr * g / std_dev;
}

// ---- RMSprop (Hinton's lecture 6e; centered form of Graves 2013) ----
//   g = g + wd p,   sq = alpha sq + (1 - alpha) g^2
//   centered: ga = alpha ga + (1 - alpha) g,   avg = sqrt(sq - ga^2) + eps
//   otherwise avg = sqrt(sq) + eps
//   momentum > 0: buf = momentum buf + g / avg,  p = p - lr buf;   else p = p - lr g / avg
template <class T>
struct RmspropCoefficients {
  T neg_lr, alpha, one_minus_alpha, eps, weight_decay, momentum;
  bool centered = false;
};

template <class T>
RmspropCoefficients<T> make_rmsprop_coefficients(double lr, double alpha, double eps,
                                                 double weight_decay, double momentum,
                                                 bool centered) {
  return {T(-lr), T(alpha), T(1 - alpha), T(eps), T(weight_decay), T(momentum), centered};
}

// grad_avg is only used when centered, buf only when momentum > 0.
template <class T>
PX_HD void rmsprop_update(T& p, T g, T& square_avg, T& grad_avg, T& buf,
                          const RmspropCoefficients<T>& c) {
  if (c.weight_decay != T(0)) g = g + c.weight_decay * p;
  square_avg = square_avg * c.alpha + c.one_minus_alpha * g * g;
  T avg;
  if (c.centered) {
    grad_avg = grad_avg * c.alpha + c.one_minus_alpha * g;
    avg = px::math::sqrt(square_avg + T(-1) * grad_avg * grad_avg);
  } else {
    avg = px::math::sqrt(square_avg);
  }
  avg = avg + c.eps;
  if (c.momentum > T(0)) {
    buf = buf * c.momentum + g / avg;
    p = p + c.neg_lr * buf;
  } else {
    p = p + c.neg_lr * g / avg;
  }
}

}  // namespace px::optim::rules
