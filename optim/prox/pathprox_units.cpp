// PathProx's per-unit operations: path norms, active units, the layer-wise balance and the prox
// (normalise w_k, group soft threshold of v_k), on float32/float64 tensors. CUDA tensors: the step's
// operations (path norms, balance, prox) run the per-group kernels of group_device.h with one host
// read per step (the path norms: the balance's scales and its dead-group test need them on the
// host); the metrics (active units, squared norms) read a host copy.
#include <cmath>
#include <vector>

#include "proxima/core/error.h"
#include "proxima/core/factory.h"
#include "proxima/core/ops.h"
#include "proxima/optim/cpu_loop.h"
#include "proxima/optim/prox/group_device.h"
#include "proxima/optim/prox/group_prox.h"
#include "proxima/optim/prox/pathprox.h"

namespace px::optim::prox {
namespace {

using nn::HomogeneousGroup;
using nn::HomogeneousUnits;

void check_contiguous(const Tensor& t, const std::string& name) {
  PX_CHECK(t.is_contiguous(), ValueError, "pathprox: ", name, " must be contiguous (it is updated in place)");
}

std::vector<double> unit_norms(const Tensor& t, const std::string& name, Grouping grouping) {
  check_contiguous(t, name);
  return group_norms(t, grouping);
}

std::vector<double> w_norms(const HomogeneousGroup& g) { return unit_norms(g.w.weight, g.w.weight_name, Grouping::rows); }
std::vector<double> v_norms(const HomogeneousGroup& g) { return unit_norms(g.v.weight, g.v.weight_name, Grouping::columns); }

double group_path_norm(const HomogeneousGroup& g) {
  const auto w = w_norms(g), v = v_norms(g);
  double p = 0;
  for (std::size_t k = 0; k < w.size(); ++k) p += w[k] * v[k];
  return p;
}

// ||unit k|| of a CUDA tensor, float64 [units] on its device.
Tensor device_unit_norms(const Tensor& t, const std::string& name, Grouping grouping) {
  check_contiguous(t, name);
  const GroupLayout l = group_layout(t.shape(), grouping);
  Tensor norms = empty({l.groups}, {.dtype = DType::float64, .device = t.device()});
  device::group_norms(t, norms, l);
  return norms;
}

// P_g of every group of units on a CUDA device: per-unit norms and their products on the device,
// one host read for all groups.
std::vector<double> device_path_norms(const HomogeneousUnits& units) {
  std::vector<Tensor> p;
  for (const auto& g : units.groups) {
    p.push_back(ops::sum(ops::mul(device_unit_norms(g.w.weight, g.w.weight_name, Grouping::rows),
                                  device_unit_norms(g.v.weight, g.v.weight_name, Grouping::columns))));
  }
  const Tensor host = ops::stack(p).to(Device::cpu()).contiguous();
  return std::vector<double>(host.data<double>(), host.data<double>() + host.numel());
}

bool on_device(const HomogeneousUnits& units) {
  return !units.groups.empty() && !units.groups.front().w.weight.device().is_cpu();
}

// t <- s t (undefined t: nothing, a layer without a bias).
void scale_(const Tensor& t, const std::string& name, double s) {
  if (!t.defined() || s == 1.0) return;
  check_contiguous(t, name);
  if (!t.device().is_cpu()) return device::scale(t, s);
  cpu::dispatch_float(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* x = t.data<T>();
    for (std::int64_t i = 0; i < t.numel(); ++i) x[i] = T(double(x[i]) * s);
  });
}

double sq_norm(const Tensor& t, const std::string& name) {
  const double n = unit_norms(t, name, Grouping::whole)[0];
  return n * n;
}

// pathprox_prox on a CUDA device: per group, one normalisation kernel (writing the factors), the
// bias scaled by them, one block-prox kernel.
void device_pathprox_prox(const HomogeneousUnits& units, double tau) {
  for (const auto& g : units.groups) {
    check_contiguous(g.w.weight, g.w.weight_name);
    check_contiguous(g.v.weight, g.v.weight_name);
    const GroupLayout wl = group_layout(g.w.weight.shape(), Grouping::rows);
    Tensor factors = empty({wl.groups}, {.dtype = DType::float64, .device = g.w.weight.device()});
    device::group_normalize(g.w.weight, factors, wl);
    if (g.w.has_bias()) {
      check_contiguous(g.w.bias, g.w.bias_name);
      device::scale_by(g.w.bias, factors);
    }
    device::group_prox(g.v.weight, nullptr, tau, group_layout(g.v.weight.shape(), Grouping::columns));
  }
}

}  // namespace

