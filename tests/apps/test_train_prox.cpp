// train_cifar with the proximal methods: flags and their defaults, the regularisation columns of
// metrics.csv, layers.csv, thresholds.csv, summary.json, ProxQuant's homotopy and freeze, resume.
#include "apps/resume_check.h"
#include "apps/synthetic_data.h"
#include "temp_dir.h"
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/metrics.h"
#include "common/run_dir.h"
#include "common/text_file.h"
#include "common/trainer.h"
#include "proxima/core/factory.h"

namespace fs = std::filesystem;
using px::apps::TrainConfig;
using px::apps::TrainError;
using px::apps::TrainHooks;
using px::test_support::TempDir;

namespace {

TrainConfig from_flags(const std::vector<std::string>& flags, const fs::path& out) {
  TrainConfig c;
  std::string msg;
  std::vector<std::string> all = {"--model", "mlp:12", "--batch-size", "16", "--threads", "1", "--seed", "3",
                                  "--no-progress", "--out", out.string()};
  all.insert(all.end(), flags.begin(), flags.end());
  REQUIRE_MESSAGE(parse(all, c, msg) == -1, msg);
  return c;
}

double column_last(const px::apps::MetricsTable& t, const std::string& name) { return t.column(name).back(); }

}  // namespace

TEST_CASE("train_cifar flags: proximal defaults for lr, weight decay, reg, lambda and lambda schedule") {
  TrainConfig c;
  std::string msg;
  REQUIRE(parse({"--optimizer", "proxgen"}, c, msg) == -1);
  CHECK(c.lr == 1e-3);
  CHECK(c.weight_decay == 0);
  CHECK(c.reg == "l1");
  CHECK(c.lambda == px::apps::default_lambda("l1", "proxgen"));
  CHECK(c.lambda_schedule == "constant");
  TrainConfig q;
  REQUIRE(parse({"--optimizer", "proxquant"}, q, msg) == -1);
  CHECK(q.reg == "bin-l1");
  CHECK(q.lambda_schedule == "homotopy");
  CHECK(q.lr == 0.01);
  TrainConfig l0;
  REQUIRE(parse({"--optimizer", "proxgen", "--reg", "l0", "--lr", "0.002", "--weight-decay", "0.01"}, l0, msg) == -1);
  CHECK(l0.lambda == px::apps::default_lambda("l0", "proxgen"));
  CHECK(l0.lambda != c.lambda);
  CHECK(l0.lr == 0.002);
  CHECK(l0.weight_decay == 0.01);
  TrainConfig sgd;
  REQUIRE(parse({}, sgd, msg) == -1);
  CHECK(sgd.reg == "none");
  CHECK(sgd.lambda == 0);
  CHECK(sgd.weight_decay == 5e-4);
}

