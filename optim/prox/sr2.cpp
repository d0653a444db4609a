// SR2: option checks, the trial step (momentum, denominator, prox, predicted decrease), the
// guarded accept/reject decision with exact restoration and the momentum restart, Andrei's
// diagonal update, sigma in the state.
#include "proxima/optim/prox/sr2.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "proxima/core/error.h"
#include "proxima/core/factory.h"
#include "proxima/core/ops.h"
#include "proxima/optim/cpu_loop.h"
#include "proxima/optim/prox/group_device.h"

namespace px::optim::prox {
namespace {

void check_options(const SR2Options& o) {
  const char* who = "sr2";
  check_option(o.sigma0 > 0 && std::isfinite(o.sigma0), who, "sigma0", o.sigma0, "finite and > 0");
  PX_CHECK(o.preconditioner == "none" || o.preconditioner == "adam" || o.preconditioner == "andrei", ValueError,
           "sr2: preconditioner must be none, adam or andrei, got \"", o.preconditioner, "\"");
  check_option(o.beta >= 0 && o.beta < 1, who, "beta", o.beta, "in [0, 1)");
  check_option(o.eta1 > 0 && o.eta1 < 1, who, "eta1", o.eta1, "in (0, 1)");
  check_option(o.eta2 >= o.eta1 && o.eta2 <= 1, who, "eta2", o.eta2, "in [eta1, 1]");
  check_option(o.gamma1 > 1 && std::isfinite(o.gamma1), who, "gamma1", o.gamma1, "finite and > 1");
  check_option(o.gamma3 > 0 && o.gamma3 <= 1, who, "gamma3", o.gamma3, "in (0, 1]");
  check_option(o.sigma_min > 0 && std::isfinite(o.sigma_min), who, "sigma_min", o.sigma_min, "finite and > 0");
  check_option(o.ema_beta >= 0 && o.ema_beta < 1, who, "ema_beta", o.ema_beta, "in [0, 1)");
  check_option(o.andrei_floor >= 0 && std::isfinite(o.andrei_floor), who, "andrei_floor", o.andrei_floor,
               "finite and >= 0");
  check_option(o.sigma_max >= o.sigma0 && std::isfinite(o.sigma_max), who, "sigma_max", o.sigma_max,
               "finite and >= sigma0");
  check_option(o.loss_epsilon >= 0 && o.loss_epsilon < 1, who, "loss_epsilon", o.loss_epsilon,
               "in [0, 1) (0: the machine epsilon of the parameters' dtype)");
  check_option(o.weight_decay == 0, who, "weight_decay", o.weight_decay,
               "0 (weight decay is not part of SR2; the official code's hard-coded (1 - 0.001 wd) decay is not "
               "reproduced)");
}

// The tensors of one SR2 kernel launch (one device and dtype) and the float64 device sums their
// reductions accumulate into (one per device, read back once per step).
struct DeviceBatch {
  DType dtype;
  device::TensorList list;
};
struct DeviceSums {
  std::vector<std::pair<Device, Tensor>> sums;
  const Tensor& at(const Device& d, std::int64_t n) {
    for (auto& [device, t] : sums)
      if (device == d) return t;
    sums.emplace_back(d, zeros({n}, {.dtype = DType::float64, .device = d}));
    return sums.back().second;
  }
  // The host sums over devices. This read synchronises with the device: it is inherent to SR2, whose
  // acceptance test (and Andrei's q) needs these reductions on the host.
  std::vector<double> read(std::int64_t n) const {
    std::vector<double> total(static_cast<std::size_t>(n), 0.0);
    for (const auto& [device, t] : sums) {
      const Tensor host = t.to(Device::cpu());
      for (std::int64_t j = 0; j < n; ++j) total[static_cast<std::size_t>(j)] += host.data<double>()[j];
    }
    return total;
  }
};
// The batch for this device and dtype in `batches` (appended when new).
device::TensorList& batch_for(std::vector<DeviceBatch>& batches, const Tensor& p) {
  for (auto& b : batches)
    if (b.dtype == p.dtype() && b.list.device == p.device()) return b.list;
  batches.push_back({p.dtype(), {}});
  return batches.back().list;
}

}  // namespace

// The values at x_k that a rejection restores (and Andrei's update reads).
struct SR2::Saved {
  struct Entry {
    std::size_t group = 0, index = 0;
    Tensor x, v, e, grad;  // e: "adam" only; grad: g(x_k) for "andrei" and the momentum restart
  };
  std::vector<Entry> entries;
};

SR2::SR2(std::vector<ParamGroup> groups, const SR2Options& o)
    : ProxOptimizer(std::move(groups), o.regularizer, o.lambda), options_(o), sigma_(o.sigma0) {
  check_options(o);
  init_prox_groups(0.0, 0.0);
  for (std::size_t g = 0; g < param_groups().size(); ++g) {
    PX_CHECK(param_groups()[g].weight_decay == 0, ValueError, "sr2: param group ", g,
             ": weight_decay must be 0 (weight decay is not part of SR2), got ", param_groups()[g].weight_decay);
    PX_CHECK(regularizer(g) == nullptr || separable(g) != nullptr, ValueError, "sr2: param group ", g,
             ": regulariser \"", regularizer(g)->name(), "\" is not separable; SR2 takes l1, l0, l12, l23, lq, "
             "l2, mcp, scad or bin-*");
  }
}

SR2::SR2(std::vector<Tensor> params, const SR2Options& o) : SR2(single_group(std::move(params)), o) {}

std::vector<StateEntrySpec> SR2::state_spec() const {
  std::vector<StateEntrySpec> spec = {{"v", StateKind::per_coordinate}};
  if (options_.preconditioner == "adam") spec.push_back({"e", StateKind::per_coordinate});
  if (options_.preconditioner == "andrei") spec.push_back({"B", StateKind::per_coordinate});
  spec.push_back({"sigma", StateKind::scalar});
  return spec;
}

void SR2::update(const ParamGroup&, const Tensor&, const Tensor&, ParamState&) {
  throw ValueError("sr2: update() is not used; call step(closure)");
}

void SR2::step() {
  throw ValueError(
      "sr2: step() needs a closure: call step(closure), where closure(with_grad) re-evaluates the loss on the "
      "same minibatch (and with with_grad = true zeroes the gradients and back-propagates)");
}

bool SR2::has_state() const {
  for (std::size_t g = 0; g < param_groups().size(); ++g)
    for (std::size_t i = 0; i < param_groups()[g].params.size(); ++i)
      if (!state(g, i).empty()) return true;
  return false;
}

double SR2::sigma() const {
  for (std::size_t g = 0; g < param_groups().size(); ++g)
    for (std::size_t i = 0; i < param_groups()[g].params.size(); ++i)
      if (!state(g, i).empty()) return state(g, i).at("sigma").data<double>()[0];
  return sigma_;
}

void SR2::write_sigma(double sigma) {
  sigma_ = sigma;
  for (std::size_t g = 0; g < param_groups().size(); ++g)
    for (std::size_t i = 0; i < param_groups()[g].params.size(); ++i)
      if (!state(g, i).empty()) state(g, i).at("sigma").data<double>()[0] = sigma;
}

void SR2::set_sigma(double sigma) {
  PX_CHECK(sigma > 0 && sigma <= options_.sigma_max, ValueError, "sr2: set_sigma: sigma must be in (0, sigma_max = ",
           options_.sigma_max, "], got ", sigma);
  write_sigma(sigma);
}

// The eps of the round-off guard: the option, or the machine epsilon of the parameters' dtype
// (float32's when any parameter is float32: the loss is then computed in float32).
double SR2::loss_epsilon() const {
  if (options_.loss_epsilon > 0) return options_.loss_epsilon;
  for (const auto& group : param_groups())
    for (const Tensor& p : group.params)
      if (p.dtype() == DType::float32) return std::numeric_limits<float>::epsilon();
  return std::numeric_limits<double>::epsilon();
}

// Moves every parameter with a gradient to the trial point x + s (saving x_k in `saved`), with the
// momentum update, or with v <- g when `restart`. In double: ||s||^2, xi = h(x) - v's - h(x + s),
// the batch's own first-order decrease xi_g = h(x) - g's - h(x + s), h(x) and h(x) - h(x + s).
SR2::Trial SR2::trial_step(Saved& saved, double sigma, bool restart) {
  const bool adam = options_.preconditioner == "adam", andrei = options_.preconditioner == "andrei";
  const bool keep_grad = andrei || (options_.beta > 0 && (options_.restart_momentum || options_.momentum_check));
  double ss = 0, vs = 0, gs = 0, h0 = 0, dh = 0;
  DeviceSums device_sums;
  std::vector<Tensor> device_grads;  // alive until the launches are queued
  for (std::size_t g = 0; g < param_groups().size(); ++g) {
    if (skips_group(g)) continue;
    const ParamGroup& group = param_groups()[g];
    const bool reg = regularized(g);
    const SeparableProx scalar = reg ? *separable(g) : SeparableProx{};
    const double lambda_g = reg ? lambda(g) : 0.0;
    const bool record = reg && recording_thresholds();
    std::vector<DeviceBatch> batches;
    std::vector<ParamState*> device_states;  // recording thresholds only
    for (std::size_t i = 0; i < group.params.size(); ++i) {
      const Tensor& p = group.params[i];
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      PX_CHECK(p.is_contiguous() && grad.shape() == p.shape() && grad.dtype() == p.dtype(), ValueError,
               "sr2: ", param_label(g, i), " must be contiguous with a gradient of its shape and dtype");
      grad = grad.contiguous();
      ParamState& st = state(g, i);
      if (st.empty()) {
        init_state(st, p);
        st.at("sigma").data<double>()[0] = sigma;
      }
      Saved::Entry entry;
      entry.group = g;
      entry.index = i;
      entry.x = p.clone();
      entry.v = st.at("v").clone();
      if (adam) entry.e = st.at("e").clone();
      if (keep_grad) entry.grad = grad.clone();
      if (!p.device().is_cpu()) {  // queued for this group's kernel launch
        const Tensor* extra = adam ? &st.at("e") : andrei ? &st.at("B") : nullptr;
        batch_for(batches, p).add({&p, &grad, &st.at("v"), extra});
        device_grads.push_back(grad);
        if (record) device_states.push_back(&st);
        saved.entries.push_back(std::move(entry));
        continue;
      }
      cpu::dispatch_float(p.dtype(), [&](auto tag) {
        using T = decltype(tag);
        T* x = p.data<T>();
        const T* gr = grad.data<T>();
        T* v = st.at("v").data<T>();
        T* e = adam ? st.at("e").data<T>() : nullptr;
        const T* B = andrei ? st.at("B").data<T>() : nullptr;
        const T beta = T(options_.beta), one_minus_beta = T(1 - options_.beta);
        const T eb = T(options_.ema_beta), one_minus_eb = T(1 - options_.ema_beta);
        const T floor = T(options_.andrei_floor), sig = T(sigma), lam = T(lambda_g);
        for (std::int64_t k = 0, n = p.numel(); k < n; ++k) {
          v[k] = restart ? gr[k] : beta * v[k] + one_minus_beta * gr[k];
          T extra = T(0);
          if (adam) {
            e[k] = eb * e[k] + one_minus_eb * gr[k] * gr[k];
            extra = std::sqrt(e[k]);
          } else if (andrei) {
            extra = B[k] > floor ? B[k] : T(0);
          }
          const T d = sig + extra;
          const T x0 = x[k];
          const T z = x0 - v[k] / d;
          const T x1 = reg ? scalar.apply(z, lam / d) : z;
          x[k] = x1;
          const double s = double(x1) - double(x0);
          ss += s * s;
          vs += double(v[k]) * s;
          gs += double(gr[k]) * s;
          if (reg) {
            const double r0 = scalar.value(double(x0));
            h0 += lambda_g * r0;
            dh += lambda_g * (r0 - scalar.value(double(x1)));
          }
          if (record) threshold_record().add(double(lam / d));
        }
      });
      saved.entries.push_back(std::move(entry));
    }
    const device::SR2TrialSettings settings{.restart = restart, .adam = adam, .andrei = andrei, .regularized = reg,
                                            .beta = options_.beta, .ema_beta = options_.ema_beta,
                                            .andrei_floor = options_.andrei_floor, .sigma = sigma,
                                            .lambda = lambda_g, .r = scalar};
    for (const DeviceBatch& b : batches) {
      cpu::dispatch_float(b.dtype, [&](auto tag) {
        using T = decltype(tag);
        device::sr2_trial<T>(b.list, settings, device_sums.at(b.list.device, 5));
      });
    }
    for (ParamState* st : device_states) record_device_thresholds(*st, lambda_g, sigma);
  }
  const std::vector<double> d = device_sums.read(5);
  ss += d[0], vs += d[1], gs += d[2], h0 += d[3], dh += d[4];
  return {.ss = ss, .xi = dh - vs, .xi_g = dh - gs, .h = h0, .dh = dh};
}

// Logging only: the thresholds lambda / D_i of a device parameter after its trial step (the CPU
// loop's T arithmetic), from host copies of v (for the dtype and size) and e or B.
void SR2::record_device_thresholds(const ParamState& st, double lambda_g, double sigma) {
  const bool adam = options_.preconditioner == "adam", andrei = options_.preconditioner == "andrei";
  const Tensor v = st.at("v");
  const Tensor extra = adam ? st.at("e").to(Device::cpu()) : andrei ? st.at("B").to(Device::cpu()) : Tensor{};
  cpu::dispatch_float(v.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = extra.defined() ? extra.data<T>() : nullptr;
    const T floor = T(options_.andrei_floor), sig = T(sigma), lam = T(lambda_g);
    for (std::int64_t k = 0; k < v.numel(); ++k) {
      T e = T(0);
      if (adam) e = std::sqrt(x[k]);
      else if (andrei) e = x[k] > floor ? x[k] : T(0);
      threshold_record().add(double(lam / (sig + e)));
    }
  });
}

