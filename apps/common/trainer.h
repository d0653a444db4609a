// run_training: the whole train_cifar run (data, model, optimizer, epochs, run directory, resume).
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/metrics.h"
#include "proxima/data/dataset.h"
#include "proxima/nn/module.h"

namespace px::apps {

// A run that ends early for a reason the user must act on; exit_code 2 = bad flags or bad
// data (found before training starts), 3 = the loss became NaN or infinite.
class TrainError : public std::runtime_error {
 public:
  TrainError(int exit_code, const std::string& message) : std::runtime_error(message), code_(exit_code) {}
  int exit_code() const { return code_; }

 private:
  int code_;
};

// One row of metrics.csv (common/metrics.h): epoch (1-based), lr at the start of the epoch
// (the schedule moves every batch), train_loss and train_acc (running means over the epoch's
// training batches), test_loss, test_acc (accuracies in [0, 1]), seconds (training and
// evaluation), images_per_sec (training images per second of training).
using EpochMetrics = MetricsRow;

struct TrainHooks {
  // Replaces loading config.data (tests): the pair is used as given (subsets still apply).
  std::optional<data::DatasetPair> dataset;
  // Called after each optimizer step with the 1-based epoch and batch and the model; may
  // throw (tests simulate a killed run this way) or change the model.
  std::function<void(std::int64_t epoch, std::int64_t batch, nn::Module& model)> after_batch;
  std::FILE* stream = stdout;  // progress and messages
};

struct TrainResult {
  std::string run_dir;
  std::vector<EpochMetrics> metrics;  // all epochs, including those before a resume
  std::int64_t parameter_count = 0;
  double total_seconds = 0;
};

// Runs (or resumes) training as `config` says, writing run.json, metrics.csv, summary.json,
// checkpoints/ and plots/ into the run directory. Throws TrainError (see above); other
// exceptions are internal errors.
TrainResult run_training(const TrainConfig& config, const TrainHooks& hooks = {});

}  // namespace px::apps
