// train_cifar's regularisation: parameter groups and the proximal optimizer, --warm-start, the
// lambda schedule, --freeze-epoch, and the per-epoch regularisation metrics (metrics.csv columns,
// layers.csv, thresholds.csv, the hard-binarised accuracy).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "common/metrics.h"
#include "common/run_dir.h"
#include "common/text_file.h"
#include "common/trainer_session.h"
#include "proxima/autograd/autograd.h"
#include "proxima/core/ops.h"
#include "proxima/optim/make_optimizer.h"
#include "proxima/optim/prox/make_prox_optimizer.h"
#include "proxima/optim/prox/metrics.h"

namespace px::apps {
namespace fs = std::filesystem;
namespace prox = optim::prox;

namespace {

// The regularised parameter names: --reg-scope (weights: ndim 2 or 4), minus the first and last
// with --exclude-first-last.
std::vector<std::string> regularized_names(const TrainSession& s) {
  std::vector<std::string> names;
  for (const auto& [name, p] : s.model->named_parameters()) {
    if (s.config.reg_scope == "all" || p.dim() == 2 || p.dim() == 4) names.push_back(name);
  }
  if (s.config.exclude_first_last && !names.empty()) {
    names.erase(names.begin());
    if (!names.empty()) names.pop_back();
  }
  return names;
}

// momentum is sgd's and rmsprop's momentum and adam's beta1; adagrad has none.
optim::OptimizerConfig classic_config(const TrainConfig& c) {
  optim::OptimizerConfig o;
  o.lr = c.lr;
  o.weight_decay = c.weight_decay;
  if (c.optimizer == "sgd" || c.optimizer == "rmsprop") o.momentum = c.momentum;
  if (c.optimizer == "adam" || c.optimizer == "adamw") o.beta1 = c.momentum;
  return o;
}

prox::ProxConfig prox_config(const TrainConfig& c) {
  prox::ProxConfig o;
  o.lr = c.lr;
  o.weight_decay = c.weight_decay;
  if (c.optimizer != "proxsgd") o.momentum = c.momentum;
  if (c.optimizer == "proxgen") o.preconditioner = c.precond;
  if (c.delta >= 0) o.delta = c.delta;
  if (c.clip > 0) o.clip = c.clip;
  return o;
}

std::map<std::string, optim::GroupOption> regularized_group_options(const TrainConfig& c) {
  std::map<std::string, optim::GroupOption> options = {{"regularizer", c.reg}, {"lambda", c.lambda}};
  if (c.reg == "mcp") options["gamma"] = c.mcp_gamma;
  if (c.reg == "scad") options["a"] = c.scad_a;
  if (c.reg == "group") options["grouping"] = c.group_by;
  if (c.ties == "keep") options["keep_at_tie"] = true;
  if (is_binary_regularizer(c.reg)) {  // the flag's spelling with '_' (the group option's)
    std::string mode = c.binary_zero;
    std::replace(mode.begin(), mode.end(), '-', '_');
    options["binary_zero"] = mode;
  }
  return options;
}

// Replaces the rows of epochs >= `epoch` in a CSV whose first column is the epoch (a resumed run
// rewrites the epochs after its checkpoint), then appends `rows` (with the header when new).
void write_epoch_rows(const std::string& path, const std::string& header, const std::string& rows, std::int64_t epoch) {
  std::string kept = header;
  if (fs::exists(path)) {
    std::istringstream in(read_text_file(path));
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      if (!line.empty() && std::stoll(line) < epoch) kept += line + "\n";
    }
  }
  write_text_file_atomic(path, kept + rows);
}

std::string thresholds_header() {
  std::string h = "epoch,count,min,mean,max";
  for (int b = 0; b < prox::ThresholdStats::kBins; ++b) h += ",t_" + prox::ThresholdStats::bin_label(b);
  return h + "\n";
}

std::string thresholds_row(const prox::ThresholdStats& t, std::int64_t epoch) {
  std::string row = std::to_string(epoch) + "," + std::to_string(t.count) + "," + format_metric(t.min) + "," +
                    format_metric(t.mean()) + "," + format_metric(t.max);
  for (auto c : t.decades) row += "," + std::to_string(c);
  return row + "\n";
}

// Test accuracy with the regularised weights replaced by their signs (restored afterwards).
double binarized_test_accuracy(TrainSession& s) {
  NoGradGuard no_grad;
  std::vector<std::pair<Tensor, Tensor>> saved;
  for (const auto& [name, p] : s.model->named_parameters()) {
    if (!s.regularized.count(name)) continue;
    saved.emplace_back(p, p.clone());
    prox::binarize_(p, s.config.binary_zero != "plus-one");  // as freeze_regularized binarises
  }
  EpochMetrics tmp;
  tmp.seconds = 0;
  evaluate(s, tmp);
  for (auto& [p, copy] : saved) ops::copy_(p, copy);
  return tmp.test_acc;
}

}  // namespace

void load_warm_start(TrainSession& s) {
  const std::string& path = s.config.warm_start;
  if (path.empty() || !s.config.resume.empty()) return;
  try {
    nn::StateDict weights;
    if (fs::path(path).extension() == ".safetensors") {
      weights = nn::load_safetensors(path).tensors;
    } else {
      weights = load_checkpoint(path).model;
    }
    s.model->load_state_dict(weights);
  } catch (const px::Error& e) {
    throw TrainError(2, "--warm-start " + path + ": " + e.what());
  }
  s.progress->message("warm start: model weights from " + path);
}

