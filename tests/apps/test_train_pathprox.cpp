// train_cifar with --optimizer pathprox and its weight-decay sgd baseline: flags and defaults, flag
// and model errors (exit 2, one line), and the path-norm columns of metrics.csv and summary.json
// checked against the saved weights.
#include "apps/synthetic_data.h"
#include "temp_dir.h"
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/metrics.h"
#include "common/run_dir.h"
#include "common/trainer.h"
#include "proxima/core/ops.h"

namespace fs = std::filesystem;
using px::apps::TrainConfig;
using px::apps::TrainError;
using px::test_support::TempDir;

namespace {

// A run (2 epochs unless --epochs is given) on the synthetic 3x8x8 data; returns the run directory.
fs::path run(const TempDir& dir, const std::vector<std::string>& flags) {
  TrainConfig c;
  std::string msg;
  const fs::path out = dir.path() / "run";
  std::vector<std::string> all = {"--batch-size", "16", "--threads", "1", "--seed", "5", "--no-progress", "--out",
                                  out.string()};
  if (std::find(flags.begin(), flags.end(), "--epochs") == flags.end()) all.insert(all.end(), {"--epochs", "2"});
  all.insert(all.end(), flags.begin(), flags.end());
  REQUIRE_MESSAGE(parse(all, c, msg) == -1, msg);
  px::apps::TrainHooks hooks;
  hooks.dataset = px::data::DatasetPair{synthetic(64, 1), synthetic(32, 2)};
  std::FILE* null_stream = std::fopen("/dev/null", "w");
  hooks.stream = null_stream;
  (void)px::apps::run_training(c, hooks);
  std::fclose(null_stream);
  return out;
}

std::vector<double> host(const px::Tensor& t) {
  return px::ops::to_dtype(t.contiguous(), px::DType::float64).to_vector<double>();
}

// Plain loops over a Sequential MLP's saved weights "1.weight", "3.weight", ... (Linear layers at
// odd indices): the path norm of the pairs and the sum of squares of every weight.
struct Norms {
  double path = 0, all_sq = 0;
  int active = 0, units = 0;
};
Norms mlp_norms(const px::nn::StateDict& model) {
  std::vector<px::Tensor> weights;
  for (const auto& [name, t] : model)
    if (name.size() > 6 && name.substr(name.size() - 6) == "weight") weights.push_back(t);
  Norms n;
  for (const auto& w : weights)
    for (double x : host(w)) n.all_sq += x * x;
  for (std::size_t g = 0; g + 1 < weights.size(); g += 2) {
    const auto w = host(weights[g]), v = host(weights[g + 1]);
    const std::int64_t units = weights[g].size(0), in = weights[g].size(1), out = weights[g + 1].size(0);
    for (std::int64_t k = 0; k < units; ++k) {
      double sw = 0, sv = 0;
      for (std::int64_t i = 0; i < in; ++i) sw += w[k * in + i] * w[k * in + i];
      for (std::int64_t o = 0; o < out; ++o) sv += v[o * units + k] * v[o * units + k];
      n.path += std::sqrt(sw) * std::sqrt(sv);
      n.active += sw * sv > 0 ? 1 : 0;
      ++n.units;
    }
  }
  return n;
}

}  // namespace

TEST_CASE("train_cifar pathprox flags: defaults lr 0.1, lambda 1e-4, no weight decay, momentum 0, constant lr") {
  TrainConfig c;
  std::string msg;
  REQUIRE(parse({"--optimizer", "pathprox"}, c, msg) == -1);
  CHECK(c.lr == 0.1);
  CHECK(c.lambda == 1e-4);
  CHECK(c.weight_decay == 0);
  CHECK(c.momentum == 0);
  CHECK(c.schedule == "constant");
  CHECK(c.reg == "none");
  TrainConfig given;
  REQUIRE(parse({"--optimizer", "pathprox", "--lr", "0.3", "--lambda", "0.001", "--momentum", "0.5"}, given, msg) == -1);
  CHECK(given.lr == 0.3);
  CHECK(given.lambda == 0.001);
  CHECK(given.momentum == 0.5);
  REQUIRE(parse({"--help"}, c, msg) == 0);
  CHECK(msg.find("pathprox 1e-4") != std::string::npos);
  CHECK(msg.find("mlp-factorized") != std::string::npos);
}

TEST_CASE("train_cifar pathprox: impossible settings exit 2 with one line naming the flag") {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--optimizer", "pathprox", "--reg", "l1"}, "--reg l1"},
      {{"--optimizer", "pathprox", "--weight-decay", "0.01"}, "--weight-decay"},
      {{"--optimizer", "pathprox", "--lambda-schedule", "homotopy"}, "--lambda-schedule"},
      {{"--optimizer", "pathprox", "--lambda", "-1"}, "--lambda"},
  };
  check_flag_errors(cases);
}

