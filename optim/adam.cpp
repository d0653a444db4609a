// Adam and AdamW: option checks and the CPU loop over rules::adam_update.
#include "proxima/optim/adam.h"

#include "proxima/optim/cpu_loop.h"
#include "proxima/optim/device_loop.h"
#include "proxima/optim/update_rules.h"

namespace px::optim {
namespace {

AdamOptions as_adam(const AdamWOptions& o) {
  return {.lr = o.lr, .beta1 = o.beta1, .beta2 = o.beta2, .eps = o.eps,
          .weight_decay = o.weight_decay, .amsgrad = o.amsgrad};
}

}  // namespace

Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& o, bool decoupled)
    : Optimizer(std::move(groups)), options_(o), decoupled_(decoupled) {
  const char* who = decoupled ? "adamw" : "adam";
  check_option(o.lr >= 0, who, "lr", o.lr, ">= 0");
  check_option(o.beta1 >= 0 && o.beta1 < 1, who, "beta1", o.beta1, "in [0, 1)");
  check_option(o.beta2 >= 0 && o.beta2 < 1, who, "beta2", o.beta2, "in [0, 1)");
  check_option(o.eps >= 0, who, "eps", o.eps, ">= 0");
  check_option(o.weight_decay >= 0, who, "weight_decay", o.weight_decay, ">= 0");
  init_groups(o.lr, o.weight_decay);
}

Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& o) : Adam(std::move(groups), o, false) {}
Adam::Adam(std::vector<Tensor> params, const AdamOptions& o) : Adam(single_group(std::move(params)), o, false) {}
AdamW::AdamW(std::vector<ParamGroup> groups, const AdamWOptions& o)
    : Adam(std::move(groups), as_adam(o), true) {}
AdamW::AdamW(std::vector<Tensor> params, const AdamWOptions& o)
    : Adam(single_group(std::move(params)), as_adam(o), true) {}

std::vector<StateEntrySpec> Adam::state_spec() const {
  std::vector<StateEntrySpec> spec = {{"step", StateKind::count},
                                      {"exp_avg", StateKind::per_coordinate},
                                      {"exp_avg_sq", StateKind::per_coordinate}};
  if (options_.amsgrad) spec.push_back({"max_exp_avg_sq", StateKind::per_coordinate});
  return spec;
}

void Adam::update(const ParamGroup& group, const Tensor& param, const Tensor& grad, ParamState& state) {
  if (state.empty()) init_state(state, param);
  std::int64_t& step = state.at("step").data<std::int64_t>()[0];
  ++step;
  cpu::dispatch_float(param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const auto c = rules::make_adam_coefficients<T>(group.lr, options_.beta1, options_.beta2, options_.eps,
                                                    group.weight_decay, decoupled_, options_.amsgrad, step);
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* m = state.at("exp_avg").data<T>();
    T* v = state.at("exp_avg_sq").data<T>();
    T* v_max = options_.amsgrad ? state.at("max_exp_avg_sq").data<T>() : nullptr;
    if (v_max) {
      cpu::for_each_coordinate(param.numel(), [&](std::int64_t i) { rules::adam_update(p[i], g[i], m[i], v[i], v_max[i], c); });
      return;
    }
    // The coefficients are copied into the range body so that they stay in registers (p, m, v
    // could otherwise alias them), and the loop vectorises (the optim layer builds with
    // -fno-math-errno, so sqrt is an instruction).
    cpu::for_each_range(param.numel(), [=](std::int64_t begin, std::int64_t end) {
      const auto cc = c;
#pragma omp simd
      for (std::int64_t i = begin; i < end; ++i) {
        T unused = 0;
        rules::adam_update(p[i], g[i], m[i], v[i], unused, cc);
      }
    });
  });
}

void Adam::update_device(const ParamGroup& group, std::vector<DeviceParam>& params) {
  for (DeviceParam& dp : params) {
    if (dp.state->empty()) init_state(*dp.state, dp.param);
    ++dp.state->at("step").data<std::int64_t>()[0];
  }
  auto step_of = [](const DeviceParam& dp) { return dp.state->at("step").data<std::int64_t>()[0]; };
  device::for_each_bucket(params, step_of, [&](DType dtype, std::int64_t step, std::vector<DeviceParam*>& members) {
    device::TensorList list;
    for (DeviceParam* dp : members) {
      ParamState& s = *dp->state;
      list.add({&dp->param, &dp->grad, &s.at("exp_avg"), &s.at("exp_avg_sq"),
                options_.amsgrad ? &s.at("max_exp_avg_sq") : nullptr});
    }
    cpu::dispatch_float(dtype, [&](auto tag) {
      using T = decltype(tag);
      device::adam(list, rules::make_adam_coefficients<T>(group.lr, options_.beta1, options_.beta2, options_.eps,
                                                          group.weight_decay, decoupled_, options_.amsgrad, step));
    });
  });
}

}  // namespace px::optim
