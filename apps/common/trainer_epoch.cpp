// One training epoch and one evaluation pass of a TrainSession.
#include <chrono>
#include <cmath>
#include <sstream>

#include "common/trainer_session.h"
#include "proxima/autograd/autograd.h"
#include "proxima/autograd/functions.h"
#include "proxima/core/ops.h"

namespace px::apps {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Number of rows of logits [B, classes] whose argmax is the label.
std::int64_t count_correct(const Tensor& logits, const Tensor& labels) {
  const Tensor hits = ops::eq(ops::argmax(logits, 1), labels);
  return static_cast<std::int64_t>(ops::count_nonzero(hits).item());
}

[[noreturn]] void report_divergence(const TrainSession& s, std::int64_t epoch, std::int64_t batch,
                                    std::int64_t batches, double loss, double lr) {
  std::ostringstream msg;
  msg << "training loss is " << loss << " at epoch " << epoch + 1 << ", batch " << batch << "/" << batches
      << " (lr " << lr << "); stopped. ";
  if (s.last_checkpoint.empty()) {
    msg << "No checkpoint was written (it diverged in the first epoch); try a smaller --lr";
  } else {
    msg << "The last good checkpoint (epoch " << s.epochs_done << ") is kept: " << s.last_checkpoint;
  }
  throw TrainError(3, msg.str());
}

}  // namespace

// One step per batch:  lr = schedule(epoch + b / batches);  loss = cross_entropy(model(x), y);
// backward(loss);  optimizer.step().
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

  double loss_sum = 0;
  std::int64_t correct = 0, seen = 0, b = 0;
  for (data::Batch batch; loader.next(batch);) {
    const double lr = s.schedule->lr_at(static_cast<double>(epoch) + static_cast<double>(b) / static_cast<double>(batches));
    s.optimizer->set_lr(lr);
    before_step(s, epoch, b, batches);
    const Tensor x = batch.x.to(s.device), y = batch.y.to(s.device);
    s.optimizer->zero_grad();
    const Tensor logits = (*s.model)(x);          // [B, classes]
    const Tensor loss = cross_entropy(logits, y);  // mean over the batch
    const double loss_value = loss.item();
    ++b;
    if (!std::isfinite(loss_value)) report_divergence(s, epoch, b, batches, loss_value, lr);
    backward(loss);
    if (sr2_of(s)) {
      sr2_step(s, x, y, loss_value);  // SR2 re-evaluates this minibatch (trainer_sr2.cpp)
    } else {
      s.optimizer->step();
    }

    const std::int64_t n = x.size(0);
    {
      NoGradGuard no_grad;
      correct += count_correct(logits.detach(), y);
    }
    loss_sum += loss_value * static_cast<double>(n);
    seen += n;
    s.progress->update({.batch = b,
                        .images = seen,
                        .loss = loss_sum / static_cast<double>(seen),
                        .accuracy = static_cast<double>(correct) / static_cast<double>(seen),
                        .lr = lr});
    if (s.hooks->after_batch) s.hooks->after_batch(epoch + 1, b, *s.model);
  }
  m.seconds = seconds_since(t0);
  m.train_loss = seen > 0 ? loss_sum / static_cast<double>(seen) : 0.0;
  m.train_acc = seen > 0 ? static_cast<double>(correct) / static_cast<double>(seen) : 0.0;
  m.images_per_sec = m.seconds > 0 ? static_cast<double>(seen) / m.seconds : 0.0;
  return m;
}

void evaluate(TrainSession& s, EpochMetrics& m) {
  const auto t0 = std::chrono::steady_clock::now();
  NoGradGuard no_grad;
  s.model->eval();
  data::DataLoader& loader = *s.test_loader;
  loader.start_epoch(0);
  double loss_sum = 0;
  std::int64_t correct = 0, seen = 0;
  for (data::Batch batch; loader.next(batch);) {
    const Tensor x = batch.x.to(s.device), y = batch.y.to(s.device);
    const Tensor logits = (*s.model)(x);
    loss_sum += cross_entropy(logits, y, Reduction::sum).item();
    correct += count_correct(logits, y);
    seen += x.size(0);
  }
  s.model->train();
  m.test_loss = seen > 0 ? loss_sum / static_cast<double>(seen) : 0.0;
  m.test_acc = seen > 0 ? static_cast<double>(correct) / static_cast<double>(seen) : 0.0;
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
  EpochMetrics m;
  m.epoch = j.at("epoch").get<std::int64_t>();
  m.lr = j.at("lr").get<double>();
  m.train_loss = j.at("train_loss").get<double>();
  m.train_acc = j.at("train_acc").get<double>();
  m.test_loss = j.at("test_loss").get<double>();
  m.test_acc = j.at("test_acc").get<double>();
  m.seconds = j.at("seconds").get<double>();
  m.images_per_sec = j.at("images_per_sec").get<double>();
  if (j.contains("extra")) {
    for (const auto& pair : j.at("extra")) m.extra.emplace_back(pair.at(0).get<std::string>(),
                                                       pair.at(1).is_null() ? kMissing : pair.at(1).get<double>());
  }
  return m;
}

}  // namespace px::apps
