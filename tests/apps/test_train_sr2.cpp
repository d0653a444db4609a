// train_cifar --optimizer sr2: flags and their errors, the SR2 columns of metrics.csv and
// summary.json, BatchNorm counted once per step, and an exact resume.
#include "apps/resume_check.h"
#include "apps/synthetic_data.h"
#include "temp_dir.h"
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/metrics.h"
#include "common/run_dir.h"
#include "common/text_file.h"
#include "common/trainer.h"

namespace fs = std::filesystem;
using px::apps::TrainConfig;
using px::apps::TrainHooks;
using px::test_support::TempDir;

namespace {

TrainConfig from_flags(const std::vector<std::string>& flags, const fs::path& out,
                       const std::string& model = "mlp:12") {
  TrainConfig c;
  std::string msg;
  std::vector<std::string> all = {"--model", model, "--batch-size", "16", "--threads", "1", "--seed", "3",
                                  "--no-progress", "--out", out.string(), "--optimizer", "sr2"};
  all.insert(all.end(), flags.begin(), flags.end());
  REQUIRE_MESSAGE(parse(all, c, msg) == -1, msg);
  return c;
}

}  // namespace

TEST_CASE("train_cifar sr2 flags: defaults (l1, the lambda table, no weight decay, power-iteration sigma0)") {
  TrainConfig c;
  std::string msg;
  REQUIRE(parse({"--optimizer", "sr2"}, c, msg) == -1);
  CHECK(c.reg == "l1");
  CHECK(c.lambda == doctest::Approx(1e-4));
  CHECK(c.lambda == px::apps::default_lambda("l1", "proxgen"));
  CHECK(c.weight_decay == 0);
  CHECK(c.sigma0 == 0);
  CHECK(c.sr2_precond == "none");
  TrainConfig l0;
  REQUIRE(parse({"--optimizer", "sr2", "--reg", "l0", "--sigma0", "5", "--sr2-precond", "andrei", "--sr2-eta2", "0.9"},
                l0, msg) == -1);
  CHECK(l0.lambda == doctest::Approx(3e-4));
  CHECK(l0.sigma0 == 5);
  CHECK(l0.sr2_eta2 == 0.9);
  const nlohmann::json j = px::apps::config_to_json(l0);
  const TrainConfig back = px::apps::config_from_json(j);
  CHECK(back.sigma0 == 5);
  CHECK(back.sr2_precond == "andrei");
  CHECK(back.sr2_eta2 == 0.9);
}

TEST_CASE("train_cifar sr2 flags: impossible settings exit 2 with one line naming the flag") {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--optimizer", "sr2", "--lr", "0.1"}, "--lr"},
      {{"--optimizer", "sr2", "--weight-decay", "0.01"}, "--weight-decay"},
      {{"--optimizer", "sr2", "--reg", "group"}, "--reg group"},
      {{"--optimizer", "sr2", "--sigma0", "-1"}, "--sigma0"},
      {{"--optimizer", "sr2", "--sr2-gamma1", "1"}, "--sr2-gamma1"},
      {{"--optimizer", "sr2", "--sr2-eta1", "0"}, "--sr2-eta1"},
      {{"--optimizer", "sr2", "--sr2-eta1", "0.5", "--sr2-eta2", "0.4"}, "--sr2-eta2"},
      {{"--optimizer", "sr2", "--sr2-gamma3", "1.5"}, "--sr2-gamma3"},
      {{"--optimizer", "sr2", "--sr2-precond", "lbfgs"}, "--sr2-precond"},
      {{"--optimizer", "adam", "--sigma0", "3"}, "--sigma0"},
      {{"--optimizer", "proxgen", "--sr2-precond", "andrei"}, "--sr2-precond"},
  };
  check_flag_errors(cases);
}

TEST_CASE("train_cifar sr2: metrics.csv has sigma, accepted, rejected, xi, stationarity, restarts, summary has objective") {
  TempDir dir("px_train_sr2_columns");
  std::FILE* null_stream = std::fopen("/dev/null", "w");
  for (const std::string reg : {"l1", "l0"}) {
    CAPTURE(reg);
    const fs::path out = dir.path() / reg;
    const auto r = px::apps::run_training(from_flags({"--reg", reg, "--epochs", "2"}, out), hooks(null_stream));
    REQUIRE(r.metrics.size() == 2);
    const auto t = px::apps::read_metrics_csv((out / "metrics.csv").string());
    for (const char* col : {"sigma", "accepted", "rejected", "xi", "stationarity", "sigma_max_hits", "restarts",
                            "objective", "sparsity", "penalty"})
      CHECK_MESSAGE(t.has_column(col), col);
    const auto acc = t.column("accepted"), rej = t.column("rejected"), sigma = t.column("sigma"), lr = t.column("lr");
    for (std::size_t e = 0; e < 2; ++e) {
      CHECK(acc[e] + rej[e] == 4);  // 64 images, batch 16: every step counted once
      CHECK(sigma[e] > 0);
      CHECK(lr[e] == doctest::Approx(1 / sigma[e]));
      CHECK(t.column("xi")[e] >= 0);
      CHECK(std::isfinite(t.column("stationarity")[e]));
      CHECK(t.column("restarts")[e] >= 0);
      CHECK(t.column("restarts")[e] <= 4);
      CHECK(t.column("sigma_max_hits")[e] <= rej[e]);
      CHECK(sigma[e] <= 1e12);
    }
    const auto summary = nlohmann::json::parse(px::apps::read_text_file((out / "summary.json").string()));
    CHECK(summary.at("objective").get<double>() == doctest::Approx(t.column("objective").back()));
  }
  std::fclose(null_stream);
}

TEST_CASE("train_cifar sr2 on a BatchNorm model: running statistics advance once per step") {
  TempDir dir("px_train_sr2_bn");
  std::FILE* null_stream = std::fopen("/dev/null", "w");
  for (const std::string precond : {"none", "andrei"}) {
    CAPTURE(precond);
    const fs::path out = dir.path() / precond;
    (void)px::apps::run_training(
        from_flags({"--epochs", "1", "--sr2-precond", precond}, out, "resnet20"), hooks(null_stream));
    const auto ck = px::apps::load_checkpoint(out.string());
    int bns = 0;
    for (const auto& [name, t] : ck.model) {
      if (name.find("num_batches_tracked") == std::string::npos) continue;
      ++bns;
      CAPTURE(name);
      CHECK(t.item() == 4);  // 4 steps; the power iteration and the trial evaluations do not count
    }
    CHECK(bns > 0);
  }
  std::fclose(null_stream);
}

TEST_CASE("train_cifar sr2: a resumed run equals the uninterrupted one (sigma and B in the optimizer state)") {
  TempDir dir("px_train_sr2_resume");
  const std::vector<std::string> flags = {"--reg", "l0", "--sr2-precond", "andrei", "--epochs", "3"};
  const auto [ta, tb] = px::test_support::check_killed_run_resumes(
      [&](const fs::path& out) { return from_flags(flags, out); }, hooks, dir.path());
  CHECK(ta.column("sigma") == tb.column("sigma"));
  CHECK(ta.column("accepted") == tb.column("accepted"));
  CHECK(ta.column("rejected") == tb.column("rejected"));
}
