// train_cifar's SR2 (--optimizer sr2; docs/sr2.md): the optimizer from the config, the step with its
// minibatch closure (BatchNorm running statistics frozen for the re-evaluations), sigma0 by power
// iteration on the first minibatch, and the per-epoch metrics.csv columns.
#include <cmath>
#include <cstdio>

#include "common/trainer_session.h"
#include "proxima/autograd/autograd.h"
#include "proxima/autograd/functions.h"
#include "proxima/nn/layers.h"
#include "proxima/optim/prox/sr2.h"
#include "proxima/optim/prox/sr2_sigma0.h"

namespace px::apps {
namespace prox = optim::prox;

namespace {

// The power iteration of the first minibatch (PyHessian's role in the official code).
constexpr int kSigma0Iterations = 20;
constexpr double kSigma0Tolerance = 1e-3;

// zero_grad, forward, cross entropy and (with_grad) backward on (x, y), with BatchNorm's running
// statistics frozen: the step's first evaluation (the trainer's own forward) already updated them.
double reevaluate(TrainSession& s, const Tensor& x, const Tensor& y, bool with_grad) {
  nn::FreezeRunningStats freeze(*s.model);
  if (!with_grad) {
    NoGradGuard no_grad;
    return cross_entropy((*s.model)(x), y).item();
  }
  s.optimizer->zero_grad();
  const Tensor loss = cross_entropy((*s.model)(x), y);
  backward(loss);
  return loss.item();
}

void estimate_sigma0(TrainSession& s, prox::SR2& sr2, const Tensor& x, const Tensor& y) {
  std::vector<Tensor> params;
  for (const auto& group : sr2.param_groups())
    for (const Tensor& p : group.params) params.push_back(p);
  const prox::PowerIterationResult r = prox::top_hessian_eigenvalue(
      params, [&] { (void)reevaluate(s, x, y, true); },
      {.iterations = kSigma0Iterations, .tolerance = kSigma0Tolerance, .seed = s.config.seed});
  const double sigma0 =
      std::fmin(std::fabs(r.eigenvalue) > 1e-6 ? std::fabs(r.eigenvalue) : 1.0, sr2.options().sigma_max);
  sr2.set_sigma(sigma0);
  char buf[200];
  std::snprintf(buf, sizeof buf, "sr2: sigma0 = %.4g (top Hessian eigenvalue %.4g of the first minibatch, %d power "
                "iterations%s)", sigma0, r.eigenvalue, r.iterations, r.converged ? "" : ", not converged");
  s.progress->message(buf);
}

}  // namespace

prox::SR2* sr2_of(const TrainSession& s) { return dynamic_cast<prox::SR2*>(s.optimizer.get()); }

std::unique_ptr<prox::ProxOptimizer> make_sr2_optimizer(const TrainSession& s, std::vector<optim::ParamGroup> groups) {
  const TrainConfig& c = s.config;
  const prox::SR2Options o{.sigma0 = c.sigma0 > 0 ? c.sigma0 : 1.0,
                           .preconditioner = c.sr2_precond,
                           .beta = c.momentum,
                           .eta1 = c.sr2_eta1,
                           .eta2 = c.sr2_eta2,
                           .gamma1 = c.sr2_gamma1,
                           .gamma3 = c.sr2_gamma3,
                           .weight_decay = c.weight_decay};
  return std::make_unique<prox::SR2>(std::move(groups), o);
}

void sr2_step(TrainSession& s, const Tensor& x, const Tensor& y, double loss_value) {
  prox::SR2& sr2 = *sr2_of(s);
  if (!sr2.has_state() && s.config.sigma0 <= 0) estimate_sigma0(s, sr2, x, y);
  bool first = true;  // the trainer's forward and backward at x_k: its loss and gradients are current
  (void)sr2.step([&](bool with_grad) {
    if (first && with_grad) {
      first = false;
      return loss_value;
    }
    first = false;
    return reevaluate(s, x, y, with_grad);
  });
}

void add_sr2_metrics(TrainSession& s, EpochMetrics& m) {
  prox::SR2* sr2 = sr2_of(s);
  if (!sr2) return;
  const prox::SR2EpochStats& st = sr2->epoch_stats();
  m.lr = 1.0 / sr2->sigma();  // SR2 has no learning rate: the plain step length 1/sigma
  m.extra.emplace_back("sigma", sr2->sigma());
  m.extra.emplace_back("accepted", static_cast<double>(st.accepted));
  m.extra.emplace_back("rejected", static_cast<double>(st.rejected));
  m.extra.emplace_back("xi", st.mean_xi());
  m.extra.emplace_back("stationarity", st.mean_stationarity());
  m.extra.emplace_back("sigma_max_hits", static_cast<double>(st.sigma_max_hits));
  m.extra.emplace_back("restarts", static_cast<double>(st.restarts));
  if (st.sigma_max_hits > 0) {  // the last guard fired: the run is not in SR2's working regime
    char buf[200];
    std::snprintf(buf, sizeof buf, "sr2: sigma reached sigma_max = %.3g on %lld of this epoch's %lld rejections",
                  sr2->options().sigma_max, static_cast<long long>(st.sigma_max_hits),
                  static_cast<long long>(st.rejected));
    s.progress->message(buf);
  }
  sr2->reset_epoch_stats();
}

}  // namespace px::apps
