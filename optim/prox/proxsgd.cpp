// ProxSGD: option checks and the CPU loops over proxsgd_rule.h (fused for separable regularisers,
// three passes around Regularizer::prox_ for the group lasso).
#include "proxima/optim/prox/proxsgd.h"

#include <cmath>

#include "proxima/core/factory.h"
#include "proxima/optim/cpu_loop.h"
#include "proxima/optim/device_loop.h"
#include "proxima/optim/prox/fast_prox.h"
#include "proxima/optim/prox/group_device.h"
#include "proxima/optim/prox/proxsgd_rule.h"

namespace px::optim::prox {
namespace {

void check_options(const ProxSGDOptions& o) {
  const char* who = "proxsgd";
  check_option(o.epsilon0 > 0 && o.epsilon0 <= 1, who, "epsilon0", o.epsilon0, "in (0, 1]");
  check_option(o.epsilon_decay >= 0 && std::isfinite(o.epsilon_decay), who, "epsilon_decay", o.epsilon_decay,
               "finite and >= 0");
  check_option(o.rho0 > 0 && o.rho0 <= 1, who, "rho0", o.rho0, "in (0, 1]");
  check_option(o.rho_decay >= 0 && std::isfinite(o.rho_decay), who, "rho_decay", o.rho_decay, "finite and >= 0");
  check_option(o.step_offset >= 0 && std::isfinite(o.step_offset), who, "step_offset", o.step_offset,
               "finite and >= 0");
  check_option(o.beta >= 0 && o.beta < 1, who, "beta", o.beta, "in [0, 1)");
  // tau = delta where the gradient history is 0: it must stay positive.
  check_option(o.delta > 0 && std::isfinite(o.delta), who, "delta", o.delta, "finite and > 0");
  check_option(o.weight_decay >= 0 && std::isfinite(o.weight_decay), who, "weight_decay", o.weight_decay,
               "finite and >= 0");
  if (o.clip_low) check_option(!std::isnan(*o.clip_low), who, "clip_low", *o.clip_low, "a number");
  if (o.clip_high) check_option(!std::isnan(*o.clip_high), who, "clip_high", *o.clip_high, "a number");
  if (o.clip_low && o.clip_high)
    check_option(*o.clip_low <= *o.clip_high, who, "clip_low", *o.clip_low, "<= clip_high");
}

}  // namespace

ProxSGD::ProxSGD(std::vector<ParamGroup> groups, const ProxSGDOptions& o)
    : ProxOptimizer(std::move(groups), o.regularizer, o.lambda, "ProxSGDOptions::lambda"), options_(o) {
  check_options(o);
  init_prox_groups(o.epsilon0, o.weight_decay);
  for (std::size_t g = 0; g < param_groups().size(); ++g) {
    const double lr = param_groups()[g].lr;
    PX_CHECK(lr <= 1, ValueError, "proxsgd: param group ", g, ": lr (ProxSGD's epsilon0) must be in [0, 1], got ",
             lr);
  }
}

ProxSGD::ProxSGD(std::vector<Tensor> params, const ProxSGDOptions& o) : ProxSGD(single_group(std::move(params)), o) {}

std::vector<StateEntrySpec> ProxSGD::state_spec() const {
  return {{"step", StateKind::count}, {"v", StateKind::per_coordinate}, {"r", StateKind::per_coordinate}};
}

namespace {

// One fused pass per coordinate: direction, P_r, clip, combine. Templated on the prox functor
// (fast_prox.h) so that l1, l0 and the unregularised case vectorise; the coefficients are copied
// into the range body so that they stay in registers (p, v, r could otherwise alias them).
template <class T, class Prox>
void fused_proxsgd(std::int64_t n, T* p, const T* g, T* v, T* r, const ProxSGDCoefficients<T>& c, const Prox prox) {
  cpu::for_each_range(n, [=](std::int64_t begin, std::int64_t end) {
    const auto cc = c;
#pragma omp simd
    for (std::int64_t i = begin; i < end; ++i) {
      T threshold;
      const T z = proxsgd_direction(p[i], g[i], v[i], r[i], cc, threshold);  // sets threshold
      const T x_hat = prox(z, threshold);
      proxsgd_combine(p[i], proxsgd_clip(x_hat, cc), cc);
    }
  });
}

}  // namespace

void ProxSGD::update(const ParamGroup& group, const Tensor& param, const Tensor& grad, ParamState& state) {
  require_cpu(param);
  if (state.empty()) init_state(state, param);
  std::int64_t& step = state.at("step").data<std::int64_t>()[0];
  ++step;
  const std::size_t gi = group_index(group);
  const bool regularized_group = regularized(gi);
  const SeparableProx* separable_prox = regularized_group ? separable(gi) : nullptr;
  const Regularizer* group_regularizer = regularized_group && !separable_prox ? regularizer(gi) : nullptr;
  const double epsilon = proxsgd_epsilon(group.lr, options_.epsilon_decay, options_.step_offset, step);
  const double rho = proxsgd_rho(options_.rho0, options_.rho_decay, options_.step_offset, step);
  const double lambda_now = regularized_group ? lambda(gi) : 0.0;
  const bool record = regularized_group && recording_thresholds();
  const std::int64_t n = param.numel();

  cpu::dispatch_float(param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const auto c = make_proxsgd_coefficients<T>(epsilon, rho, options_.beta, options_.delta, lambda_now,
                                                group.weight_decay, options_.clip_low, options_.clip_high, step);
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* v = state.at("v").data<T>();
    T* r = state.at("r").data<T>();
    if (!group_regularizer) {
      // None or separable: one fused pass.
      if (!separable_prox) fused_proxsgd(n, p, g, v, r, c, fast::Identity{});
      else if (separable_prox->kind == SeparableKind::l1) fused_proxsgd(n, p, g, v, r, c, fast::L1{});
      else if (separable_prox->kind == SeparableKind::l0)
        fused_proxsgd(n, p, g, v, r, c, fast::L0{separable_prox->keep_at_tie});
      else if (separable_prox->kind == SeparableKind::l2) fused_proxsgd(n, p, g, v, r, c, fast::L2{});
      else fused_proxsgd(n, p, g, v, r, c, fast::Generic{*separable_prox});
      if (record)
        for (std::int64_t i = 0; i < n; ++i) threshold_record().add(double(c.lambda / proxsgd_tau(r[i], c)));
      return;
    }
    // Group lasso: z and t into buffers, the exact group prox, then clip and combine.
    Tensor z = empty_like(param), t = empty_like(param);
    T* zp = z.data<T>();
    T* tp = t.data<T>();
    cpu::for_each_coordinate(n, [&](std::int64_t i) { zp[i] = proxsgd_direction(p[i], g[i], v[i], r[i], c, tp[i]); });
    group_regularizer->prox_(z, t);
    cpu::for_each_coordinate(n, [&](std::int64_t i) { proxsgd_combine(p[i], proxsgd_clip(zp[i], c), c); });
    if (record)
      for (std::int64_t i = 0; i < n; ++i) threshold_record().add(double(tp[i]));
  });
}

