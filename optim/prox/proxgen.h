// ProxGen: the family of preconditioned stochastic proximal gradient methods, with the exact
// metric prox (Yun, Lozano & Yang, "Adaptive Proximal Gradient Methods for Structured Neural
// Networks", NeurIPS 2021, Algorithm 1; ALGORITHMS.md §2).
//
//   theta_{t+1} = argmin_theta <m_t, theta> + lambda R(theta) + 1/(2 alpha_t) ||theta - theta_t||^2_{C_t + delta I}
//               = prox^{C_t + delta I}_{alpha_t lambda R}( theta_t - alpha_t (C_t + delta I)^{-1} m_t )
//
// With a diagonal C_t and a separable R this is, per coordinate (preconditioner.h),
//   z_i = theta_i - alpha m^_i / d_i,   theta_i <- P_r(z_i; t_i),   t_i = alpha lambda / d_i,  d_i = C_i + delta,
// fused in one pass over the tensor. The group lasso uses its exact metric prox (group_prox.h).
// Instances: ProxGen-Adam (the paper's experiments; lambda = 0 is Adam, decoupled weight decay
// makes it AdamW), proximal SGD (preconditioner "none" with momentum 0: theta <- prox_{alpha
// lambda R}(theta - alpha g)), ProxGen-AdaGrad, ProxGen-RMSprop, and revised ProxQuant (ProxGen
// with a binary regulariser, Table 2 of the paper).
//
// Original ProxQuant (Bai, Wang & Liberty, ICLR 2019; ALGORITHMS.md §3.2) is this optimizer with
// metric_prox = false (one threshold t = alpha lambda for every coordinate, ignoring the Adam
// metric) and clip = 1 (theta projected onto [-1, 1] after the prox); make_prox_optimizer names it
// "proxquant".
//
// Pitfall (ALGORITHMS.md §2.7.2): where the gradient history is ~0, d_i ~ delta and t_i ~ alpha
// lambda / delta is huge, so such coordinates (dead filters) are pruned. That is the exact prox;
// set_record_thresholds() exposes the distribution of t_i.
#pragma once

#include <optional>
#include <string>

#include "proxima/optim/prox/preconditioner.h"
#include "proxima/optim/prox/prox_optimizer.h"

namespace px::optim::prox {

struct ProxGenOptions {
  double lr = 1e-3;                       // alpha, for groups that set no lr of their own
  std::string preconditioner = "adam";    // none | adam | adagrad | rmsprop
  std::optional<double> momentum;         // rho; unset: the preconditioner's default
  std::optional<double> beta2;            // adam / rmsprop; unset: the default
  std::optional<double> delta;            // unset: the default
  std::string regularizer = "none";       // groups without a "regularizer" option
  // Groups without a "lambda" option. Unset: a group with a regulariser (its own or `regularizer`)
  // must set "lambda", else the constructor throws ValueError; 0 is accepted when given.
  std::optional<double> lambda;
  double weight_decay = 0;                // decoupled: theta *= 1 - alpha wd; groups that set no weight_decay
  bool metric_prox = true;                // false: t = alpha lambda (original ProxQuant)
  std::optional<double> clip;             // > 0: regularised tensors clipped to [-clip, clip]
};

class ProxGen : public ProxOptimizer {
 public:
  ProxGen(std::vector<ParamGroup> groups, const ProxGenOptions& options = {});
  ProxGen(std::vector<Tensor> params, const ProxGenOptions& options = {});
  // "proxgen", or "proxquant" for metric_prox = false.
  std::string name() const override { return options_.metric_prox ? "proxgen" : "proxquant"; }
  const ProxGenOptions& options() const { return options_; }
  const Preconditioner& preconditioner() const { return preconditioner_; }

 protected:
  std::vector<StateEntrySpec> state_spec() const override;
  void update(const ParamGroup& group, const Tensor& param, const Tensor& grad, ParamState& state) override;
  void update_device(const ParamGroup& group, std::vector<DeviceParam>& params) override;

 private:
  ProxGenOptions options_;
  Preconditioner preconditioner_;
};

}  // namespace px::optim::prox