TEST_CASE("train_cifar flags: momentum, clip, lambda schedule and lr schedule defaults by method") {
  std::string msg;
  const auto parsed = [&](const std::vector<std::string>& flags) {
    TrainConfig c;
    REQUIRE_MESSAGE(parse(flags, c, msg) == -1, msg);
    return c;
  };
  // ProxGen-AdaGrad and -RMSprop (docs/proximal.md) and PyTorch's RMSprop have no momentum.
  CHECK(parsed({"--optimizer", "proxgen", "--precond", "adagrad"}).momentum == 0);
  CHECK(parsed({"--optimizer", "proxgen", "--precond", "rmsprop"}).momentum == 0);
  CHECK(parsed({"--optimizer", "rmsprop"}).momentum == 0);
  CHECK(parsed({"--optimizer", "proxgen", "--precond", "adagrad", "--momentum", "0.5"}).momentum == 0.5);
  CHECK(parsed({"--optimizer", "proxgen"}).momentum == 0.9);
  CHECK(parsed({"--optimizer", "proxgen", "--precond", "none"}).momentum == 0.9);
  CHECK(parsed({}).momentum == 0.9);
  // Revised ProxQuant keeps ProxQuant's homotopy and clip; the other proxgen runs neither.
  const TrainConfig revised = parsed({"--optimizer", "proxgen", "--reg", "bin-l12"});
  CHECK(revised.lambda_schedule == "homotopy");
  CHECK(revised.clip == 1.0);
  CHECK(revised.lr == 0.01);
  const TrainConfig l1 = parsed({"--optimizer", "proxgen", "--reg", "l1"});
  CHECK(l1.lambda_schedule == "constant");
  CHECK(l1.clip == 0.0);
  CHECK(l1.lr == 1e-3);
  CHECK(parsed({"--optimizer", "proxquant"}).clip == 1.0);
  CHECK(parsed({"--optimizer", "proxsgd", "--clip", "2"}).clip == 2.0);
  CHECK(parsed({"--optimizer", "proxgen", "--reg", "bin-l1", "--clip", "0"}).clip == 0.0);
  // BinaryConnect: the ProxQuant code's Adam regime, x0.1 at epochs 81 and 122.
  const TrainConfig bc = parsed({"--optimizer", "binaryconnect"});
  CHECK(bc.schedule == "multistep");
  CHECK(bc.milestones == std::vector<double>{81, 122});
  CHECK(bc.lambda_schedule == "constant");
  CHECK(parsed({"--optimizer", "binaryconnect", "--milestones", "5"}).milestones == std::vector<double>{5});
  CHECK(parsed({"--optimizer", "binaryconnect", "--schedule", "cosine"}).schedule == "cosine");
  // --ties and --binary-zero reach the regulariser (group options; run.json keeps them).
  const TrainConfig ties = parsed({"--optimizer", "proxgen", "--reg", "bin-l0", "--ties", "keep", "--binary-zero",
                                   "keep-zero"});
  const TrainConfig back = px::apps::config_from_json(px::apps::config_to_json(ties));
  CHECK(back.ties == "keep");
  CHECK(back.binary_zero == "keep-zero");
  CHECK(back.clip == 1.0);
}

TEST_CASE("train_cifar: --ties keep and --binary-zero keep-zero train and freeze to the binary points") {
  TempDir dir("px_train_ties");
  std::FILE* null_stream = std::fopen("/dev/null", "w");
  const fs::path out = dir.path() / "run";
  const TrainConfig c = from_flags({"--optimizer", "proxgen", "--reg", "bin-l12", "--binary-zero", "keep-zero",
                                    "--ties", "keep", "--lambda", "0.01", "--epochs", "2", "--freeze-epoch", "1"},
                                   out);
  (void)px::apps::run_training(c, hooks(null_stream));
  const TrainConfig l0 = from_flags({"--optimizer", "proxgen", "--reg", "l0", "--ties", "keep", "--epochs", "1"},
                                    dir.path() / "l0");
  (void)px::apps::run_training(l0, hooks(null_stream));
  std::fclose(null_stream);
  const auto ck = px::apps::load_checkpoint(out.string());
  std::int64_t binary = 0, total = 0;
  for (const auto& [name, t] : ck.model) {
    if (t.dim() != 2) continue;
    for (float x : t.to_vector<float>()) {
      CHECK((x == 0.0f || std::abs(x) == 1.0f));
      binary += std::abs(x) == 1.0f;
      ++total;
    }
  }
  CHECK(binary > total / 2);
}

