// run_training: sets up a run (or restores one from a checkpoint), then trains epoch by epoch,
// writing metrics, a checkpoint, plots and the summary after every epoch.
#include "common/trainer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "common/run_dir.h"
#include "common/trainer_session.h"
#include "proxima/core/backend.h"
#include "proxima/core/cpu_memory.h"
#include "proxima/nn/models/models.h"

namespace px::apps {
namespace fs = std::filesystem;

// Defined in trainer_setup.cpp.
data::DatasetPair load_training_data(const TrainConfig& config, const TrainHooks& hooks);
void build_session(TrainSession& s);
void write_run_outputs(TrainSession& s, const std::string& status);

namespace {

void say(const TrainSession& s, const std::string& line) { s.progress->message(line); }

// A resumed run keeps the checkpoint's training settings; only these come from the command line.
bool resume_may_override(const std::string& flag) {
  return flag == "--epochs" || flag == "--out" || flag == "--threads" || flag == "--device" ||
         flag == "--tf32" || flag == "--no-progress" || flag == "--resume";
}

std::string flag_key(const std::string& flag) {
  std::string key = flag.substr(2);
  std::replace(key.begin(), key.end(), '-', '_');
  return key;
}

TrainConfig merge_resume_config(const TrainConfig& cli, const Checkpoint& ck) {
  TrainConfig c = config_from_json(ck.config);
  const nlohmann::json given = config_to_json(cli), saved = ck.config;
  for (const std::string& flag : cli.explicit_flags) {
    if (resume_may_override(flag)) continue;
    const std::string key = flag_key(flag);
    if (given.contains(key) && saved.contains(key) && given[key] != saved[key]) {
      throw TrainError(2, flag + " " + given[key].dump() + " differs from the checkpoint's " + saved[key].dump() +
                              "; a resumed run keeps its checkpoint's training settings");
    }
  }
  const auto is_given = [&](const char* flag) {
    return std::find(cli.explicit_flags.begin(), cli.explicit_flags.end(), flag) != cli.explicit_flags.end();
  };
  if (is_given("--epochs")) c.epochs = cli.epochs;  // the schedule then differs from the original run's
  if (is_given("--threads")) c.threads = cli.threads;
  if (is_given("--device")) c.device = cli.device;
  if (is_given("--tf32")) c.tf32 = cli.tf32;
  c.progress = cli.progress;
  c.out = is_given("--out") ? cli.out : checkpoint_run_dir(checkpoint_json_path(cli.resume));
  c.resume = cli.resume;
  c.explicit_flags = cli.explicit_flags;
  return c;
}

void restore_checkpoint(TrainSession& s, const Checkpoint& ck) {
  try {
    s.model->load_state_dict(ck.model);
    s.optimizer->load_state_dict(ck.optimizer);
    generator_from_json(ck.generators.at("model"), s.model_gen);
    generator_from_json(ck.generators.at("default"), default_generator());
    for (const nlohmann::json& row : ck.metrics) s.metrics.push_back(metrics_from_json(row));
  } catch (const nlohmann::json::exception& e) {
    throw TrainError(2, s.config.resume + ": not a proxima checkpoint (" + e.what() + ")");
  } catch (const px::Error& e) {
    throw TrainError(2, s.config.resume + ": does not match this run: " + e.what());
  }
  s.epochs_done = ck.epoch;
  s.last_checkpoint = checkpoint_json_path(s.config.resume);
}

void save_epoch_checkpoint(TrainSession& s) {
  Checkpoint ck;
  ck.epoch = s.epochs_done;
  ck.config = config_to_json(s.config);
  ck.generators = {{"model", generator_to_json(s.model_gen)}, {"default", generator_to_json(default_generator())}};
  ck.metrics = nlohmann::json::array();
  for (const EpochMetrics& m : s.metrics) ck.metrics.push_back(metrics_to_json(m));
  ck.model = s.model->state_dict();
  ck.optimizer = s.optimizer->state_dict();
  s.last_checkpoint = save_checkpoint(s.run_dir, ck);
}

std::string epoch_line(const TrainSession& s, const EpochMetrics& m) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "epoch %lld/%lld  lr %.4g  train loss %.4f acc %.2f%%  test loss %.4f acc %.2f%%  %.1f s  %.0f img/s",
                static_cast<long long>(m.epoch), static_cast<long long>(s.config.epochs), m.lr, m.train_loss,
                100 * m.train_acc, m.test_loss, 100 * m.test_acc, m.seconds, m.images_per_sec);
  std::string line = buf;
  if (s.prox) {
    for (const auto& [name, value] : m.extra) {
      if (name == "sparsity" || name == "binarized_test_acc") {
        std::snprintf(buf, sizeof buf, "  %s %.2f%%", name == "sparsity" ? "sparsity" : "binarized acc", 100 * value);
        line += buf;
      }
    }
  }
  return line;
}

