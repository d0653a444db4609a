// Setting up a training run: data (with subsets), augmentation, model, optimizer, schedule,
// loaders, the run directory; and the files rewritten after every epoch (run.json,
// metrics.csv, summary.json, plots/).
#include <cstdio>
#include <filesystem>

#include "common/run_dir.h"
#include "common/svg_plot.h"
#include "common/trainer_session.h"
#include "proxima/core/backend.h"
#include "proxima/cuda/cuda.h"
#include "proxima/nn/models/models.h"

namespace px::apps {
namespace fs = std::filesystem;

namespace {

std::string dataset_summary(const data::DatasetPair& d) {
  char buf[512];
  std::snprintf(buf, sizeof buf, "%s from %s: %lld train, %lld test images of %lldx%lldx%lld, %lld classes",
                d.train.name.c_str(), d.train.source.c_str(), static_cast<long long>(d.train.size()),
                static_cast<long long>(d.test.size()), static_cast<long long>(d.train.channels()),
                static_cast<long long>(d.train.height()), static_cast<long long>(d.train.width()),
                static_cast<long long>(d.train.num_classes()));
  return buf;
}

data::Dataset take_subset(const data::Dataset& ds, std::int64_t n, std::uint64_t seed, const char* flag) {
  if (n == 0 || n == ds.size()) return ds;
  if (n > ds.size()) {
    throw TrainError(2, std::string(flag) + " " + std::to_string(n) + ": the set has only " +
                            std::to_string(ds.size()) + " images");
  }
  return data::subset(ds, n, seed);
}

std::string resolve_augment(const TrainConfig& c, const data::Dataset& train) {
  if (c.augment != "auto") return c.augment;
  const bool cifar_like = train.channels() == 3 && train.height() == 32 && train.width() == 32;
  return cifar_like ? "standard" : "none";
}

data::Augment augment_of(const std::string& name) {
  data::Augment a;
  a.crop = a.flip = name == "standard" || name == "cutout";
  a.cutout = name == "cutout";
  return a;
}

std::string fresh_run_dir(const TrainConfig& c) {
  if (!c.out.empty()) return c.out;
  std::string dir = default_run_dir(c.model);
  for (int k = 2; fs::exists(dir); ++k) dir = default_run_dir(c.model) + "-" + std::to_string(k);
  return dir;
}

}  // namespace

data::DatasetPair load_training_data(const TrainConfig& c, const TrainHooks& hooks) {
  data::DatasetPair pair;
  if (hooks.dataset) {
    pair = *hooks.dataset;
  } else {
    std::string path = c.data;
    if (path.empty()) {
      if (!fs::exists(kDefaultDataDir)) {
        throw TrainError(2, std::string("no --data given and Fashion-MNIST is not installed in ") + kDefaultDataDir +
                                ": install it with `apt-get install dataset-fashion-mnist`, or pass --data PATH");
      }
      path = kDefaultDataDir;
    }
    const std::string kind = c.dataset == "folder" ? "image-folder" : c.dataset;
    try {
      pair = data::load_dataset(path, kind);
    } catch (const px::Error& e) {
      throw TrainError(2, e.what());
    }
  }
  pair.train = take_subset(pair.train, c.train_subset, c.seed, "--train-subset");
  pair.test = take_subset(pair.test, c.test_subset, c.seed, "--test-subset");
  if (pair.train.size() == 0 || pair.test.size() == 0) throw TrainError(2, "the training or test set is empty");
  return pair;
}

void build_session(TrainSession& s) {
  const TrainConfig& c = s.config;
  if (c.threads > 0) set_num_threads(c.threads);
  s.device = Device::parse(c.device);
  cuda::set_deterministic_algorithms(c.deterministic);
  cuda::set_allow_tf32(c.tf32 == "on");  // float32 matmul and convolution on CUDA (run.json: config.tf32)
  s.augment = resolve_augment(c, s.data.train);
  s.progress->message((c.data.empty() && !s.hooks->dataset ? "data (default): " : "data: ") + dataset_summary(s.data));
  s.progress->message("augmentation: " + s.augment + (c.augment == "auto" ? " (auto)" : ""));
  try {
    manual_seed(c.seed);
    s.model_gen.manual_seed(c.seed);
    const nn::ModelSpec spec{.in_channels = s.data.train.channels(),
                             .image_size = s.data.train.height(),
                             .num_classes = s.data.train.num_classes()};
    PX_CHECK(s.data.train.height() == s.data.train.width(), ValueError, "images must be square, got ",
             s.data.train.height(), "x", s.data.train.width());
    s.model = nn::make_model(c.model, spec, s.model_gen);
    s.model->to(s.device);
    load_warm_start(s);
    build_optimizer(s);
    s.schedule = optim::make_schedule(c.schedule, c.lr, static_cast<double>(c.epochs), c.warmup_epochs,
                                      {.gamma = c.gamma, .step_size = c.step_size, .milestones = c.milestones});
    data::check_augment(augment_of(s.augment), s.data.train.height(), s.data.train.width());
  } catch (const px::Error& e) {
    throw TrainError(2, e.what());
  }
  data::LoaderOptions train_opts{.batch_size = c.batch_size, .shuffle = true, .augment = augment_of(s.augment), .seed = c.seed};
  if (s.device.is_cuda()) {  // the loader threads fill pinned batches: asynchronous copies to the device
    train_opts.allocate = [device = s.device](const Shape& shape, DType dtype) {
      return cuda::pinned_empty(shape, dtype, device);
    };
  }
  s.train_loader = std::make_unique<data::DataLoader>(s.data.train, train_opts);
  const data::Normalization& norm = s.train_loader->normalization();
  data::LoaderOptions test_opts{.batch_size = std::max<std::int64_t>(c.batch_size, 256), .shuffle = false,
                                .mean = norm.mean, .std = norm.std, .seed = c.seed};
  test_opts.allocate = train_opts.allocate;
  s.test_loader = std::make_unique<data::DataLoader>(s.data.test, test_opts);

  s.run_dir = fresh_run_dir(c);
  std::error_code ec;
  fs::create_directories(s.run_dir, ec);
  if (ec) throw TrainError(2, "--out " + s.run_dir + ": cannot create the run directory (" + ec.message() + ")");
  s.run_info = {{"config", config_to_json(c)},
                {"seed", c.seed},
                {"threads", get_num_threads()},
                {"device", s.device.str()},
                {"version", kProximaVersion},
                {"augment", s.augment},
                {"normalization", {{"mean", norm.mean}, {"std", norm.std}}},
                {"model", {{"name", c.model}, {"parameters", s.model->parameter_count()}}},
                {"dataset",
                 {{"name", s.data.train.name},
                  {"source", s.data.train.source},
                  {"train_size", s.data.train.size()},
                  {"test_size", s.data.test.size()},
                  {"image_shape", {s.data.train.channels(), s.data.train.height(), s.data.train.width()}},
                  {"classes", s.data.train.classes}}}};
  if (!c.resume.empty()) s.run_info["resumed_from"] = c.resume;
}

void write_run_outputs(TrainSession& s, const std::string& status) {
  write_json_atomic((fs::path(s.run_dir) / "run.json").string(), s.run_info);
  write_metrics_csv((fs::path(s.run_dir) / "metrics.csv").string(), s.metrics);
  double seconds = 0, train_seconds_images = 0, best = 0;
  std::int64_t best_epoch = 0;
  for (const EpochMetrics& m : s.metrics) {
    seconds += m.seconds;
    train_seconds_images += m.images_per_sec;
    if (m.test_acc > best || best_epoch == 0) best = m.test_acc, best_epoch = m.epoch;
  }
  nlohmann::json summary = {{"status", status},
                            {"epochs", static_cast<std::int64_t>(s.metrics.size())},
                            {"epochs_planned", s.config.epochs},
                            {"parameter_count", s.model->parameter_count()},
                            {"total_seconds", seconds},
                            {"last_checkpoint", s.last_checkpoint}};
  if (!s.metrics.empty()) {
    summary["final_test_acc"] = s.metrics.back().test_acc;
    summary["final_test_loss"] = s.metrics.back().test_loss;
    summary["final_train_loss"] = s.metrics.back().train_loss;
    summary["best_test_acc"] = best;
    summary["best_epoch"] = best_epoch;
    summary["images_per_sec"] = train_seconds_images / static_cast<double>(s.metrics.size());
    for (const auto& [name, value] : s.metrics.back().extra) {
      if (name == "objective" || name == "sparsity" || name == "sparsity_all" || name == "binarized_test_acc" ||
          name == "binary_fraction") {
        summary[name] = value;
      }
    }
    try {
      write_run_plots(s.run_dir);
    } catch (const std::exception& e) {
      s.progress->message(std::string("warning: plots not written: ") + e.what());
    }
  }
  write_json_atomic((fs::path(s.run_dir) / "summary.json").string(), summary);
}

}  // namespace px::apps
