// TrainSession: everything one run holds (data, model, optimizer, loaders, metrics), shared by
// trainer.cpp (setup, resume, epoch loop) and trainer_epoch.cpp (one epoch, evaluation).
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "common/progress.h"
#include "common/trainer.h"
#include "proxima/core/device.h"
#include "proxima/core/generator.h"
#include "proxima/data/loader.h"
#include "proxima/nn/module.h"
#include "proxima/optim/optimizer.h"
#include "proxima/optim/prox/lambda_schedule.h"
#include "proxima/optim/prox/prox_optimizer.h"
#include "proxima/optim/prox/sr2.h"
#include "proxima/optim/schedule.h"

namespace px::apps {

struct TrainSession {
  TrainConfig config;
  std::string run_dir;
  std::string augment;                   // resolved: none | standard | cutout
  Device device;
  data::DatasetPair data;
  Generator model_gen;                   // initialisation (and dropout masks)
  std::shared_ptr<nn::Module> model;
  std::unique_ptr<optim::Optimizer> optimizer;
  std::unique_ptr<optim::LrSchedule> schedule;
  optim::prox::ProxOptimizer* prox = nullptr;   // the optimizer, when it is a proximal method
  std::set<std::string> regularized;            // names of the regularised parameters
  optim::prox::LambdaSchedule lambda_schedule;
  std::unique_ptr<data::DataLoader> train_loader, test_loader;
  std::vector<EpochMetrics> metrics;     // epochs done so far
  std::int64_t epochs_done = 0;
  std::string last_checkpoint;           // path of last.json, "" before the first
  nlohmann::json run_info;               // run.json
  std::unique_ptr<Progress> progress;
  const TrainHooks* hooks = nullptr;
};

// Trains epoch `epoch` (0-based): fills epoch, lr, train_loss, train_acc, images_per_sec and
// the training part of seconds. Throws TrainError(3) when the loss is not finite.
EpochMetrics train_epoch(TrainSession& s, std::int64_t epoch);
// Test loss and accuracy under NoGradGuard with the model in eval mode (restored to train).
void evaluate(TrainSession& s, EpochMetrics& m);
// The end of a divergence message: which checkpoint is kept ("The last good checkpoint (epoch E)
// is kept: <last.json>"), or that none was written.
std::string kept_checkpoint_note(const TrainSession& s);

// Regularisation (trainer_regularization.cpp). build_optimizer: the parameter groups (the
// regularised weights, by --reg-scope and --exclude-first-last, and the rest), the optimizer, the
// lambda schedule; load_warm_start: --warm-start weights into the model (before build_optimizer,
// as BinaryConnect binarises at construction).
void load_warm_start(TrainSession& s);
void build_optimizer(TrainSession& s);
// Before each step: the lambda scale of the schedule; the last batch records the thresholds t_i.
void before_step(TrainSession& s, std::int64_t epoch, std::int64_t batch, std::int64_t batches);
// At the start of each epoch (so also the first epoch after a resume): --freeze-epoch.
void maybe_freeze(TrainSession& s, std::int64_t epochs_done);
// After evaluation: metrics.csv's regularisation columns, the hard-binarised accuracy of binary
// runs, layers.csv and thresholds.csv.
void add_regularization_metrics(TrainSession& s, EpochMetrics& m);

// PathProx (trainer_pathprox.cpp; docs/pathprox.md). homogeneous_units_of: the model's units, or
// nullopt when it has none. build_pathprox_optimizer: --optimizer pathprox on the units (ValueError
// naming the model and why when it cannot be grouped). build_wd_baseline_optimizer: for sgd on a
// model with units, the baseline's groups (weights decayed, biases not); false (nothing built)
// otherwise. add_pathprox_metrics: for pathprox runs and that baseline with --weight-decay > 0,
// the columns active_units, path_norm, wd_objective, l2_objective and their "objective".
std::optional<nn::HomogeneousUnits> homogeneous_units_of(const TrainSession& s);
void build_pathprox_optimizer(TrainSession& s);
bool build_wd_baseline_optimizer(TrainSession& s);
void add_pathprox_metrics(TrainSession& s, EpochMetrics& m);

// SR2 (trainer_sr2.cpp; docs/sr2.md). sr2_of: the optimizer when it is SR2, else nullptr.
// make_sr2_optimizer: SR2 on the groups from --sigma0, --sr2-*, --momentum (its beta).
// sr2_step: after the trainer's forward and backward on (x, y), SR2's step with a closure that
// re-evaluates (x, y) with BatchNorm's running statistics frozen; on the first step without
// --sigma0, sigma0 = |top Hessian eigenvalue| of this minibatch (power iteration).
// add_sr2_metrics: metrics.csv's sigma, accepted, rejected, xi, stationarity (the lr column
// becomes 1/sigma), then resets the epoch counters.
optim::prox::SR2* sr2_of(const TrainSession& s);
std::unique_ptr<optim::prox::ProxOptimizer> make_sr2_optimizer(const TrainSession& s,
                                                               std::vector<optim::ParamGroup> groups);
void sr2_step(TrainSession& s, const Tensor& x, const Tensor& y, double loss_value);
void add_sr2_metrics(TrainSession& s, EpochMetrics& m);

nlohmann::json metrics_to_json(const EpochMetrics& m);
EpochMetrics metrics_from_json(const nlohmann::json& j);

}  // namespace px::apps
