// SubgradientOptimizer: option checks, the augmented gradient g + lambda dR and the inner CPU loop.
#include "proxima/optim/prox/subgradient.h"

#include <algorithm>
#include <cmath>

#include "proxima/core/ops.h"
#include "proxima/optim/cpu_loop.h"
#include "proxima/optim/device_loop.h"
#include "proxima/optim/prox/fast_prox.h"
#include "proxima/optim/update_rules.h"

namespace px::optim::prox {

SubgradientOptimizer::SubgradientOptimizer(std::vector<ParamGroup> groups, const SubgradientOptions& o)
    : ProxOptimizer(std::move(groups), o.regularizer, o.lambda, "SubgradientOptions::lambda"),
      options_(o),
      adam_(inner_is_adam("subgradient optimizer", o.inner)) {
  const std::string who = name();
  const char* w = who.c_str();
  check_option(o.lr >= 0 && std::isfinite(o.lr), w, "lr", o.lr, "finite and >= 0");
  check_option(o.weight_decay >= 0 && std::isfinite(o.weight_decay), w, "weight_decay", o.weight_decay,
               "finite and >= 0");
  check_option(o.smoothing >= 0 && std::isfinite(o.smoothing), w, "smoothing", o.smoothing, "finite and >= 0");
  if (adam_) {
    check_option(o.beta1 >= 0 && o.beta1 < 1, w, "beta1", o.beta1, "in [0, 1)");
    check_option(o.beta2 >= 0 && o.beta2 < 1, w, "beta2", o.beta2, "in [0, 1)");
    check_option(o.eps >= 0 && std::isfinite(o.eps), w, "eps", o.eps, "finite and >= 0");
  } else {
    check_option(o.momentum >= 0 && std::isfinite(o.momentum), w, "momentum", o.momentum, "finite and >= 0");
    PX_CHECK(!o.nesterov || o.momentum > 0, ValueError, who, ": nesterov requires momentum > 0, got momentum ",
             o.momentum);
  }
  init_prox_groups(o.lr, o.weight_decay);
  for (std::size_t g = 0; g < param_groups().size(); ++g) {
    const Regularizer* reg = regularizer(g);
    PX_CHECK(!reg || reg->has_subgradient(), ValueError, who, ": param group ", g, ": regularizer \"", reg->name(),
             "\" has no useful subgradient (its derivative is 0 wherever it exists); use a proximal optimizer "
             "(proxgen) for it, or another regularizer");
  }
}

SubgradientOptimizer::SubgradientOptimizer(std::vector<Tensor> params, const SubgradientOptions& o)
    : SubgradientOptimizer(single_group(std::move(params)), o) {}

std::vector<StateEntrySpec> SubgradientOptimizer::state_spec() const {
  if (adam_)
    return {{"step", StateKind::count}, {"exp_avg", StateKind::per_coordinate}, {"exp_avg_sq", StateKind::per_coordinate}};
  if (options_.momentum == 0) return {};
  return {{"momentum_buffer", StateKind::per_coordinate}};
}

Tensor SubgradientOptimizer::augmented_gradient(std::size_t gi, const Tensor& param, const Tensor& grad) const {
  if (!regularized(gi) || separable(gi)) return grad;  // separable: augmented inside the loop
  return ops::contiguous(ops::add(grad, ops::mul(regularizer(gi)->subgradient(param), lambda(gi))));
}

namespace {

// out[j] = g[j] + lambda dr(p[j]) for one block (the separable term of the subgradient baselines).
// l1, l2, l12 and l23 take branch-free loops that vectorise (a branch on the sign of random
// weights costs a misprediction per coordinate); the other kinds call smoothed_subgradient per
// coordinate. Each form computes lambda dr in double and rounds once, as smoothed_subgradient's
// callers always have.
template <class T>
void augment_block(const SeparableProx* sep, double lam, double s, const T* p, const T* g, T* out, std::int64_t len) {
  if (!sep) {
    for (std::int64_t j = 0; j < len; ++j) out[j] = g[j];
  } else if (sep->kind == SeparableKind::l1) {
    const T l = T(lam);  // lam * (+-1) rounds to +-T(lam)
#pragma omp simd
    for (std::int64_t j = 0; j < len; ++j) out[j] = g[j] + l * (T(p[j] > T(0)) - T(p[j] < T(0)));
  } else if (sep->kind == SeparableKind::l2) {
#pragma omp simd
    for (std::int64_t j = 0; j < len; ++j) out[j] = g[j] + T(lam * double(p[j]));
  } else if (sep->kind == SeparableKind::l12) {
    // q (|x| + s)^(q - 1) sgn(x) at q = 1/2 (s = 0: the raw subgradient), 0 at x = 0; a square
    // root instead of pow (vectorises; within an ulp of the pow form in double)
#pragma omp simd
    for (std::int64_t j = 0; j < len; ++j) {
      const double x = double(p[j]);
      const double d = std::copysign(0.5 / std::sqrt(std::fabs(x) + s), x);
      out[j] = g[j] + T(lam * (x == 0.0 ? 0.0 : d));
    }
  } else if (sep->kind == SeparableKind::l23) {
    // q = 2/3: (2/3) y^(-1/3) sgn(x), y = |x| + s, by four Newton steps (fast::inv_cbrt_newton;
    // measured: within 1e-15 of the pow form) instead of pow, for y in [1e-100, 1e100], which
    // holds every float; lanes outside it (tiny or huge doubles, inf, NaN) are redone with pow.
    const auto outside = [s](double x) {
      const double y = std::fabs(x) + s;
      return x != 0.0 && !(y >= 1e-100 && y <= 1e100);
    };
    int any_outside = 0;
#pragma omp simd reduction(| : any_outside)
    for (std::int64_t j = 0; j < len; ++j) {
      const double x = double(p[j]);
      const bool out_j = outside(x);
      const double r = fast::inv_cbrt_newton<4>(out_j ? 1.0 : std::fabs(x) + s);
      out[j] = g[j] + T(lam * (x == 0.0 ? 0.0 : std::copysign(2.0 / 3.0 * r, x)));
      any_outside |= out_j ? 1 : 0;
    }
    if (any_outside)
      for (std::int64_t j = 0; j < len; ++j)
        if (outside(double(p[j]))) out[j] = g[j] + T(lam * smoothed_subgradient(*sep, double(p[j]), s));
  } else {
    for (std::int64_t j = 0; j < len; ++j) out[j] = g[j] + T(lam * smoothed_subgradient(*sep, double(p[j]), s));
  }
}

// Calls rule(p, g_aug, i) for every coordinate, g_aug = g + lambda dr(p) (augment_block), in
// blocks of L1-resident augmented gradients so that the rule's loop vectorises.
template <class T, class Rule>
void augmented_loop(std::int64_t n, const SeparableProx* sep, double lam, double s, T* p, const T* g, Rule rule) {
  cpu::for_each_range(n, [=](std::int64_t begin, std::int64_t end) {
    constexpr std::int64_t kBlock = 256;
    T buf[kBlock];
    for (std::int64_t b = begin; b < end; b += kBlock) {
      const std::int64_t len = std::min(kBlock, end - b);
      augment_block(sep, lam, s, p + b, g + b, buf, len);
#pragma omp simd
      for (std::int64_t j = 0; j < len; ++j) rule(p[b + j], buf[j], b + j);
    }
  });
}

}  // namespace

void SubgradientOptimizer::update(const ParamGroup& group, const Tensor& param, const Tensor& grad0,
                                  ParamState& state) {
  const std::size_t gi = group_index(group);
  const Tensor grad = augmented_gradient(gi, param, grad0);
  // A separable regulariser's lambda dr(p_i) is added per coordinate, fused with the inner rule.
  const SeparableProx* sep = regularized(gi) ? separable(gi) : nullptr;
  const double lam = sep ? lambda(gi) : 0.0, s = options_.smoothing;
  const bool use_momentum = !adam_ && options_.momentum != 0;
  const bool first = state.empty();
  if (first && (adam_ || use_momentum)) init_state(state, param);
  std::int64_t step = 0;
  if (adam_) step = ++state.at("step").data<std::int64_t>()[0];
  cpu::dispatch_float(param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    if (adam_) {
      const auto c = rules::make_adam_coefficients<T>(group.lr, options_.beta1, options_.beta2, options_.eps,
                                                      group.weight_decay, /*decoupled=*/true, /*amsgrad=*/false, step);
      T* m = state.at("exp_avg").data<T>();
      T* v = state.at("exp_avg_sq").data<T>();
      augmented_loop<T>(param.numel(), sep, lam, s, p, g, [=](T& pi, T gi_aug, std::int64_t i) {
        T unused = 0;
        rules::adam_update(pi, gi_aug, m[i], v[i], unused, c);
      });
      return;
    }
    const auto c = rules::make_sgd_coefficients<T>(group.lr, options_.momentum, /*dampening=*/0.0, group.weight_decay,
                                                   options_.nesterov, first);
    T* buf = use_momentum ? state.at("momentum_buffer").data<T>() : nullptr;
    augmented_loop<T>(param.numel(), sep, lam, s, p, g, [=](T& pi, T gi_aug, std::int64_t i) {
      T unused = 0;
      rules::sgd_update(pi, gi_aug, buf ? buf[i] : unused, c);
    });
  });
}

