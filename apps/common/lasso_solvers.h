// The lasso solvers compared by apps/lasso: FISTA (the deterministic reference) and proxima's
// stochastic optimizers (ProxGen-Adam, ProxSGD, subgradient Adam) run on minibatch gradients.
//
// FISTA (Beck & Teboulle, SIAM J. Imaging Sci. 2009), step 1/L with L the largest eigenvalue of
// X^T X / n:  x_{j+1} = S_{lambda/L}(y_j - grad(y_j) / L),  s_{j+1} = (1 + sqrt(1 + 4 s_j^2)) / 2,
//             y_{j+1} = x_{j+1} + ((s_j - 1) / s_{j+1}) (x_{j+1} - x_j).
// The reference optimum (fista_reference) adds the gradient-based adaptive restart of
// O'Donoghue & Candes (2015) (s <- 1 when (y_j - x_{j+1}) . (x_{j+1} - x_j) > 0) and stops on the
// KKT conditions; the "fista" row of the study is plain FISTA for the study's iteration budget.
//
// The stochastic methods see beta as one px Tensor parameter; each step sets its gradient
// explicitly (param.set_grad of the minibatch gradient of the smooth part, lasso_problem.h)
// and calls step(); the l1 term is the optimizer's regulariser (lambda = the problem's lambda),
// except for the subgradient baseline, which adds lambda sgn(beta) to the gradient. Minibatches
// are drawn without replacement, reshuffled every pass over the n rows (batch = 0 or n: full batch).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/lasso_problem.h"
#include "proxima/core/tensor.h"

namespace px::apps {

// The method names apps/lasso knows, and the initialisations.
const std::vector<std::string>& lasso_method_names();  // fista proxgen proxsgd subgrad-adam
const std::vector<std::string>& lasso_init_names();    // zero random

struct LassoSolverSettings {
  std::int64_t iters = 3000;        // optimizer steps (FISTA: iterations)
  std::int64_t batch = 20;          // minibatch size; 0 = full batch
  std::int64_t log_every = 20;      // objective and coefficient paths recorded every this many steps
  double lr = 0.01;                 // ProxGen and subgradient Adam (alpha)
  std::string schedule = "step";    // ProxGen / subgrad-adam lr: constant | step (x0.1 at 50%, x0.01 at 75%)
  double eps0 = 0.06;               // ProxSGD: eps_t = eps0 / (t + 4)^eps_decay (its own schedule, ALGORITHMS.md §5.3)
  double eps_decay = 0.5;
  double rho0 = 0.9;                // ProxSGD: rho_t = rho0 / (t + 4)^rho_decay
  double rho_decay = 0.5;
  double init_scale = 0.1;          // the random initialisation's standard deviation
  std::uint64_t seed = 0;           // minibatch order and random initialisation
  std::vector<std::int64_t> tracked;  // coordinates whose paths are recorded
};

// One method's run from one initialisation. A run diverges when F(beta) is not finite at a
// recorded iteration (every log_every steps, the start and the last step); it stops there, and
// that non-finite value is the curve's last point.
struct LassoRun {
  std::string method, init;
  Tensor beta;                      // the final iterate
  std::int64_t iterations = 0;      // steps run (fewer than settings.iters when diverged)
  bool diverged = false;
  double seconds = 0;
  std::vector<double> curve_iters;  // iterations where the curve and the paths were recorded (0 first)
  std::vector<double> curve_objective;             // F(beta) at those iterations (full data)
  std::vector<double> curve_zeros;                 // exact zeros of beta at those iterations
  std::vector<std::vector<double>> paths;          // paths[j][e]: beta[tracked[j]] at record e
};

// The initial beta: "zero" (all 0) or "random" (N(0, scale^2) entries drawn from a px::Generator
// with seed + 1). ValueError for another name.
Tensor lasso_initial_beta(std::int64_t p, const std::string& init, std::uint64_t seed, double scale = 0.1);

// Runs `method` (one of lasso_method_names) from `init`; ValueError for an unknown name.
// "fista" ignores batch, lr and schedule. A diverged run is returned, not thrown (run.diverged).
LassoRun run_lasso_method(const LassoProblem& problem, const std::string& method, const std::string& init,
                          const LassoSolverSettings& settings);

// FISTA with restart until kkt_violation <= tol or max_iters iterations, from zero.
struct FistaReference {
  Tensor beta;
  double objective = 0;
  double kkt = 0;
  std::int64_t iterations = 0;
};
FistaReference fista_reference(const LassoProblem& problem, double tol = 1e-10, std::int64_t max_iters = 100000);

}  // namespace px::apps