std::vector<double> group_path_norms(const HomogeneousUnits& units) {
  if (on_device(units)) return device_path_norms(units);
  std::vector<double> p;
  for (const auto& g : units.groups) p.push_back(group_path_norm(g));
  return p;
}

double path_norm(const HomogeneousUnits& units) {
  double total = 0;
  for (double p : group_path_norms(units)) total += p;
  return total;
}

double other_weights_sq_norm(const HomogeneousUnits& units) {
  double total = 0;
  for (const auto& o : units.others) total += sq_norm(o.layer.weight, o.layer.weight_name);
  return total;
}

double all_weights_sq_norm(const HomogeneousUnits& units) {
  double total = other_weights_sq_norm(units);
  for (const auto& g : units.groups) total += sq_norm(g.w.weight, g.w.weight_name) + sq_norm(g.v.weight, g.v.weight_name);
  return total;
}

ActiveUnits active_units(const HomogeneousUnits& units) {
  ActiveUnits a;
  for (const auto& g : units.groups) {
    const auto w = w_norms(g), v = v_norms(g);
    for (std::size_t k = 0; k < w.size(); ++k) a.active += w[k] * v[k] > 0 ? 1 : 0;
    a.total += static_cast<std::int64_t>(w.size());
  }
  return a;
}

BalanceResult layerwise_balance(const HomogeneousUnits& units) {
  BalanceResult r;
  r.path_norms = group_path_norms(units);
  const std::size_t n = r.path_norms.size();
  double log_sum = 0;
  bool dead = false;
  for (double p : r.path_norms) {
    dead = dead || !(p > kDeadPathNorm) || !std::isfinite(p);
    log_sum += std::log(p);
  }
  if (n < 2 || dead) return r;
  r.geometric_mean = std::exp(log_sum / static_cast<double>(n));
  std::vector<double> p = r.path_norms;
  for (std::size_t g = 0; g + 1 < n; ++g) {
    const double s = r.geometric_mean / p[g];
    const HomogeneousGroup& cur = units.groups[g];
    const HomogeneousGroup& next = units.groups[g + 1];
    // V(g)'s outputs are scaled by s: so is every bias up to V(g+1), which absorbs 1 / s.
    scale_(cur.v.weight, cur.v.weight_name, s);
    scale_(cur.v.bias, cur.v.bias_name, s);
    for (const auto& o : units.others) {
      if (o.groups_before == static_cast<std::int64_t>(g) + 1) scale_(o.layer.bias, o.layer.bias_name, s);
    }
    scale_(next.w.bias, next.w.bias_name, s);
    scale_(next.v.weight, next.v.weight_name, 1.0 / s);
    p[g] *= s;
    p[g + 1] /= s;
    r.scales.push_back(s);
  }
  r.last_scale = r.geometric_mean / p[n - 1];
  r.applied = true;
  return r;
}

void pathprox_prox(const HomogeneousUnits& units, double tau) {
  PX_CHECK(std::isfinite(tau) && tau >= 0, ValueError, "pathprox: the threshold tau = lambda * lr must be >= 0, got ",
           tau);
  if (on_device(units)) return device_pathprox_prox(units, tau);
  for (const auto& g : units.groups) {
    check_contiguous(g.w.weight, g.w.weight_name);
    check_contiguous(g.v.weight, g.v.weight_name);
    const std::vector<double> factors = group_normalize_(g.w.weight, Grouping::rows);  // 1 / ||w_k||, 1 for w_k = 0
    if (g.w.has_bias()) {  // b_k is divided by the same ||w_k||
      check_contiguous(g.w.bias, g.w.bias_name);
      cpu::dispatch_float(g.w.bias.dtype(), [&](auto tag) {
        using T = decltype(tag);
        T* b = g.w.bias.data<T>();
        for (std::size_t k = 0; k < factors.size(); ++k) b[k] = T(double(b[k]) * factors[k]);
      });
    }
    group_prox_(g.v.weight, nullptr, tau, Grouping::columns);
  }
}

}  // namespace px::optim::prox
