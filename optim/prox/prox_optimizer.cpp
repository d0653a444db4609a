// ProxOptimizer: per-group regularisers and lambdas, the lambda scale, penalty, freeze, threshold record.
#include "proxima/optim/prox/prox_optimizer.h"

#include <cmath>

#include "proxima/core/error.h"
#include "proxima/core/ops.h"
#include "proxima/optim/prox/metrics.h"

namespace px::optim::prox {
namespace {

const char* const kRegularizerKeys[] = {"gamma", "a", "grouping", "keep_at_tie", "binary_zero"};

bool needs_lambda(const std::string& spec) { return spec == "mcp" || spec == "scad"; }

}  // namespace

// ---- ThresholdStats ----

void ThresholdStats::add(double t) {
  min = count ? std::fmin(min, t) : t;
  max = count ? std::fmax(max, t) : t;
  ++count;
  sum += t;
  int bin = 0;
  if (t > 0) {
    const double decade = std::floor(std::log10(t)) - kFirstDecade;
    bin = decade < 0 ? 0 : decade >= kBins - 1 ? kBins - 1 : static_cast<int>(decade);
  }
  ++decades[static_cast<std::size_t>(bin)];
}

void ThresholdStats::merge(const ThresholdStats& other) {
  if (other.count == 0) return;
  min = count ? std::fmin(min, other.min) : other.min;
  max = count ? std::fmax(max, other.max) : other.max;
  count += other.count;
  sum += other.sum;
  for (int b = 0; b < kBins; ++b) decades[static_cast<std::size_t>(b)] += other.decades[static_cast<std::size_t>(b)];
}

std::string ThresholdStats::bin_label(int b) {
  if (b <= 0) return detail::str("<1e", kFirstDecade + 1);
  if (b >= kBins - 1) return detail::str(">=1e", kFirstDecade + kBins - 1);
  return detail::str("1e", kFirstDecade + b, "..1e", kFirstDecade + b + 1);
}

bool inner_is_adam(const std::string& who, const std::string& inner) {
  PX_CHECK(inner == "adam" || inner == "sgd", ValueError, who, ": inner must be \"adam\" or \"sgd\", got \"", inner,
           "\"");
  return inner == "adam";
}

// ---- ProxOptimizer ----

void require_lambdas(const std::string& who, const std::vector<ParamGroup>& groups,
                     const std::string& default_regularizer, const std::optional<double>& default_lambda,
                     const std::string& lambda_option) {
  if (default_lambda) return;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const ParamGroup& group = groups[g];
    if (group.options.count("lambda")) continue;
    std::string spec = default_regularizer;
    bool named_by_group = false;
    if (auto it = group.options.find("regularizer"); it != group.options.end()) {
      const auto* s = std::get_if<std::string>(&it->second);
      if (!s) continue;  // not a string: text_option reports it
      spec = *s;
      named_by_group = true;
    }
    if (spec == "none") continue;
    throw ValueError(detail::str(who, ": param group ", g,
                                 named_by_group ? " names regularizer '" : " has regularizer '", spec,
                                 named_by_group ? "'" : "' (the default regularizer)",
                                 " but no lambda: set the group option 'lambda' or ", lambda_option,
                                 " (0 is accepted when given explicitly)"));
  }
}

ProxOptimizer::ProxOptimizer(std::vector<ParamGroup> groups, std::string default_regularizer,
                             std::optional<double> default_lambda, std::string lambda_option)
    : Optimizer(std::move(groups)),
      default_regularizer_(std::move(default_regularizer)),
      default_lambda_(default_lambda),
      lambda_option_(std::move(lambda_option)) {}

std::vector<std::string> ProxOptimizer::known_group_options() const {
  std::vector<std::string> keys = {"regularizer", "lambda"};
  for (const char* k : kRegularizerKeys) keys.emplace_back(k);
  for (auto& k : extra_group_options()) keys.push_back(std::move(k));
  return keys;
}