TEST_CASE("train_cifar flags: impossible regularisation settings exit 2 naming the flag") {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--reg", "l1"}, "--reg l1"},
      {{"--optimizer", "proxgen", "--reg", "l7"}, "--reg l7"},
      {{"--optimizer", "proxquant", "--reg", "l1"}, "binary regulariser"},
      {{"--optimizer", "subgrad-adam", "--reg", "l0"}, "no subgradient"},
      {{"--optimizer", "proxgen", "--reg", "l1", "--freeze-epoch", "2"}, "--freeze-epoch"},
      {{"--optimizer", "proxsgd", "--precond", "adagrad"}, "--precond"},
      {{"--optimizer", "proxgen", "--lambda", "-1"}, "--lambda"},
      {{"--optimizer", "proxgen", "--lambda-schedule", "sometimes"}, "--lambda-schedule"},
      {{"--optimizer", "proxgen", "--reg", "scad", "--scad-a", "1.5"}, "--scad-a"},
      {{"--optimizer", "adam", "--lambda", "0.1"}, "--lambda"},
      {{"--optimizer", "adam", "--clip", "1"}, "--clip"},
      {{"--optimizer", "proxquant", "--clip", "0"}, "always clips"},
      {{"--optimizer", "proxgen", "--clip", "-1"}, "--clip"},
      {{"--optimizer", "proxgen", "--reg", "l1", "--ties", "keep"}, "--ties"},
      {{"--optimizer", "proxgen", "--reg", "l0", "--binary-zero", "keep-zero"}, "--binary-zero"},
      {{"--optimizer", "proxgen", "--ties", "sometimes"}, "--ties"},
  };
  check_flag_errors(cases);
}

TEST_CASE("train_cifar proxgen: regularisation columns, layers.csv, thresholds.csv, summary and plots agree") {
  TempDir dir("px_train_prox");
  std::FILE* null_stream = std::fopen("/dev/null", "w");
  const fs::path out = dir.path() / "run";
  const TrainConfig c = from_flags({"--optimizer", "proxgen", "--reg", "l1", "--lambda", "0.05", "--epochs", "2"}, out);
  const auto result = px::apps::run_training(c, hooks(null_stream));
  std::fclose(null_stream);
  REQUIRE(result.metrics.size() == 2);

  const auto table = px::apps::read_metrics_csv((out / "metrics.csv").string());
  for (const char* col : {"lambda", "reg_value", "penalty", "objective", "sparsity", "sparsity_abs_lt_1e-3",
                          "sparsity_abs_lt_1e-2", "sparsity_all"}) {
    CAPTURE(col);
    CHECK(table.has_column(col));
  }
  CHECK(column_last(table, "lambda") == 0.05);
  CHECK(column_last(table, "penalty") == doctest::Approx(0.05 * column_last(table, "reg_value")));
  CHECK(column_last(table, "objective") ==
        doctest::Approx(column_last(table, "train_loss") + column_last(table, "penalty")));

  // Recount from the final checkpoint: exact zeros over fc weights, l1 value, all parameters.
  const auto ck = px::apps::load_checkpoint(out.string());
  std::int64_t zeros = 0, numel = 0, all_zeros = 0, all_numel = 0;
  double l1 = 0;
  for (const auto& [name, t] : ck.model) {
    const std::vector<float> v = t.to_vector<float>();
    const bool weight = t.dim() == 2;
    for (float x : v) {
      all_zeros += x == 0.0f;
      ++all_numel;
      if (!weight) continue;
      zeros += x == 0.0f;
      ++numel;
      l1 += std::abs(x);
    }
  }
  CHECK(zeros > 0);
  CHECK(column_last(table, "sparsity") == doctest::Approx(static_cast<double>(zeros) / static_cast<double>(numel)));
  CHECK(column_last(table, "sparsity_all") ==
        doctest::Approx(static_cast<double>(all_zeros) / static_cast<double>(all_numel)));
  CHECK(column_last(table, "reg_value") == doctest::Approx(l1).epsilon(1e-5));

  const auto summary = px::apps::read_json((out / "summary.json").string());
  CHECK(summary.at("sparsity").get<double>() == column_last(table, "sparsity"));
  CHECK(summary.at("sparsity_all").get<double>() == column_last(table, "sparsity_all"));
  CHECK(summary.at("objective").get<double>() == column_last(table, "objective"));

  // layers.csv: a header and one row per parameter per epoch; thresholds.csv: one row per epoch.
  std::istringstream layers(px::apps::read_text_file((out / "layers.csv").string()));
  std::string line;
  std::getline(layers, line);
  CHECK(line.rfind("epoch,name,shape", 0) == 0);
  int rows = 0;
  while (std::getline(layers, line)) rows += !line.empty();
  CHECK(rows == 2 * static_cast<int>(ck.model.size()));
  std::istringstream thresholds(px::apps::read_text_file((out / "thresholds.csv").string()));
  std::getline(thresholds, line);
  CHECK(line.rfind("epoch,count,min,mean,max", 0) == 0);
  int t_rows = 0;
  while (std::getline(thresholds, line)) t_rows += !line.empty();
  CHECK(t_rows == 2);
  CHECK(fs::exists(out / "plots" / "sparsity.svg"));
  CHECK(fs::exists(out / "plots" / "objective.svg"));
}

