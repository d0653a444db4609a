// One training epoch and one evaluation pass of a TrainSession.
#include <chrono>
#include <cmath>
#include <limits>
#include <sstream>

#include "common/epoch_sums.h"
#include "common/trainer_session.h"
#include "proxima/autograd/autograd.h"
#include "proxima/autograd/functions.h"
#include "proxima/core/ops.h"

namespace px::apps {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Batches first..last (1-based) of an epoch are where the loss stopped being finite (first ==
// last when the sums were read after every batch).
[[noreturn]] void report_divergence(const TrainSession& s, std::int64_t epoch, std::int64_t first, std::int64_t last,
                                    std::int64_t batches, double loss, double lr) {
  std::ostringstream msg;
  msg << "training loss is " << loss << " at epoch " << epoch + 1;
  if (first == last) {
    msg << ", batch " << last << "/" << batches << " (lr " << lr << "); stopped. ";
  } else {  // on a device the running loss is read only at the progress points
    msg << ", between batches " << first << " and " << last << "/" << batches << " (lr " << lr << " at batch "
        << last << "); stopped. ";
  }
  msg << kept_checkpoint_note(s);
  throw TrainError(3, msg.str());
}

}  // namespace

std::string kept_checkpoint_note(const TrainSession& s) {
  if (s.last_checkpoint.empty())
    return "No checkpoint was written (it diverged in the first epoch); try a smaller --lr";
  return "The last good checkpoint (epoch " + std::to_string(s.epochs_done) + ") is kept: " + s.last_checkpoint;
}

// One step per batch:  lr = schedule(epoch + b / batches);  loss = cross_entropy(model(x), y);
// backward(loss);  optimizer.step().
// CONVENTION (host synchronisation): a step only enqueues work on the device: the batch comes
// from pinned memory (asynchronous copy), and the loss and correct counts are summed on the
// device (EpochSums). The sums are read back, and checked for a non-finite loss, where they are
// shown: at the progress bar's refresh points and at the epoch's end. On the CPU a read costs
// nothing, so it happens after every forward, before the step that would use a bad gradient,
// and a divergence names its exact batch. SR2 reads its loss every step (its ratio test needs it).
EpochMetrics train_epoch(TrainSession& s, std::int64_t epoch) {
  const auto t0 = std::chrono::steady_clock::now();
  data::DataLoader& loader = *s.train_loader;
  const std::int64_t batches = loader.batches_per_epoch();
  EpochMetrics m;
  m.epoch = epoch + 1;
  m.lr = s.schedule->lr_at(static_cast<double>(epoch));
  s.model->train();
  loader.start_epoch(epoch);
  s.progress->start_epoch(epoch + 1, s.config.epochs, batches);

  const bool read_every_batch = s.device.is_cpu() || sr2_of(s) != nullptr;
  EpochSums sums(s.device);
  EpochSums::Values read;  // the sums at batch `checked`, all finite
  std::int64_t b = 0, checked = 0;
  double lr = m.lr;
  const auto read_and_check = [&] {
    read = sums.read();
    if (!std::isfinite(read.loss_sum)) report_divergence(s, epoch, checked + 1, b, batches, read.mean_loss(), lr);
    checked = b;
  };
  for (data::Batch batch; loader.next(batch);) {
    lr = s.schedule->lr_at(static_cast<double>(epoch) + static_cast<double>(b) / static_cast<double>(batches));
    s.optimizer->set_lr(lr);
    before_step(s, epoch, b, batches);
    const Tensor x = batch.x.to(s.device), y = batch.y.to(s.device);  // asynchronous from pinned memory
    s.optimizer->zero_grad();
    const Tensor logits = (*s.model)(x);          // [B, classes]
    const Tensor loss = cross_entropy(logits, y);  // mean over the batch
    sums.add(loss, x.size(0), logits, y);
    ++b;
    if (read_every_batch) read_and_check();
    backward(loss);
    if (sr2_of(s)) {
      sr2_step(s, x, y, loss.item());  // SR2 re-evaluates this minibatch (trainer_sr2.cpp); item() syncs
    } else {
      s.optimizer->step();
    }
    if (checked < b && (s.progress->due(b) || b == batches)) read_and_check();
    if (checked == b) {
      s.progress->update({.batch = b, .images = read.seen, .loss = read.mean_loss(), .accuracy = read.accuracy(), .lr = lr});
    }
    if (s.hooks->after_batch) s.hooks->after_batch(epoch + 1, b, *s.model);
  }
  if (checked < b) read_and_check();
  m.seconds = seconds_since(t0);
  m.train_loss = read.mean_loss();
  m.train_acc = read.accuracy();
  m.images_per_sec = m.seconds > 0 ? static_cast<double>(read.seen) / m.seconds : 0.0;
  return m;
}

// Test loss and accuracy, summed on the device and read back once.
void evaluate(TrainSession& s, EpochMetrics& m) {
  const auto t0 = std::chrono::steady_clock::now();
  NoGradGuard no_grad;
  s.model->eval();
  data::DataLoader& loader = *s.test_loader;
  loader.start_epoch(0);
  EpochSums sums(s.device);
  for (data::Batch batch; loader.next(batch);) {
    const Tensor x = batch.x.to(s.device), y = batch.y.to(s.device);
    const Tensor logits = (*s.model)(x);
    sums.add(cross_entropy(logits, y, Reduction::sum), 1, logits, y);
  }
  s.model->train();
  const EpochSums::Values v = sums.read();
  m.test_loss = v.mean_loss();
  m.test_acc = v.accuracy();
  m.seconds += seconds_since(t0);
}

nlohmann::json metrics_to_json(const EpochMetrics& m) {
  nlohmann::json extra = nlohmann::json::array();
  for (const auto& [name, value] : m.extra) extra.push_back({name, value});
  return {{"epoch", m.epoch},         {"lr", m.lr},           {"train_loss", m.train_loss},
          {"train_acc", m.train_acc}, {"test_loss", m.test_loss}, {"test_acc", m.test_acc},
          {"seconds", m.seconds},     {"images_per_sec", m.images_per_sec}, {"extra", extra}};
}

EpochMetrics metrics_from_json(const nlohmann::json& j) {
  // JSON has no NaN: nlohmann writes a non-finite number as null, read back as NaN.
  const auto number = [&](const char* key) {
    const nlohmann::json& v = j.at(key);
    return v.is_null() ? std::numeric_limits<double>::quiet_NaN() : v.get<double>();
  };
  EpochMetrics m;
  m.epoch = j.at("epoch").get<std::int64_t>();
  m.lr = number("lr");
  m.train_loss = number("train_loss");
  m.train_acc = number("train_acc");
  m.test_loss = number("test_loss");
  m.test_acc = number("test_acc");
  m.seconds = number("seconds");
  m.images_per_sec = number("images_per_sec");
  if (j.contains("extra")) {
    for (const auto& pair : j.at("extra")) m.extra.emplace_back(pair.at(0).get<std::string>(),
                                                       pair.at(1).is_null() ? kMissing : pair.at(1).get<double>());
  }
  return m;
}

}  // namespace px::apps
