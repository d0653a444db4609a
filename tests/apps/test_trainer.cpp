// run_training on a tiny in-memory dataset: exact resume after a kill, NaN handling, bad data.
#include "apps/synthetic_data.h"
#include "temp_dir.h"
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/run_dir.h"
#include "common/trainer.h"
#include "proxima/core/factory.h"
#include "proxima/core/ops.h"
#include "proxima/nn/safetensors.h"

namespace fs = std::filesystem;
using px::apps::TrainConfig;
using px::apps::TrainError;
using px::apps::TrainHooks;

namespace {

TrainHooks synthetic_hooks(std::FILE* stream) {
  TrainHooks hooks;
  hooks.dataset = px::data::DatasetPair{synthetic(96, 1), synthetic(40, 2)};
  hooks.stream = stream;
  return hooks;
}

TrainConfig tiny_config(const fs::path& out) {
  TrainConfig c;
  c.model = "mlp:16";
  c.epochs = 2;
  c.batch_size = 16;
  c.lr = 0.1;
  c.warmup_epochs = 0.5;
  c.augment = "standard";
  c.threads = 1;
  c.seed = 7;
  c.out = out.string();
  c.progress = false;
  return c;
}

using px::test_support::TempDir;

struct Killed : std::runtime_error {
  Killed() : std::runtime_error("killed") {}
};

std::vector<std::uint8_t> bytes_of(const px::Tensor& t) {
  const px::Tensor c = t.contiguous();
  const auto* p = static_cast<const std::uint8_t*>(c.data_ptr());
  return std::vector<std::uint8_t>(p, p + c.numel() * static_cast<std::int64_t>(px::dtype_size(c.dtype())));
}

// Runs c, which must end in a TrainError with this exit code and a one-line message containing
// every needle.
void check_train_error(const TrainConfig& c, const TrainHooks& hooks, int code,
                       const std::vector<std::string>& needles) {
  try {
    px::apps::run_training(c, hooks);
    FAIL("no TrainError");
  } catch (const TrainError& e) {
    CHECK(e.exit_code() == code);
    const std::string msg = e.what();
    for (const std::string& needle : needles) {
      CAPTURE(needle);
      CHECK(msg.find(needle) != std::string::npos);
    }
    CHECK(msg.find('\n') == std::string::npos);
  }
}

void check_same_tensors(const px::nn::StateDict& a, const px::nn::StateDict& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CAPTURE(a[i].first);
    CHECK(a[i].first == b[i].first);
    CHECK(a[i].second.shape() == b[i].second.shape());
    CHECK(bytes_of(a[i].second) == bytes_of(b[i].second));
  }
}

}  // namespace

// Trains `model` for 2 epochs; trains it again but "kills" it at batch 3 of epoch 2, resumes
// from the epoch-1 checkpoint, and compares the two runs.
void check_kill_and_resume(const std::string& model) {
  CAPTURE(model);
  TempDir tmp("px_trainer_resume");
  std::FILE* quiet = std::tmpfile();
  const TrainHooks hooks = synthetic_hooks(quiet);
  TrainConfig config = tiny_config(tmp.path() / "full");
  config.model = model;

  const auto full = px::apps::run_training(config, hooks);
  REQUIRE(full.metrics.size() == 2);

  TrainHooks killing = hooks;
  killing.after_batch = [](std::int64_t epoch, std::int64_t batch, px::nn::Module&) {
    if (epoch == 2 && batch == 3) throw Killed();
  };
  config.out = (tmp.path() / "killed").string();
  CHECK_THROWS_AS(px::apps::run_training(config, killing), Killed);
  const auto after_kill = px::apps::load_checkpoint((tmp.path() / "killed").string());
  CHECK(after_kill.epoch == 1);

  TrainConfig resume;
  resume.resume = (tmp.path() / "killed").string();
  resume.explicit_flags = {"--resume"};
  resume.progress = false;
  const auto resumed = px::apps::run_training(resume, hooks);
  REQUIRE(resumed.metrics.size() == 2);
  CHECK(resumed.run_dir == fs::absolute(tmp.path() / "killed").string());
  for (std::size_t e = 0; e < 2; ++e) {
    CAPTURE(e);
    const auto& a = full.metrics[e];
    const auto& b = resumed.metrics[e];
    CHECK(a.epoch == b.epoch);
    CHECK(a.lr == b.lr);
    CHECK(a.train_loss == b.train_loss);
    CHECK(a.train_acc == b.train_acc);
    CHECK(a.test_loss == b.test_loss);
    CHECK(a.test_acc == b.test_acc);
  }
  CHECK(full.metrics[1].train_loss < full.metrics[0].train_loss * 1.5);  // it trains, not diverges
  const auto ck_full = px::apps::load_checkpoint((tmp.path() / "full").string());
  const auto ck_resumed = px::apps::load_checkpoint((tmp.path() / "killed").string());
  CHECK(ck_full.epoch == 2);
  CHECK(ck_resumed.epoch == 2);
  check_same_tensors(ck_full.model, ck_resumed.model);
  check_same_tensors(ck_full.optimizer, ck_resumed.optimizer);
  CHECK(ck_full.generators == ck_resumed.generators);
  // Only the newest checkpoint's tensor files remain.
  int files = 0;
  for (const auto& entry : fs::directory_iterator(tmp.path() / "killed" / "checkpoints")) files += entry.is_regular_file();
  CHECK(files == 3);
  for (const char* name : {"run.json", "metrics.csv", "summary.json"}) CHECK(fs::exists(tmp.path() / "killed" / name));
  const auto summary = px::apps::read_json((tmp.path() / "killed" / "summary.json").string());
  CHECK(summary.at("status") == "done");
  CHECK(summary.at("epochs") == 2);
  CHECK(summary.at("final_test_acc").get<double>() == full.metrics[1].test_acc);
  std::fclose(quiet);
}

