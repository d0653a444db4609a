// SGD with momentum, dampening, Nesterov momentum and L2 weight decay (PyTorch's torch.optim.SGD).
//
//   d = g + wd p;   buf = d (first step) or momentum buf + (1 - dampening) d;
//   d = d + momentum buf (nesterov) or buf;   p = p - lr d
// Nesterov form of Sutskever, Martens, Dahl & Hinton (ICML 2013), as PyTorch writes it. The
// per-coordinate math is rules::sgd_update in update_rules.h.
#pragma once

#include "proxima/optim/optimizer.h"

namespace px::optim {

struct SgdOptions {
  double lr = 0.01;         // PyTorch requires lr; 0.01 is proxima's default
  double momentum = 0;      // >= 0
  double dampening = 0;     // in [0, 1]
  bool nesterov = false;    // needs momentum > 0 and dampening 0
  double weight_decay = 0;  // >= 0 (L2 term added to the gradient)
};

// One SGD update (PyTorch's rule, rules::sgd_update) of a contiguous CPU tensor with the group's lr
// and weight_decay and the options' momentum, dampening and nesterov; momentum_buffer is null
// without momentum, and `first` marks its first step. SGD::update and PathProx's SGD half.
void sgd_update_tensor(const Tensor& param, const Tensor& grad, Tensor* momentum_buffer, double lr,
                       double weight_decay, const SgdOptions& options, bool first);

class SGD : public Optimizer {
 public:
  // Groups that leave lr / weight_decay unset take the options' values.
  SGD(std::vector<ParamGroup> groups, const SgdOptions& options = {});
  SGD(std::vector<Tensor> params, const SgdOptions& options = {});
  std::string name() const override { return "sgd"; }
  const SgdOptions& options() const { return options_; }

 protected:
  std::vector<StateEntrySpec> state_spec() const override;
  void update(const ParamGroup& group, const Tensor& param, const Tensor& grad,
              ParamState& state) override;
  void update_device(const ParamGroup& group, std::vector<DeviceParam>& params) override;

 private:
  SgdOptions options_;
};

}  // namespace px::optim
