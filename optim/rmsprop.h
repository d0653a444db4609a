// RMSprop (Hinton, Coursera lecture 6e, 2012) with the centered variant (Graves 2013), momentum
// and L2 weight decay, as PyTorch's torch.optim.RMSprop.
//
//   g = g + wd p;   sq = alpha sq + (1 - alpha) g^2
//   avg = sqrt(sq - ga^2) + eps with ga = alpha ga + (1 - alpha) g (centered), else sqrt(sq) + eps
//   momentum > 0: buf = momentum buf + g / avg, p = p - lr buf;  else p = p - lr g / avg
// The per-coordinate math is rules::rmsprop_update in update_rules.h.
#pragma once

#include "proxima/optim/optimizer.h"

namespace px::optim {

struct RmspropOptions {
  double lr = 0.01;
  double alpha = 0.99;      // smoothing constant, >= 0
  double eps = 1e-8;        // >= 0
  double weight_decay = 0;  // >= 0
  double momentum = 0;      // >= 0
  bool centered = false;
};

class RMSprop : public Optimizer {
 public:
  RMSprop(std::vector<ParamGroup> groups, const RmspropOptions& options = {});
  RMSprop(std::vector<Tensor> params, const RmspropOptions& options = {});
  std::string name() const override { return "rmsprop"; }
  const RmspropOptions& options() const { return options_; }

 protected:
  std::vector<StateEntrySpec> state_spec() const override;
  void update(const ParamGroup& group, const Tensor& param, const Tensor& grad,
              ParamState& state) override;
  void update_device(const ParamGroup& group, std::vector<DeviceParam>& params) override;

 private:
  RmspropOptions options_;
};

}  // namespace px::optim
