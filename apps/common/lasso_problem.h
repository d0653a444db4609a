// A synthetic sparse linear regression (the lasso of ProxGen §5 Study 1): the data, the
// objective, its gradient, FISTA's step size and the checks of a solution (KKT, support).
//
// The problem (every tensor float64 on the CPU):
//   X      n x p, entries i.i.d. N(0, 1)
//   beta*  k-sparse: support = k distinct coordinates drawn uniformly, values s * u with a random
//          sign s and a magnitude u ~ U[0.5, 1.5] (so every true coefficient is of size ~1)
//   y      X beta* + noise * N(0, I_n)
//   F(beta) = 1/(2n) ||X beta - y||^2 + lambda ||beta||_1
// Everything is drawn from one px::Generator seeded with `seed`, so a seed gives the same
// problem on every machine.
#pragma once

#include <cstdint>
#include <vector>

#include "proxima/core/tensor.h"

namespace px::apps {

struct LassoSpec {
  std::int64_t n = 200;     // samples
  std::int64_t p = 500;     // features (p > n: the least-squares problem alone is underdetermined)
  std::int64_t k = 10;      // nonzeros of beta*
  double noise = 0.1;       // standard deviation of the noise on y
  double lambda = 0.05;     // weight of ||beta||_1
  std::uint64_t seed = 0;
};

struct LassoProblem {
  LassoSpec spec;
  Tensor X;                          // n x p
  Tensor Xt;                         // p x n (contiguous transpose, for gradients)
  Tensor y;                          // n
  Tensor beta_true;                  // p
  std::vector<std::int64_t> support; // the nonzero coordinates of beta_true, ascending
  double lipschitz = 0;              // largest eigenvalue of X^T X / n (power iteration)
};

// Builds the problem; px::ValueError naming the field when n, p, k, noise or lambda is out of
// range (n, p >= 1, 1 <= k <= p, noise >= 0, lambda >= 0).
LassoProblem make_lasso_problem(const LassoSpec& spec);

// 1/(2n) ||X beta - y||^2 (the smooth part) and F(beta) = that + lambda ||beta||_1.
double lasso_loss(const LassoProblem& problem, const Tensor& beta);
double lasso_objective(const LassoProblem& problem, const Tensor& beta);
// The gradient of the smooth part over all rows: X^T (X beta - y) / n.
Tensor lasso_gradient(const LassoProblem& problem, const Tensor& beta);
// The same over the rows `rows` only (a minibatch): X_B^T (X_B beta - y_B) / |B|.
Tensor lasso_minibatch_gradient(const LassoProblem& problem, const Tensor& beta, const Tensor& rows);

// The largest eigenvalue of X^T X / n by power iteration from a fixed start vector, stopped when
// the estimate changes by less than tol (relative) or after max_iters.
double largest_eigenvalue(const Tensor& X, int max_iters = 1000, double tol = 1e-12);

// How far beta is from the lasso's optimality (KKT) conditions, g = X^T (X beta - y) / n:
//   beta_i = 0:  |g_i| <= lambda         violation max(|g_i| - lambda, 0)
//   beta_i != 0: g_i = -lambda sgn(beta_i)   violation |g_i + lambda sgn(beta_i)|
// Returns the largest violation over the coordinates.
double kkt_violation(const LassoProblem& problem, const Tensor& beta);

// The estimated support (|beta_i| > threshold; threshold 0: the exact nonzeros) against the truth.
struct SupportStats {
  std::int64_t estimated = 0;       // coordinates in the estimated support
  std::int64_t true_positives = 0;  // of those, in the true support
  std::int64_t exact_zeros = 0;     // coordinates with beta_i == 0 exactly
  double precision = 0;             // true_positives / estimated (0 when nothing is estimated)
  double recall = 0;                // true_positives / |truth|
};
SupportStats support_stats(const std::vector<std::int64_t>& truth, const Tensor& beta, double threshold = 0);

}  // namespace px::apps
