// ProxOptimizer: the Optimizer base of every regularised method (ProxGen, ProxSGD, ProxQuant,
// BinaryConnect, the subgradient baselines): each parameter group's regulariser and lambda, the
// lambda schedule's scale, the penalty lambda R(theta), freezing, and the record of the
// effective thresholds t_i.
//
// CONVENTION (ALGORITHMS.md "Conventions proxima adopts"): the objective is
//     F(theta) = mean minibatch loss + sum_g lambda_g R_g(theta_g),
// lambda is never divided by the dataset size (ProxGen's code's --lam / 50000 is proxima's
// lambda), and a group is regularised only when it names a regulariser. Group options read here:
//   "regularizer"  string spec of make_regularizer ("l1", "lq:0.3", "mcp", ...) or "none";
//                  default: the optimizer's `regularizer` option
//   "lambda"       double >= 0; default: the optimizer's `lambda` option. A group that has a
//                  regulariser other than "none" needs one of the two (0 is accepted when given):
//                  the constructor throws ValueError otherwise, so a regulariser is never
//                  silently off (require_lambdas).
//   "gamma" "a" "grouping" "keep_at_tie" "binary_zero"   the regulariser's own parameters
//                  (make_regularizer rejects those its spec does not read)
// The effective weight of group g is lambda(g) = its "lambda" * lambda_scale(); the scale is what
// lambda schedules set (warm-up, ProxQuant's homotopy). MCP and SCAD take the effective lambda as
// their penalty's lambda (r = pen_{lambda,gamma} / lambda, so lambda R is the penalty as written
// by Zhang and by Fan & Li); they are rebuilt when the scale changes. A group whose effective
// lambda is 0 is left unregularised by every step (its prox is the identity).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proxima/optim/optimizer.h"
#include "proxima/optim/prox/regularizer.h"

namespace px::optim::prox {

// The distribution of the effective thresholds t_i of one step, over the regularised coordinates:
// count, min, max, mean and a histogram by decade, bin b counting t in [10^(b+kFirstDecade),
// 10^(b+1+kFirstDecade)), the first bin also every smaller t (and t = 0), the last every larger t.
struct ThresholdStats {
  static constexpr int kFirstDecade = -12;
  static constexpr int kBins = 17;  // [.., 1e-11) [1e-11, 1e-10) ... [1e3, ..)
  std::int64_t count = 0;
  double min = 0, max = 0, sum = 0;
  std::array<std::int64_t, kBins> decades{};

  void clear() { *this = ThresholdStats{}; }
  void add(double t);
  void merge(const ThresholdStats& other);
  double mean() const { return count ? sum / static_cast<double>(count) : 0.0; }
  // "<1e-11", "1e-11..1e-10", ..., ">=1e3": the label of bin b.
  static std::string bin_label(int b);
};

// The inner optimizer of BinaryConnect and the subgradient baselines: true for "adam", false for
// "sgd"; ValueError "<who>: inner must be "adam" or "sgd", got ..." otherwise.
bool inner_is_adam(const std::string& who, const std::string& inner);

// Throws ValueError "<who>: param group <g> names regularizer '<spec>' but no lambda: set the group
// option 'lambda' or <lambda_option> (0 is accepted when given explicitly)" for the first group
// whose regulariser (its "regularizer" option, else default_regularizer: then "has regularizer
// '<spec>' (the default regularizer)") is not "none" while it has no "lambda" option and
// default_lambda is unset. A "regularizer" option that is not a string is left to the
// optimizer's own checks. make_prox_optimizer calls it with lambda_option "ProxConfig::lambda".
void require_lambdas(const std::string& who, const std::vector<ParamGroup>& groups,
                     const std::string& default_regularizer, const std::optional<double>& default_lambda,
                     const std::string& lambda_option);

class ProxOptimizer : public Optimizer {
 public:
  // The group's regulariser with its current lambda, or nullptr when the group is not
  // regularised ("none").
  const Regularizer* regularizer(std::size_t group) const;
  // The group's separable scalar prox, or nullptr (not regularised, or a group-lasso regulariser).
  const SeparableProx* separable(std::size_t group) const;
  // The group's "lambda" times lambda_scale().
  double lambda(std::size_t group) const;
  // True when the group has a regulariser and a lambda > 0.
  bool regularized(std::size_t group) const;

  double lambda_scale() const { return lambda_scale_; }
  // Sets the factor every group's lambda is multiplied by (>= 0, finite): lambda schedules.
  void set_lambda_scale(double scale);

  // sum over regularised groups of lambda(g) * R_g(params), in double: the objective's penalty.
  double penalty() const;

  // ProxQuant's freeze (ALGORITHMS.md §3.2): every tensor of a regularised group is projected onto
  // the regulariser's minima (the binary family: theta <- sgn theta with sgn(0) = +1) and receives no
  // further update from step(); unregularised groups keep training. ValueError when a regularised
  // group's regulariser is not of the binary family.
  void freeze_regularized();
  bool frozen() const { return frozen_; }

  // When on, each step records the thresholds t_i it applied (a second pass; for logging, e.g. the
  // last step of an epoch). thresholds() holds the last recording step's distribution.
  void set_record_thresholds(bool on) { record_thresholds_ = on; }
  bool recording_thresholds() const { return record_thresholds_; }
  const ThresholdStats& thresholds() const { return thresholds_; }

 protected:
  // defaults: the `regularizer` spec and `lambda` of groups that do not set their own; an unset
  // default_lambda means "not given" (require_lambdas). lambda_option names where the default
  // lambda is set, for that message (e.g. "ProxGenOptions::lambda").
  ProxOptimizer(std::vector<ParamGroup> groups, std::string default_regularizer, std::optional<double> default_lambda,
                std::string lambda_option = "the optimizer's lambda option");

  // Calls init_groups, then builds each group's regulariser (ValueError naming the group on a bad
  // spec, parameter or lambda, or a regularised group without a lambda: require_lambdas).
  void init_prox_groups(double default_lr, double default_weight_decay);

  std::vector<std::string> known_group_options() const final;
  // Group option keys a derived optimizer reads besides the ones above.
  virtual std::vector<std::string> extra_group_options() const { return {}; }

  // The index of a group passed to update() (groups are stored in param_groups()).
  std::size_t group_index(const ParamGroup& group) const;
  // For derived step code that records thresholds.
  ThresholdStats& threshold_record() { return thresholds_; }
  // Clears the threshold record when recording; skips the regularised groups once frozen.
  void begin_step() override;
  bool skips_group(std::size_t group) const override;

 private:
  void rebuild_regularizers();

  std::string default_regularizer_;
  std::optional<double> default_lambda_;  // unset: not given (groups with a regulariser need their own)
  std::string lambda_option_;
  double lambda_scale_ = 1;
  bool frozen_ = false;
  bool record_thresholds_ = false;
  ThresholdStats thresholds_;
  std::vector<std::unique_ptr<Regularizer>> regularizers_;  // one per group, nullptr: none
};

}  // namespace px::optim::prox
