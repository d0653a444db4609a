// BinaryConnect: option checks, the first binarisation, and the latent-weight CPU step.
#include "proxima/optim/prox/binaryconnect.h"

#include <cmath>

#include "proxima/core/ops.h"
#include "proxima/optim/cpu_loop.h"
#include "proxima/optim/device_loop.h"
#include "proxima/optim/update_rules.h"

namespace px::optim::prox {
namespace {

// w <- clip(w, -c, c), p <- sgn(w) with sgn(0) = +1, over every coordinate.
void clip_and_binarize(const Tensor& latent, const Tensor& param, double clip) {
  if (!param.device().is_cpu()) {  // the same selects as tensor ops (construction only)
    ops::copy_(latent, ops::clamp(latent, -clip, clip));
    ops::copy_(param, ops::sub(1.0, ops::mul(ops::lt(latent, 0.0).to(param.dtype()), 2.0)));
    return;
  }
  cpu::dispatch_float(param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* w = latent.data<T>();
    T* p = param.data<T>();
    const T hi = T(clip), lo = T(-clip);
    cpu::for_each_coordinate(param.numel(), [&](std::int64_t i) {
      w[i] = w[i] > hi ? hi : (w[i] < lo ? lo : w[i]);
      p[i] = w[i] < T(0) ? T(-1) : T(1);
    });
  });
}

}  // namespace

BinaryConnect::BinaryConnect(std::vector<ParamGroup> groups, const BinaryConnectOptions& o)
    : ProxOptimizer(std::move(groups), o.regularizer, 0.0), options_(o), adam_(inner_is_adam("binaryconnect", o.inner)) {
  const char* w = "binaryconnect";
  check_option(o.lr >= 0 && std::isfinite(o.lr), w, "lr", o.lr, "finite and >= 0");
  check_option(o.weight_decay >= 0 && std::isfinite(o.weight_decay), w, "weight_decay", o.weight_decay,
               "finite and >= 0");
  check_option(o.clip > 0, w, "clip", o.clip, "> 0");
  if (adam_) {
    check_option(o.beta1 >= 0 && o.beta1 < 1, w, "beta1", o.beta1, "in [0, 1)");
    check_option(o.beta2 >= 0 && o.beta2 < 1, w, "beta2", o.beta2, "in [0, 1)");
    check_option(o.eps >= 0 && std::isfinite(o.eps), w, "eps", o.eps, "finite and >= 0");
  } else {
    check_option(o.momentum >= 0 && std::isfinite(o.momentum), w, "momentum", o.momentum, "finite and >= 0");
    PX_CHECK(!o.nesterov || o.momentum > 0, ValueError, "binaryconnect: nesterov requires momentum > 0, got momentum ",
             o.momentum);
  }
  init_prox_groups(o.lr, o.weight_decay);
  const auto& gs = param_groups();
  binarized_.assign(gs.size(), false);
  for (std::size_t g = 0; g < gs.size(); ++g) {
    const Regularizer* reg = regularizer(g);
    if (!reg) continue;
    const SeparableProx* sep = separable(g);
    PX_CHECK(sep && sep->kind == SeparableKind::binary, ValueError, "binaryconnect: param group ", g,
             ": regularizer \"", reg->name(),
             "\" is not of the binary family; BinaryConnect binarises the groups that name bin-l1, bin-l12, "
             "bin-l23 or bin-l0, and leaves \"none\" groups real-valued");
    binarized_[g] = true;
  }
  for (std::size_t g = 0; g < gs.size(); ++g)
    for (std::size_t i = 0; i < gs[g].params.size(); ++i) {
      const Tensor& p = gs[g].params[i];
      PX_CHECK(p.is_contiguous(), ValueError, "binaryconnect: ", param_label(g, i),
               " is not contiguous; BinaryConnect binarises parameters in place and needs contiguous ones");
      init_param_state(g, p, state(g, i));
    }
}

BinaryConnect::BinaryConnect(std::vector<Tensor> params, const BinaryConnectOptions& o)
    : BinaryConnect(single_group(std::move(params)), o) {}

bool BinaryConnect::binarized(std::size_t group) const {
  PX_CHECK(group < binarized_.size(), ValueError, "binaryconnect: no param group ", group);
  return binarized_[group];
}

std::vector<StateEntrySpec> BinaryConnect::state_spec() const {
  std::vector<StateEntrySpec> spec = {{"step", StateKind::count}};
  if (adam_) {
    spec.push_back({"exp_avg", StateKind::per_coordinate});
    spec.push_back({"exp_avg_sq", StateKind::per_coordinate});
  } else if (options_.momentum != 0) {
    spec.push_back({"momentum_buffer", StateKind::per_coordinate});
  }
  spec.push_back({"latent", StateKind::per_coordinate});
  return spec;
}

