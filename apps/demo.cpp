// demo: trains a 2-64-64-3 MLP on three seeded 2-D spirals with SGD + momentum, on the CPU.
//
// Everything is generated in code, so the run needs no files and is repeatable from --seed:
//   data     300 points, 100 per class, on three interleaved spiral arms (with noise)
//   model    logits = linear(relu(linear(relu(linear(x, W1, b1)), W2, b2)), W3, b3)
//   loss     cross-entropy, averaged over a mini-batch of 30 points
//   update   v <- momentum * v + grad;  p <- p - lr * v   (written here with px::ops)
//
// Exit codes: 0 done, 2 a bad flag (one line "demo: error: ..." naming it), 3 a loss that became
// NaN or inf (the message names the epoch), 1 internal error.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/cli_parse.h"
#include "proxima/proxima.h"

namespace {

struct Options {
  int epochs = 200;
  double lr = 0.05;
  double momentum = 0.9;
  std::int64_t batch = 30;
  std::uint64_t seed = 0;
  int log_every = 10;
};

struct Dataset {
  px::Tensor x;  // [N, 2] float32
  px::Tensor y;  // [N] int64, class 0..2
};

// Three spiral arms: point i of class k sits at radius r = i / n and angle
// 4k + 4r (+ Gaussian noise of std 0.2), as in the classic CS231n toy problem.
Dataset make_spirals(std::int64_t per_class, std::uint64_t seed) {
  const std::int64_t classes = 3, n = classes * per_class;
  px::Generator gen(seed);
  std::vector<float> noise = px::randn({n}, {}, &gen).to_vector<float>();
  std::vector<float> x(2 * n);
  std::vector<std::int64_t> y(n);
  for (std::int64_t k = 0; k < classes; ++k) {
    for (std::int64_t i = 0; i < per_class; ++i) {
      const std::int64_t j = k * per_class + i;
      const double r = static_cast<double>(i) / static_cast<double>(per_class - 1);
      const double theta = 4.0 * static_cast<double>(k) + 4.0 * r + 0.2 * noise[j];
      x[2 * j] = static_cast<float>(r * std::sin(theta));
      x[2 * j + 1] = static_cast<float>(r * std::cos(theta));
      y[j] = k;
    }
  }
  return {px::from_vector(x, {n, 2}), px::from_vector(y, {n})};
}

// One linear layer with PyTorch's default initialisation: U(-1/sqrt(in), 1/sqrt(in)).
struct Linear {
  px::Tensor weight;  // [out, in]
  px::Tensor bias;    // [out]
  Linear(std::int64_t in, std::int64_t out, px::Generator& gen) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    weight = px::ops::uniform({out, in}, -bound, bound, {}, &gen).set_requires_grad();
    bias = px::ops::uniform({out}, -bound, bound, {}, &gen).set_requires_grad();
  }
  px::Tensor operator()(const px::Tensor& x) const { return px::linear(x, weight, bias); }
};

struct Mlp {
  Linear fc1, fc2, fc3;
  explicit Mlp(px::Generator& gen) : fc1(2, 64, gen), fc2(64, 64, gen), fc3(64, 3, gen) {}
  px::Tensor operator()(const px::Tensor& x) const {  // x [B, 2] -> logits [B, 3]
    return fc3(px::relu(fc2(px::relu(fc1(x)))));
  }
  std::vector<px::Tensor> parameters() const {
    return {fc1.weight, fc1.bias, fc2.weight, fc2.bias, fc3.weight, fc3.bias};
  }
};

// SGD with (heavy-ball) momentum, PyTorch's formulation; runs outside the tape.
struct SgdMomentum {
  std::vector<px::Tensor> params, velocity;
  double lr, momentum;
  SgdMomentum(std::vector<px::Tensor> ps, double lr_, double momentum_)
      : params(std::move(ps)), lr(lr_), momentum(momentum_) {
    for (const px::Tensor& p : params) velocity.push_back(px::zeros_like(p));
  }
  void step() {
    px::NoGradGuard no_grad;
    for (std::size_t i = 0; i < params.size(); ++i) {
      const px::Tensor grad = params[i].grad();
      if (!grad.defined()) continue;
      velocity[i] = px::ops::add(px::ops::mul(velocity[i], momentum), grad);
      px::ops::copy_(params[i], px::ops::sub(params[i], px::ops::mul(velocity[i], lr)));
    }
  }
  void zero_grad() {
    for (px::Tensor& p : params) p.zero_grad();
  }
};

