// Kill-and-resume check shared by the train_cifar tests: a run killed at epoch 3, batch 2 and resumed
// must end with the same model as the uninterrupted run.
#pragma once

#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "common/config.h"
#include "common/metrics.h"
#include "common/run_dir.h"
#include "common/trainer.h"

namespace px::test_support {

// full_config(dir) and part_config(dir) give the same run with different --out; hooks(stream) the
// data and output stream. Runs both (the second killed and resumed), checks every model tensor is
// identical, and returns the two metrics tables (full, part) for further column checks.
inline std::pair<px::apps::MetricsTable, px::apps::MetricsTable> check_killed_run_resumes(
    const std::function<px::apps::TrainConfig(const std::filesystem::path&)>& config_for,
    const std::function<px::apps::TrainHooks(std::FILE*)>& hooks, const std::filesystem::path& dir) {
  std::FILE* null_stream = std::fopen("/dev/null", "w");
  (void)px::apps::run_training(config_for(dir / "full"), hooks(null_stream));
  px::apps::TrainHooks killing = hooks(null_stream);
  killing.after_batch = [](std::int64_t epoch, std::int64_t batch, px::nn::Module&) {
    if (epoch == 3 && batch == 2) throw std::runtime_error("killed");
  };
  CHECK_THROWS_AS(px::apps::run_training(config_for(dir / "part"), killing), std::runtime_error);
  px::apps::TrainConfig resume;
  std::string msg;
  const std::vector<std::string> args = {"train_cifar", "--resume", (dir / "part").string(), "--no-progress"};
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  REQUIRE(px::apps::parse_train_args(static_cast<int>(argv.size()), argv.data(), resume, msg) == -1);
  (void)px::apps::run_training(resume, hooks(null_stream));
  std::fclose(null_stream);
  const auto a = px::apps::load_checkpoint((dir / "full").string());
  const auto b = px::apps::load_checkpoint((dir / "part").string());
  REQUIRE(a.model.size() == b.model.size());
  for (std::size_t i = 0; i < a.model.size(); ++i) {
    CAPTURE(a.model[i].first);
    CHECK(a.model[i].second.to_vector<float>() == b.model[i].second.to_vector<float>());
  }
  return {px::apps::read_metrics_csv((dir / "full" / "metrics.csv").string()),
          px::apps::read_metrics_csv((dir / "part" / "metrics.csv").string())};
}

}  // namespace px::test_support
