// Helpers for the nn tests: seeded random tensors, host copies, closeness, and a finite-difference
// gradient check through a whole module (input and every parameter).
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "proxima/autograd/autograd.h"
#include "proxima/autograd/functions.h"
#include "proxima/core/factory.h"
#include "proxima/core/ops.h"
#include "proxima/nn/module.h"

namespace nnt {

using px::DType;
using px::Shape;
using px::Tensor;

inline Tensor random(const Shape& shape, std::uint64_t seed, DType dtype = DType::float32, double lo = -1.0,
                     double hi = 1.0) {
  px::Generator gen(seed);
  return px::ops::uniform(shape, lo, hi, {.dtype = dtype}, &gen);
}

inline std::vector<double> host(const Tensor& t) {
  return px::ops::to_dtype(px::ops::contiguous(t.detach()), DType::float64).to_vector<double>();
}

// max |a - b| over elements; shapes must match.
inline double max_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const auto x = host(a), y = host(b);
  double worst = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
  return worst;
}

inline double inner(const Tensor& y, const std::vector<double>& v) {
  const auto values = host(y);
  double total = 0.0;
  for (std::size_t i = 0; i < values.size(); ++i) total += values[i] * v[i];
  return total;
}

struct ModuleGradResult {
  bool ok = true;
  std::string message;  // the worst element, named by tensor
};

// d<v, m(x)>/d(x, parameters) from backward() against central differences; m must be float64
// and deterministic (eval-mode dropout). Every element of x and of every parameter is checked.
inline ModuleGradResult module_gradcheck(px::nn::Module& m, const Tensor& input, double eps = 1e-6,
                                         double atol = 1e-5, double rtol = 1e-3) {
  Tensor x = px::ops::clone(input);
  x.set_requires_grad(true);
  std::vector<std::pair<std::string, Tensor>> checked = {{"input", x}};
  for (auto& entry : m.named_parameters()) {
    entry.second.zero_grad();
    checked.push_back(entry);
  }
  Tensor y = m(x);
  px::Generator gen(99);
  const Tensor v = px::randn(y.shape(), {.dtype = DType::float64}, &gen);
  px::backward(y, v);
  const std::vector<double> vh = host(v);
  ModuleGradResult result;
  double worst = -1e300;
  px::NoGradGuard no_grad;
  for (auto& [name, t] : checked) {
    const Tensor g = t.grad();
    const std::vector<double> analytic = g.defined() ? host(g) : std::vector<double>(t.numel(), 0.0);
    double* data = t.data<double>();
    for (std::int64_t i = 0; i < t.numel(); ++i) {
      const double saved = data[i];
      data[i] = saved + eps;
      const double plus = inner(m(x), vh);
      data[i] = saved - eps;
      const double minus = inner(m(x), vh);
      data[i] = saved;
      const double numeric = (plus - minus) / (2 * eps);
      const double excess = std::abs(analytic[i] - numeric) - (atol + rtol * std::abs(numeric));
      if (excess > worst) {
        worst = excess;
        std::ostringstream out;
        out << name << "[" << i << "]: analytic " << analytic[i] << " numeric " << numeric;
        result.message = out.str();
      }
    }
  }
  result.ok = worst <= 0.0;
  return result;
}

}  // namespace nnt
