// train_cifar's flags (CLI11), their validation, and TrainConfig <-> JSON.
#include "common/config.h"

#include <CLI/CLI.hpp>

#include "proxima/core/device.h"
#include "proxima/core/error.h"

namespace px::apps {
namespace {

void add_flags(CLI::App& app, TrainConfig& c, bool& no_progress) {
  app.option_defaults()->always_capture_default();
  app.add_option("--data", c.data,
                 "dataset location: a CIFAR-10/100 binary folder, an image folder (train/<class>/, "
                 "test/<class>/) or an IDX folder; default: Fashion-MNIST from " +
                     std::string(kDefaultDataDir));
  app.add_option("--dataset", c.dataset, "format of --data")
      ->check(CLI::IsMember({"auto", "cifar10", "cifar100", "cifar100-coarse", "folder", "image-folder",
                               "idx", "mnist", "fashion-mnist"}));
  app.add_option("--model", c.model,
                 "mlp, mlp:W1,W2,..., lenet5, vgg11/13/16/19, resnet20/32/44/56/110, resnet18/34");
  app.add_option("--optimizer", c.optimizer, "optimizer")
      ->check(CLI::IsMember({"sgd", "adam", "adamw", "adagrad", "rmsprop"}));
  app.add_option("--lr", c.lr, "base learning rate");
  app.add_option("--momentum", c.momentum,
                 "momentum of sgd and rmsprop, beta1 of adam and adamw (not used by adagrad)");
  app.add_option("--weight-decay", c.weight_decay, "L2 weight decay (decoupled for adamw)");
  app.add_option("--schedule", c.schedule, "learning-rate schedule")
      ->check(CLI::IsMember({"constant", "step", "multistep", "cosine"}));
  app.add_option("--milestones", c.milestones, "multistep: epochs where the lr is multiplied by --gamma, e.g. 100,150")
      ->delimiter(',');
  app.add_option("--step-size", c.step_size, "step: epochs between multiplications by --gamma");
  app.add_option("--gamma", c.gamma, "lr decay factor of step and multistep");
  app.add_option("--warmup-epochs", c.warmup_epochs, "linear warm-up from 0.1 x lr over this many epochs (0 = none)");
  app.add_option("--epochs", c.epochs, "number of epochs");
  app.add_option("--batch-size", c.batch_size, "training batch size");
  app.add_option("--augment", c.augment,
                 "none, standard (random crop with padding 4 + horizontal flip), cutout (standard + "
                 "cutout 16); auto = standard for 32x32 RGB data, none otherwise")
      ->check(CLI::IsMember({"auto", "none", "standard", "cutout"}));
  app.add_option("--train-subset", c.train_subset, "train on this many images (0 = all)");
  app.add_option("--test-subset", c.test_subset, "evaluate on this many images (0 = all)");
  app.add_option("--device", c.device, "cpu, cuda or cuda:N");
  app.add_option("--threads", c.threads, "CPU threads (0 = all hardware threads)");
  app.add_option("--seed", c.seed, "seed of initialisation, shuffling and augmentation");
  app.add_option("--out", c.out, "run directory (default: runs/<timestamp>-<model>)");
  app.add_option("--resume", c.resume,
                 "continue from a checkpoint (its .json, or a run directory); the training settings "
                 "come from the checkpoint, --epochs, --out, --threads, --device from the command line");
  app.add_flag("--no-progress", no_progress, "no progress bar or periodic lines, only epoch summaries");
}

void check_name(bool ok, const char* flag, const std::string& value, const char* expected) {
  PX_CHECK(ok, ValueError, flag, " ", value, ": expected ", expected);
}

}  // namespace

int parse_train_args(int argc, const char* const* argv, TrainConfig& config, std::string& message) {
  CLI::App app{"train_cifar: trains an image classifier (CIFAR-10/100, Fashion-MNIST, image folders) "
               "and writes run.json, metrics.csv, summary.json, checkpoints and plots/ to its run "
               "directory.",
               "train_cifar"};
  bool no_progress = false;
  add_flags(app, config, no_progress);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    message = app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    message = e.what();
    for (char& ch : message) {
      if (ch == '\n') ch = ' ';
    }
    return 2;
  }
  config.progress = !no_progress;
  for (const CLI::Option* option : app.get_options()) {
    if (option->count() > 0 && !option->get_lnames().empty()) config.explicit_flags.push_back("--" + option->get_lnames()[0]);
  }
  try {
    validate_config(config);
  } catch (const px::Error& e) {
    message = e.what();
    return 2;
  }
  return -1;
}

