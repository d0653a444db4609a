// Adam (Kingma & Ba, ICLR 2015) with the AMSGrad option (Reddi, Kale & Kumar, ICLR 2018), and
// AdamW, Adam with decoupled weight decay (Loshchilov & Hutter, ICLR 2019).
//
//   AdamW: p = (1 - lr wd) p.   Adam: g = g + wd p.
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  v_max = max(v_max, v) (amsgrad)
//   p = p - lr / (1 - b1^t) * m / (sqrt(v or v_max) / sqrt(1 - b2^t) + eps)
// This is PyTorch 1.13's formula (eps added after the bias correction of sqrt(v)). The
// per-coordinate math is rules::adam_update in update_rules.h.
#pragma once

#include "proxima/optim/optimizer.h"

namespace px::optim {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;    // in [0, 1)
  double beta2 = 0.999;  // in [0, 1)
  double eps = 1e-8;     // >= 0
  double weight_decay = 0;
  bool amsgrad = false;
};

struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.01;  // decoupled: p *= 1 - lr wd before the Adam step
  bool amsgrad = false;
};

// Adam and AdamW share everything but where the weight decay goes.
class Adam : public Optimizer {
 public:
  Adam(std::vector<ParamGroup> groups, const AdamOptions& options = {});
  Adam(std::vector<Tensor> params, const AdamOptions& options = {});
  std::string name() const override { return decoupled_ ? "adamw" : "adam"; }
  const AdamOptions& options() const { return options_; }

 protected:
  Adam(std::vector<ParamGroup> groups, const AdamOptions& options, bool decoupled);
  std::vector<StateEntrySpec> state_spec() const override;
  void update(const ParamGroup& group, const Tensor& param, const Tensor& grad,
              ParamState& state) override;
  void update_device(const ParamGroup& group, std::vector<DeviceParam>& params) override;

 private:
  AdamOptions options_;
  bool decoupled_ = false;
};

class AdamW : public Adam {
 public:
  AdamW(std::vector<ParamGroup> groups, const AdamWOptions& options = {});
  AdamW(std::vector<Tensor> params, const AdamWOptions& options = {});
};

}  // namespace px::optim