TEST_CASE("train_cifar pathprox refuses a model without homogeneous units: exit 2, one line naming it") {
  TempDir dir("px_train_pathprox_refuse");
  for (const char* model : {"resnet20"}) {  // BatchNorm and residual connections
    CAPTURE(model);
    try {
      (void)run(dir, {"--optimizer", "pathprox", "--model", model});
      FAIL("no error");
    } catch (const TrainError& e) {
      const std::string message = e.what();
      CHECK(e.exit_code() == 2);
      CHECK(message.find(model) != std::string::npos);
      CHECK(message.find("homogeneous units") != std::string::npos);
      CHECK(message.find('\n') == std::string::npos);
    }
  }
}

TEST_CASE("train_cifar pathprox: metrics.csv path-norm columns and summary objective match the saved weights") {
  TempDir dir("px_train_pathprox");
  const double lambda = 0.02;
  const fs::path out = run(dir, {"--optimizer", "pathprox", "--model", "mlp:12,10,8", "--lr", "0.3", "--lambda", "0.02"});
  const auto table = px::apps::read_metrics_csv((out / "metrics.csv").string());
  for (const char* column : {"active_units", "path_norm", "wd_objective", "l2_objective", "objective", "lambda"})
    CHECK_MESSAGE(table.has_column(column), column);
  const Norms n = mlp_norms(px::apps::load_checkpoint(out.string()).model);
  const double loss = table.column("train_loss").back();
  CHECK(table.column("lambda").back() == lambda);
  CHECK(table.column("path_norm").back() == doctest::Approx(n.path).epsilon(1e-5));
  CHECK(table.column("active_units").back() == doctest::Approx(100.0 * n.active / n.units));
  CHECK(table.column("wd_objective").back() == doctest::Approx(loss + lambda * n.path).epsilon(1e-6));
  CHECK(table.column("l2_objective").back() == doctest::Approx(loss + 0.5 * lambda * n.all_sq).epsilon(1e-6));
  // mlp:12,10,8 has 4 Linear layers, two groups and no other layer: objective = loss + lambda path norm.
  CHECK(table.column("objective").back() == doctest::Approx(loss + lambda * n.path).epsilon(1e-6));
  const auto summary = px::apps::read_json((out / "summary.json").string());
  CHECK(summary.at("objective").get<double>() == table.column("objective").back());
}

TEST_CASE("train_cifar sgd weight-decay baseline on a model with units logs the same columns, objective = literal loss term") {
  TempDir dir("px_train_pathprox_wd");
  const fs::path out = run(dir, {"--optimizer", "sgd", "--model", "mlp:12,10,8", "--lr", "0.1", "--weight-decay", "0.01"});
  const auto table = px::apps::read_metrics_csv((out / "metrics.csv").string());
  const Norms n = mlp_norms(px::apps::load_checkpoint(out.string()).model);
  const double loss = table.column("train_loss").back();
  CHECK(table.column("lambda").back() == 0.01);
  CHECK(table.column("active_units").back() == 100.0);
  CHECK(table.column("path_norm").back() == doctest::Approx(n.path).epsilon(1e-5));
  CHECK(table.column("wd_objective").back() == doctest::Approx(loss + 0.01 * n.path).epsilon(1e-6));
  CHECK(table.column("objective").back() == doctest::Approx(loss + 0.005 * n.all_sq).epsilon(1e-6));
  // Without weight decay, or on a model without units, there is no path-norm column.
  TempDir other("px_train_pathprox_plain");
  const fs::path plain = run(other, {"--optimizer", "sgd", "--model", "mlp:12", "--weight-decay", "0"});
  CHECK_FALSE(px::apps::read_metrics_csv((plain / "metrics.csv").string()).has_column("path_norm"));
}

TEST_CASE("train_cifar sgd baseline on a model with units decays weights only, not biases") {
  // One step (16 images, batch 16) from the same initial weights, with and without decay: the
  // gradients are equal, so the weights differ by lr * wd * w and the biases not at all.
  TempDir a("px_train_pathprox_bias_a"), b("px_train_pathprox_bias_b");
  const fs::path with = run(a, {"--optimizer", "sgd", "--model", "mlp:12,10,8", "--lr", "0.1", "--weight-decay", "0.5",
                                "--momentum", "0", "--epochs", "1", "--train-subset", "16"});
  const fs::path without = run(b, {"--optimizer", "sgd", "--model", "mlp:12,10,8", "--lr", "0.1", "--weight-decay", "0",
                                   "--momentum", "0", "--epochs", "1", "--train-subset", "16"});
  const auto mw = px::apps::load_checkpoint(with.string()).model, mo = px::apps::load_checkpoint(without.string()).model;
  REQUIRE(mw.size() == mo.size());
  for (std::size_t i = 0; i < mw.size(); ++i) {
    CAPTURE(mw[i].first);
    const auto x = host(mw[i].second), y = host(mo[i].second);
    double diff = 0;
    for (std::size_t j = 0; j < x.size(); ++j) diff = std::max(diff, std::abs(x[j] - y[j]));
    if (mw[i].second.dim() == 1) {
      CHECK(diff == 0.0);
    } else {
      CHECK(diff > 0.0);
    }
  }
}
