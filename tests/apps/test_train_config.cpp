// train_cifar's flag parsing (exit codes, one-line messages, defaults, --help), the JSON form of
// TrainConfig, checkpoint files, and the plain progress lines.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/progress.h"
#include "common/run_dir.h"
#include "proxima/core/error.h"
#include "proxima/core/factory.h"
#include "proxima/core/ops.h"

namespace fs = std::filesystem;
using px::apps::TrainConfig;

namespace {

int parse(std::vector<std::string> args, TrainConfig& config, std::string& message) {
  args.insert(args.begin(), "train_cifar");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  return px::apps::parse_train_args(static_cast<int>(argv.size()), argv.data(), config, message);
}

}  // namespace

TEST_CASE("parse_train_args: defaults, values, and explicit flags") {
  TrainConfig c;
  std::string msg;
  CHECK(parse({}, c, msg) == -1);
  const TrainConfig defaults;
  CHECK(c.model == "mlp");
  CHECK(c.optimizer == "sgd");
  CHECK(c.lr == defaults.lr);
  CHECK(c.batch_size == 128);
  CHECK(c.schedule == "cosine");
  CHECK(c.progress);
  CHECK(c.explicit_flags.empty());

  TrainConfig d;
  CHECK(parse({"--model", "resnet20", "--lr", "0.1", "--epochs", "7", "--schedule", "multistep", "--milestones",
               "3,5", "--no-progress", "--device", "cuda:1", "--train-subset", "500"},
              d, msg) == -1);
  CHECK(d.model == "resnet20");
  CHECK(d.lr == 0.1);
  CHECK(d.epochs == 7);
  CHECK(d.milestones == std::vector<double>{3, 5});
  CHECK(!d.progress);
  CHECK(d.device == "cuda:1");
  CHECK(d.train_subset == 500);
  CHECK(std::find(d.explicit_flags.begin(), d.explicit_flags.end(), "--lr") != d.explicit_flags.end());
  CHECK(std::find(d.explicit_flags.begin(), d.explicit_flags.end(), "--batch-size") == d.explicit_flags.end());
}

TEST_CASE("parse_train_args: bad flags give exit code 2 and one line naming the problem") {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--no-such-flag"}, "--no-such-flag"},
      {{"--lr", "abc"}, "abc"},
      {{"--lr", "-1"}, "--lr"},
      {{"--epochs", "0"}, "--epochs"},
      {{"--optimizer", "lbfgs"}, "lbfgs"},
      {{"--augment", "wild"}, "wild"},
      {{"--device", "tpu"}, "--device"},
      {{"--schedule", "multistep"}, "--milestones"},
      {{"--warmup-epochs", "5", "--epochs", "5"}, "--warmup-epochs"},
      {{"--batch-size", "0"}, "--batch-size"},
      // out of the type's range: refused, not clamped or wrapped
      {{"--seed", "-1"}, "--seed"},
      {{"--seed", "18446744073709551616"}, "--seed"},
      {{"--epochs", "99999999999999999999999"}, "--epochs"},
      {{"--batch-size", "1e3"}, "--batch-size"},
      {{"--threads", "100000"}, "--threads"},
      {{"--threads", "99999999999"}, "--threads"},
      // non-finite values
      {{"--lr", "inf"}, "--lr"},
      {{"--weight-decay", "inf"}, "--weight-decay"},
      {{"--gamma", "inf"}, "--gamma"},
      {{"--step-size", "inf"}, "--step-size"},
      {{"--optimizer", "proxgen", "--delta", "nan"}, "--delta"},
      {{"--optimizer", "proxgen", "--reg", "mcp", "--mcp-gamma", "inf"}, "--mcp-gamma"},
  };
  for (const auto& [args, needle] : cases) {
    CAPTURE(args.front());
    TrainConfig c;
    std::string msg;
    CHECK(parse(args, c, msg) == 2);
    CHECK(msg.find(needle) != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
  }
}