void BinaryConnect::init_param_state(std::size_t group, const Tensor& param, ParamState& state) const {
  init_state(state, param);
  if (!binarized_[group]) {
    state.set("latent", param);
    return;
  }
  Tensor latent = param.detach().clone();
  clip_and_binarize(latent, param, options_.clip);
  state.set("latent", latent);
}

Tensor BinaryConnect::latent(std::size_t group, std::size_t index) const {
  const ParamState& s = state(group, index);
  const Tensor& param = param_groups()[group].params[index];
  if (!binarized(group)) return param;
  if (s.has("latent")) return s.at("latent");
  return ops::clamp(param.detach(), -options_.clip, options_.clip);
}

void BinaryConnect::inner_update(const ParamGroup& group, const Tensor& target, const Tensor& grad,
                                 ParamState& state) {
  std::int64_t& step = state.at("step").data<std::int64_t>()[0];
  ++step;
  cpu::dispatch_float(target.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = target.data<T>();
    const T* g = grad.data<T>();
    const std::int64_t n = target.numel();
    if (adam_) {
      const auto c = rules::make_adam_coefficients<T>(group.lr, options_.beta1, options_.beta2, options_.eps,
                                                      group.weight_decay, /*decoupled=*/true, /*amsgrad=*/false, step);
      T* m = state.at("exp_avg").data<T>();
      T* v = state.at("exp_avg_sq").data<T>();
      cpu::for_each_coordinate(n, [&](std::int64_t i) {
        T unused = 0;
        rules::adam_update(p[i], g[i], m[i], v[i], unused, c);
      });
      return;
    }
    const bool use_momentum = options_.momentum != 0;
    const auto c = rules::make_sgd_coefficients<T>(group.lr, options_.momentum, /*dampening=*/0.0, group.weight_decay,
                                                   options_.nesterov, /*first_step=*/step == 1);
    T* buf = use_momentum ? state.at("momentum_buffer").data<T>() : nullptr;
    cpu::for_each_coordinate(n, [&](std::int64_t i) {
      T unused = 0;
      rules::sgd_update(p[i], g[i], buf ? buf[i] : unused, c);
    });
  });
}

void BinaryConnect::update(const ParamGroup& group, const Tensor& param, const Tensor& grad, ParamState& state) {
  const std::size_t gi = group_index(group);
  if (state.empty()) init_param_state(gi, param, state);
  if (!binarized_[gi]) {
    inner_update(group, param, grad, state);
    state.set("latent", param);  // re-alias after a load_state_dict copied it
    return;
  }
  const Tensor latent = state.at("latent");
  inner_update(group, latent, grad, state);
  clip_and_binarize(latent, param, options_.clip);
}

// The inner rule on the latent weights with clip and binarisation fused (one launch per dtype and
// step count); unbinarised parameters take the plain inner rule.
void BinaryConnect::update_device(const ParamGroup& group, std::vector<DeviceParam>& params) {
  const std::size_t gi = group_index(group);
  for (DeviceParam& dp : params) {
    if (dp.state->empty()) init_param_state(gi, dp.param, *dp.state);
    ++dp.state->at("step").data<std::int64_t>()[0];
    if (!binarized_[gi]) dp.state->set("latent", dp.param);  // re-alias after a load_state_dict copied it
  }
  const bool use_momentum = !adam_ && options_.momentum != 0;
  const device::BinarizeStep bin{binarized_[gi], options_.clip};
  auto step_of = [](const DeviceParam& dp) { return dp.state->at("step").data<std::int64_t>()[0]; };
  device::for_each_bucket(params, step_of, [&](DType dtype, std::int64_t step, std::vector<DeviceParam*>& members) {
    device::TensorList list;
    for (DeviceParam* dp : members) {
      ParamState& s = *dp->state;
      const Tensor* bin_param = bin.binarize ? &dp->param : nullptr;
      if (adam_) list.add({&s.at("latent"), &dp->grad, &s.at("exp_avg"), &s.at("exp_avg_sq"), bin_param});
      else list.add({&s.at("latent"), &dp->grad, use_momentum ? &s.at("momentum_buffer") : nullptr, nullptr, bin_param});
    }
    cpu::dispatch_float(dtype, [&](auto tag) {
      using T = decltype(tag);
      if (adam_)
        device::adam(list, rules::make_adam_coefficients<T>(group.lr, options_.beta1, options_.beta2, options_.eps,
                                                            group.weight_decay, true, false, step), {}, bin);
      else
        device::sgd(list, rules::make_sgd_coefficients<T>(group.lr, options_.momentum, 0.0, group.weight_decay,
                                                          options_.nesterov, step == 1), {}, bin);
    });
  });
}

}  // namespace px::optim::prox