void validate_config(const TrainConfig& c) {
  check_name(c.epochs >= 1, "--epochs", std::to_string(c.epochs), "at least 1");
  check_name(c.batch_size >= 1, "--batch-size", std::to_string(c.batch_size), "at least 1");
  check_name(c.lr > 0, "--lr", std::to_string(c.lr), "a positive number");
  check_name(c.momentum >= 0 && c.momentum < 1, "--momentum", std::to_string(c.momentum), "in [0, 1)");
  check_name(c.weight_decay >= 0, "--weight-decay", std::to_string(c.weight_decay), "at least 0");
  check_name(c.warmup_epochs >= 0 && c.warmup_epochs < static_cast<double>(c.epochs),
             "--warmup-epochs", std::to_string(c.warmup_epochs), "in [0, --epochs)");
  check_name(c.step_size > 0, "--step-size", std::to_string(c.step_size), "a positive number");
  check_name(c.train_subset >= 0, "--train-subset", std::to_string(c.train_subset), "at least 0");
  check_name(c.test_subset >= 0, "--test-subset", std::to_string(c.test_subset), "at least 0");
  check_name(c.threads >= 0, "--threads", std::to_string(c.threads), "at least 0 (0 = all)");
  check_name(c.gamma > 0, "--gamma", std::to_string(c.gamma), "a positive number");
  if (c.schedule == "multistep") {
    check_name(!c.milestones.empty(), "--milestones", "(none)", "at least one epoch for --schedule multistep");
  }
  try {
    (void)Device::parse(c.device);
  } catch (const px::Error&) {
    check_name(false, "--device", c.device, "cpu, cuda or cuda:N");
  }
}

nlohmann::json config_to_json(const TrainConfig& c) {
  return {{"data", c.data},
          {"dataset", c.dataset},
          {"train_subset", c.train_subset},
          {"test_subset", c.test_subset},
          {"augment", c.augment},
          {"model", c.model},
          {"optimizer", c.optimizer},
          {"lr", c.lr},
          {"momentum", c.momentum},
          {"weight_decay", c.weight_decay},
          {"schedule", c.schedule},
          {"milestones", c.milestones},
          {"step_size", c.step_size},
          {"gamma", c.gamma},
          {"warmup_epochs", c.warmup_epochs},
          {"epochs", c.epochs},
          {"batch_size", c.batch_size},
          {"device", c.device},
          {"threads", c.threads},
          {"seed", c.seed},
          {"out", c.out},
          {"resume", c.resume},
          {"progress", c.progress}};
}

TrainConfig config_from_json(const nlohmann::json& j) {
  TrainConfig c;
  c.data = j.at("data").get<std::string>();
  c.dataset = j.at("dataset").get<std::string>();
  c.train_subset = j.at("train_subset").get<std::int64_t>();
  c.test_subset = j.at("test_subset").get<std::int64_t>();
  c.augment = j.at("augment").get<std::string>();
  c.model = j.at("model").get<std::string>();
  c.optimizer = j.at("optimizer").get<std::string>();
  c.lr = j.at("lr").get<double>();
  c.momentum = j.at("momentum").get<double>();
  c.weight_decay = j.at("weight_decay").get<double>();
  c.schedule = j.at("schedule").get<std::string>();
  c.milestones = j.at("milestones").get<std::vector<double>>();
  c.step_size = j.at("step_size").get<double>();
  c.gamma = j.at("gamma").get<double>();
  c.warmup_epochs = j.at("warmup_epochs").get<double>();
  c.epochs = j.at("epochs").get<std::int64_t>();
  c.batch_size = j.at("batch_size").get<std::int64_t>();
  c.device = j.at("device").get<std::string>();
  c.threads = j.at("threads").get<int>();
  c.seed = j.at("seed").get<std::uint64_t>();
  c.out = j.at("out").get<std::string>();
  c.resume = j.at("resume").get<std::string>();
  c.progress = j.at("progress").get<bool>();
  return c;
}

}  // namespace px::apps