// One fused launch per dtype and step count (optim/device_loop.h). The group lasso, as the CPU: z
// and t into buffers (two launches), one group-prox kernel per tensor, then clip and combine.
void ProxSGD::update_device(const ParamGroup& group, std::vector<DeviceParam>& params) {
  const std::size_t gi = group_index(group);
  const bool regularized_group = regularized(gi);
  const SeparableProx* separable_prox = regularized_group ? separable(gi) : nullptr;
  const Regularizer* group_regularizer = regularized_group && !separable_prox ? regularizer(gi) : nullptr;
  for (DeviceParam& dp : params) {
    if (dp.state->empty()) init_state(*dp.state, dp.param);
    ++dp.state->at("step").data<std::int64_t>()[0];
  }
  const double lambda_now = regularized_group ? lambda(gi) : 0.0;
  auto step_of = [](const DeviceParam& dp) { return dp.state->at("step").data<std::int64_t>()[0]; };
  device::for_each_bucket(params, step_of, [&](DType dtype, std::int64_t step, std::vector<DeviceParam*>& members) {
    std::vector<Tensor> z, t;  // group lasso only
    device::TensorList list, thresholds, combine;
    for (DeviceParam* dp : members) {
      if (!group_regularizer) {
        list.add({&dp->param, &dp->grad, &dp->state->at("v"), &dp->state->at("r")});
        continue;
      }
      z.push_back(empty_like(dp->param));
      t.push_back(empty_like(dp->param));
      list.add({&dp->param, &dp->grad, &dp->state->at("v"), &dp->state->at("r"), &z.back()});
      thresholds.add({&t.back(), &dp->state->at("r")});
      combine.add({&dp->param, &z.back()});
    }
    const double epsilon = proxsgd_epsilon(group.lr, options_.epsilon_decay, options_.step_offset, step);
    const double rho = proxsgd_rho(options_.rho0, options_.rho_decay, options_.step_offset, step);
    cpu::dispatch_float(dtype, [&](auto tag) {
      using T = decltype(tag);
      const auto c = make_proxsgd_coefficients<T>(epsilon, rho, options_.beta, options_.delta, lambda_now,
                                                  group.weight_decay, options_.clip_low, options_.clip_high, step);
      if (group_regularizer) {
        device::proxsgd_direction(list, c);
        device::proxsgd_thresholds(thresholds, c);
        for (std::size_t k = 0; k < z.size(); ++k) group_regularizer->prox_(z[k], t[k]);
        device::proxsgd_combine(combine, c);
      } else {
        device::proxsgd(list, c, separable_prox);
      }
      if (!regularized_group || !recording_thresholds()) return;
      for (DeviceParam* dp : members) {  // logging only: r through a host copy
        const Tensor r = dp->state->at("r").to(Device::cpu());
        for (std::int64_t i = 0; i < r.numel(); ++i) threshold_record().add(double(c.lambda / proxsgd_tau(r.data<T>()[i], c)));
      }
    });
  });
}

}  // namespace px::optim::prox
