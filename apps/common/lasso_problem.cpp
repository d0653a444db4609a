// The synthetic lasso problem: generation, objective, gradients, power iteration, KKT and support checks.
#include "common/lasso_problem.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "proxima/core/error.h"
#include "proxima/core/factory.h"
#include "proxima/core/generator.h"
#include "proxima/core/ops.h"

namespace px::apps {
namespace {

const TensorOptions kF64{.dtype = DType::float64};

double squared_norm(const Tensor& v) {
  const std::vector<double> values = v.contiguous().to_vector<double>();
  return std::inner_product(values.begin(), values.end(), values.begin(), 0.0);
}

double l1_norm(const Tensor& v) {
  double s = 0;
  for (double x : v.contiguous().to_vector<double>()) s += std::fabs(x);
  return s;
}

void check_beta(const LassoProblem& problem, const Tensor& beta) {
  PX_CHECK(beta.dim() == 1 && beta.size(0) == problem.spec.p && beta.dtype() == DType::float64, ValueError,
           "lasso: beta must be a float64 vector of length p = ", problem.spec.p, ", got shape ",
           beta.dim() == 1 ? beta.size(0) : -1, " (dim ", beta.dim(), ")");
}

}  // namespace

LassoProblem make_lasso_problem(const LassoSpec& spec) {
  PX_CHECK(spec.n >= 1, ValueError, "lasso: n must be at least 1, got ", spec.n);
  PX_CHECK(spec.p >= 1, ValueError, "lasso: p must be at least 1, got ", spec.p);
  PX_CHECK(spec.k >= 1 && spec.k <= spec.p, ValueError, "lasso: k must be in [1, p = ", spec.p, "], got ", spec.k);
  PX_CHECK(spec.noise >= 0 && std::isfinite(spec.noise), ValueError, "lasso: noise must be >= 0, got ", spec.noise);
  PX_CHECK(spec.lambda >= 0 && std::isfinite(spec.lambda), ValueError, "lasso: lambda must be >= 0, got ",
           spec.lambda);
  LassoProblem problem;
  problem.spec = spec;
  Generator gen(spec.seed);
  problem.X = randn({spec.n, spec.p}, kF64, &gen);
  problem.Xt = ops::contiguous(ops::transpose(problem.X, 0, 1));

  // The support: the k coordinates with the smallest uniform keys (a uniform random k-subset).
  const std::vector<double> keys = rand({spec.p}, kF64, &gen).to_vector<double>();
  std::vector<std::int64_t> order(static_cast<std::size_t>(spec.p));
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + spec.k, order.end(),
                    [&](std::int64_t a, std::int64_t b) { return keys[a] < keys[b]; });
  problem.support.assign(order.begin(), order.begin() + spec.k);
  std::sort(problem.support.begin(), problem.support.end());

  const std::vector<double> magnitude = rand({spec.k}, kF64, &gen).to_vector<double>();
  const std::vector<double> sign = rand({spec.k}, kF64, &gen).to_vector<double>();
  std::vector<double> beta(static_cast<std::size_t>(spec.p), 0.0);
  for (std::int64_t j = 0; j < spec.k; ++j) {
    beta[problem.support[j]] = (sign[j] < 0.5 ? -1.0 : 1.0) * (0.5 + magnitude[j]);
  }
  problem.beta_true = from_vector(beta, {spec.p});
  const Tensor noise = ops::mul(randn({spec.n}, kF64, &gen), spec.noise);
  problem.y = ops::add(ops::matmul(problem.X, problem.beta_true), noise);
  problem.lipschitz = largest_eigenvalue(problem.X);
  return problem;
}

double lasso_loss(const LassoProblem& problem, const Tensor& beta) {
  check_beta(problem, beta);
  const Tensor residual = ops::sub(ops::matmul(problem.X, beta), problem.y);
  return squared_norm(residual) / (2.0 * static_cast<double>(problem.spec.n));
}

double lasso_objective(const LassoProblem& problem, const Tensor& beta) {
  return lasso_loss(problem, beta) + problem.spec.lambda * l1_norm(beta);
}

Tensor lasso_gradient(const LassoProblem& problem, const Tensor& beta) {
  check_beta(problem, beta);
  const Tensor residual = ops::sub(ops::matmul(problem.X, beta), problem.y);
  return ops::div(ops::matmul(problem.Xt, residual), static_cast<double>(problem.spec.n));
}

Tensor lasso_minibatch_gradient(const LassoProblem& problem, const Tensor& beta, const Tensor& rows) {
  check_beta(problem, beta);
  PX_CHECK(rows.dim() == 1 && rows.numel() >= 1, ValueError, "lasso: minibatch rows must be a non-empty vector");
  const Tensor Xb = ops::index_select(problem.X, 0, rows);
  const Tensor residual = ops::sub(ops::matmul(Xb, beta), ops::index_select(problem.y, 0, rows));
  const Tensor g = ops::matmul(ops::transpose(Xb, 0, 1), residual);
  return ops::div(g, static_cast<double>(rows.numel()));
}

double largest_eigenvalue(const Tensor& X, int max_iters, double tol) {
  PX_CHECK(X.dim() == 2 && X.dtype() == DType::float64, ValueError,
           "largest_eigenvalue: X must be a float64 matrix, got dim ", X.dim());
  const double n = static_cast<double>(X.size(0));
  const Tensor Xt = ops::contiguous(ops::transpose(X, 0, 1));
  Tensor v = ones({X.size(1)}, kF64);
  v = ops::div(v, std::sqrt(squared_norm(v)));
  double estimate = 0;
  for (int it = 0; it < max_iters; ++it) {
    const Tensor w = ops::div(ops::matmul(Xt, ops::matmul(X, v)), n);  // (X^T X / n) v
    const double norm = std::sqrt(squared_norm(w));
    if (norm == 0) return 0;
    v = ops::div(w, norm);
    const bool done = std::fabs(norm - estimate) <= tol * norm;
    estimate = norm;
    if (done) break;
  }
  return estimate;
}

double kkt_violation(const LassoProblem& problem, const Tensor& beta) {
  const std::vector<double> g = lasso_gradient(problem, beta).to_vector<double>();
  const std::vector<double> b = beta.contiguous().to_vector<double>();
  const double lambda = problem.spec.lambda;
  double worst = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    const double v = b[i] == 0 ? std::max(std::fabs(g[i]) - lambda, 0.0)
                               : std::fabs(g[i] + lambda * (b[i] > 0 ? 1.0 : -1.0));
    worst = std::max(worst, v);
  }
  return worst;
}

SupportStats support_stats(const std::vector<std::int64_t>& truth, const Tensor& beta, double threshold) {
  const std::vector<double> b = beta.contiguous().to_vector<double>();
  std::vector<bool> in_truth(b.size(), false);
  for (std::int64_t i : truth) in_truth.at(static_cast<std::size_t>(i)) = true;
  SupportStats s;
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (b[i] == 0) ++s.exact_zeros;
    if (std::fabs(b[i]) > threshold) {
      ++s.estimated;
      if (in_truth[i]) ++s.true_positives;
    }
  }
  s.precision = s.estimated ? static_cast<double>(s.true_positives) / static_cast<double>(s.estimated) : 0.0;
  s.recall = truth.empty() ? 1.0 : static_cast<double>(s.true_positives) / static_cast<double>(truth.size());
  return s;
}

}  // namespace px::apps