// Rejection: x and the EMA back to x_k's bit for bit; v back to v_{k-1}, or (restart) to g(x_k).
void SR2::restore(const Saved& saved, bool restart) {
  for (const auto& entry : saved.entries) {
    const Tensor& p = param_groups()[entry.group].params[entry.index];
    ParamState& st = state(entry.group, entry.index);
    if (!p.device().is_cpu()) {
      ops::copy_(p, entry.x);  // same dtype and shape: a bit-exact device copy
    } else {
      cpu::dispatch_float(p.dtype(), [&](auto tag) {
        using T = decltype(tag);
        std::copy_n(entry.x.data<T>(), p.numel(), p.data<T>());
      });
    }
    st.set("v", restart ? entry.grad : entry.v);
    if (entry.e.defined()) st.set("e", entry.e);
  }
}

// B <- B - 1 + q s^2 with q = (s'y + s's - s'Bs) / sum s^4, over every parameter that moved. Device
// parameters: the sums by kernel (one host read, inherent: q is a host scalar), then the update.
void SR2::andrei_update(const Saved& saved) {
  double sy = 0, ss = 0, sbs = 0, s4 = 0;
  std::vector<DeviceBatch> sum_batches, update_batches;
  std::vector<Tensor> alive;  // contiguous gradients of the device batches
  for (const auto& entry : saved.entries) {
    const Tensor& p = param_groups()[entry.group].params[entry.index];
    if (p.device().is_cpu() || !p.grad().defined()) continue;
    alive.push_back(p.grad().contiguous());
    ParamState& st = state(entry.group, entry.index);
    batch_for(sum_batches, p).add({&p, &entry.x, &alive.back(), &entry.grad, &st.at("B")});
    batch_for(update_batches, p).add({&p, &entry.x, &st.at("B")});
  }
  const auto for_each = [&](auto&& f) {  // CPU parameters
    for (const auto& entry : saved.entries) {
      const Tensor& p = param_groups()[entry.group].params[entry.index];
      const Tensor grad = p.grad();
      if (!grad.defined() || !p.device().is_cpu()) continue;
      const Tensor g1 = grad.contiguous();
      ParamState& st = state(entry.group, entry.index);
      cpu::dispatch_float(p.dtype(), [&](auto tag) {
        using T = decltype(tag);
        f(p.data<T>(), entry.x.data<T>(), g1.data<T>(), entry.grad.data<T>(), st.at("B").data<T>(), p.numel());
      });
    }
  };
  for_each([&](const auto* x1, const auto* x0, const auto* g1, const auto* g0, auto* B, std::int64_t n) {
    for (std::int64_t k = 0; k < n; ++k) {
      const double s = double(x1[k]) - double(x0[k]), y = double(g1[k]) - double(g0[k]);
      sy += s * y;
      ss += s * s;
      sbs += s * s * double(B[k]);
      s4 += s * s * s * s;
    }
  });
  if (!sum_batches.empty()) {
    DeviceSums sums;
    for (const DeviceBatch& b : sum_batches) {
      cpu::dispatch_float(b.dtype, [&](auto tag) {
        device::sr2_andrei_sums<decltype(tag)>(b.list, sums.at(b.list.device, 4));
      });
    }
    const std::vector<double> d = sums.read(4);
    sy += d[0], ss += d[1], sbs += d[2], s4 += d[3];
  }
  if (!(s4 > 0) || !std::isfinite(sy)) return;
  const double q = (sy + ss - sbs) / s4;
  for_each([&](const auto* x1, const auto* x0, const auto*, const auto*, auto* B, std::int64_t n) {
    using T = std::remove_reference_t<decltype(*B)>;
    for (std::int64_t k = 0; k < n; ++k) {
      const double s = double(x1[k]) - double(x0[k]);
      B[k] = T(double(B[k]) - 1.0 + q * s * s);
    }
  });
  for (const DeviceBatch& b : update_batches) {
    cpu::dispatch_float(b.dtype, [&](auto tag) { device::sr2_andrei_update<decltype(tag)>(b.list, q); });
  }
}

