// top_hessian_eigenvalue: power iteration on finite differences of gradients (in double).
#include "proxima/optim/prox/sr2_sigma0.h"

#include <cmath>
#include <limits>
#include <random>

#include "proxima/core/error.h"
#include "proxima/optim/cpu_loop.h"

namespace px::optim::prox {
namespace {

std::vector<double> to_doubles(const Tensor& t) {
  std::vector<double> out;
  out.reserve(static_cast<std::size_t>(t.numel()));
  const Tensor c = t.contiguous();
  cpu::dispatch_float(c.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = c.data<T>();
    for (std::int64_t i = 0; i < c.numel(); ++i) out.push_back(double(p[i]));
  });
  return out;
}

// params[k] <- x[k] + eps * v[k] (rounded to the parameter's dtype); eps = 0 restores x exactly.
void set_point(const std::vector<Tensor>& params, const std::vector<Tensor>& x,
               const std::vector<std::vector<double>>& v, double eps) {
  for (std::size_t k = 0; k < params.size(); ++k) {
    cpu::dispatch_float(params[k].dtype(), [&](auto tag) {
      using T = decltype(tag);
      T* p = params[k].data<T>();
      const T* x0 = x[k].data<T>();
      for (std::int64_t i = 0; i < params[k].numel(); ++i)
        p[i] = eps == 0 ? x0[i] : T(double(x0[i]) + eps * v[k][static_cast<std::size_t>(i)]);
    });
  }
}

double norm(const std::vector<std::vector<double>>& v) {
  double s = 0;
  for (const auto& t : v)
    for (double a : t) s += a * a;
  return std::sqrt(s);
}

}  // namespace

PowerIterationResult top_hessian_eigenvalue(const std::vector<Tensor>& all_params, const std::function<void()>& grad_fn,
                                            const PowerIterationOptions& o) {
  PX_CHECK(o.iterations >= 1, ValueError, "top_hessian_eigenvalue: iterations must be >= 1, got ", o.iterations);
  PX_CHECK(o.tolerance >= 0, ValueError, "top_hessian_eigenvalue: tolerance must be >= 0, got ", o.tolerance);
  PX_CHECK(o.fd_step >= 0 && std::isfinite(o.fd_step), ValueError,
           "top_hessian_eigenvalue: fd_step must be finite and >= 0, got ", o.fd_step);
  PX_CHECK(static_cast<bool>(grad_fn), ValueError, "top_hessian_eigenvalue: grad_fn is empty");
  grad_fn();
  std::vector<Tensor> params, x0, g0;
  std::vector<std::vector<double>> g0d;
  bool float32 = false;
  for (const Tensor& p : all_params) {
    if (!p.grad().defined()) continue;
    PX_CHECK(p.device().is_cpu() && p.is_contiguous(), ValueError,
             "top_hessian_eigenvalue: parameters must be contiguous CPU tensors");
    float32 = float32 || p.dtype() == DType::float32;
    params.push_back(p);
    x0.push_back(p.clone());
    g0.push_back(p.grad().clone());
    g0d.push_back(to_doubles(p.grad()));
  }
  PX_CHECK(!params.empty(), ValueError, "top_hessian_eigenvalue: no parameter has a gradient after grad_fn()");

  std::mt19937_64 rng(o.seed);
  std::normal_distribution<double> normal;
  std::vector<std::vector<double>> v(params.size());
  double xnorm2 = 0;
  for (std::size_t k = 0; k < params.size(); ++k) {
    v[k].resize(static_cast<std::size_t>(params[k].numel()));
    for (double& a : v[k]) a = normal(rng);
    for (double a : to_doubles(x0[k])) xnorm2 += a * a;
  }
  const double eps_machine =
      float32 ? double(std::numeric_limits<float>::epsilon()) : std::numeric_limits<double>::epsilon();
  const double eps = o.fd_step > 0 ? o.fd_step : std::sqrt(eps_machine) * (1 + std::sqrt(xnorm2));

  PowerIterationResult r;
  double vn = norm(v);
  for (auto& t : v)
    for (double& a : t) a /= vn;
  for (int it = 1; it <= o.iterations; ++it) {
    set_point(params, x0, v, eps);
    grad_fn();
    std::vector<std::vector<double>> hv(params.size());
    double rayleigh = 0;
    for (std::size_t k = 0; k < params.size(); ++k) {
      const Tensor g = params[k].grad();
      PX_CHECK(g.defined(), ValueError, "top_hessian_eigenvalue: a gradient disappeared at x + eps v");
      hv[k] = to_doubles(g);
      for (std::size_t i = 0; i < hv[k].size(); ++i) {
        hv[k][i] = (hv[k][i] - g0d[k][i]) / eps;
        rayleigh += v[k][i] * hv[k][i];
      }
    }
    const double previous = r.eigenvalue;
    r.eigenvalue = rayleigh;
    r.iterations = it;
    const double hn = norm(hv);
    if (!(hn > 0) || !std::isfinite(hn)) break;
    for (std::size_t k = 0; k < params.size(); ++k)
      for (std::size_t i = 0; i < v[k].size(); ++i) v[k][i] = hv[k][i] / hn;
    if (it > 1 && std::fabs(rayleigh - previous) <= o.tolerance * std::fabs(rayleigh)) {
      r.converged = true;
      break;
    }
  }
  set_point(params, x0, v, 0.0);
  for (std::size_t k = 0; k < params.size(); ++k) params[k].set_grad(g0[k]);
  return r;
}

}  // namespace px::optim::prox
