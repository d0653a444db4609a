// SR2: the stochastic adaptive quadratic-regularisation proximal method (Lakhmiri, Orban & Lodi,
// "A Stochastic Proximal Method for Nonsmooth Regularized Finite Sum Optimization",
// arXiv 2206.06531; ALGORITHMS.md §7), the stochastic version of R2 (§7.2).
//
// Objective F(x) = f(x) + h(x), h = sum_g lambda_g R_g over the regularised groups (ProxOptimizer's
// groups, separable regularisers only: l1, l0, l12, l23, lq, mcp, scad, l2, bin-*). One step on the
// minibatch B that the closure evaluates:
//   g   = grad f_B(x)                                  closure(true) at x
//   v   = beta v + (1 - beta) g                        momentum (beta = 0: v = g)
//   D_i = sigma + P_i                                  P = 0 ("none"), sqrt(EMA_{0.9} g^2) ("adam"),
//                                                      B_i 1[B_i > 1e-5] ("andrei", below)
//   s_i = P_r(x_i - v_i / D_i; lambda / D_i) - x_i     regularised groups (the exact prox of
//                                                      lambda R / D, any SeparableProx)
//   s_i = -v_i / D_i                                   unregularised groups (no h)
//   xi  = h(x) - v's - h(x + s)                        predicted decrease (>= s'Ds / 2 > 0 for s != 0)
//   xi_g = h(x) - g's - h(x + s) < eta1 xi:            momentum check (below): v <- g, s and xi again
//   rho = (F_B(x) - F_B(x + s) + d) / (xi + d)         closure(false) at x + s: same minibatch;
//         d = 10 eps max(1, |f_B(x) + h(x)|)           the round-off guard (below)
//   rho >= eta1: accept (andrei: closure(true) at x + s for y = g(x+s) - g(x), then the update);
//                rho >= eta2 also sets sigma <- max(gamma3 sigma, sigma_min)
//   otherwise:   reject: x and the EMA are restored bit-exactly, the momentum restarts at the
//                minibatch gradient (v <- g, below), sigma <- min(gamma1 sigma, sigma_max)
// A step with s = 0 (v = 0, every coordinate pruned and staying at 0, or a step below the
// parameters' resolution) changes nothing: F_B(x + s) = F_B(x), so rho = d / d = 1 without
// evaluating the closure: accepted, and sigma shrinks (s = 0 never freezes sigma). xi + d <= 0
// (impossible for the exact prox but by rounding) or a non-finite trial loss is a rejection. The
// closure must re-evaluate the SAME minibatch (and, with the
// argument true, zero the gradients and back-propagate); it must not update BatchNorm running
// statistics when called for a trial point (nn::FreezeRunningStats).
//
// Andrei's diagonal quasi-Newton update (§7.3 item 9), over all parameters at once, with the
// accepted s and y: q = (s'y + s's - s'Bs) / sum_i s_i^4, B <- B - 1 + q s^2 (coordinate-wise).
// It satisfies the weak secant equation s'B+s = s'y. B starts at 0.
//
// Proxima conventions beyond the paper (whose theory is for v = g; docs/sr2.md "Safeguards"):
// * Momentum restarts (adaptive restart, O'Donoghue & Candes 2015). The model predicts the decrease
//   h(x) - v's - h(x+s) = xi, while the minibatch's first-order decrease is
//   xi_g = h(x) - g's - h(x+s); as sigma grows rho tends to xi_g / xi, so when xi_g < eta1 xi no
//   sigma is ever accepted and each rejection multiplies sigma by gamma1 for nothing.
//   - momentum_check (the gradient scheme): before evaluating the trial point, a momentum step with
//     xi_g < eta1 xi is replaced by the pure prox-gradient step of the same sigma (v <- g), which a
//     large enough sigma always accepts (R2 theory). No evaluation is spent on the momentum step.
//   - restart_momentum (the function scheme): a rejection sets v <- g (this minibatch's gradient
//     at x), instead of restoring v.
//   With beta = 0 both are no-ops (v = g anyway); false for both gives the plain restoration of v.
// * Round-off guard: with float32 losses, F_B(x) - F_B(x + s) is noise once it falls below the
//   loss's resolution. A guard after R2's (ALGORITHMS.md §7.2) adds d = 10 eps max(1, |F_B(x)|) to both
//   sides of rho (R2's code uses max(1, |h|) on the xi side; here the loss's scale on both), eps the machine epsilon of the loss (option loss_epsilon; 0: the epsilon of the
//   parameters' dtype, float32's if any parameter is float32); steps below resolution get rho -> 1.
//   sigma_max (1e12) is a last guard: sigma never exceeds it, and each clamp is counted
//   (SR2EpochStats::sigma_max_hits; train_cifar logs it).
//
// Where proxima departs from the official code (docs/sr2.md):
// * No weight decay: the code's hard-coded x <- (1 - 0.001 wd) x is not part of the method;
//   weight_decay > 0 is refused (ValueError).
// * A rejection restores the Adam EMA and restarts the momentum at g (see above): the code
//   advances both.
// * "adam" uses sqrt(EMA g^2) + sigma, with the EMA state kept separate from D (the code discards
//   the sqrt and adds sigma into its stored EMA).
// * Andrei's s's is the plain sum of s_i^2 (the code sums squared running partial sums).
// * h covers exactly the groups the prox touches: unregularised tensors (biases, BN by default)
//   take the plain step -v/D and contribute no h (the code's prox touches every tensor while its h
//   counts only weights).
// * No "slightly negative xi keeps the trial point" branch: xi + d <= 0 is a rejection.
// * Defaults are the official main.py's command-line values (what its runs use): eta1 = 7.5e-4,
//   eta2 = 0.999, gamma1 = 5.57, gamma3 = 0.79, beta = 0.9; sigma_min = 1e-8.
//
// CPU or CUDA parameters (CUDA: optim/prox/group_device.h's fused trial step; its reductions are
// read once per trial step, which the acceptance test needs on the host anyway).
// State per parameter: "v" (momentum), "e" ("adam": the EMA of g^2), "B" ("andrei": the diagonal),
// "sigma" (scalar, the same in every parameter: sigma survives state_dict and a resume). step()
// without a closure throws ValueError.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "proxima/optim/prox/prox_optimizer.h"

