// Helpers of the SR2 tests: a float64 quadratic f(x) = 1/2 x'Ax + b'x split over several tensors,
// with closures that set the gradients by hand, and reference regulariser values.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "proxima/core/factory.h"
#include "proxima/optim/prox/sr2.h"

namespace px::test {

// x is the concatenation of the tensors' values (row-major); A is n x n row-major.
struct SR2Quadratic {
  std::vector<Tensor> params;
  std::vector<double> A, b;
  std::int64_t n = 0;
  int grad_calls = 0, value_calls = 0;

  std::vector<double> x() const {
    std::vector<double> out;
    for (const Tensor& p : params)
      for (double v : p.to_vector<double>()) out.push_back(v);
    return out;
  }
  double value(const std::vector<double>& x) const {
    double f = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      double ax = 0;
      for (std::int64_t j = 0; j < n; ++j)
        ax += A[static_cast<std::size_t>(i * n + j)] * x[static_cast<std::size_t>(j)];
      f += 0.5 * x[static_cast<std::size_t>(i)] * ax + b[static_cast<std::size_t>(i)] * x[static_cast<std::size_t>(i)];
    }
    return f;
  }
  std::vector<double> gradient(const std::vector<double>& x) const {
    std::vector<double> g(b);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < n; ++j)
        g[static_cast<std::size_t>(i)] += A[static_cast<std::size_t>(i * n + j)] * x[static_cast<std::size_t>(j)];
    return g;
  }
  // The SR2 closure: f at the current parameters; with_grad sets every parameter's gradient.
  double operator()(bool with_grad) {
    const std::vector<double> xs = x();
    if (with_grad) {
      ++grad_calls;
      const std::vector<double> g = gradient(xs);
      std::size_t at = 0;
      for (Tensor& p : params) {
        std::vector<double> part(g.begin() + static_cast<std::ptrdiff_t>(at),
                                 g.begin() + static_cast<std::ptrdiff_t>(at + static_cast<std::size_t>(p.numel())));
        at += static_cast<std::size_t>(p.numel());
        p.set_grad(from_vector(part, p.shape()));
      }
    } else {
      ++value_calls;
    }
    return value(xs);
  }
  optim::prox::SR2Closure closure() {
    return [this](bool with_grad) { return (*this)(with_grad); };
  }
};

// Random x in [-2, 2] over tensors of shapes {3}, {2, 4}, {5} (n = 16) unless given; A = Q diag(eig) Q'
// with Q a random orthogonal matrix (Gram-Schmidt); b ~ N(0, 1) scaled by b_scale.
inline SR2Quadratic make_quadratic(const std::vector<double>& eig, std::uint64_t seed, double b_scale = 1.0,
                                   std::vector<Shape> shapes = {{3}, {2, 4}, {5}}) {
  SR2Quadratic q;
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> uniform(-2, 2);
  for (const Shape& s : shapes) {
    std::vector<double> v(static_cast<std::size_t>(shape_numel(s)));
    for (double& a : v) a = uniform(rng);
    q.params.push_back(from_vector(v, s));
    q.n += shape_numel(s);
  }
  const auto n = static_cast<std::size_t>(q.n);
  REQUIRE(eig.size() == n);
  std::vector<std::vector<double>> Q;
  while (Q.size() < n) {
    std::vector<double> v(n);
    for (double& a : v) a = normal(rng);
    for (const auto& u : Q) {
      double d = 0;
      for (std::size_t i = 0; i < n; ++i) d += u[i] * v[i];
      for (std::size_t i = 0; i < n; ++i) v[i] -= d * u[i];
    }
    double nv = 0;
    for (double a : v) nv += a * a;
    nv = std::sqrt(nv);
    for (double& a : v) a /= nv;
    Q.push_back(v);
  }
  q.A.assign(n * n, 0.0);
  for (std::size_t k = 0; k < n; ++k)
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < n; ++j) q.A[i * n + j] += eig[k] * Q[k][i] * Q[k][j];
  q.b.resize(n);
  for (double& a : q.b) a = b_scale * normal(rng);
  return q;
}

// Eigenvalues spread over [lo, hi] with both ends included.
inline std::vector<double> spread(std::size_t n, double lo, double hi) {
  std::vector<double> e(n);
  for (std::size_t i = 0; i < n; ++i) e[i] = lo + (hi - lo) * static_cast<double>(i) / static_cast<double>(n - 1);
  return e;
}

// r(x) of the regularisers, written here from their definitions (ALGORITHMS.md §1).
inline double reference_r(const std::string& reg, double x) {
  const double a = std::fabs(x);
  if (reg == "l1") return a;
  if (reg == "l0") return a != 0 ? 1.0 : 0.0;
  if (reg == "l12") return std::sqrt(a);
  if (reg == "l23") return std::cbrt(a * a);
  if (reg == "lq:0.3") return a == 0 ? 0.0 : std::pow(a, 0.3);
  FAIL("no reference r for ", reg);
  return 0;
}

// One parameter group of `params` with regulariser `reg` and weight `lambda`.
inline std::vector<optim::ParamGroup> one_group(const std::vector<Tensor>& params, const std::string& reg,
                                                double lambda) {
  optim::ParamGroup g{.params = params};
  g.options = {{"regularizer", reg}, {"lambda", lambda}};
  return {g};
}

}  // namespace px::test
