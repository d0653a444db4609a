// Learning-rate schedules against their formulas, per iteration, including warm-up boundaries.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numbers>
#include <string>

#include "proxima/core/error.h"
#include "proxima/optim/schedule.h"

using namespace px;
using namespace px::optim;

namespace {

// Epoch progress of every iteration of `epochs` epochs with `batches` batches each, plus the end.
std::vector<double> progress_points(int epochs, int batches) {
  std::vector<double> points;
  for (int e = 0; e < epochs; ++e)
    for (int b = 0; b < batches; ++b) points.push_back(e + static_cast<double>(b) / batches);
  points.push_back(epochs);
  return points;
}

double warmup_factor(double e, double w, double f) { return e < w ? f + (1 - f) * e / w : 1.0; }

void check_schedule(const LrSchedule& s, const std::function<double(double)>& formula, int epochs) {
  INFO(s.describe());
  for (double e : progress_points(epochs, 7)) {
    INFO("epoch progress ", e);
    CHECK(s.lr_at(e) == doctest::Approx(formula(e)).epsilon(1e-14));
  }
}

}  // namespace

TEST_CASE("schedule: constant, step and multistep follow their formulas per iteration") {
  check_schedule(*make_schedule("constant", 0.1, 10), [](double) { return 0.1; }, 12);
  check_schedule(*make_schedule("step", 0.1, 10, 0, {.gamma = 0.5, .step_size = 3}),
                 [](double e) { return 0.1 * std::pow(0.5, std::floor(e / 3)); }, 12);
  check_schedule(*make_schedule("multistep", 0.2, 10, 0, {.gamma = 0.1, .milestones = {2, 5, 7.5}}),
                 [](double e) { return 0.2 * std::pow(0.1, (e >= 2) + (e >= 5) + (e >= 7.5)); }, 10);
  // The decay happens at the first batch of the milestone epoch, as PyTorch's per-epoch step.
  auto multistep = make_schedule("multistep", 1.0, 10, 0, {.milestones = {3}});
  CHECK(multistep->lr_at(2.999) == 1.0);
  CHECK(multistep->lr_at(3.0) == doctest::Approx(0.1));
}

TEST_CASE("schedule: cosine decays from base to eta_min over the epochs after warm-up") {
  const double base = 0.1, eta_min = 0.001, total = 10;
  check_schedule(*make_schedule("cosine", base, total, 0, {.eta_min = eta_min}), [&](double e) {
    return eta_min + (base - eta_min) * (1 + std::cos(std::numbers::pi * std::min(e / total, 1.0))) / 2;
  }, 12);
  auto s = make_schedule("cosine", base, total, 2, {.eta_min = eta_min, .warmup_start_factor = 0.2});
  check_schedule(*s, [&](double e) {
    const double t = std::clamp((e - 2) / (total - 2), 0.0, 1.0);
    return warmup_factor(e, 2, 0.2) * (eta_min + (base - eta_min) * (1 + std::cos(std::numbers::pi * t)) / 2);
  }, 12);
  CHECK(s->lr_at(2) == doctest::Approx(base));
  CHECK(s->lr_at(6) == doctest::Approx((base + eta_min) / 2));
  CHECK(s->lr_at(total) == doctest::Approx(eta_min));
  CHECK(s->lr_at(total + 5) == doctest::Approx(eta_min));
}

TEST_CASE("schedule: linear warm-up composes with every schedule and is continuous at its end") {
  const double w = 3, f = 0.1;
  ScheduleOptions o{.gamma = 0.5, .step_size = 4, .milestones = {5, 8}, .warmup_start_factor = f};
  for (const std::string name : {"constant", "step", "multistep", "cosine"}) {
    INFO(name);
    auto plain = make_schedule(name, 0.4, 10, 0, o);
    auto warm = make_schedule(name, 0.4, 10, w, o);
    if (name != "cosine") {
      check_schedule(*warm, [&](double e) { return warmup_factor(e, w, f) * plain->lr_at(e); }, 10);
    }
    CHECK(warm->lr_at(0) == doctest::Approx(f * 0.4));
    CHECK(warm->lr_at(w / 2) == doctest::Approx((f + (1 - f) / 2) * 0.4));
    // Just before and at the end of warm-up: continuous, reaching the base lr.
    CHECK(warm->lr_at(w - 1e-9) == doctest::Approx(0.4).epsilon(1e-8));
    CHECK(warm->lr_at(w) == doctest::Approx(0.4));
  }
  // Warm-up from 0 is allowed.
  CHECK(make_schedule("constant", 1.0, 5, 1, {.warmup_start_factor = 0})->lr_at(0) == 0.0);
}

TEST_CASE("schedule: evaluating at (epoch + batch / batches) is a pure function (resume-exact)") {
  auto s = make_schedule("cosine", 0.1, 20, 2);
  const double a = s->lr_at(7 + 13.0 / 50);
  auto again = make_schedule("cosine", 0.1, 20, 2);
  for (double e : progress_points(7, 50)) again->lr_at(e);  // history does not matter
  CHECK(again->lr_at(7 + 13.0 / 50) == a);
}

TEST_CASE("schedule: invalid settings throw ValueError naming the setting") {
  auto throws = [](const std::function<void()>& f, const std::string& needle) {
    INFO(needle);
    bool thrown = false;
    try {
      f();
    } catch (const ValueError& e) {
      thrown = true;
      INFO(e.what());
      CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
    CHECK(thrown);
  };
  throws([] { make_schedule("linear", 0.1, 10); }, "unknown schedule 'linear'; known: constant, step, multistep, cosine");
  throws([] { make_schedule("constant", -0.1, 10); }, "base_lr must be >= 0, got -0.1");
  throws([] { make_schedule("constant", 0.1, 0); }, "total_epochs must be > 0, got 0");
  throws([] { make_schedule("cosine", 0.1, 10, 10); }, "warmup_epochs must be in [0, total_epochs = 10), got 10");
  throws([] { make_schedule("constant", 0.1, 10, -1); }, "warmup_epochs must be in [0");
  throws([] { make_schedule("step", 0.1, 10, 0, {.step_size = 0}); }, "step_size must be > 0 epochs, got 0");
  throws([] { make_schedule("step", 0.1, 10, 0, {.gamma = 0}); }, "gamma must be > 0, got 0");
  throws([] { make_schedule("multistep", 0.1, 10, 0, {.milestones = {5, 3}}); },
         "milestones must be strictly increasing, got 5 then 3");
  throws([] { make_schedule("cosine", 0.1, 10, 0, {.eta_min = -1}); }, "eta_min must be >= 0, got -1");
  throws([] { make_schedule("constant", 0.1, 10, 1, {.warmup_start_factor = 1.5}); },
         "warmup_start_factor must be in [0, 1], got 1.5");
  throws([] { make_schedule("constant", 0.1, 10)->lr_at(-1); }, "epoch progress must be a finite number >= 0, got -1");
}
