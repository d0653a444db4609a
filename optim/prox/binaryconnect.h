// BinaryConnect (Courbariaux, Bengio & David, "BinaryConnect: Training Deep Neural Networks with
// binary weights during propagations", NeurIPS 2015; ALGORITHMS.md §4), deterministic variant.
//
// The model's binarised parameters hold w_b = sgn(w) with sgn(0) := +1, so forward and backward
// run on binary weights; the real-valued latent weights w live in the optimizer state ("latent").
// Each step, per coordinate of a binarised tensor (straight-through estimator: the gradient with
// respect to w_b is applied to w):
//   w <- inner_update(w, dL/dw_b)     Adam (weight decay decoupled, AdamW order) or SGD with
//                                     momentum (weight decay coupled, as PyTorch's SGD)
//   w <- clip(w, -clip, clip)
//   param <- sgn(w)
// The inner update is rules::adam_update / rules::sgd_update of update_rules.h on w.
// Unbinarised groups (BatchNorm, biases) get the plain inner update on the parameter itself.
//
// Which groups are binarised: those that name a regulariser of the binary family ("bin-l1",
// "bin-l12", "bin-l23", "bin-l0"; the group option "regularizer", default the options'
// `regularizer`, "bin-l1"). The spec only marks the group: BinaryConnect applies no prox and no
// penalty, ignores lambda (which may be 0) and the spec's binary_zero (sgn(0) is always +1 here).
// A group naming a non-binary regulariser ("l1", ...) is a ValueError; "none" stays real-valued.
// Groups that must stay real therefore set "regularizer": "none" (or the options' regularizer is
// "none" and the binarised groups name "bin-l1").
//
// CONSTRUCTION CHANGES THE PARAMETERS: the constructor performs the first binarisation of every
// binarised tensor (latent = clip(param), param = sgn(latent)), so the very first forward already
// sees binary weights. Load pretrained weights into the model before constructing the optimizer.
//
// State (every parameter, created by the constructor, so state_dict() round-trips the latent
// weights even before the first step): "step" (count), "exp_avg", "exp_avg_sq" (adam) or
// "momentum_buffer" (sgd with momentum != 0), and "latent". For an unbinarised parameter
// "latent" is the parameter tensor itself (no copy). A parameter whose state a load_state_dict
// cleared restarts from latent = clip(param) at its next step. freeze_regularized() stops the
// binarised groups (their parameters are already binary). No thresholds are recorded.
#pragma once

#include <string>

#include "proxima/optim/prox/prox_optimizer.h"

namespace px::optim::prox {

struct BinaryConnectOptions {
  std::string inner = "adam";         // adam | sgd
  double lr = 1e-2;                   // ProxQuant's BinaryConnect baseline (Adam regime)
  double beta1 = 0.9;                 // adam, in [0, 1)
  double beta2 = 0.999;               // adam, in [0, 1)
  double eps = 1e-8;                  // adam, >= 0
  double momentum = 0.9;              // sgd, >= 0
  bool nesterov = false;              // sgd, needs momentum > 0
  double weight_decay = 0;            // adam: decoupled; sgd: coupled (on the latent weights)
  double clip = 1.0;                  // > 0: latent weights clipped to [-clip, clip]
  std::string regularizer = "bin-l1"; // groups without a "regularizer" option (see above)
};

class BinaryConnect : public ProxOptimizer {
 public:
  BinaryConnect(std::vector<ParamGroup> groups, const BinaryConnectOptions& options = {});
  BinaryConnect(std::vector<Tensor> params, const BinaryConnectOptions& options = {});
  std::string name() const override { return "binaryconnect"; }
  const BinaryConnectOptions& options() const { return options_; }

  // True when the group's parameters are binarised (a binary-family regulariser).
  bool binarized(std::size_t group) const;
  // The latent real weights of parameter `index` of `group`: the state's tensor itself (not a
  // copy); for an unbinarised parameter, the parameter; clip(param) when its state was cleared.
  Tensor latent(std::size_t group, std::size_t index) const;

 protected:
  std::vector<StateEntrySpec> state_spec() const override;
  void update(const ParamGroup& group, const Tensor& param, const Tensor& grad, ParamState& state) override;
  void update_device(const ParamGroup& group, std::vector<DeviceParam>& params) override;

 private:
  // Creates every state entry and, for a binarised tensor, binarises it (latent = clip(param)).
  void init_param_state(std::size_t group, const Tensor& param, ParamState& state) const;
  void inner_update(const ParamGroup& group, const Tensor& target, const Tensor& grad, ParamState& state);

  BinaryConnectOptions options_;
  bool adam_ = true;
  std::vector<bool> binarized_;  // one per group
};

}  // namespace px::optim::prox