double accuracy(const px::Tensor& logits, const px::Tensor& labels) {
  const std::vector<std::int64_t> predicted = px::ops::argmax(logits, 1).to_vector<std::int64_t>();
  const std::vector<std::int64_t> truth = labels.to_vector<std::int64_t>();
  std::int64_t correct = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) correct += predicted[i] == truth[i];
  return static_cast<double>(correct) / static_cast<double>(truth.size());
}

int train(const Options& opt) {
  const Dataset data = make_spirals(100, opt.seed);
  px::Generator init_gen(opt.seed + 1);
  const Mlp model(init_gen);
  SgdMomentum sgd(model.parameters(), opt.lr, opt.momentum);
  std::mt19937_64 shuffle_engine(opt.seed + 2);

  const std::int64_t n = data.x.size(0);
  std::vector<std::int64_t> order(n);
  for (std::int64_t i = 0; i < n; ++i) order[i] = i;
  std::printf("demo: %lld spiral points, 3 classes, MLP 2-64-64-3, SGD lr %g momentum %g, seed %llu\n",
              static_cast<long long>(n), opt.lr, opt.momentum,
              static_cast<unsigned long long>(opt.seed));

  double final_accuracy = 0.0;
  for (int epoch = 1; epoch <= opt.epochs; ++epoch) {
    for (std::int64_t i = n - 1; i > 0; --i)  // Fisher-Yates (mt19937_64 output is portable)
      std::swap(order[i], order[shuffle_engine() % static_cast<std::uint64_t>(i + 1)]);
    double loss_sum = 0.0;
    std::int64_t batches = 0;
    for (std::int64_t start = 0; start < n; start += opt.batch) {
      const std::int64_t count = std::min(opt.batch, n - start);
      const std::vector<std::int64_t> ids(order.begin() + start, order.begin() + start + count);
      const px::Tensor index = px::from_vector(ids, {count});
      const px::Tensor loss = px::cross_entropy(model(px::ops::index_select(data.x, 0, index)),
                                                px::ops::index_select(data.y, 0, index));
      const double value = loss.item();
      if (!std::isfinite(value)) {
        std::fprintf(stderr, "demo: error: the loss became %g at epoch %d (learning rate %g is "
                     "probably too large; try a smaller --lr)\n", value, epoch, opt.lr);
        return 3;  // divergence: exit 3, as train_cifar and lasso
      }
      sgd.zero_grad();
      px::backward(loss);
      sgd.step();
      loss_sum += value;
      ++batches;
    }
    if (epoch % opt.log_every == 0 || epoch == 1 || epoch == opt.epochs) {
      px::NoGradGuard no_grad;
      final_accuracy = accuracy(model(data.x), data.y);
      std::printf("epoch %4d  loss %.4f  accuracy %5.1f%%\n", epoch,
                  loss_sum / static_cast<double>(batches), 100.0 * final_accuracy);
    }
  }
  std::printf("final accuracy %.1f%% on %lld points\n", 100.0 * final_accuracy,
              static_cast<long long>(n));
  return 0;
}

}  // namespace

// Accepts finite numbers > 0 (CLI::PositiveNumber's message for non-numbers is unreadable).
const CLI::Validator kPositive(
    [](std::string& text) -> std::string {
      std::size_t used = 0;
      double value = 0.0;
      try {
        value = std::stod(text, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == text.size() && used > 0 && std::isfinite(value) && value > 0) return "";
      return "expected a positive number, got '" + text + "'";
    },
    "POSITIVE");

int main(int argc, char** argv) {
  Options opt;
  CLI::App app{"proxima demo: an MLP learns three 2-D spirals (seeded, generated in code)", "demo"};
  app.add_option("--epochs", opt.epochs, "passes over the 300 points")
      ->check(px::apps::integer_of<int>())
      ->check(CLI::Range(1, 1000000));
  app.add_option("--lr", opt.lr, "learning rate")->check(kPositive);
  app.add_option("--momentum", opt.momentum, "momentum coefficient")->check(CLI::Range(0.0, 0.999999));
  app.add_option("--seed", opt.seed, "seed of the data, the initialisation and the shuffling (0 to 2^64 - 1)")
      ->check(px::apps::integer_of<std::uint64_t>());
  app.add_option("--log-every", opt.log_every, "print loss and accuracy every N epochs")
      ->check(px::apps::integer_of<int>())
      ->check(CLI::Range(1, 1000000));
  std::string message;
  const int parsed = px::apps::parse_cli(app, argc, argv, message, [] {});
  if (parsed == 0) {
    std::fputs(message.c_str(), stdout);
    return 0;
  }
  if (parsed > 0) {
    std::fprintf(stderr, "demo: error: %s (see demo --help)\n", message.c_str());
    return parsed;
  }
  try {
    return train(opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "demo: error: %s\n", e.what());
    return 1;
  }
}
