// TrainConfig: every setting of a train_cifar run, its command-line flags, and its JSON form.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace px::apps {

// The effective configuration of one training run. Defaults are the documented defaults of
// train_cifar; "" / 0 mean "decide from the data" where the comment says so.
struct TrainConfig {
  // data
  std::string data;                  // "" = Fashion-MNIST from kDefaultDataDir
  std::string dataset = "auto";      // auto, cifar10, cifar100, cifar100-coarse, folder, idx ...
  std::int64_t train_subset = 0;     // 0 = whole training set
  std::int64_t test_subset = 0;      // 0 = whole test set
  std::string augment = "auto";      // auto | none | standard | cutout (auto: standard for 32x32 RGB)
  // model and optimisation
  std::string model = "mlp";
  std::string optimizer = "sgd";     // sgd | adam | adamw | adagrad | rmsprop
  double lr = 0.05;
  double momentum = 0.9;
  double weight_decay = 5e-4;
  std::string schedule = "cosine";   // constant | step | multistep | cosine
  std::vector<double> milestones;    // multistep: epochs where the lr is multiplied by gamma
  double step_size = 30;             // step: epochs between decays
  double gamma = 0.1;                // decay factor of step and multistep
  double warmup_epochs = 0;
  std::int64_t epochs = 10;         // about 35 s for the mlp on Fashion-MNIST on 2 cores (89.7%)
  std::int64_t batch_size = 128;
  // run
  std::string device = "cpu";        // cpu | cuda | cuda:N
  int threads = 0;                   // 0 = all hardware threads
  std::uint64_t seed = 0;
  std::string out;                   // "" = runs/<timestamp>-<model>
  std::string resume;                // checkpoint JSON (or run directory) to continue from
  bool progress = true;              // live bar / periodic lines
  // Flags given on the command line (e.g. "--lr"), filled by parse_train_args; not saved.
  // A resumed run takes its training settings from the checkpoint and refuses explicit ones
  // that differ.
  std::vector<std::string> explicit_flags;
};

inline constexpr const char* kDefaultDataDir = "/usr/share/datasets/fashion-mnist";
inline constexpr const char* kProximaVersion =
#ifdef PX_VERSION
    PX_VERSION;
#else
    "0.1.0";
#endif

// Parses train_cifar's command line into `config`. Returns -1 when training should go on;
// otherwise the process exit code: 0 after --help, 2 after a bad flag (a one-line message,
// naming the problem, is then in `message`; for --help it holds the help text).
int parse_train_args(int argc, const char* const* argv, TrainConfig& config, std::string& message);

// Checks values that the flag parser cannot (ranges, names); throws px::ValueError naming
// the flag, the value and what is expected.
void validate_config(const TrainConfig& config);

nlohmann::json config_to_json(const TrainConfig& config);
TrainConfig config_from_json(const nlohmann::json& json);

}  // namespace px::apps