SR2StepResult SR2::step(const SR2Closure& closure) {
  PX_CHECK(static_cast<bool>(closure), ValueError,
           "sr2: step(closure) got an empty closure; it needs one that re-evaluates the minibatch loss");
  align_state();  // once per step, as Optimizer::step() does (this step does not go through it)
  begin_step();
  SR2StepResult r;
  r.sigma = sigma();
  r.loss = closure(true);
  PX_CHECK(std::isfinite(r.loss), ValueError, "sr2: the closure returned a non-finite loss (", r.loss,
           ") at the current point");
  Saved saved;
  Trial t = trial_step(saved, r.sigma, false);
  if (options_.momentum_check && options_.beta > 0 && t.xi_g < options_.eta1 * t.xi) {
    // Gradient-scheme restart: the momentum step's first-order decrease on this batch is below
    // eta1 xi, so rho < eta1 for every large sigma: take the pure prox-gradient step instead.
    restore(saved, true);
    saved.entries.clear();
    begin_step();
    t = trial_step(saved, r.sigma, true);
    r.restarted = true;
    ++stats_.restarts;
  }
  const double ss = t.ss;
  r.xi = t.xi;
  r.h = t.h;
  r.h_decrease = t.dh;
  r.guard = 10 * loss_epsilon() * std::fmax(1.0, std::fabs(r.loss + r.h));
  if (ss == 0) {  // x + s = x: F_B(x + s) = F_B(x) without evaluating it, rho = d / d = 1
    r.trial_loss = r.loss;
    r.rho = 1;
  } else {
    r.trial_loss = closure(false);
    r.rho = (r.loss - r.trial_loss + r.h_decrease + r.guard) / (r.xi + r.guard);
  }
  r.accepted = r.xi + r.guard > 0 && r.rho >= options_.eta1;  // false for a NaN rho
  r.sigma_next = r.sigma;
  if (r.accepted) {
    if (options_.preconditioner == "andrei" && ss > 0) {
      (void)closure(true);
      andrei_update(saved);
    }
    if (r.rho >= options_.eta2) r.sigma_next = std::fmax(options_.gamma3 * r.sigma, options_.sigma_min);
    ++stats_.accepted;
  } else {
    restore(saved, options_.restart_momentum && options_.beta > 0);
    r.sigma_next = options_.gamma1 * r.sigma;
    if (r.sigma_next > options_.sigma_max) {
      r.sigma_next = options_.sigma_max;
      r.sigma_clamped = true;
      ++stats_.sigma_max_hits;
    }
    ++stats_.rejected;
  }
  r.stationarity = r.xi > 0 ? std::sqrt(r.sigma * r.xi) : 0.0;
  stats_.xi_sum += r.xi;
  stats_.stationarity_sum += r.stationarity;
  write_sigma(r.sigma_next);
  return r;
}

}  // namespace px::optim::prox
