// PathProx: proximal gradient training of the weight-decay objective of a network of positively
// homogeneous units (Yang, Zhang, Shenouda, Papailiopoulos, Lee & Nowak, "PathProx: A Proximal
// Gradient Algorithm for Weight Decay Regularized Deep Neural Networks", arXiv 2210.03069;
// ALGORITHMS.md §6, oracles §11 C; docs/pathprox.md).
//
// Units (nn/homogeneous.h): unit k of group g has input weights w_k (row / filter k of W(g), bias
// b_k) and output weights v_k (column / input channel k of V(g)). Objective:
//     F(theta) = L(theta) + lambda sum_g P_g + (lambda/2) sum_{other layers} ||W||_F^2,
//     P_g = sum_k ||w_k|| ||v_k||   (the group's l2 path norm; biases excluded).
// Because (w_k, b_k, v_k) -> (c w_k, c b_k, v_k / c) leaves the network unchanged and
// min_c (||c w||^2 + ||v / c||^2) / 2 = ||w|| ||v|| (c^2 = ||v|| / ||w||), F has the same minima
// as the weight-decay objective L + (lambda/2) sum_all-weights ||.||^2 (biases not decayed).
// One step, with gamma = the current lr (after the schedule):
//   1. SGD:      theta <- theta - gamma (grad L + lambda W_other)   (momentum optional, default 0;
//                grouped layers and every bias get the loss gradient only)
//   2. balance:  s_g = G / P_g with G = (prod_g P_g)^(1/n), for g = 1 .. n-1 in order:
//                V(g), bias(V(g)) *= s_g; the biases of the layers between V(g) and V(g+1)
//                (W(g+1) and "other" layers) *= s_g; V(g+1) /= s_g; P_{g+1} /= s_g.
//                Function-preserving (positive homogeneity); afterwards every P_g = G, so
//                sum_g P_g can only decrease (AM-GM). s_n = 1 in exact arithmetic.
//   3. prox:     per unit, w_k <- w_k / ||w_k||, b_k <- b_k / ||w_k||   (w_k = 0 stays 0);
//                v_k <- 0 if ||v_k|| <= tau, else v_k (1 - tau / ||v_k||),  tau = lambda gamma.
// Step 3 is a projected/proximal step on L + lambda sum ||v_k|| subject to ||w_k|| = 1; it is NOT
// function-preserving (the w normalisation changes the network, notably at the first step) and
// with lambda = 0 PathProx is still not plain SGD: v is unchanged but w is normalised (§11 C 23).
//
// Where proxima departs from the official code (ALGORITHMS.md §6.7; docs/pathprox.md):
//   * Missing biases are handled explicitly: V(g+1) is always divided by s_g (the code skips it,
//     changing the function, when a V layer has no bias). Biases of "other" layers between two
//     groups are scaled too (the code's models have none there).
//   * Dead groups: balancing is skipped for the step when some P_g <= kDeadPathNorm (the code
//     clamps P_g at 1e-6, which makes s_g huge and collapses the geometric mean).
//   * s_n is computed (last_balance().last_scale, = 1 up to rounding) but not applied: applying a
//     rounding-level s_n != 1 to the last V would change the function.
//   * Normalisation divides by ||w_k|| exactly (norms with scaling), not by max(||w_k||, 1e-6),
//     so every ||w_k|| is 0 or 1 afterwards.
//   * Momentum (off by default, as in every official config): the buffers are not rescaled by
//     the balance or the normalisation.
//   * float32 / float64, CPU or CUDA (the unit computations run in double; on CUDA one host read
//     of the path norms per step, which the balance needs).
#pragma once

#include <cstdint>
#include <vector>

#include "proxima/nn/homogeneous.h"
#include "proxima/optim/optimizer.h"

namespace px::optim::prox {

// Balancing is skipped when some group's path norm is at most this (a dead group).
inline constexpr double kDeadPathNorm = 1e-6;

// ---- the pieces of the step, exposed for tests and metrics ----
// P_g per group, in double.
std::vector<double> group_path_norms(const nn::HomogeneousUnits& units);
// sum_g P_g: the l2 path norm.
double path_norm(const nn::HomogeneousUnits& units);
// sum over the "other" layers of ||W||_F^2 (weights only).
double other_weights_sq_norm(const nn::HomogeneousUnits& units);
// sum of ||W||_F^2 over every grouped and other layer's weight (biases excluded): the literal
// weight-decay term is (lambda / 2) times this.
double all_weights_sq_norm(const nn::HomogeneousUnits& units);

// Units with ||w_k|| ||v_k|| > 0, over all grouped units (biases excluded).
struct ActiveUnits {
  std::int64_t active = 0, total = 0;
  double percent() const { return total ? 100.0 * static_cast<double>(active) / static_cast<double>(total) : 0.0; }
};
ActiveUnits active_units(const nn::HomogeneousUnits& units);

struct BalanceResult {
  bool applied = false;             // false: fewer than 2 groups, or a dead group (P_g <= kDeadPathNorm)
  std::vector<double> path_norms;   // P_g before
  double geometric_mean = 0;        // G
  std::vector<double> scales;       // s_1 .. s_{n-1} as applied (empty when not applied)
  double last_scale = 1;            // s_n (not applied; 1 up to rounding)
};
// Step 2 (in place, under no autograd).
BalanceResult layerwise_balance(const nn::HomogeneousUnits& units);
// Step 3 with threshold tau >= 0 (in place).
void pathprox_prox(const nn::HomogeneousUnits& units, double tau);

// ---- the optimizer ----
struct PathProxOptions {
  double lr = 0.1;          // gamma; ALGORITHMS.md §6.4: 0.1 (MNIST MLP, CIFAR VGG19), 0.3 (MNIST subset)
  double lambda = 1e-4;     // >= 0
  double momentum = 0;      // >= 0 (plain SGD momentum on the gradient)
  double dampening = 0;     // in [0, 1]
  bool nesterov = false;
  bool balance = true;      // step 2
};

class PathProx : public Optimizer {
 public:
  // `params`: every trainable parameter (the model's named_parameters). Group 0 holds the "other"
  // layers' weights (weight_decay = lambda), group 1 everything else (weight_decay 0); an empty
  // group is left out. ValueError when a unit tensor is not among `params`.
  PathProx(nn::HomogeneousUnits units, const NamedTensors& params, const PathProxOptions& options = {});
  std::string name() const override { return "pathprox"; }
  void step() override;

  const PathProxOptions& options() const { return options_; }
  const nn::HomogeneousUnits& units() const { return units_; }
  double lambda() const { return options_.lambda; }
  const BalanceResult& last_balance() const { return last_balance_; }
  // lambda * path norm + (lambda/2) sum_other ||W||^2: F minus the loss.
  double penalty() const;

 protected:
  std::vector<StateEntrySpec> state_spec() const override;
  void update(const ParamGroup& group, const Tensor& param, const Tensor& grad, ParamState& state) override;
  void update_device(const ParamGroup& group, std::vector<DeviceParam>& params) override;

 private:
  nn::HomogeneousUnits units_;
  PathProxOptions options_;
  BalanceResult last_balance_;
};

}  // namespace px::optim::prox
