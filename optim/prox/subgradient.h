// SubgradientOptimizer: the subgradient baselines ProxGen is compared against (ALGORITHMS.md §2.3,
// the code's "subadaml1/l12/l23"): a classic optimizer run on loss + lambda R, i.e. on the
// augmented gradient
//     g~ = g + lambda * dR(theta)        (regularised groups; g~ = g elsewhere)
// computed at the current theta, then fed to the inner rule of update_rules.h:
//   "adam"  rules::adam_update, weight decay decoupled (AdamW, the ProxGen code's baseline)
//   "sgd"   rules::sgd_update with momentum (and nesterov), weight decay coupled (PyTorch's SGD)
// With lambda = 0 it is exactly AdamW / SGD. It never produces exact zeros (compare it on the
// thresholded densities, ALGORITHMS.md convention 7).
//
// dR: the separable regulariser's subgradient, except for power penalties with exponent q < 1
// (l12, l23, lq:Q, and bin-l12 / bin-l23 on the distance ||x| - 1|), whose derivative
// q |x|^(q-1) explodes near 0: there proxima differentiates the smoothed penalty
// (|x| + smoothing)^q instead, d = q (|x| + smoothing)^(q-1) sgn(x) (0 at x = 0), the ProxGen code's
// ResNet choice (1e-6). smoothing = 0 is the raw subgradient (0 at x = 0; the VGG code's choice).
// Group lasso uses Regularizer::subgradient (w / ||w|| per block, 0 for a zero block).
// Regularisers without a useful subgradient (l0, bin-l0) are a ValueError at construction, even
// at lambda 0 (a lambda schedule may raise it). No thresholds are recorded (no prox is applied).
#pragma once

#include <optional>
#include <string>

#include "proxima/optim/prox/prox_optimizer.h"
#include "proxima/optim/prox/smoothed_subgradient.h"

namespace px::optim::prox {

struct SubgradientOptions {
  std::string inner = "adam";       // adam | sgd
  double lr = 1e-3;
  double beta1 = 0.9;               // adam, in [0, 1)
  double beta2 = 0.999;             // adam, in [0, 1)
  double eps = 1e-8;                // adam, >= 0
  double momentum = 0.9;            // sgd, >= 0
  bool nesterov = false;            // sgd, needs momentum > 0
  double weight_decay = 0;          // adam: decoupled (AdamW); sgd: coupled (L2 in the gradient)
  std::string regularizer = "none"; // groups without a "regularizer" option
  // Groups without a "lambda" option. Unset: a group with a regulariser (its own or `regularizer`)
  // must set "lambda", else the constructor throws ValueError; 0 is accepted when given.
  std::optional<double> lambda;
  double smoothing = 1e-6;          // >= 0, see above
};

class SubgradientOptimizer : public ProxOptimizer {
 public:
  SubgradientOptimizer(std::vector<ParamGroup> groups, const SubgradientOptions& options = {});
  SubgradientOptimizer(std::vector<Tensor> params, const SubgradientOptions& options = {});
  // "subgrad-adam" or "subgrad-sgd".
  std::string name() const override { return adam_ ? "subgrad-adam" : "subgrad-sgd"; }
  const SubgradientOptions& options() const { return options_; }

 protected:
  // adam: "step", "exp_avg", "exp_avg_sq" (Adam's names); sgd: "momentum_buffer" when momentum != 0.
  std::vector<StateEntrySpec> state_spec() const override;
  void update(const ParamGroup& group, const Tensor& param, const Tensor& grad, ParamState& state) override;
  void update_device(const ParamGroup& group, std::vector<DeviceParam>& params) override;

 private:
  // Group lasso: g + lambda dR(param); otherwise grad itself (separable regularisers are added
  // per coordinate inside the update loop).
  Tensor augmented_gradient(std::size_t group, const Tensor& param, const Tensor& grad) const;

  SubgradientOptions options_;
  bool adam_ = true;
};

}  // namespace px::optim::prox
