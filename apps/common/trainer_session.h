// TrainSession: everything one run holds (data, model, optimizer, loaders, metrics), shared by
// trainer.cpp (setup, resume, epoch loop) and trainer_epoch.cpp (one epoch, evaluation).
#pragma once

#include <memory>
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

nlohmann::json metrics_to_json(const EpochMetrics& m);
EpochMetrics metrics_from_json(const nlohmann::json& j);

}  // namespace px::apps