TEST_CASE("run_training: a NaN loss stops with exit code 3, naming epoch and batch, keeping the checkpoint") {
  TempDir tmp("px_trainer_nan");
  std::FILE* quiet = std::tmpfile();
  TrainHooks hooks = synthetic_hooks(quiet);
  // Poison a weight after batch 2 of epoch 2: batch 3's loss is NaN.
  hooks.after_batch = [](std::int64_t epoch, std::int64_t batch, px::nn::Module& model) {
    if (epoch == 2 && batch == 2) px::ops::fill_(model.parameters().front(), std::nan(""));
  };
  TrainConfig c = tiny_config(tmp.path() / "run");
  c.epochs = 3;
  check_train_error(c, hooks, 3, {"epoch 2, batch 3/6", "last.json"});
  const auto ck = px::apps::load_checkpoint((tmp.path() / "run").string());
  CHECK(ck.epoch == 1);
  CHECK(ck.metrics.size() == 1);
  const auto summary = px::apps::read_json((tmp.path() / "run" / "summary.json").string());
  CHECK(summary.at("status") == "diverged");

  // A huge learning rate diverges on its own.
  TrainConfig wild = tiny_config(tmp.path() / "wild");
  wild.lr = 1e30;
  wild.warmup_epochs = 0;
  hooks.after_batch = nullptr;
  check_train_error(wild, hooks, 3, {"training loss is"});
  std::fclose(quiet);
}

TEST_CASE("run_training: a non-finite test loss stops with exit code 3, keeping the last good checkpoint") {
  TempDir tmp("px_trainer_nan_test");
  std::FILE* quiet = std::tmpfile();
  TrainHooks hooks = synthetic_hooks(quiet);
  // After the last step of epoch 2 (6 batches) a weight becomes inf: epoch 2's training loss was
  // finite, its test loss is not.
  hooks.after_batch = [](std::int64_t epoch, std::int64_t batch, px::nn::Module& model) {
    if (epoch == 2 && batch == 6) px::ops::fill_(model.parameters().front(), INFINITY);
  };
  TrainConfig c = tiny_config(tmp.path() / "run");
  c.epochs = 3;
  check_train_error(c, hooks, 3, {"test loss is", "epoch 1"});
  const auto ck = px::apps::load_checkpoint((tmp.path() / "run").string());
  CHECK(ck.epoch == 1);
  for (const auto& [name, t] : ck.model) {
    for (float x : t.to_vector<float>()) CHECK(std::isfinite(x));
  }
  CHECK(px::apps::read_json((tmp.path() / "run" / "summary.json").string()).at("status") == "diverged");
  // The kept checkpoint resumes.
  TrainConfig resume;
  resume.resume = (tmp.path() / "run").string();
  resume.epochs = 2;
  resume.progress = false;
  resume.explicit_flags = {"--resume", "--epochs"};
  hooks.after_batch = nullptr;
  CHECK(px::apps::run_training(resume, hooks).metrics.size() == 2);
  std::fclose(quiet);
}