// --device cuda[:N] on a build without CUDA or a machine without that device: TrainError 2 with one
// line naming the device and why, before anything is loaded or written. Creates the device's context.
void check_device(const std::string& text) {
  const Device device = Device::parse(text);
  if (device.is_cpu()) return;
  try {
    backend_for(device).synchronize(device);
  } catch (const CudaUnavailableError&) {
    throw TrainError(2, "--device " + text + ": this proxima was built without CUDA (PX_CUDA=OFF or CUDA not "
                            "found); rebuild with -DPX_CUDA=ON or use --device cpu");
  } catch (const px::Error& e) {
    throw TrainError(2, "--device " + text + ": " + e.what());
  }
}

void check_model_name(const std::string& model) {
  const std::vector<std::string> names = nn::model_names();
  if (model.rfind("mlp:", 0) == 0 || model.rfind("mlp-factorized:", 0) == 0 || std::find(names.begin(), names.end(), model) != names.end()) return;
  std::string known;
  for (const std::string& name : names) known += (known.empty() ? "" : ", ") + name;
  throw TrainError(2, "--model " + model + ": unknown model; known models: " + known + ", mlp:W1,W2,..., mlp-factorized:H");
}

// --out must not hold another run (nothing of it may be overwritten or deleted) and must be
// writable; both checked before the data is loaded. A resumed run may continue in its own directory.
void check_out_dir(const TrainConfig& c, bool resuming) {
  if (c.out.empty()) return;  // a fresh runs/<time>-<model>
  std::error_code ec;
  const std::string own = resuming ? checkpoint_run_dir(checkpoint_json_path(c.resume)) : std::string();
  const bool own_dir = resuming && fs::exists(c.out, ec) && fs::equivalent(c.out, own, ec);
  const std::string files = run_files_in(c.out);
  if (!own_dir && !files.empty()) {
    throw TrainError(2, "--out " + c.out + " already holds a run (" + files + "); nothing was changed. Choose " +
                            "another --out, or continue that run with --resume " + c.out);
  }
  try {
    check_writable_dir(c.out);
  } catch (const px::Error& e) {
    throw TrainError(2, std::string("--out ") + e.what());
  }
}

// A non-finite test loss ends the run like a non-finite training loss: the epoch is not checkpointed.
[[noreturn]] void report_test_divergence(TrainSession& s, const EpochMetrics& m) {
  write_run_outputs(s, "diverged");
  throw TrainError(3, "test loss is " + std::to_string(m.test_loss) + " after epoch " + std::to_string(m.epoch) +
                          " (training loss " + std::to_string(m.train_loss) + "); stopped. " + kept_checkpoint_note(s));
}

}  // namespace

