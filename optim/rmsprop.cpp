// RMSprop: option checks and the CPU loop over rules::rmsprop_update.
#include "proxima/optim/rmsprop.h"

#include "proxima/optim/cpu_loop.h"
#include "proxima/optim/device_loop.h"
#include "proxima/optim/update_rules.h"

namespace px::optim {

RMSprop::RMSprop(std::vector<ParamGroup> groups, const RmspropOptions& o)
    : Optimizer(std::move(groups)), options_(o) {
  check_option(o.lr >= 0, "rmsprop", "lr", o.lr, ">= 0");
  check_option(o.alpha >= 0, "rmsprop", "alpha", o.alpha, ">= 0");
  check_option(o.eps >= 0, "rmsprop", "eps", o.eps, ">= 0");
  check_option(o.weight_decay >= 0, "rmsprop", "weight_decay", o.weight_decay, ">= 0");
  check_option(o.momentum >= 0, "rmsprop", "momentum", o.momentum, ">= 0");
  init_groups(o.lr, o.weight_decay);
}

RMSprop::RMSprop(std::vector<Tensor> params, const RmspropOptions& o)
    : RMSprop(single_group(std::move(params)), o) {}

std::vector<StateEntrySpec> RMSprop::state_spec() const {
  std::vector<StateEntrySpec> spec = {{"step", StateKind::count},
                                      {"square_avg", StateKind::per_coordinate}};
  if (options_.momentum > 0) spec.push_back({"momentum_buffer", StateKind::per_coordinate});
  if (options_.centered) spec.push_back({"grad_avg", StateKind::per_coordinate});
  return spec;
}

void RMSprop::update(const ParamGroup& group, const Tensor& param, const Tensor& grad, ParamState& state) {
  if (state.empty()) init_state(state, param);
  ++state.at("step").data<std::int64_t>()[0];
  cpu::dispatch_float(param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const auto c = rules::make_rmsprop_coefficients<T>(group.lr, options_.alpha, options_.eps,
                                                       group.weight_decay, options_.momentum,
                                                       options_.centered);
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* sq = state.at("square_avg").data<T>();
    T* ga = options_.centered ? state.at("grad_avg").data<T>() : nullptr;
    T* buf = options_.momentum > 0 ? state.at("momentum_buffer").data<T>() : nullptr;
    cpu::for_each_coordinate(param.numel(), [&](std::int64_t i) {
      T unused_ga = 0, unused_buf = 0;
      rules::rmsprop_update(p[i], g[i], sq[i], ga ? ga[i] : unused_ga, buf ? buf[i] : unused_buf, c);
    });
  });
}

void RMSprop::update_device(const ParamGroup& group, std::vector<DeviceParam>& params) {
  device::TensorList lists[2];  // by dtype: float32, float64 (the coefficients do not depend on the step)
  for (DeviceParam& dp : params) {
    ParamState& s = *dp.state;
    if (s.empty()) init_state(s, dp.param);
    ++s.at("step").data<std::int64_t>()[0];
    lists[dp.param.dtype() == DType::float64].add(
        {&dp.param, &dp.grad, &s.at("square_avg"), options_.centered ? &s.at("grad_avg") : nullptr,
         options_.momentum > 0 ? &s.at("momentum_buffer") : nullptr});
  }
  const auto o = options_;
  if (!lists[0].empty())
    device::rmsprop(lists[0], rules::make_rmsprop_coefficients<float>(group.lr, o.alpha, o.eps, group.weight_decay,
                                                                      o.momentum, o.centered));
  if (!lists[1].empty())
    device::rmsprop(lists[1], rules::make_rmsprop_coefficients<double>(group.lr, o.alpha, o.eps, group.weight_decay,
                                                                       o.momentum, o.centered));
}

}  // namespace px::optim
