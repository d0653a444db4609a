// Internal: SGD's fused device step over one group's parameters (SGD::update_device and the SGD
// half of PathProx::update_device).
#pragma once

#include <vector>

#include "proxima/optim/cpu_loop.h"
#include "proxima/optim/device_loop.h"
#include "proxima/optim/sgd.h"
#include "proxima/optim/update_rules.h"

namespace px::optim::device {

// rules::sgd_update with lr and weight_decay (the group's) and the options' momentum, dampening
// and nesterov over `params` (Optimizer::DeviceParam: .param, .grad, .state), one launch per dtype
// and first step; init_state(state, param) creates the momentum buffer on a parameter's first step.
template <class DeviceParam, class InitState>
void sgd_step(std::vector<DeviceParam>& params, double lr, double weight_decay, const SgdOptions& o,
              InitState&& init_state) {
  const bool use_momentum = o.momentum != 0;
  auto first_step = [&](const DeviceParam& dp) { return use_momentum && dp.state->empty(); };
  for_each_bucket(params, first_step, [&](DType dtype, bool first, std::vector<DeviceParam*>& members) {
    TensorList list;
    for (DeviceParam* dp : members) {
      if (first) init_state(*dp->state, dp->param);
      list.add({&dp->param, &dp->grad, use_momentum ? &dp->state->at("momentum_buffer") : nullptr});
    }
    cpu::dispatch_float(dtype, [&](auto tag) {
      using T = decltype(tag);
      sgd(list, rules::make_sgd_coefficients<T>(lr, o.momentum, o.dampening, weight_decay, o.nesterov, first));
    });
  });
}

}  // namespace px::optim::device
