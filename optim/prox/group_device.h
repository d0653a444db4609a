// Internal: the CUDA kernels of the group lasso (ProxGen, ProxSGD, the subgradient baselines),
// PathProx and SR2, declared without CUDA headers (kernels in cuda/optim_group.cu; a build
// without CUDA defines each as a DeviceError in core/no_cuda/no_cuda_optim.cpp).
//
// CONVENTION: the per-group kernels take one contiguous float32/float64 CUDA tensor and its
// GroupLayout (group_prox.h); one thread block reduces one group, in double, with the same
// formulas as the CPU (block_norm's max-then-scaled-sum, the metric prox's Newton root of group_root.h), so only the
// summation order differs from the CPU. The fused pieces take a TensorList (optim/device_loop.h)
// with the slots in brackets and the host coefficients of the CPU loops. Nothing here reads a
// value back to the host: the reductions SR2 needs land in a float64 device tensor `sums` that the
// caller reads once per step.
#pragma once

#include "proxima/optim/device_loop.h"
#include "proxima/optim/prox/group_prox.h"

namespace px::optim::device {

// ---- per-group kernels (group_prox.h) ----
// theta <- block prox of each group with thresholds t (theta's shape and dtype, contiguous) or
// t_uniform when t is null.
void group_prox(const Tensor& theta, const Tensor* t, double t_uniform, const prox::GroupLayout& layout);
// out (theta's shape and dtype) <- theta_g / ||theta_g||, 0 for a zero group.
void group_subgradient(const Tensor& theta, const Tensor& out, const prox::GroupLayout& layout);
// norms (float64 [groups] on theta's device) <- ||theta_g||.
void group_norms(const Tensor& theta, const Tensor& norms, const prox::GroupLayout& layout);
// theta_g <- theta_g f_g with f_g = 1 / ||theta_g|| (1 when the norm is 0 or not finite);
// factors (float64 [groups]) <- f_g.
void group_normalize(const Tensor& theta, const Tensor& factors, const prox::GroupLayout& layout);
// x_i <- T(double(x_i) * f_i), f float64 with x's numel (x contiguous).
void scale_by(const Tensor& x, const Tensor& factors);
// x_i <- T(double(x_i) * s) (x contiguous).
void scale(const Tensor& x, double s);

// ---- ProxGen / ProxSGD with a non-separable regulariser: the gradient half, then the caller's
// group prox, then the end of the step ----
// [p, g, exp_avg, exp_avg_sq, t]: proxgen_gradient_step (p <- z); t <- its threshold.
template <class T> void proxgen_thresholds(const TensorList& list, const prox::ProxGenCoefficients<T>& c);
// [p]: p <- clip to [-bound, bound].
template <class T> void clip(const TensorList& list, double bound);
// [p, g, v, r, z]: z <- proxsgd_direction (p decayed, v and r updated).
template <class T> void proxsgd_direction(const TensorList& list, const prox::ProxSGDCoefficients<T>& c);
// [t, r]: t <- lambda / tau(r) (the threshold proxsgd_direction computed).
template <class T> void proxsgd_thresholds(const TensorList& list, const prox::ProxSGDCoefficients<T>& c);
// [p, z]: p <- p + eps (clip(z) - p).
template <class T> void proxsgd_combine(const TensorList& list, const prox::ProxSGDCoefficients<T>& c);

// ---- SR2 (sr2.cpp's trial step and Andrei's update) ----
struct SR2TrialSettings {
  bool restart = false;  // v <- g instead of the momentum update
  bool adam = false, andrei = false;
  bool regularized = false;
  double beta = 0, ema_beta = 0, andrei_floor = 0, sigma = 1, lambda = 0;
  prox::SeparableProx r{};
};
// [x, g, v, e ("adam") or B ("andrei")]: x <- the trial point; sums[0..4] += (s's, v's, g's,
// lambda r(x), lambda (r(x) - r(x + s))), sums float64 [5] on the list's device.
template <class T> void sr2_trial(const TensorList& list, const SR2TrialSettings& s, const Tensor& sums);
// [x1, x0, g1, g0, B]: sums[0..3] += (s'y, s's, s'Bs, sum s^4), s = x1 - x0, y = g1 - g0 (double).
template <class T> void sr2_andrei_sums(const TensorList& list, const Tensor& sums);
// [x1, x0, B]: B <- T(double(B) - 1 + q s^2).
template <class T> void sr2_andrei_update(const TensorList& list, double q);

// The explicit instantiations of the templates above for one T, listed once for the files that
// define them: cuda/optim_group.cu (group pieces), cuda/optim_sr2.cu (SR2 pieces) and, as throws,
// core/no_cuda/no_cuda_optim.cpp (both).
#define PX_INSTANTIATE_GROUP_PIECES(T)                                                         \
  template void proxgen_thresholds<T>(const TensorList&, const prox::ProxGenCoefficients<T>&); \
  template void clip<T>(const TensorList&, double);                                            \
  template void proxsgd_direction<T>(const TensorList&, const prox::ProxSGDCoefficients<T>&);  \
  template void proxsgd_thresholds<T>(const TensorList&, const prox::ProxSGDCoefficients<T>&); \
  template void proxsgd_combine<T>(const TensorList&, const prox::ProxSGDCoefficients<T>&);
#define PX_INSTANTIATE_SR2_PIECES(T)                                                     \
  template void sr2_trial<T>(const TensorList&, const SR2TrialSettings&, const Tensor&); \
  template void sr2_andrei_sums<T>(const TensorList&, const Tensor&);                    \
  template void sr2_andrei_update<T>(const TensorList&, double);

}  // namespace px::optim::device
