// SGD: option checks and the CPU loop over rules::sgd_update.
#include "proxima/optim/sgd.h"

#include "proxima/optim/cpu_loop.h"
#include "proxima/optim/sgd_device.h"
#include "proxima/optim/update_rules.h"

namespace px::optim {

SGD::SGD(std::vector<ParamGroup> groups, const SgdOptions& o) : Optimizer(std::move(groups)), options_(o) {
  check_option(o.lr >= 0, "sgd", "lr", o.lr, ">= 0");
  check_option(o.momentum >= 0, "sgd", "momentum", o.momentum, ">= 0");
  check_option(o.dampening >= 0 && o.dampening <= 1, "sgd", "dampening", o.dampening, "in [0, 1]");
  check_option(o.weight_decay >= 0, "sgd", "weight_decay", o.weight_decay, ">= 0");
  PX_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0), ValueError,
           "sgd: nesterov requires momentum > 0 and dampening 0, got momentum ", o.momentum,
           " and dampening ", o.dampening);
  init_groups(o.lr, o.weight_decay);
}

SGD::SGD(std::vector<Tensor> params, const SgdOptions& o)
    : SGD(single_group(std::move(params)), o) {}

std::vector<StateEntrySpec> SGD::state_spec() const {
  if (options_.momentum == 0) return {};
  return {{"momentum_buffer", StateKind::per_coordinate}};
}

void sgd_update_tensor(const Tensor& param, const Tensor& grad, Tensor* momentum_buffer, double lr,
                       double weight_decay, const SgdOptions& o, bool first) {
  cpu::dispatch_float(param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const auto c = rules::make_sgd_coefficients<T>(lr, o.momentum, o.dampening, weight_decay, o.nesterov, first);
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* buf = momentum_buffer ? momentum_buffer->data<T>() : nullptr;
    cpu::for_each_coordinate(param.numel(), [&](std::int64_t i) {
      T unused = 0;
      rules::sgd_update(p[i], g[i], buf ? buf[i] : unused, c);
    });
  });
}

void SGD::update(const ParamGroup& group, const Tensor& param, const Tensor& grad, ParamState& state) {
  const bool use_momentum = options_.momentum != 0;
  const bool first = use_momentum && state.empty();
  if (first) init_state(state, param);
  sgd_update_tensor(param, grad, use_momentum ? &state.at("momentum_buffer") : nullptr, group.lr,
                    group.weight_decay, options_, first);
}

void SGD::update_device(const ParamGroup& group, std::vector<DeviceParam>& params) {
  device::sgd_step(params, group.lr, group.weight_decay, options_,
                   [&](ParamState& state, const Tensor& param) { init_state(state, param); });
}

}  // namespace px::optim