namespace px::optim::prox {

struct SR2Options {
  double sigma0 = 1.0;                 // > 0: the initial sigma (sr2_sigma0.h estimates one)
  std::string preconditioner = "none"; // none | adam | andrei
  double beta = 0.9;                   // momentum, [0, 1)
  double eta1 = 7.5e-4;                // acceptance threshold, (0, 1)
  double eta2 = 0.999;                 // "very successful" threshold, [eta1, 1]
  double gamma1 = 5.57;                // sigma increase on rejection, > 1
  double gamma3 = 0.79;                // sigma decrease when rho >= eta2, (0, 1]
  double sigma_min = 1e-8;             // > 0
  double ema_beta = 0.9;               // "adam": the EMA of g^2, [0, 1)
  double andrei_floor = 1e-5;          // "andrei": B_i counts only where B_i > this
  std::string regularizer = "none";    // groups without a "regularizer" option
  std::optional<double> lambda{};      // groups without a "lambda" option (unset: such a regularised group throws)
  double weight_decay = 0;             // must be 0 (see above)
  bool restart_momentum = true;        // a rejection sets v <- g (false: v is restored)
  bool momentum_check = true;          // xi_g < eta1 xi: the pure prox-gradient step instead
  double sigma_max = 1e12;             // >= sigma0: sigma <- min(gamma1 sigma, sigma_max)
  double loss_epsilon = 0;             // >= 0: eps of the round-off guard; 0: the params' dtype's
};

// What one step did.
struct SR2StepResult {
  bool accepted = false;
  double rho = 0;           // guarded: (F_B(x) - F_B(x + s) + d) / (xi + d); 1 when s = 0
  double xi = 0;            // predicted decrease (unguarded)
  double guard = 0;         // d = 10 eps max(1, |F_B(x)|)
  double sigma = 0;         // sigma used by this step
  double sigma_next = 0;    // sigma after the update
  double loss = 0;          // f_B(x) (the closure's first value)
  double trial_loss = 0;    // f_B(x + s) (= loss when s = 0: not evaluated)
  double h = 0;             // h(x)
  double h_decrease = 0;    // h(x) - h(x + s)
  double stationarity = 0;  // sqrt(sigma * xi)
  bool sigma_clamped = false;  // gamma1 sigma exceeded sigma_max
  bool restarted = false;      // the momentum check replaced the momentum step (v <- g)
};

// Counters since the last reset_epoch_stats().
struct SR2EpochStats {
  std::int64_t accepted = 0, rejected = 0;
  std::int64_t sigma_max_hits = 0;  // rejections whose gamma1 sigma was clamped to sigma_max
  std::int64_t restarts = 0;        // steps whose momentum check restarted v (v <- g)
  double xi_sum = 0, stationarity_sum = 0;
  std::int64_t steps() const { return accepted + rejected; }
  double mean_xi() const { return steps() ? xi_sum / static_cast<double>(steps()) : 0.0; }
  double mean_stationarity() const { return steps() ? stationarity_sum / static_cast<double>(steps()) : 0.0; }
};

// closure(with_grad): the mean minibatch loss f_B at the current parameters; with_grad = true also
// zeroes the gradients and back-propagates.
using SR2Closure = std::function<double(bool with_grad)>;

class SR2 : public ProxOptimizer {
 public:
  SR2(std::vector<ParamGroup> groups, const SR2Options& options = {});
  SR2(std::vector<Tensor> params, const SR2Options& options = {});
  std::string name() const override { return "sr2"; }
  const SR2Options& options() const { return options_; }

  // Throws ValueError: SR2 needs the closure.
  void step() override;
  SR2StepResult step(const SR2Closure& closure);

  // The current sigma (read from the state after load_state_dict); set_sigma replaces it
  // (in (0, sigma_max]).
  double sigma() const;
  void set_sigma(double sigma);
  // True once a step has created the per-parameter state (or a state dict was loaded).
  bool has_state() const;

  const SR2EpochStats& epoch_stats() const { return stats_; }
  void reset_epoch_stats() { stats_ = {}; }

 protected:
  std::vector<StateEntrySpec> state_spec() const override;
  void update(const ParamGroup& group, const Tensor& param, const Tensor& grad, ParamState& state) override;

 private:
  struct Saved;
  struct Trial {
    double ss = 0, xi = 0, xi_g = 0, h = 0, dh = 0;
  };
  Trial trial_step(Saved& saved, double sigma, bool restart);
  double loss_epsilon() const;
  void restore(const Saved& saved, bool restart);
  void andrei_update(const Saved& saved);
  void record_device_thresholds(const ParamState& state, double lambda_g, double sigma);
  void write_sigma(double sigma);

  SR2Options options_;
  double sigma_ = 1.0;
  SR2EpochStats stats_;
};

}  // namespace px::optim::prox