// The inner rule with the separable term fused (one launch per dtype and step count); the group
// lasso's term is added first with its per-group kernel and tensor ops (augmented_gradient).
void SubgradientOptimizer::update_device(const ParamGroup& group, std::vector<DeviceParam>& params) {
  const std::size_t gi = group_index(group);
  const SeparableProx* sep = regularized(gi) ? separable(gi) : nullptr;
  if (regularized(gi) && !sep)
    for (DeviceParam& dp : params) dp.grad = augmented_gradient(gi, dp.param, dp.grad);
  const device::SubgradientTerm term{sep != nullptr, sep ? *sep : SeparableProx{}, sep ? lambda(gi) : 0.0,
                                     options_.smoothing};
  const bool use_momentum = !adam_ && options_.momentum != 0;
  // adam: the step count after this step; sgd: 1 on the first step (fresh momentum buffer), else 0.
  auto key = [&](DeviceParam& dp) -> std::int64_t {
    const bool first = dp.state->empty();
    if (first && (adam_ || use_momentum)) init_state(*dp.state, dp.param);
    if (adam_) return ++dp.state->at("step").data<std::int64_t>()[0];
    return first ? 1 : 0;
  };
  device::for_each_bucket(params, key, [&](DType dtype, std::int64_t k, std::vector<DeviceParam*>& members) {
    device::TensorList list;
    for (DeviceParam* dp : members) {
      ParamState& s = *dp->state;
      if (adam_) list.add({&dp->param, &dp->grad, &s.at("exp_avg"), &s.at("exp_avg_sq")});
      else list.add({&dp->param, &dp->grad, use_momentum ? &s.at("momentum_buffer") : nullptr});
    }
    cpu::dispatch_float(dtype, [&](auto tag) {
      using T = decltype(tag);
      if (adam_)
        device::adam(list, rules::make_adam_coefficients<T>(group.lr, options_.beta1, options_.beta2, options_.eps,
                                                            group.weight_decay, true, false, k), term);
      else
        device::sgd(list, rules::make_sgd_coefficients<T>(group.lr, options_.momentum, 0.0, group.weight_decay,
                                                          options_.nesterov, k == 1), term);
    });
  });
}

}  // namespace px::optim::prox
