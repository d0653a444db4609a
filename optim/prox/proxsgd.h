// ProxSGD: proximal-type stochastic gradient descent with a convex-combination step (Yang, Yuan,
// Chatzimichailidis, van Sloun, Lei & Chatzinotas, "ProxSGD: Training Structured Neural Networks
// under Regularization and Constraints", ICLR 2020; ALGORITHMS.md §5).
//
// Objective: min_{x in X} f(x) + lambda R(x), X a box (clip_low, clip_high), R separable (the
// paper's is convex l1). Per step t = 1, 2, ... of a parameter (proxsgd_rule.h):
//   eps_t = eps0 / (t + offset)^eps_decay,   rho_t = rho0 / (t + offset)^rho_decay     (paper (8), (6))
//   v_t   = (1 - rho_t) v_{t-1} + rho_t g_t          (no bias correction)
//   r_t   = beta r_{t-1} + (1 - beta) g_t^2,   tau_t = sqrt(r_t / (1 - beta^t)) + delta
//   x_hat = argmin_{x in X} (x - x_t)^T v_t + 1/2 (x - x_t)^T diag(tau_t) (x - x_t) + lambda R(x)
//         = clip_X( P_r(x_t - v_t / tau_t; lambda / tau_t) )      per coordinate
//   x_{t+1} = x_t + eps_t (x_hat - x_t)
// The subproblem has NO learning rate (the paper's form): the thresholds are t_i = lambda / tau_i.
// clip(P_r(.)) is the exact argmin over the box for a convex separable r; for the nonconvex
// regularisers (l0, lq, mcp, scad, binary) ProxSGD here uses the same formula (prox, then clip),
// which is an extension, not the paper's method. The group lasso uses its exact prox with the
// per-coordinate thresholds (Regularizer::prox_ with a t tensor). Groups that are unregularised
// (or whose effective lambda is 0) take x_hat = clip_X(x_t - v_t / tau_t).
//
// Choices proxima makes (and where it departs from the released code):
// * The bias correction uses t (1 - beta^t). The PyTorch code [PSGD-pt] uses t + 1 (off by one);
//   the TF code uses iteration + 1 with iterations from 0, which is t.
// * ParamGroup::lr plays eps0: a group's eps_t = group.lr / (t + offset)^eps_decay, and a group
//   without its own lr takes `epsilon0`. So lr schedules (set_lr, scale_lr) scale eps_t, which
//   is the step length of ProxSGD. lr must stay in [0, 1] (eps_t <= 1 keeps the step a convex
//   combination; checked at construction).
// * epsilon_decay = 0 and rho_decay = 0 make eps_t = eps0 and rho_t = rho0 constant.
// * Decoupled weight decay (explicit, default 0): x_t <- (1 - eps_t wd) x_t before the step, in
//   every group.
// * The box X applies to every group (regularised or not), as the paper's x in X.
// * The released code applies lambda to every parameter; proxima regularises the groups that name
//   a regulariser (ProxOptimizer's convention).
// Relation to ProxGen (ALGORITHMS.md §11 oracle 14): with eps_t = 1 (eps0 = 1, eps_decay = 0),
// rho_t = 1 (rho0 = 1, rho_decay = 0, so v = g) this is ProxGen-Adam with alpha = 1, momentum 0,
// beta2 = beta and the same delta.
// State per parameter: "step" (count), "v" (momentum), "r" (second moment).
#pragma once

#include <optional>
#include <string>

#include "proxima/optim/prox/prox_optimizer.h"

namespace px::optim::prox {

struct ProxSGDOptions {
  double epsilon0 = 0.06;      // (0, 1]: the groups' default lr (eps_t's numerator)
  double epsilon_decay = 0.5;  // >= 0; 0: constant eps_t
  double rho0 = 0.9;           // (0, 1]
  double rho_decay = 0.5;      // >= 0; 0: constant rho_t
  double step_offset = 4;      // >= 0
  double beta = 0.999;         // [0, 1)
  double delta = 1e-8;         // > 0 (tau = delta where r = 0)
  std::string regularizer = "none";  // groups without a "regularizer" option
  // Groups without a "lambda" option. Unset: a group with a regulariser (its own or `regularizer`)
  // must set "lambda", else the constructor throws ValueError; 0 is accepted when given.
  std::optional<double> lambda{};
  double weight_decay = 0;           // decoupled: x *= 1 - eps_t wd, every group
  std::optional<double> clip_low{};  // the box X; unset: open on that side
  std::optional<double> clip_high{};
};

class ProxSGD : public ProxOptimizer {
 public:
  ProxSGD(std::vector<ParamGroup> groups, const ProxSGDOptions& options = {});
  ProxSGD(std::vector<Tensor> params, const ProxSGDOptions& options = {});
  std::string name() const override { return "proxsgd"; }
  const ProxSGDOptions& options() const { return options_; }

 protected:
  std::vector<StateEntrySpec> state_spec() const override;
  void update(const ParamGroup& group, const Tensor& param, const Tensor& grad, ParamState& state) override;
  void update_device(const ParamGroup& group, std::vector<DeviceParam>& params) override;

 private:
  ProxSGDOptions options_;
};

}  // namespace px::optim::prox
