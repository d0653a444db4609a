// AdaGrad (Duchi, Hazan & Singer, JMLR 2011), as PyTorch's torch.optim.Adagrad.
//
//   g = g + wd p;   clr = lr / (1 + (t - 1) lr_decay)
//   sum = sum + g^2;   p = p - clr g / (sqrt(sum) + eps)
// sum starts at initial_accumulator_value. The per-coordinate math is rules::adagrad_update.
#pragma once

#include "proxima/optim/optimizer.h"

namespace px::optim {

struct AdagradOptions {
  double lr = 0.01;
  double lr_decay = 0;                   // >= 0
  double weight_decay = 0;               // >= 0
  double initial_accumulator_value = 0;  // >= 0
  double eps = 1e-10;                    // >= 0
};

class Adagrad : public Optimizer {
 public:
  Adagrad(std::vector<ParamGroup> groups, const AdagradOptions& options = {});
  Adagrad(std::vector<Tensor> params, const AdagradOptions& options = {});
  std::string name() const override { return "adagrad"; }
  const AdagradOptions& options() const { return options_; }

 protected:
  std::vector<StateEntrySpec> state_spec() const override;
  void update(const ParamGroup& group, const Tensor& param, const Tensor& grad,
              ParamState& state) override;
  void update_device(const ParamGroup& group, std::vector<DeviceParam>& params) override;

 private:
  AdagradOptions options_;
};

}  // namespace px::optim