TEST_CASE("parse_train_args: --help exits 0 and documents every flag with its default") {
  TrainConfig c;
  std::string help;
  CHECK(parse({"--help"}, c, help) == 0);
  for (const char* flag : {"--data", "--dataset", "--model", "--optimizer", "--lr", "--momentum", "--weight-decay",
                           "--schedule", "--milestones", "--warmup-epochs", "--epochs", "--batch-size", "--augment",
                           "--train-subset", "--test-subset", "--device", "--threads", "--seed", "--out",
                           "--resume", "--no-progress", "--clip", "--ties", "--binary-zero"}) {
    CAPTURE(flag);
    CHECK(help.find(flag) != std::string::npos);
  }
  CHECK(help.find("0.05") != std::string::npos);  // default lr shown
  CHECK(help.find("cosine") != std::string::npos);
}

TEST_CASE("TrainConfig: JSON round trip") {
  TrainConfig c;
  c.model = "vgg11";
  c.milestones = {10, 20};
  c.lr = 0.123456789012345;
  c.seed = 42;
  c.progress = false;
  const TrainConfig back = px::apps::config_from_json(px::apps::config_to_json(c));
  CHECK(px::apps::config_to_json(back) == px::apps::config_to_json(c));
  CHECK(back.lr == c.lr);
}

TEST_CASE("checkpoints: written atomically, older epochs removed, loaded back exactly") {
  const fs::path dir = fs::temp_directory_path() / ("px_test_checkpoint_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  px::apps::Checkpoint ck;
  ck.config = {{"model", "x"}};
  ck.generators = {{"model", {{"seed", 3}, {"offset", 40}}}};
  ck.metrics = nlohmann::json::array();
  px::Generator gen(5);
  const px::Tensor w = px::randn({3, 4}, {}, &gen), v = px::randn({4}, {.dtype = px::DType::float64}, &gen);
  for (std::int64_t epoch = 1; epoch <= 3; ++epoch) {
    ck.epoch = epoch;
    ck.metrics.push_back({{"epoch", epoch}});
    ck.model = {{"fc.weight", px::ops::mul(w, static_cast<double>(epoch))}};
    ck.optimizer = {{"group0.param0.momentum_buffer", v}};
    const std::string path = px::apps::save_checkpoint(dir.string(), ck);
    CHECK(path == (dir / "checkpoints" / "last.json").string());
  }
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir / "checkpoints")) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"epoch-3.model.safetensors", "epoch-3.optimizer.safetensors", "last.json"});

  const px::apps::Checkpoint back = px::apps::load_checkpoint(dir.string());
  CHECK(back.epoch == 3);
  CHECK(back.metrics.size() == 3);
  CHECK(back.generators == ck.generators);
  REQUIRE(back.model.size() == 1);
  CHECK(back.model[0].first == "fc.weight");
  CHECK(back.model[0].second.to_vector<float>() == px::ops::mul(w, 3.0).to_vector<float>());
  CHECK(back.optimizer[0].second.to_vector<double>() == v.to_vector<double>());
  CHECK(px::apps::checkpoint_run_dir((dir / "checkpoints" / "last.json").string()) == fs::absolute(dir).string());

  { std::ofstream(dir / "checkpoints" / "last.json") << "{not json"; }
  CHECK_THROWS_AS(px::apps::load_checkpoint(dir.string()), px::ValueError);
  fs::remove_all(dir);
}

TEST_CASE("Progress: plain mode prints a few lines per epoch and the summary") {
  std::FILE* f = std::tmpfile();
  px::apps::Progress progress({.live = 0, .line_seconds = 1e9, .lines_per_epoch = 4, .stream = f});
  progress.start_epoch(1, 2, 100);
  for (std::int64_t b = 1; b <= 100; ++b) progress.update({.batch = b, .images = 10 * b, .loss = 1.0, .accuracy = 0.5});
  progress.end_epoch("epoch 1/2 summary");
  std::rewind(f);
  std::vector<std::string> lines;
  char buf[512];
  while (std::fgets(buf, sizeof buf, f)) lines.emplace_back(buf);
  std::fclose(f);
  REQUIRE(lines.size() == 4);  // batches 25, 50, 75 and the summary
  CHECK(lines[0].find("batch 25/100") != std::string::npos);
  CHECK(lines[3] == "epoch 1/2 summary\n");
}
