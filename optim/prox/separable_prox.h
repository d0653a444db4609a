// SeparableProx: a plain description of one coordinate-wise regulariser r (kind + parameters),
// with its prox, value and subgradient per coordinate, for CPU loops, fused optimizer loops and
// CUDA kernels alike.
//
// The separable regularisers R(theta) = sum_i r(theta_i) and how apply() reads t:
//   l1 |x|,  l0 1[x != 0],  l12 |x|^(1/2),  l23 |x|^(2/3),  lq |x|^q,  l2 x^2/2,
//   binary  min(|x - 1|, |x + 1|)^q:            prox of t * r at z (scalar_prox.h formulas);
//   mcp, scad:  r(x) = pen_{lambda, gamma/a}(x) / lambda, so that lambda * R is the penalty as its
//   paper writes it; the prox step is eta = t / lambda (scalar_prox_penalties.h).
// Here t is the per-coordinate threshold parameter t_i = alpha * lambda / (C_i + delta).
#pragma once

#include "proxima/core/hd.h"
#include "proxima/optim/prox/scalar_prox.h"
#include "proxima/optim/prox/scalar_prox_penalties.h"

namespace px::optim::prox {

enum class SeparableKind : unsigned char { l1, l0, l12, l23, lq, l2, mcp, scad, binary };

struct SeparableProx {
  SeparableKind kind = SeparableKind::l1;
  double q = 1.0;        // exponent: lq and binary
  double lambda = 1.0;   // mcp, scad: the penalty's lambda (equal to the optimizer's)
  double shape = 3.0;    // mcp: gamma (default 3, Zhang);  scad: a (default 3.7, Fan & Li)
  bool keep_at_tie = false;
  BinaryZero binary_zero = BinaryZero::plus_one;

  // P(z; t) for one coordinate, t >= 0.
  template <class T>
  PX_HD T apply(T z, T t) const {
    switch (kind) {
      case SeparableKind::l1: return prox_l1(z, t);
      case SeparableKind::l0: return prox_l0(z, t, keep_at_tie);
      case SeparableKind::l12: return prox_l12(z, t, keep_at_tie);
      case SeparableKind::l23: return prox_l23(z, t, keep_at_tie);
      case SeparableKind::lq: return prox_lq(z, t, q, keep_at_tie);
      case SeparableKind::l2: return prox_l2(z, t);
      case SeparableKind::mcp: return prox_mcp(z, double(t) / lambda, lambda, shape, keep_at_tie);
      case SeparableKind::scad: return prox_scad(z, double(t) / lambda, lambda, shape, keep_at_tie);
      case SeparableKind::binary: return prox_binary(z, t, q, binary_zero, keep_at_tie);
    }
    return z;
  }

  // r(x), in double.
  PX_HD double value(double x) const {
    switch (kind) {
      case SeparableKind::l1: return power_value(x, 1.0);
      case SeparableKind::l0: return power_value(x, 0.0);
      case SeparableKind::l12: return power_value(x, 0.5);
      case SeparableKind::l23: return power_value(x, 2.0 / 3.0);
      case SeparableKind::lq: return power_value(x, q);
      case SeparableKind::l2: return 0.5 * x * x;
      case SeparableKind::mcp: return mcp_value(x, lambda, shape) / lambda;
      case SeparableKind::scad: return scad_value(x, lambda, shape) / lambda;
      case SeparableKind::binary: return binary_value(x, q, binary_zero);
    }
    return 0.0;
  }

  // False for l0 and the binary q = 0 penalty, whose derivative is 0 wherever it exists.
  PX_HD bool has_subgradient() const {
    return !(kind == SeparableKind::l0 || (kind == SeparableKind::binary && q == 0.0));
  }

  // An element of the (regular) subdifferential of r at x: the derivative where it exists, 0 at
  // x = 0 for l1/lq/mcp/scad and at the minima +-1 of the binary penalty.
  PX_HD double subgradient(double x) const {
    switch (kind) {
      case SeparableKind::l1: return power_subgradient(x, 1.0);
      case SeparableKind::l0: return 0.0;
      case SeparableKind::l12: return power_subgradient(x, 0.5);
      case SeparableKind::l23: return power_subgradient(x, 2.0 / 3.0);
      case SeparableKind::lq: return power_subgradient(x, q);
      case SeparableKind::l2: return x;
      case SeparableKind::mcp: return mcp_subgradient(x, lambda, shape) / lambda;
      case SeparableKind::scad: return scad_subgradient(x, lambda, shape) / lambda;
      case SeparableKind::binary: return binary_subgradient(x, q, binary_zero);
    }
    return 0.0;
  }
};

}  // namespace px::optim::prox
