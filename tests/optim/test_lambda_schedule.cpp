// LambdaSchedule: each form against its formula, spec parsing and errors, and oracle 18's
// homotopy lambda_e = reg_rate * e driving a ProxOptimizer (no prox at epoch 0).
#include <algorithm>
#include <cmath>

#include "optim/optim_helpers.h"
#include "optim/prox_test_util.h"
#include "proxima/optim/prox/lambda_schedule.h"
#include "proxima/optim/prox/proxgen.h"

using namespace px;
using namespace px::test;
using namespace px::optim::prox;

namespace {

// Random (epoch, fraction) points, including the epoch boundaries.
std::vector<std::pair<std::int64_t, double>> sample_points() {
  std::vector<std::pair<std::int64_t, double>> points;
  Generator gen(17);
  const Tensor u = rand({60}, {.dtype = DType::float64}, &gen);
  const auto f = values(u);
  for (std::size_t i = 0; i < f.size(); ++i) points.emplace_back(static_cast<std::int64_t>(i % 12), f[i]);
  for (std::int64_t e = 0; e < 12; ++e) {
    points.emplace_back(e, 0.0);
    points.emplace_back(e, 1.0);
  }
  return points;
}

}  // namespace

TEST_CASE("lambda schedule: constant is 1 everywhere") {
  const LambdaSchedule s = LambdaSchedule::parse("constant");
  CHECK(s.kind() == LambdaSchedule::Kind::constant);
  CHECK(LambdaSchedule().spec() == "constant");
  for (auto [e, f] : sample_points()) CHECK(s.scale(e, f) == 1.0);
}

TEST_CASE("lambda schedule: warmup:E rises linearly per step from 0 to 1 over E epochs") {
  for (double E : {1.0, 2.5, 5.0}) {
    const LambdaSchedule s = LambdaSchedule::parse(detail::str("warmup:", E));
    CHECK(s.kind() == LambdaSchedule::Kind::warmup);
    CHECK(s.warmup_epochs() == E);
    CHECK(s.scale(0, 0) == 0.0);
    for (auto [e, f] : sample_points()) {
      INFO("E ", E, " epoch ", e, " fraction ", f);
      const double progress = static_cast<double>(e) + f;
      const double want = progress >= E ? 1.0 : progress / E;
      CHECK(s.scale(e, f) == doctest::Approx(want).epsilon(1e-15));
    }
    // monotone within and across epochs
    double last = -1;
    for (std::int64_t e = 0; e < 8; ++e)
      for (int k = 0; k <= 10; ++k) {
        const double now = s.scale(e, k / 10.0);
        CHECK(now >= last);
        last = now;
      }
    CHECK(LambdaSchedule::parse(s.spec()).warmup_epochs() == E);
  }
}

TEST_CASE("lambda schedule: homotopy is the epoch index, constant within an epoch") {
  const LambdaSchedule s = LambdaSchedule::parse("homotopy");
  CHECK(s.kind() == LambdaSchedule::Kind::homotopy);
  CHECK(s.spec() == "homotopy");
  for (auto [e, f] : sample_points()) CHECK(s.scale(e, f) == static_cast<double>(e));
}

TEST_CASE("lambda schedule: oracle 18, ProxQuant's lambda_e = reg_rate * e, no prox at epoch 0") {
  const double reg_rate = 1e-4;
  const LambdaSchedule schedule = LambdaSchedule::homotopy();
  Generator gen(2);
  const Shape shape{30};
  Tensor init = ops::mul(randn(shape, {.dtype = DType::float64}, &gen), 0.5);
  Tensor quant = init.clone(), plain = init.clone();
  const ProxGenOptions o{.lr = 0.01, .regularizer = "bin-l1", .lambda = reg_rate, .metric_prox = false, .clip = 1.0};
  ProxGen proxquant({quant}, o);
  ProxGen adam({plain}, ProxGenOptions{.lr = 0.01, .regularizer = "bin-l1", .lambda = 0, .metric_prox = false,
                                       .clip = 1.0});
  for (std::int64_t epoch = 0; epoch < 4; ++epoch) {
    proxquant.set_lambda_scale(schedule.scale(epoch, 0.5));
    CHECK(proxquant.lambda(0) == doctest::Approx(reg_rate * static_cast<double>(epoch)).epsilon(1e-15));
    CHECK(proxquant.regularized(0) == (epoch > 0));
    for (int batch = 0; batch < 3; ++batch) {
      Tensor g = randn(shape, {.dtype = DType::float64}, &gen);
      quant.set_grad(g.clone());
      plain.set_grad(g.clone());
      proxquant.step();
      adam.step();
      for (double v : values(quant)) REQUIRE(std::fabs(v) <= 1.0);
    }
    // epoch 0 is the unregularised run exactly; later epochs pull towards +-1
    if (epoch == 0) check_same("epoch 0", quant, plain);
  }
  double dist_quant = 0, dist_plain = 0;
  for (double v : values(quant)) dist_quant += std::fabs(std::fabs(v) - 1);
  for (double v : values(plain)) dist_plain += std::fabs(std::fabs(v) - 1);
  CHECK(dist_quant < dist_plain);
}

TEST_CASE("lambda schedule: bad specs and arguments are ValueErrors") {
  for (const char* bad : {"linear", "", "Constant", "homotopy:2"}) {
    check_value_error([&] { LambdaSchedule::parse(bad); }, "warmup:E");  // lists the known forms
  }
  for (const char* bad : {"warmup:", "warmup:0", "warmup:-1", "warmup:abc", "warmup:2x", "warmup:inf"}) {
    check_value_error([&] { LambdaSchedule::parse(bad); }, "warmup:E");
  }
  check_value_error([] { LambdaSchedule::warmup(0); }, "E");
  check_value_error([] { LambdaSchedule().scale(-1, 0); }, "epoch");
  check_value_error([] { LambdaSchedule().scale(0, 1.5); }, "fraction_of_epoch");
  check_value_error([] { LambdaSchedule().scale(0, NAN); }, "fraction_of_epoch");
  CHECK(LambdaSchedule::known_forms() == std::vector<std::string>{"constant", "warmup:E", "homotopy"});
}