void build_optimizer(TrainSession& s) {
  const TrainConfig& c = s.config;
  s.lambda_schedule = prox::LambdaSchedule::parse(c.lambda_schedule);
  const std::vector<std::string> reg_names = regularized_names(s);
  s.regularized = std::set<std::string>(reg_names.begin(), reg_names.end());
  // PathProx and its weight-decay baseline (trainer_pathprox.cpp).
  if (c.optimizer == "pathprox") return build_pathprox_optimizer(s);
  if (build_wd_baseline_optimizer(s)) return;
  if (!is_proximal_method(c.optimizer)) {
    std::vector<optim::ParamGroup> groups(1);
    for (auto& [name, p] : s.model->named_parameters()) {
      groups[0].params.push_back(p);
      groups[0].names.push_back(name);
    }
    s.optimizer = optim::make_optimizer(c.optimizer, std::move(groups), classic_config(c));
    s.prox = nullptr;
    return;
  }
  PX_CHECK(c.reg == "none" || !reg_names.empty(), ValueError, "--reg ", c.reg, ": no parameter is regularised (",
           c.exclude_first_last ? "--exclude-first-last leaves none" : "the model has no conv or linear weight", ")");
  optim::ParamGroup reg_group{.options = regularized_group_options(c)};
  optim::ParamGroup other_group{.options = {{"regularizer", std::string("none")}}};
  for (auto& [name, p] : s.model->named_parameters()) {
    optim::ParamGroup& g = c.reg != "none" && s.regularized.count(name) ? reg_group : other_group;
    g.params.push_back(p);
    g.names.push_back(name);
  }
  std::vector<optim::ParamGroup> groups;
  if (!reg_group.params.empty()) groups.push_back(std::move(reg_group));
  if (!other_group.params.empty()) groups.push_back(std::move(other_group));
  auto opt = c.optimizer == "sr2" ? make_sr2_optimizer(s, std::move(groups))  // trainer_sr2.cpp
                                  : prox::make_prox_optimizer(c.optimizer, std::move(groups), prox_config(c));
  s.prox = opt.get();
  s.optimizer = std::move(opt);
}

void before_step(TrainSession& s, std::int64_t epoch, std::int64_t batch, std::int64_t batches) {
  if (!s.prox) return;
  s.prox->set_lambda_scale(s.lambda_schedule.scale(epoch, static_cast<double>(batch) / static_cast<double>(batches)));
  s.prox->set_record_thresholds(batch + 1 == batches);
}

void maybe_freeze(TrainSession& s, std::int64_t epochs_done) {
  if (!s.prox || s.config.freeze_epoch <= 0 || epochs_done < s.config.freeze_epoch || s.prox->frozen()) return;
  s.prox->freeze_regularized();
  s.progress->message("froze the regularised weights at their signs after epoch " + std::to_string(epochs_done));
}

void add_regularization_metrics(TrainSession& s, EpochMetrics& m) {
  const optim::NamedTensors params = s.model->named_parameters();
  const prox::SparsityReports sparsity = prox::sparsity_reports(params, s.regularized);
  double reg_value = 0, penalty = 0, lambda = 0;
  if (s.prox) {  // R per group once: reg_value = sum R_g, penalty = sum lambda_g R_g (ProxOptimizer::penalty)
    for (std::size_t g = 0; g < s.prox->param_groups().size(); ++g) {
      const prox::Regularizer* reg = s.prox->regularizer(g);
      if (!reg) continue;
      double r = 0;
      for (const Tensor& p : s.prox->param_groups()[g].params) r += reg->value(p.to(Device::cpu()));  // R on the host
      lambda = s.prox->lambda(g);
      reg_value += r;
      penalty += lambda * r;
    }
  }
  m.extra = {{"lambda", lambda},
             {"reg_value", reg_value},
             {"penalty", penalty},
             {"objective", m.train_loss + penalty},
             {"sparsity", sparsity.regularized.exact_zero_sparsity()},
             {"sparsity_abs_lt_1e-3", sparsity.regularized.sparsity_abs_lt_1e3()},
             {"sparsity_abs_lt_1e-2", sparsity.regularized.sparsity_abs_lt_1e2()},
             {"sparsity_all", sparsity.all.exact_zero_sparsity()}};
  if (is_binary_regularizer(s.config.reg)) {
    m.extra.emplace_back("binary_fraction", sparsity.regularized.binary_fraction());
    m.extra.emplace_back("binarized_test_acc", binarized_test_accuracy(s));
  }
  add_pathprox_metrics(s, m);  // PathProx runs and their sgd baseline: path-norm columns
  add_sr2_metrics(s, m);       // SR2 runs: sigma, accepted, rejected, xi, stationarity
  const fs::path dir(s.run_dir);
  const auto rows = prox::tensor_table(params, s.regularized);
  write_epoch_rows((dir / "layers.csv").string(), prox::tensor_table_csv_header(),
                   prox::tensor_table_csv(rows, m.epoch, false), m.epoch);
  if (s.prox && s.prox->thresholds().count > 0) {
    write_epoch_rows((dir / "thresholds.csv").string(), thresholds_header(),
                     thresholds_row(s.prox->thresholds(), m.epoch), m.epoch);
  }
}

}  // namespace px::apps
