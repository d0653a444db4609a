// Internal: the 1-D root of the group lasso's exact metric prox (group_prox.h), as PX_HD scalar
// steps shared by the CPU loop (group_prox.cpp) and the CUDA kernel (cuda/optim_group.cu). The
// callers compute the block sums; these functions only decide the next point.
//
// In units of s = ||v|| (u_i = v_i / s, tau_i = t_i / s, so ||u|| = 1) the prox is
//     x_i = v_i rho / (rho + tau_i),  rho in (0, 1] the root of  S(rho) = sum_i u_i^2 / (rho + tau_i)^2 = 1,
// when ||(u_i / tau_i)_i|| > 1 (otherwise x = 0). S decreases in rho, and
//     1 / (rho + tau_max)^2 <= S(rho) <= 1 / (rho + tau_min)^2       (min/max over u_i != 0)
// bracket the root in [max(0, 1 - tau_max), 1 - tau_min]. We solve h(rho) = S^(-1/2) - 1 = 0 by Newton:
// h is linear when every tau_i is equal (one step), increasing and concave in general (the secular
// equation of Moré & Sorensen, SIAM J. Sci. Stat. Comput. 1983), so after the first step the
// iterates increase monotonically to the root. With D(rho) = sum_i u_i^2 / (rho + tau_i)^3,
//     h'(rho) = S^(-3/2) D,   rho_next = rho + S (sqrt(S) - 1) / D.
// A step that leaves the bracket (or is not finite) is replaced by bisection.
#pragma once

#include <cmath>

#include "proxima/core/hd.h"

namespace px::optim::prox {

struct MetricRoot {
  double lo = 0, hi = 1;  // h(lo) <= 0 <= h(hi)
  double rho = 1;         // the next point to evaluate S and D at
  bool done = false;
  int steps = 0;
};

// tau_min, tau_max over the coordinates with u_i != 0; tau_mean = sum_i u_i^2 tau_i (the root when
// every tau_i is equal). Call only when ||(u_i / tau_i)_i|| > 1.
PX_HD MetricRoot metric_root_start(double tau_min, double tau_max, double tau_mean) {
  MetricRoot r;
  r.lo = fmax(0.0, 1.0 - tau_max);
  r.hi = fmax(r.lo, fmin(1.0, 1.0 - tau_min));
  r.rho = fmin(r.hi, fmax(r.lo, 1.0 - tau_mean));
  r.done = r.hi - r.lo <= 0x1p-53 * r.hi;
  if (r.done) r.rho = r.hi;
  return r;
}

// Takes S(rho) and D(rho) at r.rho; moves the bracket and sets the next rho (or done: r.rho is the
// root). Newton converges quadratically, so a step below 2^-40 rho leaves an error far below the
// rounding of S itself; stopping there (rather than at the bracket) also keeps the rounding noise
// of S near the root from sending a tiny step out of the bracket into bisection.
PX_HD void metric_root_step(MetricRoot& r, double S, double D) {
  const double rho = r.rho;
  const double newton = rho + S * (sqrt(S) - 1.0) / D;
  if (S == 1.0 || fabs(newton - rho) <= 0x1p-40 * rho) {
    r.done = true;
    r.rho = fmin(r.hi, fmax(r.lo, newton));
    return;
  }
  (S > 1.0 ? r.lo : r.hi) = rho;
  r.rho = newton > r.lo && newton < r.hi ? newton : 0.5 * (r.lo + r.hi);  // not finite: bisection too
  r.done = ++r.steps >= 100 || r.hi - r.lo <= 0x1p-52 * r.hi;
}

}  // namespace px::optim::prox
