// ProxGen: option checks and the fused CPU loop (gradient step + scalar prox per coordinate).
#include "proxima/optim/prox/proxgen.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "proxima/core/factory.h"
#include "proxima/optim/cpu_loop.h"
#include "proxima/optim/device_loop.h"
#include "proxima/optim/prox/group_device.h"
#include "proxima/optim/prox/fast_prox.h"
#include "proxima/optim/prox/fast_prox_lq.h"
#include "proxima/optim/prox/fast_prox_penalties.h"

namespace px::optim::prox {
namespace {

Preconditioner resolve(const ProxGenOptions& o) {
  Preconditioner pc = default_preconditioner(parse_preconditioner(o.preconditioner));
  if (o.momentum) pc.momentum = *o.momentum;
  if (o.beta2) pc.beta2 = *o.beta2;
  if (o.delta) pc.delta = *o.delta;
  return pc;
}

// The threshold t of a coordinate with denominator d, from inv_d = 1 / d: lr lambda / d (metric
// prox) or lr lambda.
template <bool Metric, class T>
T threshold(T inv_d, const ProxGenCoefficients<T>& c) {
  if constexpr (Metric) return c.lr_lambda * inv_d;
  else return c.lr_lambda;
}

// The fused CPU loop for one tensor, instantiated per (preconditioner kind, metric prox or not,
// prox functor): the body is straight-line (no per-coordinate switch), the coefficients are
// locals of the range body (so p, m, v cannot alias them), p is stored once, and the inner loop
// is `omp simd`. flatten: GCC's inliner otherwise leaves the gradient half as a call in the
// larger instantiations (l2/3), which blocks vectorisation.
template <PreconditionerKind K, bool Metric, class T, class Prox>
[[gnu::flatten]] void fused_range(std::int64_t begin, std::int64_t end, T* p, const T* g, T* m, T* v,
                 const ProxGenCoefficients<T> c, const Prox prox) {
#pragma omp simd
  for (std::int64_t i = begin; i < end; ++i) {
    T pi = p[i], mi = m[i], vi = T(0);
    if constexpr (K != PreconditionerKind::none) vi = v[i];
    const T t = threshold<Metric>(proxgen_gradient_half_k<K>(pi, g[i], mi, vi, c), c);
    p[i] = prox(pi, t);
    m[i] = mi;
    if constexpr (K != PreconditionerKind::none) v[i] = vi;
  }
}

// The gradient half of one block of len <= kBlock coordinates from b: z to zb, t to tb, m and v
// stored (p is written by the caller's prox pass).
constexpr std::int64_t kBlock = 256;
template <PreconditionerKind K, bool Metric, class T>
[[gnu::always_inline]] inline void gradient_block(std::int64_t b, std::int64_t len, const T* p, const T* g, T* m,
                                                  T* v, const ProxGenCoefficients<T>& c, T* zb, T* tb) {
#pragma omp simd
  for (std::int64_t j = 0; j < len; ++j) {
    T pi = p[b + j], mi = m[b + j], vi = T(0);
    if constexpr (K != PreconditionerKind::none) vi = v[b + j];
    tb[j] = threshold<Metric>(proxgen_gradient_half_k<K>(pi, g[b + j], mi, vi, c), c);
    zb[j] = pi;
    m[b + j] = mi;
    if constexpr (K != PreconditionerKind::none) v[b + j] = vi;
  }
}

// The same for a prox whose fast form covers only part of the range (l1/2, l2/3 on float64;
// MCP and SCAD outside the convex regime): blocks of z and t in L1-resident buffers; a block with an out-of-range coordinate
// recomputes those coordinates with the closed form.
template <PreconditionerKind K, bool Metric, class T, class Prox>
[[gnu::flatten]] void blocked_range(std::int64_t begin, std::int64_t end, T* p, const T* g, T* m, T* v,
                   const ProxGenCoefficients<T> c, const Prox prox) {
  T zb[kBlock], tb[kBlock];
  for (std::int64_t b = begin; b < end; b += kBlock) {
    const std::int64_t len = std::min(kBlock, end - b);
    gradient_block<K, Metric>(b, len, p, g, m, v, c, zb, tb);
    int outside = 0;
#pragma omp simd reduction(| : outside)
    for (std::int64_t j = 0; j < len; ++j) {
      p[b + j] = prox(zb[j], tb[j]);
      outside |= prox.in_range(zb[j], tb[j]) ? 0 : 1;
    }
    if (outside) {
      for (std::int64_t j = 0; j < len; ++j)
        if (!prox.in_range(zb[j], tb[j])) p[b + j] = prox.exact(zb[j], tb[j]);
    }
  }
}

// Float tensors with a float-float form (Prox::has_ff: l1/2, l2/3; fast_prox_ff.h): blocks as
// above, the prox as the three passes ff_start, ff_middle, ff_finish over the block (together
// prox.ff; fast_prox_ff.h says why in passes), and the lanes ff_finish flags (near the threshold,
// out of its range; their flags kept per lane, so a flagged block costs its flagged lanes only)
// recomputed with operator() (the float start + double Newton form).
template <class Prox>
constexpr bool uses_ff() {
  if constexpr (requires { Prox::has_ff; }) return fast::kFloatFfAvailable && Prox::has_ff;
  else return false;
}
template <PreconditionerKind K, bool Metric, class Prox>
[[gnu::flatten]] void flagged_range(std::int64_t begin, std::int64_t end, float* p, const float* g, float* m, float* v,
                                    const ProxGenCoefficients<float> c, const Prox prox) {
  float zb[kBlock], tb[kBlock], ub[kBlock], vb[kBlock];
  int rb[kBlock];
  for (std::int64_t b = begin; b < end; b += kBlock) {
    const std::int64_t len = std::min(kBlock, end - b);
    gradient_block<K, Metric>(b, len, p, g, m, v, c, zb, tb);
#pragma omp simd
    for (std::int64_t j = 0; j < len; ++j) {
      const fast::FfStage s = prox.ff_start(zb[j], tb[j]);
      ub[j] = s.u;
      vb[j] = s.v;
    }
#pragma omp simd
    for (std::int64_t j = 0; j < len; ++j) {
      const fast::FfStage s = prox.ff_middle(zb[j], tb[j], fast::FfStage{ub[j], vb[j]});
      ub[j] = s.u;
      vb[j] = s.v;
    }
    int redo = 0;
#pragma omp simd reduction(| : redo)
    for (std::int64_t j = 0; j < len; ++j) {
      int rj = 0;
      p[b + j] = prox.ff_finish(zb[j], tb[j], fast::FfStage{ub[j], vb[j]}, rj);
      rb[j] = rj;
      redo |= rj;
    }
    if (!redo) continue;
    for (std::int64_t j = 0; j < len; ++j)
      if (rb[j]) p[b + j] = prox(zb[j], tb[j]);
  }
}

template <PreconditionerKind K, class T, class Prox>
void fused_loop_k(std::int64_t n, T* p, const T* g, T* m, T* v, const ProxGenCoefficients<T>& c, const Prox& prox) {
  cpu::for_each_range(n, [=](std::int64_t begin, std::int64_t end) {
    if constexpr (std::is_same_v<T, float> && uses_ff<Prox>()) {
      if (c.metric_prox) flagged_range<K, true>(begin, end, p, g, m, v, c, prox);
      else flagged_range<K, false>(begin, end, p, g, m, v, c, prox);
    } else if constexpr (Prox::template checks_range<T>) {
      if (c.metric_prox) blocked_range<K, true>(begin, end, p, g, m, v, c, prox);
      else blocked_range<K, false>(begin, end, p, g, m, v, c, prox);
    } else {
      if (c.metric_prox) fused_range<K, true>(begin, end, p, g, m, v, c, prox);
      else fused_range<K, false>(begin, end, p, g, m, v, c, prox);
    }
  });
}

// Calls f(std::integral_constant<PreconditionerKind, K>{}) for the runtime kind: the loops below are
// instantiated once per kind, so their bodies have no per-coordinate switch.
template <class F>
void with_kind(PreconditionerKind kind, F&& f) {
  using K = PreconditionerKind;
  switch (kind) {
    case K::none: return f(std::integral_constant<K, K::none>{});
    case K::adam: return f(std::integral_constant<K, K::adam>{});
    case K::adagrad: return f(std::integral_constant<K, K::adagrad>{});
    case K::rmsprop: return f(std::integral_constant<K, K::rmsprop>{});
  }
}

template <class T, class Prox>
void fused_loop(std::int64_t n, T* p, const T* g, T* m, T* v, const ProxGenCoefficients<T>& c, const Prox& prox) {
  with_kind(c.kind, [&](auto k) { fused_loop_k<decltype(k)::value>(n, p, g, m, v, c, prox); });
}

// The gradient half alone over a whole tensor, vectorised like the fused loops: p <- z, t <- the
// thresholds (the group lasso's metric prox then needs every t_i of a group at once).
template <PreconditionerKind K, class T>
void gradient_loop_k(std::int64_t n, T* p, const T* g, T* m, T* v, const ProxGenCoefficients<T>& c, T* t) {
  cpu::for_each_range(n, [=](std::int64_t begin, std::int64_t end) {
    for (std::int64_t b = begin; b < end; b += kBlock) {
      const std::int64_t len = std::min(kBlock, end - b);
      if (c.metric_prox) gradient_block<K, true>(b, len, p, g, m, v, c, p + b, t + b);  // z in place
      else gradient_block<K, false>(b, len, p, g, m, v, c, p + b, t + b);
    }
  });
}

template <class T>
void gradient_loop(std::int64_t n, T* p, const T* g, T* m, T* v, const ProxGenCoefficients<T>& c, T* t) {
  with_kind(c.kind, [&](auto k) { gradient_loop_k<decltype(k)::value>(n, p, g, m, v, c, t); });
}

// The binary family: a direct functor for q in {1, 0, 1/2, 2/3} with BinaryZero plus_one or
// keep_zero; SeparableProx::apply otherwise.
template <class T>
void fused_binary(std::int64_t n, T* p, const T* g, T* m, T* v, const ProxGenCoefficients<T>& c,
                  const SeparableProx& r) {
  using fast::Binary;
  using fast::BinaryQ;
  const bool keep_zero = r.binary_zero == BinaryZero::keep_zero;
  if (r.binary_zero == BinaryZero::literal) return fused_loop(n, p, g, m, v, c, fast::Generic{r});
  if (r.q == 1.0) return fused_loop(n, p, g, m, v, c, Binary<BinaryQ::l1>{keep_zero, r.keep_at_tie});
  if (r.q == 0.0) return fused_loop(n, p, g, m, v, c, Binary<BinaryQ::l0>{keep_zero, r.keep_at_tie});
  if (r.q == 0.5) return fused_loop(n, p, g, m, v, c, Binary<BinaryQ::l12>{keep_zero, r.keep_at_tie});
  if (r.q == 2.0 / 3.0) return fused_loop(n, p, g, m, v, c, Binary<BinaryQ::l23>{keep_zero, r.keep_at_tie});
  return fused_loop(n, p, g, m, v, c, fast::Generic{r});
}

// Dispatches once per tensor on the separable regulariser's kind.
template <class T>
void fused_separable(std::int64_t n, T* p, const T* g, T* m, T* v, const ProxGenCoefficients<T>& c,
                     const SeparableProx& r) {
  switch (r.kind) {
    case SeparableKind::l1: return fused_loop(n, p, g, m, v, c, fast::L1{});
    case SeparableKind::l0: return fused_loop(n, p, g, m, v, c, fast::L0{r.keep_at_tie});
    case SeparableKind::l2: return fused_loop(n, p, g, m, v, c, fast::L2{});
    case SeparableKind::lq: return fused_loop(n, p, g, m, v, c, fast::Lq::make(r.q, r.keep_at_tie));
    case SeparableKind::l12: return fused_loop(n, p, g, m, v, c, fast::L12{r.keep_at_tie});
    case SeparableKind::l23: return fused_loop(n, p, g, m, v, c, fast::L23{r.keep_at_tie});
    case SeparableKind::mcp: return fused_loop(n, p, g, m, v, c, fast::Mcp{r.lambda, r.shape, r.keep_at_tie});
    case SeparableKind::scad: return fused_loop(n, p, g, m, v, c, fast::Scad{r.lambda, r.shape, r.keep_at_tie});
    case SeparableKind::binary: return fused_binary(n, p, g, m, v, c, r);
    default: return fused_loop(n, p, g, m, v, c, fast::Generic{r});
  }
}

}  // namespace

ProxGen::ProxGen(std::vector<ParamGroup> groups, const ProxGenOptions& o)
    : ProxOptimizer(std::move(groups), o.regularizer, o.lambda, "ProxGenOptions::lambda"),
      options_(o),
      preconditioner_(resolve(o)) {
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

ProxGen::ProxGen(std::vector<Tensor> params, const ProxGenOptions& o) : ProxGen(single_group(std::move(params)), o) {}

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
      fused_loop(n, p, g, m, v, c, fast::Identity{});
    } else if (sep) {
      fused_separable(n, p, g, m, v, c, *sep);
    } else {  // group lasso: the exact metric prox needs every t_i of a group at once
      Tensor thresholds = empty_like(param);
      gradient_loop(n, p, g, m, v, c, thresholds.data<T>());
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

// One fused launch per dtype and step count (optim/device_loop.h). The group lasso: the gradient
// half writes the thresholds t_i, then one group-prox kernel per tensor, then the clip.
void ProxGen::update_device(const ParamGroup& group, std::vector<DeviceParam>& params) {
  const std::size_t gi = group_index(group);
  const bool reg = regularized(gi);
  const SeparableProx* sep = reg ? separable(gi) : nullptr;
  const Regularizer* group_reg = reg && !sep ? regularizer(gi) : nullptr;
  const bool has_v = preconditioner_.kind != PreconditionerKind::none;
  for (DeviceParam& dp : params) {
    if (dp.state->empty()) init_state(*dp.state, dp.param);
    ++dp.state->at("step").data<std::int64_t>()[0];
  }
  const double clip = options_.clip && regularizer(gi) ? *options_.clip : 0.0;
  auto step_of = [](const DeviceParam& dp) { return dp.state->at("step").data<std::int64_t>()[0]; };
  device::for_each_bucket(params, step_of, [&](DType dtype, std::int64_t step, std::vector<DeviceParam*>& members) {
    device::TensorList list, params_only;
    std::vector<Tensor> thresholds;
    for (DeviceParam* dp : members) {
      if (group_reg) thresholds.push_back(empty_like(dp->param));
      list.add({&dp->param, &dp->grad, &dp->state->at("exp_avg"), has_v ? &dp->state->at("exp_avg_sq") : nullptr,
                group_reg ? &thresholds.back() : nullptr});
      params_only.add({&dp->param});
    }
    cpu::dispatch_float(dtype, [&](auto tag) {
      using T = decltype(tag);
      const auto c = make_proxgen_coefficients<T>(preconditioner_, group.lr, reg ? lambda(gi) : 0.0,
                                                  group.weight_decay, options_.metric_prox, step);
      if (group_reg) {
        device::proxgen_thresholds(list, c);
        for (std::size_t k = 0; k < members.size(); ++k) group_reg->prox_(members[k]->param, thresholds[k]);
        if (clip > 0) device::clip<T>(params_only, clip);
      } else {
        device::proxgen(list, c, sep, clip);
      }
      if (!reg || !recording_thresholds()) return;
      for (DeviceParam* dp : members) {  // logging only: v through a host copy
        const Tensor v = has_v ? dp->state->at("exp_avg_sq").to(Device::cpu()) : Tensor{};
        for (std::int64_t i = 0; i < dp->param.numel(); ++i)
          threshold_record().add(c.metric_prox ? double(c.lr_lambda / proxgen_denominator(has_v ? v.data<T>()[i] : T(0), c))
                                               : double(c.lr_lambda));
      }
    });
  });
}

}  // namespace px::optim::prox