void ProxOptimizer::init_prox_groups(double default_lr, double default_weight_decay) {
  PX_CHECK(!default_lambda_ || (std::isfinite(*default_lambda_) && *default_lambda_ >= 0), ValueError, name(),
           ": lambda must be finite and >= 0, got ", default_lambda_.value_or(0.0));
  init_groups(default_lr, default_weight_decay);
  for (std::size_t g = 0; g < param_groups().size(); ++g) {
    const double lam = param_groups()[g].number_option("lambda", default_lambda_.value_or(0.0));
    PX_CHECK(std::isfinite(lam) && lam >= 0, ValueError, name(), ": param group ", g,
             ": lambda must be finite and >= 0, got ", lam);
  }
  rebuild_regularizers();  // a bad spec is reported before a missing lambda
  require_lambdas(name(), param_groups(), default_regularizer_, default_lambda_, lambda_option_);
}

void ProxOptimizer::rebuild_regularizers() {
  const auto& groups = param_groups();
  regularizers_.clear();
  regularizers_.resize(groups.size());
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const ParamGroup& group = groups[g];
    const std::string spec = group.text_option("regularizer", default_regularizer_);
    if (spec == "none") continue;
    RegularizerParams params;
    for (const char* key : kRegularizerKeys) {
      auto it = group.options.find(key);
      if (it != group.options.end()) params.emplace(key, it->second);
    }
    if (needs_lambda(spec)) {
      const double lam = lambda(g);
      params["lambda"] = lam > 0 ? lam : 1.0;  // lambda = 0: never applied (regularized() is false)
    }
    try {
      regularizers_[g] = make_regularizer(spec, params);
    } catch (const ValueError& e) {
      throw ValueError(detail::str(name(), ": param group ", g, ": ", e.what()));
    }
  }
}

const Regularizer* ProxOptimizer::regularizer(std::size_t group) const {
  PX_CHECK(group < regularizers_.size(), ValueError, name(), ": no param group ", group);
  return regularizers_[group].get();
}

const SeparableProx* ProxOptimizer::separable(std::size_t group) const {
  const auto* s = dynamic_cast<const SeparableRegularizer*>(regularizer(group));
  return s ? &s->scalar() : nullptr;
}

double ProxOptimizer::lambda(std::size_t group) const {
  PX_CHECK(group < param_groups().size(), ValueError, name(), ": no param group ", group);
  return param_groups()[group].number_option("lambda", default_lambda_.value_or(0.0)) * lambda_scale_;
}

bool ProxOptimizer::regularized(std::size_t group) const {
  return regularizer(group) != nullptr && lambda(group) > 0;
}

void ProxOptimizer::set_lambda_scale(double scale) {
  PX_CHECK(std::isfinite(scale) && scale >= 0, ValueError, name(), ": lambda scale must be finite and >= 0, got ",
           scale);
  if (scale == lambda_scale_) return;
  lambda_scale_ = scale;
  rebuild_regularizers();  // MCP and SCAD carry lambda
}

double ProxOptimizer::penalty() const {
  double total = 0;
  for (std::size_t g = 0; g < param_groups().size(); ++g) {
    if (!regularized(g)) continue;
    double r = 0;
    for (const Tensor& p : param_groups()[g].params) r += regularizer(g)->value(p);
    total += lambda(g) * r;
  }
  return total;
}

void ProxOptimizer::freeze_regularized() {
  for (std::size_t g = 0; g < param_groups().size(); ++g) {
    const Regularizer* reg = regularizer(g);
    if (!reg) continue;
    const SeparableProx* s = separable(g);
    PX_CHECK(s && s->kind == SeparableKind::binary, ValueError, name(), ": freeze needs a binary regulariser ",
             "(bin-l1, bin-l12, bin-l23, bin-l0); param group ", g, " has \"", reg->name(), "\"");
    // sgn(0) = 0 in the modes where 0 is its own binary point (ProxQuant's code), +1 otherwise.
    const bool zero_stays = s->binary_zero != BinaryZero::plus_one;
    for (const Tensor& p : param_groups()[g].params) binarize_(p, zero_stays);
  }
  frozen_ = true;
}

void ProxOptimizer::begin_step() {
  if (record_thresholds_) thresholds_.clear();
}

bool ProxOptimizer::skips_group(std::size_t group) const { return frozen_ && regularizer(group) != nullptr; }

std::size_t ProxOptimizer::group_index(const ParamGroup& group) const {
  const auto& groups = param_groups();
  const auto index = static_cast<std::size_t>(&group - groups.data());
  PX_CHECK(index < groups.size(), ValueError, name(), ": group_index of a group this optimizer does not own");
  return index;
}

}  // namespace px::optim::prox
