// Learning-rate schedules: pure functions of the epoch progress (epoch + batch / batches).
//
// A schedule is evaluated once per iteration at e = epoch + batch / batches (epoch and batch
// 0-based), so a resumed run gets exactly the learning rates of an uninterrupted one:
//   constant:  lr(e) = base
//   step:      lr(e) = base * gamma^floor(e / step_size)           (PyTorch StepLR per epoch)
//   multistep: lr(e) = base * gamma^#{milestones m <= e}           (PyTorch MultiStepLR)
//   cosine:    lr(e) = eta_min + (base - eta_min) (1 + cos(pi s)) / 2,
//              s = clamp((e - w) / (total - w), 0, 1)               (cosine over the epochs after warm-up w)
// Linear warm-up multiplies any of them by
//   f + (1 - f) e / w  for e < w, and 1 afterwards                   (f = warmup_start_factor)
// so the learning rate rises from f * base at e = 0 to the schedule's value at e = w.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace px::optim {

class LrSchedule {
 public:
  virtual ~LrSchedule() = default;
  // e >= 0 (ValueError otherwise); past the end a schedule keeps its last value.
  virtual double lr_at(double epoch_progress) const = 0;
  virtual std::string describe() const = 0;  // e.g. "cosine(base 0.1, total 200, eta_min 0)"
};

class ConstantSchedule : public LrSchedule {
 public:
  explicit ConstantSchedule(double base_lr);
  double lr_at(double e) const override;
  std::string describe() const override;

 private:
  double base_;
};

class StepSchedule : public LrSchedule {
 public:
  StepSchedule(double base_lr, double step_size, double gamma);
  double lr_at(double e) const override;
  std::string describe() const override;

 private:
  double base_, step_size_, gamma_;
};

class MultiStepSchedule : public LrSchedule {
 public:
  MultiStepSchedule(double base_lr, std::vector<double> milestones, double gamma);  // increasing
  double lr_at(double e) const override;
  std::string describe() const override;

 private:
  double base_;
  std::vector<double> milestones_;
  double gamma_;
};

class CosineSchedule : public LrSchedule {
 public:
  // Decays from base at e = start_epoch to eta_min at e = total_epochs (> start_epoch).
  CosineSchedule(double base_lr, double total_epochs, double eta_min = 0, double start_epoch = 0);
  double lr_at(double e) const override;
  std::string describe() const override;

 private:
  double base_, total_, eta_min_, start_;
};

class WarmupSchedule : public LrSchedule {
 public:
  WarmupSchedule(std::unique_ptr<LrSchedule> inner, double warmup_epochs, double start_factor);
  double lr_at(double e) const override;
  std::string describe() const override;

 private:
  std::unique_ptr<LrSchedule> inner_;
  double warmup_, start_factor_;
};

struct ScheduleOptions {
  double gamma = 0.1;                // step, multistep: factor at each decay (> 0)
  double step_size = 30;             // step: epochs between decays (> 0)
  std::vector<double> milestones{};  // multistep: epochs of the decays (increasing, >= 0)
  double eta_min = 0;                // cosine: final learning rate (>= 0)
  double warmup_start_factor = 0.1;  // warm-up starts at this fraction of the lr, in [0, 1]
};

std::vector<std::string> schedule_names();  // {"constant", "step", "multistep", "cosine"}

// name in schedule_names() (else ValueError listing them); total_epochs > 0; warmup_epochs in
// [0, total_epochs) (0 = no warm-up). Cosine decays over [warmup_epochs, total_epochs].
std::unique_ptr<LrSchedule> make_schedule(const std::string& name, double base_lr, double total_epochs,
                                          double warmup_epochs = 0, const ScheduleOptions& options = {});

}  // namespace px::optim
