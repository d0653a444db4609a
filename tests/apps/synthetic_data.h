// A tiny in-memory image dataset for the trainer tests (a small MLP learns it in a few steps), and the
// flag parser, hooks and flag-error check the train_cifar tests share.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "common/config.h"
#include "common/trainer.h"

#include "proxima/core/factory.h"
#include "proxima/data/dataset.h"

namespace {

// 4 classes of 3x8x8 images: class k is bright in channel k % 3 and in quadrant k, plus noise,
// so a small MLP learns it in a few steps but not perfectly at once.
[[maybe_unused]] px::data::Dataset synthetic(std::int64_t n, std::uint64_t seed) {
  px::Generator gen(seed);
  const std::vector<float> noise = px::rand({n, 3, 8, 8}, {}, &gen).to_vector<float>();
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(n * 3 * 64));
  std::vector<std::int64_t> labels(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t k = (i * 7 + 3) % 4;
    labels[i] = k;
    for (std::int64_t c = 0; c < 3; ++c) {
      for (std::int64_t y = 0; y < 8; ++y) {
        for (std::int64_t x = 0; x < 8; ++x) {
          const std::int64_t at = ((i * 3 + c) * 8 + y) * 8 + x;
          const bool lit = c == k % 3 && (y / 4) * 2 + (x / 4) == k;
          pixels[at] = static_cast<std::uint8_t>((lit ? 120.0f : 20.0f) + 130.0f * noise[at]);
        }
      }
    }
  }
  px::data::Dataset ds;
  ds.images = px::from_vector(pixels, {n, 3, 8, 8});
  ds.labels = px::from_vector(labels, {n});
  ds.classes = {"a", "b", "c", "d"};
  ds.name = "synthetic";
  ds.source = "memory";
  return ds;
}

// parse_train_args on {"train_cifar", args...}: -1 to go on, 0 after --help, 2 after a bad flag.
[[maybe_unused]] int parse(std::vector<std::string> args, px::apps::TrainConfig& c, std::string& msg) {
  args.insert(args.begin(), "train_cifar");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return px::apps::parse_train_args(static_cast<int>(argv.size()), argv.data(), c, msg);
}

// 64 training and 32 test images of `synthetic`, output to `stream`.
[[maybe_unused]] px::apps::TrainHooks hooks(std::FILE* stream) {
  px::apps::TrainHooks h;
  h.dataset = px::data::DatasetPair{synthetic(64, 1), synthetic(32, 2)};
  h.stream = stream;
  return h;
}

// Each (flags, text): parsing exits 2 with a one-line message containing text.
[[maybe_unused]] void check_flag_errors(
    const std::vector<std::pair<std::vector<std::string>, std::string>>& cases) {
  for (const auto& [args, expected] : cases) {
    CAPTURE(expected);
    px::apps::TrainConfig c;
    std::string msg;
    CHECK(parse(args, c, msg) == 2);
    CHECK(msg.find(expected) != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
  }
}

}  // namespace
