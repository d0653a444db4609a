// AdaGrad: option checks and the CPU loop over rules::adagrad_update.
#include "proxima/optim/adagrad.h"

#include "proxima/core/ops.h"
#include "proxima/optim/cpu_loop.h"
#include "proxima/optim/device_loop.h"
#include "proxima/optim/update_rules.h"

namespace px::optim {

Adagrad::Adagrad(std::vector<ParamGroup> groups, const AdagradOptions& o)
    : Optimizer(std::move(groups)), options_(o) {
  check_option(o.lr >= 0, "adagrad", "lr", o.lr, ">= 0");
  check_option(o.lr_decay >= 0, "adagrad", "lr_decay", o.lr_decay, ">= 0");
  check_option(o.weight_decay >= 0, "adagrad", "weight_decay", o.weight_decay, ">= 0");
  check_option(o.initial_accumulator_value >= 0, "adagrad", "initial_accumulator_value",
               o.initial_accumulator_value, ">= 0");
  check_option(o.eps >= 0, "adagrad", "eps", o.eps, ">= 0");
  init_groups(o.lr, o.weight_decay);
}

Adagrad::Adagrad(std::vector<Tensor> params, const AdagradOptions& o)
    : Adagrad(single_group(std::move(params)), o) {}

std::vector<StateEntrySpec> Adagrad::state_spec() const {
  return {{"step", StateKind::count}, {"sum", StateKind::per_coordinate}};
}

void Adagrad::update(const ParamGroup& group, const Tensor& param, const Tensor& grad, ParamState& state) {
  if (state.empty()) {
    init_state(state, param);
    ops::fill_(state.at("sum"), options_.initial_accumulator_value);
  }
  std::int64_t& step = state.at("step").data<std::int64_t>()[0];
  ++step;
  cpu::dispatch_float(param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const auto c = rules::make_adagrad_coefficients<T>(group.lr, options_.lr_decay, group.weight_decay,
                                                       options_.eps, step);
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* sum = state.at("sum").data<T>();
    cpu::for_each_coordinate(param.numel(),
                             [&](std::int64_t i) { rules::adagrad_update(p[i], g[i], sum[i], c); });
  });
}

void Adagrad::update_device(const ParamGroup& group, std::vector<DeviceParam>& params) {
  for (DeviceParam& dp : params) {
    if (dp.state->empty()) {
      init_state(*dp.state, dp.param);
      ops::fill_(dp.state->at("sum"), options_.initial_accumulator_value);
    }
    ++dp.state->at("step").data<std::int64_t>()[0];
  }
  auto step_of = [](const DeviceParam& dp) { return dp.state->at("step").data<std::int64_t>()[0]; };
  device::for_each_bucket(params, step_of, [&](DType dtype, std::int64_t step, std::vector<DeviceParam*>& members) {
    device::TensorList list;
    for (DeviceParam* dp : members) list.add({&dp->param, &dp->grad, &dp->state->at("sum")});
    cpu::dispatch_float(dtype, [&](auto tag) {
      using T = decltype(tag);
      device::adagrad(list, rules::make_adagrad_coefficients<T>(group.lr, options_.lr_decay, group.weight_decay,
                                                                options_.eps, step));
    });
  });
}

}  // namespace px::optim
