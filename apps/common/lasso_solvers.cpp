// FISTA and the stochastic proximal optimizers on the synthetic lasso (see lasso_solvers.h).
#include "common/lasso_solvers.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <numeric>
#include <random>

#include "proxima/core/error.h"
#include "proxima/core/factory.h"
#include "proxima/core/generator.h"
#include "proxima/core/ops.h"
#include "proxima/optim/prox/proxgen.h"
#include "proxima/optim/prox/proxsgd.h"
#include "proxima/optim/prox/regularizer.h"
#include "proxima/optim/prox/subgradient.h"

namespace px::apps {
namespace {

using optim::prox::make_regularizer;

// Records F(beta) and the tracked coordinates at iteration `it`. Returns false, marking the run
// diverged at `it`, when F(beta) is not finite.
bool record(const LassoProblem& problem, const LassoSolverSettings& s, std::int64_t it, const Tensor& beta,
            LassoRun& run) {
  run.curve_iters.push_back(static_cast<double>(it));
  run.curve_objective.push_back(lasso_objective(problem, beta));
  const std::vector<double> b = beta.contiguous().to_vector<double>();
  run.curve_zeros.push_back(static_cast<double>(std::count(b.begin(), b.end(), 0.0)));
  run.paths.resize(s.tracked.size());
  for (std::size_t j = 0; j < s.tracked.size(); ++j) run.paths[j].push_back(b.at(s.tracked[j]));
  if (std::isfinite(run.curve_objective.back())) return true;
  run.diverged = true;
  run.iterations = it;
  return false;
}

bool should_record(const LassoSolverSettings& s, std::int64_t it) {
  return it % s.log_every == 0 || it == s.iters;
}

// Minibatches without replacement, reshuffled each pass (a pass ends when fewer than `batch` rows remain).
class BatchSampler {
 public:
  BatchSampler(std::int64_t n, std::int64_t batch, std::uint64_t seed)
      : batch_(batch <= 0 || batch > n ? n : batch), order_(static_cast<std::size_t>(n)), rng_(seed) {
    std::iota(order_.begin(), order_.end(), 0);
    next_ = order_.size();  // shuffle on first use
  }
  bool full() const { return batch_ == static_cast<std::int64_t>(order_.size()); }
  Tensor next() {
    if (next_ + static_cast<std::size_t>(batch_) > order_.size()) {
      std::shuffle(order_.begin(), order_.end(), rng_);
      next_ = 0;
    }
    std::vector<std::int64_t> rows(order_.begin() + next_, order_.begin() + next_ + batch_);
    next_ += static_cast<std::size_t>(batch_);
    return from_vector(rows, {batch_});
  }

