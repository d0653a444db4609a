// train_cifar and devices: --device cuda without a usable GPU (one-line error, exit 2, nothing
// written), --tf32, and the device-side epoch sums against a plain host loop.
#include "apps/synthetic_data.h"
#include "temp_dir.h"
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/epoch_sums.h"
#include "common/run_dir.h"
#include "common/trainer.h"
#include "proxima/autograd/functions.h"
#include "proxima/core/backend.h"
#include "proxima/core/factory.h"
#include "proxima/core/ops.h"
#include "proxima/cuda/cuda.h"

namespace fs = std::filesystem;
using px::apps::TrainConfig;
using px::apps::TrainError;
using px::test_support::TempDir;

TEST_CASE("train_cifar: --device cuda without a usable GPU is exit 2 with one line, nothing written") {
  if (px::cuda_available()) {
    MESSAGE("a CUDA device is present: the no-GPU error cannot happen here (tests/cuda covers CUDA runs)");
    return;
  }
  TempDir tmp("px_device");
  std::FILE* quiet = std::tmpfile();
  for (const std::string device : {"cuda", "cuda:0", "cuda:3"}) {
    CAPTURE(device);
    TrainConfig c;
    std::string msg;
    const fs::path out = tmp.path() / ("run-" + device);
    REQUIRE(parse({"--device", device, "--model", "mlp:8", "--epochs", "1", "--out", out.string(), "--no-progress"},
                  c, msg) == -1);
    try {
      (void)px::apps::run_training(c, hooks(quiet));
      FAIL("no TrainError");
    } catch (const TrainError& e) {
      const std::string what = e.what();
      CHECK(e.exit_code() == 2);
      CHECK(what.rfind("--device " + device + ": ", 0) == 0);  // names the device ...
      // With CUDA built in, the message names the resolved device (cuda means cuda:0).
      const std::string full = device == "cuda" ? "cuda:0" : device;
      if (what.find("built without CUDA") == std::string::npos) CHECK(what.find(full) != std::string::npos);
      // ... and why: a build without CUDA, or no (such) device
      CHECK((what.find("built without CUDA") != std::string::npos ||
             what.find("no CUDA device is available") != std::string::npos));
      CHECK(what.find('\n') == std::string::npos);
    }
    CHECK_FALSE(fs::exists(out));
  }
  // Nothing was printed before the error either (the data is not even loaded).
  std::fseek(quiet, 0, SEEK_END);
  CHECK(std::ftell(quiet) == 0);
  std::fclose(quiet);
}

TEST_CASE("train_cifar: --tf32 on|off and --deterministic are parsed, applied and recorded in run.json") {
  TrainConfig c;
  std::string msg;
  REQUIRE(parse({}, c, msg) == -1);
  CHECK(c.tf32 == "on");  // PyTorch's cuDNN default
  CHECK_FALSE(c.deterministic);
  check_flag_errors({{{"--tf32", "maybe"}, "--tf32"}, {{"--tf32", "1"}, "--tf32"}});

  TempDir tmp("px_tf32");
  std::FILE* quiet = std::tmpfile();
  const bool before = px::cuda::allow_tf32();
  const bool deterministic_before = px::cuda::deterministic_algorithms();
  REQUIRE(parse({"--tf32", "off", "--deterministic", "--model", "mlp:8", "--epochs", "1", "--batch-size", "32",
                 "--out", (tmp.path() / "run").string(), "--no-progress"},
                c, msg) == -1);
  CHECK(c.tf32 == "off");
  CHECK(c.deterministic);
  (void)px::apps::run_training(c, hooks(quiet));
  CHECK_FALSE(px::cuda::allow_tf32());
  CHECK(px::cuda::deterministic_algorithms());
  px::cuda::set_allow_tf32(before);
  px::cuda::set_deterministic_algorithms(deterministic_before);
  const nlohmann::json run = px::apps::read_json((tmp.path() / "run" / "run.json").string());
  CHECK(run.at("config").at("tf32") == "off");
  CHECK(run.at("config").at("deterministic") == true);
  CHECK(px::apps::config_from_json(run.at("config")).tf32 == "off");
  CHECK(px::apps::config_from_json(run.at("config")).deterministic);
  std::fclose(quiet);
}

TEST_CASE("EpochSums: the same bits as a host double sum of loss.item() * n, exact correct counts") {
  px::Generator gen(11);
  for (const std::int64_t classes : {2, 5, 10}) {
    CAPTURE(classes);
    px::apps::EpochSums sums(px::Device::cpu());
    double loss_sum = 0;
    std::int64_t correct = 0, seen = 0;
    for (const std::int64_t n : {1, 7, 16, 3}) {
      const px::Tensor logits = px::randn({n, classes}, {}, &gen);
      const px::Tensor y = px::randint(0, classes, {n}, {.dtype = px::DType::int64}, &gen);
      const px::Tensor loss = px::cross_entropy(logits, y);
      sums.add(loss, n, logits, y);
      // The reference: the host loop train_epoch used before the sums moved to the device.
      loss_sum += loss.item() * static_cast<double>(n);
      const std::vector<float> l = logits.to_vector<float>();
      const std::vector<std::int64_t> labels = y.to_vector<std::int64_t>();
      for (std::int64_t i = 0; i < n; ++i) {
        std::int64_t best = 0;
        for (std::int64_t k = 1; k < classes; ++k)
          if (l[i * classes + k] > l[i * classes + best]) best = k;
        correct += best == labels[i];
      }
      seen += n;
      const px::apps::EpochSums::Values v = sums.read();
      CHECK(v.loss_sum == loss_sum);  // bit-identical, not merely close
      CHECK(v.correct == correct);
      CHECK(v.seen == seen);
      CHECK(v.mean_loss() == loss_sum / static_cast<double>(seen));
    }
  }
  px::apps::EpochSums nan_sums(px::Device::cpu());
  const px::Tensor logits = px::zeros({2, 3});
  nan_sums.add(px::full({}, std::nan("")), 2, logits, px::zeros({2}, {.dtype = px::DType::int64}));
  CHECK(std::isnan(nan_sums.read().loss_sum));
}
