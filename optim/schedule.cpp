// Learning-rate schedules (constant, step, multistep, cosine, linear warm-up) and make_schedule.
#include "proxima/optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "proxima/core/error.h"

namespace px::optim {
namespace {

void check_progress(double e, const char* schedule) {
  PX_CHECK(e >= 0 && std::isfinite(e), ValueError, schedule,
           " schedule: epoch progress must be a finite number >= 0, got ", e);
}

void check_base(double base_lr, const char* schedule) {
  PX_CHECK(base_lr >= 0 && std::isfinite(base_lr), ValueError, schedule,
           " schedule: base_lr must be >= 0, got ", base_lr);
}

void check_gamma(double gamma, const char* schedule) {
  PX_CHECK(gamma > 0 && std::isfinite(gamma), ValueError, schedule, " schedule: gamma must be > 0, got ",
           gamma);
}

}  // namespace

ConstantSchedule::ConstantSchedule(double base_lr) : base_(base_lr) { check_base(base_lr, "constant"); }
double ConstantSchedule::lr_at(double e) const {
  check_progress(e, "constant");
  return base_;
}
std::string ConstantSchedule::describe() const { return detail::str("constant(base ", base_, ")"); }

StepSchedule::StepSchedule(double base_lr, double step_size, double gamma)
    : base_(base_lr), step_size_(step_size), gamma_(gamma) {
  check_base(base_lr, "step");
  PX_CHECK(step_size > 0 && std::isfinite(step_size), ValueError,
           "step schedule: step_size must be > 0 epochs, got ", step_size);
  check_gamma(gamma, "step");
}
double StepSchedule::lr_at(double e) const {
  check_progress(e, "step");
  return base_ * std::pow(gamma_, std::floor(e / step_size_));
}
std::string StepSchedule::describe() const {
  return detail::str("step(base ", base_, ", step_size ", step_size_, ", gamma ", gamma_, ")");
}

MultiStepSchedule::MultiStepSchedule(double base_lr, std::vector<double> milestones, double gamma)
    : base_(base_lr), milestones_(std::move(milestones)), gamma_(gamma) {
  check_base(base_lr, "multistep");
  check_gamma(gamma, "multistep");
  for (std::size_t i = 0; i < milestones_.size(); ++i) {
    PX_CHECK(milestones_[i] >= 0 && std::isfinite(milestones_[i]), ValueError,
             "multistep schedule: milestones must be epochs >= 0, got ", milestones_[i]);
    PX_CHECK(i == 0 || milestones_[i] > milestones_[i - 1], ValueError,
             "multistep schedule: milestones must be strictly increasing, got ", milestones_[i - 1 + (i == 0)],
             " then ", milestones_[i]);
  }
}
double MultiStepSchedule::lr_at(double e) const {
  check_progress(e, "multistep");
  const auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), e) - milestones_.begin();
  return base_ * std::pow(gamma_, static_cast<double>(passed));
}
std::string MultiStepSchedule::describe() const {
  std::string list;
  for (double m : milestones_) {
    if (!list.empty()) list += ' ';
    list += detail::str(m);
  }
  return detail::str("multistep(base ", base_, ", milestones [", list, "], gamma ", gamma_, ")");
}

CosineSchedule::CosineSchedule(double base_lr, double total_epochs, double eta_min, double start_epoch)
    : base_(base_lr), total_(total_epochs), eta_min_(eta_min), start_(start_epoch) {
  check_base(base_lr, "cosine");
  PX_CHECK(eta_min >= 0 && std::isfinite(eta_min), ValueError, "cosine schedule: eta_min must be >= 0, got ",
           eta_min);
  PX_CHECK(start_epoch >= 0 && std::isfinite(start_epoch), ValueError,
           "cosine schedule: start epoch must be >= 0, got ", start_epoch);
  PX_CHECK(total_epochs > start_epoch && std::isfinite(total_epochs), ValueError,
           "cosine schedule: total_epochs must be > the start epoch ", start_epoch, ", got ", total_epochs);
}
double CosineSchedule::lr_at(double e) const {
  check_progress(e, "cosine");
  const double s = std::clamp((e - start_) / (total_ - start_), 0.0, 1.0);
  return eta_min_ + (base_ - eta_min_) * (1 + std::cos(std::numbers::pi * s)) / 2;
}
std::string CosineSchedule::describe() const {
  return detail::str("cosine(base ", base_, ", from epoch ", start_, " to ", total_, ", eta_min ", eta_min_, ")");
}

WarmupSchedule::WarmupSchedule(std::unique_ptr<LrSchedule> inner, double warmup_epochs, double start_factor)
    : inner_(std::move(inner)), warmup_(warmup_epochs), start_factor_(start_factor) {
  PX_CHECK(inner_ != nullptr, ValueError, "warm-up schedule: needs a schedule to warm up");
  PX_CHECK(warmup_epochs >= 0 && std::isfinite(warmup_epochs), ValueError,
           "warm-up schedule: warmup_epochs must be >= 0, got ", warmup_epochs);
  PX_CHECK(start_factor >= 0 && start_factor <= 1, ValueError,
           "warm-up schedule: warmup_start_factor must be in [0, 1], got ", start_factor);
}
double WarmupSchedule::lr_at(double e) const {
  const double lr = inner_->lr_at(e);
  if (e >= warmup_) return lr;
  return lr * (start_factor_ + (1 - start_factor_) * e / warmup_);
}
std::string WarmupSchedule::describe() const {
  return detail::str(inner_->describe(), " with linear warm-up over ", warmup_, " epochs from ",
                     start_factor_, " x lr");
}

std::vector<std::string> schedule_names() { return {"constant", "step", "multistep", "cosine"}; }

std::unique_ptr<LrSchedule> make_schedule(const std::string& name, double base_lr, double total_epochs,
                                          double warmup_epochs, const ScheduleOptions& o) {
  PX_CHECK(total_epochs > 0 && std::isfinite(total_epochs), ValueError,
           "make_schedule: total_epochs must be > 0, got ", total_epochs);
  PX_CHECK(warmup_epochs >= 0 && warmup_epochs < total_epochs, ValueError,
           "make_schedule: warmup_epochs must be in [0, total_epochs = ", total_epochs, "), got ",
           warmup_epochs);
  std::unique_ptr<LrSchedule> schedule;
  if (name == "constant") {
    schedule = std::make_unique<ConstantSchedule>(base_lr);
  } else if (name == "step") {
    schedule = std::make_unique<StepSchedule>(base_lr, o.step_size, o.gamma);
  } else if (name == "multistep") {
    schedule = std::make_unique<MultiStepSchedule>(base_lr, o.milestones, o.gamma);
  } else if (name == "cosine") {
    schedule = std::make_unique<CosineSchedule>(base_lr, total_epochs, o.eta_min, warmup_epochs);
  } else {
    std::string known;
    for (const auto& n : schedule_names()) {
      if (!known.empty()) known += ", ";
      known += n;
    }
    throw ValueError(detail::str("make_schedule: unknown schedule '", name, "'; known: ", known));
  }
  if (warmup_epochs == 0) return schedule;
  return std::make_unique<WarmupSchedule>(std::move(schedule), warmup_epochs, o.warmup_start_factor);
}

}  // namespace px::optim