 private:
  std::int64_t batch_;
  std::vector<std::int64_t> order_;
  std::mt19937_64 rng_;
  std::size_t next_ = 0;
};

std::unique_ptr<optim::Optimizer> make_optimizer(const std::string& method, const Tensor& beta,
                                                 const LassoProblem& problem, const LassoSolverSettings& s) {
  const std::vector<Tensor> params{beta};
  if (method == "proxgen") {
    optim::prox::ProxGenOptions o;
    o.lr = s.lr;
    o.preconditioner = "adam";
    o.regularizer = "l1";
    o.lambda = problem.spec.lambda;
    return std::make_unique<optim::prox::ProxGen>(params, o);
  }
  if (method == "proxsgd") {
    optim::prox::ProxSGDOptions o;
    o.epsilon0 = s.eps0;
    o.epsilon_decay = s.eps_decay;
    o.rho0 = s.rho0;
    o.rho_decay = s.rho_decay;
    o.regularizer = "l1";
    o.lambda = problem.spec.lambda;
    return std::make_unique<optim::prox::ProxSGD>(params, o);
  }
  optim::prox::SubgradientOptions o;
  o.inner = "adam";
  o.lr = s.lr;
  o.regularizer = "l1";
  o.lambda = problem.spec.lambda;
  return std::make_unique<optim::prox::SubgradientOptimizer>(params, o);
}

// The lr factor of the "step" schedule at step `it` (1-based): 1, then 0.1 from 50%, 0.01 from 75%.
double schedule_factor(const LassoSolverSettings& s, std::int64_t it) {
  if (s.schedule != "step") return 1.0;
  if (4 * (it - 1) >= 3 * s.iters) return 0.01;
  if (2 * (it - 1) >= s.iters) return 0.1;
  return 1.0;
}

void run_stochastic(const LassoProblem& problem, const std::string& method, const LassoSolverSettings& s,
                    LassoRun& run) {
  Tensor beta = run.beta;
  auto optimizer = make_optimizer(method, beta, problem, s);
  BatchSampler sampler(problem.spec.n, s.batch, s.seed + 2);
  const bool scheduled = method != "proxsgd";
  for (std::int64_t it = 1; it <= s.iters; ++it) {
    if (scheduled) optimizer->scale_lr(schedule_factor(s, it));
    beta.set_grad(sampler.full() ? lasso_gradient(problem, beta)
                                 : lasso_minibatch_gradient(problem, beta, sampler.next()));
    optimizer->step();
    if (should_record(s, it) && !record(problem, s, it, beta, run)) break;
  }
  beta.zero_grad();
}

void run_fista(const LassoProblem& problem, const LassoSolverSettings& s, LassoRun& run) {
  PX_CHECK(problem.lipschitz > 0, ValueError, "fista: the largest eigenvalue of X^T X / n is 0 (X = 0)");
  const auto l1 = make_regularizer("l1");
  const double step = 1.0 / problem.lipschitz;
  Tensor x = run.beta, y = run.beta;
  double t = 1;
  for (std::int64_t it = 1; it <= s.iters; ++it) {
    const Tensor next = l1->prox(ops::sub(y, ops::mul(lasso_gradient(problem, y), step)), step * problem.spec.lambda);
    const double t_next = (1 + std::sqrt(1 + 4 * t * t)) / 2;
    y = ops::add(next, ops::mul(ops::sub(next, x), (t - 1) / t_next));
    x = next;
    t = t_next;
    if (should_record(s, it) && !record(problem, s, it, x, run)) break;
  }
  run.beta = x;
}

}  // namespace

const std::vector<std::string>& lasso_method_names() {
  static const std::vector<std::string> names{"fista", "proxgen", "proxsgd", "subgrad-adam"};
  return names;
}

const std::vector<std::string>& lasso_init_names() {
  static const std::vector<std::string> names{"zero", "random"};
  return names;
}

Tensor lasso_initial_beta(std::int64_t p, const std::string& init, std::uint64_t seed, double scale) {
  if (init == "zero") return zeros({p}, {.dtype = DType::float64});
  PX_CHECK(init == "random", ValueError, "lasso: init must be zero or random, got '", init, "'");
  Generator gen(seed + 1);
  return ops::mul(randn({p}, {.dtype = DType::float64}, &gen), scale);
}

LassoRun run_lasso_method(const LassoProblem& problem, const std::string& method, const std::string& init,
                          const LassoSolverSettings& settings) {
  const auto& names = lasso_method_names();
  PX_CHECK(std::find(names.begin(), names.end(), method) != names.end(), ValueError,
           "lasso: unknown method '", method, "' (expected fista, proxgen, proxsgd or subgrad-adam)");
  PX_CHECK(settings.iters >= 1, ValueError, "lasso: iters must be at least 1, got ", settings.iters);
  PX_CHECK(settings.log_every >= 1, ValueError, "lasso: log_every must be at least 1, got ", settings.log_every);
  for (std::int64_t j : settings.tracked) {
    PX_CHECK(j >= 0 && j < problem.spec.p, ValueError, "lasso: tracked coordinate ", j, " is outside [0, ",
             problem.spec.p, ")");
  }
  LassoRun run;
  run.method = method;
  run.init = init;
  run.iterations = settings.iters;
  run.beta = lasso_initial_beta(problem.spec.p, init, settings.seed, settings.init_scale);
  const bool started = record(problem, settings, 0, run.beta, run);  // false: F is not finite at the start
  const auto start = std::chrono::steady_clock::now();
  if (started && method == "fista") {
    run_fista(problem, settings, run);
  } else if (started) {
    run_stochastic(problem, method, settings, run);
  }
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return run;
}

FistaReference fista_reference(const LassoProblem& problem, double tol, std::int64_t max_iters) {
  PX_CHECK(problem.lipschitz > 0, ValueError, "fista: the largest eigenvalue of X^T X / n is 0 (X = 0)");
  const auto l1 = make_regularizer("l1");
  const double step = 1.0 / problem.lipschitz;
  Tensor x = zeros({problem.spec.p}, {.dtype = DType::float64}), y = x;
  double t = 1;
  FistaReference ref;
  for (std::int64_t it = 1; it <= max_iters; ++it) {
    const Tensor next = l1->prox(ops::sub(y, ops::mul(lasso_gradient(problem, y), step)), step * problem.spec.lambda);
    // Restart when the momentum points uphill: (y - next) . (next - x) > 0.
    const double uphill = ops::sum(ops::mul(ops::sub(y, next), ops::sub(next, x))).item();
    const double t_next = uphill > 0 ? 1.0 : (1 + std::sqrt(1 + 4 * t * t)) / 2;
    const double momentum = uphill > 0 ? 0.0 : (t - 1) / t_next;
    y = ops::add(next, ops::mul(ops::sub(next, x), momentum));
    x = next;
    t = t_next;
    ref.iterations = it;
    if (it % 25 == 0 && kkt_violation(problem, x) <= tol) break;
  }
  ref.beta = x;
  ref.objective = lasso_objective(problem, x);
  ref.kkt = kkt_violation(problem, x);
  return ref;
}

}  // namespace px::apps
