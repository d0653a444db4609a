// ProxGen: option checks and the fused CPU loop (gradient step + scalar prox per coordinate).
#include "proxima/optim/prox/proxgen.h"

#include <cmath>

#include "proxima/core/factory.h"
#include "proxima/optim/cpu_loop.h"

namespace px::optim::prox {
namespace {

std::vector<ParamGroup> one_group(std::vector<Tensor> params) {
  return {ParamGroup{.params = std::move(params)}};
}

Preconditioner resolve(const ProxGenOptions& o) {
  Preconditioner pc = default_preconditioner(parse_preconditioner(o.preconditioner));
  if (o.momentum) pc.momentum = *o.momentum;
  if (o.beta2) pc.beta2 = *o.beta2;
  if (o.delta) pc.delta = *o.delta;
  return pc;
}

}  // namespace

ProxGen::ProxGen(std::vector<ParamGroup> groups, const ProxGenOptions& o)
    : ProxOptimizer(std::move(groups), o.regularizer, o.lambda), options_(o), preconditioner_(resolve(o)) {
  const char* who = o.metric_prox ? "proxgen" : "proxquant";
  const Preconditioner& pc = preconditioner_;
  check_option(o.lr >= 0 && std::isfinite(o.lr), who, "lr", o.lr, "finite and >= 0");
  check_option(pc.momentum >= 0 && pc.momentum < 1, who, "momentum", pc.momentum, "in [0, 1)");
  check_option(pc.beta2 >= 0 && pc.beta2 < 1, who, "beta2", pc.beta2, "in [0, 1)");
  check_option(pc.delta >= 0 && std::isfinite(pc.delta), who, "delta", pc.delta, "finite and >= 0");
  check_option(o.weight_decay >= 0 && std::isfinite(o.weight_decay), who, "weight_decay", o.weight_decay,
               "finite and >= 0");
  if (o.clip) check_option(*o.clip > 0, who, "clip", *o.clip, "> 0");
  if (pc.kind != PreconditionerKind::none) {
    // C = 0 where the gradient history is 0: d = delta must stay positive.
    check_option(pc.delta > 0, who, "delta", pc.delta, "> 0 with a preconditioner other than none");
  }
  init_prox_groups(o.lr, o.weight_decay);
}

ProxGen::ProxGen(std::vector<Tensor> params, const ProxGenOptions& o) : ProxGen(one_group(std::move(params)), o) {}

std::vector<StateEntrySpec> ProxGen::state_spec() const {
  std::vector<StateEntrySpec> spec = {{"step", StateKind::count}, {"exp_avg", StateKind::per_coordinate}};
  if (preconditioner_.kind != PreconditionerKind::none) spec.push_back({"exp_avg_sq", StateKind::per_coordinate});
  return spec;
}

void ProxGen::update(const ParamGroup& group, const Tensor& param, const Tensor& grad, ParamState& state) {
  if (state.empty()) init_state(state, param);
  std::int64_t& step = state.at("step").data<std::int64_t>()[0];
  ++step;
  const std::size_t gi = group_index(group);
  const bool reg = regularized(gi);
  const SeparableProx* sep = reg ? separable(gi) : nullptr;
  const bool has_v = preconditioner_.kind != PreconditionerKind::none;
  const std::int64_t n = param.numel();
  cpu::dispatch_float(param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const auto c = make_proxgen_coefficients<T>(preconditioner_, group.lr, reg ? lambda(gi) : 0.0, group.weight_decay,
                                                options_.metric_prox, step);
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* m = state.at("exp_avg").data<T>();
    T* v = has_v ? state.at("exp_avg_sq").data<T>() : nullptr;
    if (!reg) {
      cpu::for_each_coordinate(n, [&](std::int64_t i) {
        T unused = 0;
        (void)proxgen_gradient_step(p[i], g[i], m[i], v ? v[i] : unused, c);
      });
    } else if (sep) {
      const SeparableProx r = *sep;
      cpu::for_each_coordinate(n, [&](std::int64_t i) {
        T unused = 0;
        const T t = proxgen_gradient_step(p[i], g[i], m[i], v ? v[i] : unused, c);
        p[i] = r.apply(p[i], t);
      });
    } else {  // group lasso: the exact metric prox needs every t_i of a group at once
      Tensor thresholds = empty_like(param);
      T* t = thresholds.data<T>();
      cpu::for_each_coordinate(n, [&](std::int64_t i) {
        T unused = 0;
        t[i] = proxgen_gradient_step(p[i], g[i], m[i], v ? v[i] : unused, c);
      });
      regularizer(gi)->prox_(param, thresholds);
    }
    if (options_.clip && regularizer(gi)) {
      const T bound = T(*options_.clip);
      cpu::for_each_coordinate(n, [&](std::int64_t i) { p[i] = p[i] > bound ? bound : p[i] < -bound ? -bound : p[i]; });
    }
    if (reg && recording_thresholds()) {
      ThresholdStats& record = threshold_record();
      for (std::int64_t i = 0; i < n; ++i) {
        record.add(c.metric_prox ? double(c.lr_lambda / proxgen_denominator(v ? v[i] : T(0), c)) : double(c.lr_lambda));
      }
    }
  });
}

}  // namespace px::optim::prox