TEST_CASE("train_cifar proxquant: homotopy lambda, freeze at the signs, hard-binarised accuracy") {
  TempDir dir("px_train_pq");
  std::FILE* null_stream = std::fopen("/dev/null", "w");
  const fs::path out = dir.path() / "run";
  const TrainConfig c =
      from_flags({"--optimizer", "proxquant", "--lambda", "0.01", "--epochs", "3", "--freeze-epoch", "2"}, out);
  (void)px::apps::run_training(c, hooks(null_stream));
  std::fclose(null_stream);
  const auto table = px::apps::read_metrics_csv((out / "metrics.csv").string());
  const auto lambda = table.column("lambda");
  CHECK(lambda == std::vector<double>{0.0, 0.01, 0.02});  // lambda_e = rate * e, e = 0, 1, 2
  REQUIRE(table.has_column("binarized_test_acc"));
  CHECK(table.column("binary_fraction").back() == 1.0);  // frozen at the signs after epoch 2
  const auto ck = px::apps::load_checkpoint(out.string());
  for (const auto& [name, t] : ck.model) {
    if (t.dim() != 2) continue;
    for (float x : t.to_vector<float>()) CHECK(std::abs(x) == 1.0f);
  }
  // Frozen: the binarised accuracy is the test accuracy.
  CHECK(table.column("binarized_test_acc").back() == table.column("test_acc").back());
}

TEST_CASE("train_cifar proxgen: a resumed run equals the uninterrupted one") {
  TempDir dir("px_train_prox_resume");
  const std::vector<std::string> flags = {"--optimizer", "proxgen", "--reg", "l12", "--lambda", "0.01",
                                          "--lambda-schedule", "warmup:1.5", "--epochs", "3"};
  const auto [ta, tb] = px::test_support::check_killed_run_resumes(
      [&](const fs::path& out) { return from_flags(flags, out); }, hooks, dir.path());
  CHECK(ta.column("sparsity") == tb.column("sparsity"));
  CHECK(ta.column("lambda") == tb.column("lambda"));
}

TEST_CASE("train_cifar: --warm-start errors name the flag, and a warm start loads the weights") {
  TempDir dir("px_train_warm");
  std::FILE* null_stream = std::fopen("/dev/null", "w");
  TrainConfig bad = from_flags({"--optimizer", "proxquant", "--warm-start", (dir.path() / "nope").string()},
                               dir.path() / "bad");
  try {
    (void)px::apps::run_training(bad, hooks(null_stream));
    FAIL("expected TrainError");
  } catch (const TrainError& e) {
    CHECK(e.exit_code() == 2);
    CHECK(std::string(e.what()).find("--warm-start") != std::string::npos);
  }
  (void)px::apps::run_training(from_flags({"--epochs", "1"}, dir.path() / "dense"), hooks(null_stream));
  // lr 1e-12: the warm-started model is evaluated unchanged, so its test loss is the dense run's.
  TrainConfig warm = from_flags({"--optimizer", "proxgen", "--reg", "l1", "--lambda", "0", "--lr", "1e-12", "--epochs",
                                 "1", "--warm-start", (dir.path() / "dense").string()},
                                dir.path() / "warm");
  (void)px::apps::run_training(warm, hooks(null_stream));
  std::fclose(null_stream);
  const auto dense = px::apps::read_metrics_csv((dir.path() / "dense" / "metrics.csv").string());
  const auto started = px::apps::read_metrics_csv((dir.path() / "warm" / "metrics.csv").string());
  CHECK(started.column("test_loss").back() == doctest::Approx(dense.column("test_loss").back()).epsilon(1e-6));
}