TEST_CASE("run_training: outputs that cannot be written end the run with exit code 1 naming the last checkpoint") {
  TempDir tmp("px_trainer_nowrite");
  std::FILE* quiet = std::tmpfile();
  TrainHooks hooks = synthetic_hooks(quiet);
  const fs::path run = tmp.path() / "run";
  // During epoch 2 checkpoints/ becomes a file (a stand-in for a full disk that works as root).
  hooks.after_batch = [&](std::int64_t epoch, std::int64_t batch, px::nn::Module&) {
    if (epoch != 2 || batch != 1) return;
    fs::rename(run / "checkpoints", tmp.path() / "saved");
    std::ofstream(run / "checkpoints") << "not a folder";
  };
  check_train_error(tiny_config(run), hooks, 1, {"cannot write the outputs of epoch 2", "last.json"});
  std::fclose(quiet);
}

TEST_CASE("run_training: an --out that holds another run is refused before anything changes") {
  TempDir tmp("px_trainer_out");
  std::FILE* quiet = std::tmpfile();
  TrainHooks hooks = synthetic_hooks(quiet);
  const fs::path a = tmp.path() / "a", b = tmp.path() / "b";
  (void)px::apps::run_training(tiny_config(a), hooks);
  (void)px::apps::run_training(tiny_config(b), hooks);
  const auto snapshot = [](const fs::path& dir) {
    std::vector<std::string> files;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      if (e.is_regular_file()) files.push_back(e.path().string() + ":" + std::to_string(fs::file_size(e.path())) + ":" +
                                               std::to_string(e.last_write_time().time_since_epoch().count()));
    }
    std::sort(files.begin(), files.end());
    return files;
  };
  const auto before = snapshot(a);
  const auto refused = [&](const TrainConfig& c, const std::string& expected) {
    CAPTURE(expected);
    check_train_error(c, hooks, 2, {expected});
    CHECK(snapshot(a) == before);
  };
  refused(tiny_config(a), "already holds a run");  // a fresh run into a
  TrainConfig other;                               // b resumed into a
  other.resume = b.string();
  other.out = a.string();
  other.epochs = 3;
  other.progress = false;
  other.explicit_flags = {"--resume", "--out", "--epochs"};
  refused(other, "already holds a run");
  TrainConfig fewer;  // fewer epochs than a's checkpoint has done
  fewer.resume = a.string();
  fewer.epochs = 1;
  fewer.progress = false;
  fewer.explicit_flags = {"--resume", "--epochs"};
  refused(fewer, "already completed 2 epochs");
  // A corrupt epoch in last.json: refused before anything is written.
  const fs::path last = a / "checkpoints" / "last.json";
  nlohmann::json j = px::apps::read_json(last.string());
  const nlohmann::json good = j;
  j["epoch"] = -5;
  px::apps::write_json_atomic(last.string(), j);
  const auto corrupt = snapshot(a);
  TrainConfig bad = fewer;
  bad.epochs = 3;
  check_train_error(bad, hooks, 2, {"epoch -5"});
  CHECK(snapshot(a) == corrupt);
  px::apps::write_json_atomic(last.string(), good);
  // Continuing a in its own directory is what --resume is for.
  TrainConfig more = bad;
  CHECK(px::apps::run_training(more, hooks).metrics.size() == 3);
  // Not a directory, or not writable: TrainError 2 naming the path, nothing created.
  { std::ofstream(tmp.path() / "file") << "x"; }
  const fs::path under_file = tmp.path() / "file" / "run";
  check_train_error(tiny_config(under_file), hooks, 2, {"not a directory"});
  std::fclose(quiet);
}

TEST_CASE("run_training: bad data and impossible settings are TrainError 2 with one line") {
  TempDir tmp("px_trainer_bad");
  std::FILE* quiet = std::tmpfile();
  TrainConfig c = tiny_config(tmp.path() / "run");
  c.data = (tmp.path() / "no_such_dataset").string();
  check_train_error(c, {.stream = quiet}, 2, {"no_such_dataset"});
  TrainHooks hooks = synthetic_hooks(quiet);
  c.data.clear();
  c.train_subset = 1000;  // more than the 96 images
  CHECK_THROWS_AS(px::apps::run_training(c, hooks), TrainError);
  c.train_subset = 0;
  c.model = "no_such_model";
  check_train_error(c, hooks, 2, {"no_such_model"});
  TrainConfig resume;
  resume.resume = (tmp.path() / "nothing_here").string();
  resume.explicit_flags = {"--resume"};
  check_train_error(resume, hooks, 2, {});
  std::fclose(quiet);
}

TEST_CASE("run_training: a run killed mid-epoch and resumed equals the uninterrupted run") {
  SUBCASE("mlp") { check_kill_and_resume("mlp:16"); }
  // BatchNorm running statistics travel in the checkpoint too.
  SUBCASE("resnet20") { check_kill_and_resume("resnet20"); }
}