TrainResult run_training(const TrainConfig& cli_config, const TrainHooks& hooks) {
  TrainSession s;
  s.hooks = &hooks;
  Checkpoint ck;
  const bool resuming = !cli_config.resume.empty();
  if (resuming) {
    try {
      ck = load_checkpoint(cli_config.resume);
    } catch (const px::Error& e) {
      throw TrainError(2, std::string("--resume: ") + e.what());
    }
    s.config = merge_resume_config(cli_config, ck);
  } else {
    s.config = cli_config;
  }
  try {
    resolve_auto(s.config);
    validate_config(s.config);
  } catch (const px::Error& e) {
    throw TrainError(2, e.what());
  }
  if (resuming && s.config.epochs < ck.epoch) {
    throw TrainError(2, "--epochs " + std::to_string(s.config.epochs) + ": the checkpoint has already completed " +
                            std::to_string(ck.epoch) + " epochs; give --epochs " + std::to_string(ck.epoch) +
                            " or more");
  }
  check_model_name(s.config.model);  // before the (possibly slow) data loading
  check_out_dir(s.config, resuming);
  check_device(s.config.device);
  s.progress = std::make_unique<Progress>(ProgressOptions{.enabled = s.config.progress, .stream = hooks.stream});
  s.data = load_training_data(s.config, hooks);
  build_session(s);
  if (resuming) {
    restore_checkpoint(s, ck);
    say(s, "resumed from " + s.last_checkpoint + " after epoch " + std::to_string(s.epochs_done));
    const std::int64_t planned = ck.config.value("epochs", s.config.epochs);
    if (planned != s.config.epochs) {
      say(s, "note: --epochs " + std::to_string(s.config.epochs) + " instead of the checkpoint's " +
                 std::to_string(planned) + ": the lr schedule is not the original run's");
    }
  }
  say(s, "run directory: " + s.run_dir);
  write_run_outputs(s, s.epochs_done >= s.config.epochs ? "done" : "running");

  for (std::int64_t epoch = s.epochs_done; epoch < s.config.epochs; ++epoch) {
    EpochMetrics m;
    maybe_freeze(s, epoch);
    try {
      m = train_epoch(s, epoch);
    } catch (const TrainError&) {
      write_run_outputs(s, "diverged");  // the metrics and checkpoint of the last good epoch stay
      throw;
    }
    // Training and evaluation use different tensor sizes (batch, partial last batch): hand the
    // host blocks cached by one phase back before the next, so the caching allocator does not
    // hold both at once (ResNet-20, 5000 images: peak RSS 706 -> 326 MB).
    empty_cpu_cache();
    evaluate(s, m);
    empty_cpu_cache();
    if (!std::isfinite(m.test_loss)) report_test_divergence(s, m);
    add_regularization_metrics(s, m);
    s.metrics.push_back(m);
    s.epochs_done = epoch + 1;
    try {
      save_epoch_checkpoint(s);
      write_run_outputs(s, s.epochs_done == s.config.epochs ? "done" : "running");
    } catch (const std::exception& e) {  // a full disk, a removed directory: not an internal error
      throw TrainError(1, "cannot write the outputs of epoch " + std::to_string(s.epochs_done) + " to " + s.run_dir +
                              " (" + e.what() + "); the last complete checkpoint is " +
                              (s.last_checkpoint.empty() ? std::string("none") : s.last_checkpoint));
    }
    s.progress->end_epoch(epoch_line(s, m));
  }

  TrainResult result;
  result.run_dir = s.run_dir;
  result.metrics = s.metrics;
  result.parameter_count = s.model->parameter_count();
  for (const EpochMetrics& m : s.metrics) result.total_seconds += m.seconds;
  if (!s.metrics.empty()) {
    const EpochMetrics& last = s.metrics.back();
    char buf[200];
    std::snprintf(buf, sizeof buf, "done: test accuracy %.2f%% after %lld epochs, %.1f s of training; see %s",
                  100 * last.test_acc, static_cast<long long>(last.epoch), result.total_seconds, s.run_dir.c_str());
    say(s, buf);
  }
  return result;
}

}  // namespace px::apps
