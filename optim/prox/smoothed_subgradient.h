// smoothed_subgradient: the per-coordinate dr(x) the subgradient baselines use (subgradient.h),
// the separable regulariser's subgradient with the power penalties' q < 1 singularity smoothed.
//
//   l12, l23, lq:Q (0 < q < 1):   d/dx (|x| + s)^q = q (|x| + s)^(q-1) sgn(x),  0 at x = 0
//   bin-l12, bin-l23:             the same on the distance d = |x| - 1 to the nearest of +-1:
//                                 sgn(x) q (|d| + s)^(q-1) sgn(d)  (sgn(0) = +1 for x; 0 at |x| = 1;
//                                 0 at x = 0 in binary_zero = literal mode, as binary_subgradient)
//   everything else, or s = 0:    SeparableProx::subgradient (the raw subgradient)
#pragma once

#include <cmath>

#include "proxima/core/hd.h"
#include "proxima/optim/prox/separable_prox.h"

namespace px::optim::prox {

// q (|x| + s)^(q-1) sgn(x), 0 at x = 0.
PX_HD double smoothed_power_derivative(double x, double q, double s) {
  if (x == 0.0) return 0.0;
  return std::copysign(q * std::pow(std::fabs(x) + s, q - 1.0), x);
}

PX_HD double smoothed_subgradient(const SeparableProx& r, double x, double smoothing) {
  if (smoothing > 0.0) {
    switch (r.kind) {
      case SeparableKind::l12: return smoothed_power_derivative(x, 0.5, smoothing);
      case SeparableKind::l23: return smoothed_power_derivative(x, 2.0 / 3.0, smoothing);
      case SeparableKind::lq: return smoothed_power_derivative(x, r.q, smoothing);
      case SeparableKind::binary:
        if (r.q > 0.0 && r.q < 1.0) {
          if (r.binary_zero == BinaryZero::literal && x == 0.0) return 0.0;
          const double sign = x < 0.0 ? -1.0 : 1.0;
          return sign * smoothed_power_derivative(std::fabs(x) - 1.0, r.q, smoothing);
        }
        break;
      default: break;
    }
  }
  return r.subgradient(x);
}

}  // namespace px::optim::prox
