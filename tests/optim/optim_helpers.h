// Shared helpers of the optimizer tests: the golden file reader, the tiny tanh network, comparisons.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "proxima/autograd/autograd.h"
#include "proxima/autograd/functions.h"
#include "proxima/core/factory.h"
#include "proxima/core/ops.h"
#include "proxima/optim/make_optimizer.h"

namespace px::test {

struct GoldenTensor {
  Shape shape;
  std::vector<double> values;
};

struct GoldenConfig {
  std::string name, optimizer;
  std::map<std::string, std::string> settings;  // key=value as written by the script
};

struct OptimGolden {
  std::map<std::string, GoldenTensor> tensors;
  std::vector<GoldenConfig> configs;
};

// The key=value settings at the end of a golden file's "config" line.
inline void read_golden_settings(std::istream& head, GoldenConfig& c) {
  for (std::string kv; head >> kv;) {
    const auto eq = kv.find('=');
    REQUIRE(eq != std::string::npos);
    c.settings[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
}

// The rest of a golden file's "tensor <name> <ndim> <dims...>" line (after the name) from `head`,
// and its values from the next line of `in`.
inline GoldenTensor read_golden_tensor(std::istream& head, std::istream& in, const std::string& name) {
  std::int64_t ndim = 0;
  head >> ndim;
  GoldenTensor t;
  t.shape.resize(static_cast<std::size_t>(ndim));
  for (auto& s : t.shape) head >> s;
  std::string body_line;
  REQUIRE(std::getline(in, body_line));
  std::istringstream body(body_line);
  for (double v; body >> v;) t.values.push_back(v);
  REQUIRE_MESSAGE(static_cast<std::int64_t>(t.values.size()) == shape_numel(t.shape), name, ": wrong value count");
  return t;
}

// Reads tests/optim/optim_golden.txt (format in tests/golden/make_optim_golden.py).
inline OptimGolden load_optim_golden() {
  const std::string path = std::string(PX_TEST_DATA_DIR) + "/optim/optim_golden.txt";
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open ", path);
  OptimGolden golden;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream head(line);
    std::string kind;
    head >> kind;
    if (kind == "config") {
      GoldenConfig c;
      head >> c.name >> c.optimizer;
      read_golden_settings(head, c);
      golden.configs.push_back(c);
      continue;
    }
    REQUIRE_MESSAGE(kind == "tensor", "unexpected line: ", line);
    std::string name;
    head >> name;
    golden.tensors[name] = read_golden_tensor(head, in, name);
  }
  return golden;
}

inline Tensor to_tensor(const GoldenTensor& g) { return from_vector(g.values, g.shape); }

inline std::vector<double> values(const Tensor& t) {
  return ops::to_dtype(ops::contiguous(t), DType::float64).to_vector<double>();
}

// Builds the OptimizerConfig the script's key=value settings describe.
inline optim::OptimizerConfig config_from(const GoldenConfig& c) {
  optim::OptimizerConfig config;
  for (const auto& [key, text] : c.settings) {
    const double v = std::stod(text);
    if (key == "lr") config.lr = v;
    else if (key == "weight_decay") config.weight_decay = v;
    else if (key == "eps") config.eps = v;
    else if (key == "momentum") config.momentum = v;
    else if (key == "dampening") config.dampening = v;
    else if (key == "nesterov") config.nesterov = v != 0;
    else if (key == "beta1") config.beta1 = v;
    else if (key == "beta2") config.beta2 = v;
    else if (key == "amsgrad") config.amsgrad = v != 0;
    else if (key == "lr_decay") config.lr_decay = v;
    else if (key == "initial_accumulator_value") config.initial_accumulator_value = v;
    else if (key == "alpha") config.alpha = v;
    else if (key == "centered") config.centered = v != 0;
    else FAIL("unknown golden setting ", key);
  }
  return config;
}

// The golden problem: mse_loss(linear(tanh(linear(x, w1, b1)), w2), target), float64.
struct TanhNet {
  Tensor x, target;
  std::vector<Tensor> params;  // w1, b1, w2 (leaves requiring grad)

  // Fresh parameters from given values (copies), so several runs start alike.
  TanhNet(Tensor x_, Tensor target_, const std::vector<Tensor>& init) : x(x_), target(target_) {
    for (const auto& p : init) params.push_back(p.clone().set_requires_grad(true));
  }
  // Seeded random problem of the same shapes as the golden one.
  static TanhNet random(std::uint64_t seed) {
    Generator gen(seed);
    const TensorOptions f64{.dtype = DType::float64};
    Tensor x = randn({16, 3}, f64, &gen), target = randn({16, 2}, f64, &gen);
    return TanhNet(x, target, {ops::mul(randn({5, 3}, f64, &gen), 0.5), ops::mul(randn({5}, f64, &gen), 0.1),
                               ops::mul(randn({2, 5}, f64, &gen), 0.5)});
  }
  Tensor loss() const {
    return mse_loss(linear(tanh(linear(x, params[0], params[1])), params[2]), target);
  }
  // zero_grad, loss, backward, step.
  void train_step(optim::Optimizer& opt) const {
    opt.zero_grad();
    backward(loss());
    opt.step();
  }
};

// |got - want| <= atol + rtol |want| for every element; reports the worst one.
inline void check_close(const std::string& what, const std::vector<double>& got,
                        const std::vector<double>& want, double rtol, double atol = 0) {
  INFO(what);
  REQUIRE(got.size() == want.size());
  double worst = -1;
  std::size_t at = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double excess = std::abs(got[i] - want[i]) - (atol + rtol * std::abs(want[i]));
    if (i == 0 || excess > worst || std::isnan(got[i])) {
      worst = std::isnan(got[i]) ? INFINITY : excess;
      at = i;
    }
  }
  INFO("worst element ", at, ": got ", got[at], ", expected ", want[at]);
  CHECK(worst <= 0.0);
}

inline void check_same(const std::string& what, const Tensor& got, const Tensor& want) {
  check_close(what, values(got), values(want), 0, 0);
}

}  // namespace px::test
