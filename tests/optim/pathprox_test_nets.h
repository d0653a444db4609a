// Test networks and plain reference loops for the PathProx tests: MLPs with and without biases,
// the factorised MLP, a small no-BN VGG-like net (with "other" convs between groups), unit
// slices read and written by explicit index arithmetic (w_k = W[k, ...], v_k = V[:, k, ...]).
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "proxima/autograd/autograd.h"
#include "proxima/autograd/functions.h"
#include "proxima/core/factory.h"
#include "proxima/core/ops.h"
#include "proxima/nn/layers.h"
#include "proxima/nn/layers_simple.h"
#include "proxima/nn/models/models.h"
#include "proxima/nn/sequential.h"

namespace px::pptest {

struct Net {
  std::shared_ptr<nn::Module> model;
  nn::HomogeneousUnits units;
  Shape input;  // [C, H, W]
};

struct NetMaker {
  std::string label;
  std::function<Net(std::uint64_t seed)> build;
};

// conv-relu-conv-relu-maxpool | conv(other)-relu-maxpool | conv-relu-conv-relu-avgpool | fc(other).
class SmallVgg : public nn::Module {
 public:
  SmallVgg(bool bias, Generator& gen) {
    features_ = register_module("features", std::make_shared<nn::Sequential>());
    auto conv = [&](std::int64_t in, std::int64_t out) {
      features_->push_back(std::make_shared<nn::Conv2d>(
          nn::Conv2dOptions{.in_channels = in, .out_channels = out, .kernel_size = 3, .padding = 1, .bias = bias}, gen));
      features_->push_back(std::make_shared<nn::ReLU>());
    };
    const nn::Pool2dOptions pool{.kernel_size = 2, .stride = 2};
    conv(2, 3), conv(3, 4);                                          // 0, 2
    features_->push_back(std::make_shared<nn::MaxPool2d>(pool));      // 4
    conv(4, 3);                                                       // 5 (other)
    features_->push_back(std::make_shared<nn::MaxPool2d>(pool));      // 7
    conv(3, 5), conv(5, 4);                                           // 8, 10
    features_->push_back(std::make_shared<nn::AvgPool2d>(pool));      // 12
    fc_ = register_module("fc", std::make_shared<nn::Linear>(nn::LinearOptions{.in_features = 4, .out_features = 3}, gen));
  }
  Tensor forward(const Tensor& x) override { return (*fc_)(flatten((*features_)(x), 1)); }
  std::string name() const override { return "SmallVgg"; }
  std::optional<nn::HomogeneousUnits> homogeneous_units() override {
    nn::HomogeneousUnits u{.model = "small-vgg", .groups = {}, .others = {}};
    u.groups.push_back({layer(0), layer(2)});
    u.others.push_back({layer(5), 1});
    u.groups.push_back({layer(8), layer(10)});
    u.others.push_back({{"fc.weight", fc_->weight, "fc.bias", fc_->bias}, 2});
    return u;
  }

 private:
  nn::UnitLayer layer(std::int64_t i) const {
    auto* c = dynamic_cast<nn::Conv2d*>(features_->at(i).get());
    const std::string p = "features." + std::to_string(i) + ".";
    return {p + "weight", c->weight, c->bias.defined() ? p + "bias" : "", c->bias};
  }
  std::shared_ptr<nn::Sequential> features_;
  std::shared_ptr<nn::Linear> fc_;
};

// Flatten, Linear(9, widths...) with ReLU between, Linear(.., 4); bias[i] says whether Linear i has one.
inline std::shared_ptr<nn::Module> plain_mlp(const std::vector<std::int64_t>& widths, const std::vector<bool>& bias,
                                             Generator& gen) {
  auto net = std::make_shared<nn::Sequential>();
  net->push_back(std::make_shared<nn::Flatten>());
  std::int64_t in = 9;
  for (std::size_t i = 0; i <= widths.size(); ++i) {
    const std::int64_t out = i < widths.size() ? widths[i] : 4;
    net->push_back(std::make_shared<nn::Linear>(nn::LinearOptions{.in_features = in, .out_features = out, .bias = bias[i]}, gen));
    if (i < widths.size()) net->push_back(std::make_shared<nn::ReLU>());
    in = out;
  }
  return net;
}

inline Net finish(std::shared_ptr<nn::Module> model, Shape input) {
  model->to(DType::float64);
  auto units = nn::require_homogeneous_units(*model);
  return {model, units, input};
}

inline std::vector<NetMaker> test_nets() {
  const nn::ModelSpec spec{.in_channels = 1, .image_size = 3, .num_classes = 4};
  return {
      {"mlp 9-5-4-6-3-5-4 (3 groups, biases)",
       [=](std::uint64_t s) { Generator g(s); return finish(nn::make_mlp({5, 4, 6, 3, 5}, spec, g), {1, 3, 3}); }},
      {"mlp 9-5-4-6-4 (2 groups + other fc, biases)",
       [=](std::uint64_t s) { Generator g(s); return finish(nn::make_mlp({5, 4, 6}, spec, g), {1, 3, 3}); }},
      {"mlp without biases",
       [](std::uint64_t s) { Generator g(s); return finish(plain_mlp({5, 4, 6, 3}, {false, false, false, false, false}, g), {1, 3, 3}); }},
      {"mlp with some biases (V layers without)",
       [](std::uint64_t s) { Generator g(s); return finish(plain_mlp({5, 4, 6, 3}, {true, false, true, false, true}, g), {1, 3, 3}); }},
      {"mlp-factorized:6",
       [=](std::uint64_t s) { Generator g(s); return finish(nn::make_model("mlp-factorized:6", spec, g), {1, 3, 3}); }},
      {"small no-BN VGG, biases",
       [](std::uint64_t s) { Generator g(s); return finish(std::make_shared<SmallVgg>(true, g), {2, 8, 8}); }},
      {"small no-BN VGG, no biases",
       [](std::uint64_t s) { Generator g(s); return finish(std::make_shared<SmallVgg>(false, g), {2, 8, 8}); }},
  };
}

// ---- values ----
inline std::vector<double> values(const Tensor& t) { return ops::to_dtype(t.detach().contiguous(), DType::float64).to_vector<double>(); }
inline void assign(const Tensor& t, const std::vector<double>& v) {
  NoGradGuard no_grad;
  ops::copy_(t, from_vector(v, t.shape()));
}
inline void fill(const Tensor& t, double value) { assign(t, std::vector<double>(static_cast<std::size_t>(t.numel()), value)); }
inline double norm(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}
inline double max_rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff = std::max(diff, std::abs(a[i] - b[i])), scale = std::max(scale, std::abs(b[i]));
  return scale > 0 ? diff / scale : diff;
}
inline std::vector<double> flat(const std::vector<std::vector<double>>& parts) {
  std::vector<double> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

inline Tensor input(const Net& net, std::uint64_t seed) {
  Generator gen(seed);
  return ops::uniform({2, net.input[0], net.input[1], net.input[2]}, -1, 1, {.dtype = DType::float64}, &gen);
}
inline std::vector<double> outputs(const Net& net, const Tensor& x) {
  NoGradGuard no_grad;
  return values((*net.model)(x));
}

// ---- unit slices by index arithmetic ----
// Element indices of w_k (W [N, rest...]) or v_k (V [out, N, rest...]).
inline std::vector<std::int64_t> w_index(const Tensor& w, std::int64_t k) {
  const std::int64_t inner = w.numel() / w.size(0);
  std::vector<std::int64_t> idx;
  for (std::int64_t i = 0; i < inner; ++i) idx.push_back(k * inner + i);
  return idx;
}
inline std::vector<std::int64_t> v_index(const Tensor& v, std::int64_t k) {
  const std::int64_t out = v.size(0), n = v.size(1), r = v.numel() / (out * n);
  std::vector<std::int64_t> idx;
  for (std::int64_t o = 0; o < out; ++o)
    for (std::int64_t j = 0; j < r; ++j) idx.push_back(o * n * r + k * r + j);
  return idx;
}
inline std::vector<double> gather(const std::vector<double>& all, const std::vector<std::int64_t>& idx) {
  std::vector<double> out;
  for (auto i : idx) out.push_back(all[static_cast<std::size_t>(i)]);
  return out;
}
// Multiplies the given elements of t by c.
inline void scale_at(const Tensor& t, const std::vector<std::int64_t>& idx, double c) {
  auto v = values(t);
  for (auto i : idx) v[static_cast<std::size_t>(i)] *= c;
  assign(t, v);
}

struct UnitValues {
  std::vector<double> w, v;
  double b = 0;
  bool has_bias = false;
};
inline std::vector<std::vector<UnitValues>> snapshot_units(const nn::HomogeneousUnits& u) {
  std::vector<std::vector<UnitValues>> out;
  for (const auto& g : u.groups) {
    const auto w = values(g.w.weight), v = values(g.v.weight);
    const auto b = g.w.has_bias() ? values(g.w.bias) : std::vector<double>();
    std::vector<UnitValues> units;
    for (std::int64_t k = 0; k < g.w.weight.size(0); ++k) {
      units.push_back({gather(w, w_index(g.w.weight, k)), gather(v, v_index(g.v.weight, k)),
                       b.empty() ? 0.0 : b[static_cast<std::size_t>(k)], !b.empty()});
    }
    out.push_back(units);
  }
  return out;
}
inline std::vector<double> reference_path_norms(const nn::HomogeneousUnits& u) {
  std::vector<double> p;
  for (const auto& units : snapshot_units(u)) {
    double sum = 0;
    for (const auto& unit : units) sum += norm(unit.w) * norm(unit.v);
    p.push_back(sum);
  }
  return p;
}
inline double reference_other_sq(const nn::HomogeneousUnits& u) {
  double s = 0;
  for (const auto& o : u.others) s += std::pow(norm(values(o.layer.weight)), 2);
  return s;
}
inline double median_v_norm(const std::vector<std::vector<UnitValues>>& units) {
  std::vector<double> n;
  for (const auto& g : units)
    for (const auto& unit : g) n.push_back(norm(unit.v));
  std::sort(n.begin(), n.end());
  return 0.5 * (n[n.size() / 2] + n[(n.size() - 1) / 2]) * (1 + 1e-9);
}
// Every tensor of the units, in a fixed order.
inline std::vector<std::vector<double>> snapshot(const nn::HomogeneousUnits& u) {
  std::vector<std::vector<double>> out;
  auto add = [&](const nn::UnitLayer& l) {
    out.push_back(values(l.weight));
    if (l.has_bias()) out.push_back(values(l.bias));
  };
  for (const auto& g : u.groups) add(g.w), add(g.v);
  for (const auto& o : u.others) add(o.layer);
  return out;
}

inline void rescale_unit(const nn::HomogeneousGroup& g, std::int64_t k, double c) {
  scale_at(g.w.weight, w_index(g.w.weight, k), c);
  if (g.w.has_bias()) scale_at(g.w.bias, {k}, c);
  scale_at(g.v.weight, v_index(g.v.weight, k), 1 / c);
}
inline void zero_input_unit(const nn::HomogeneousGroup& g, std::int64_t k) { scale_at(g.w.weight, w_index(g.w.weight, k), 0); }
inline void zero_output_unit(const nn::HomogeneousGroup& g, std::int64_t k) { scale_at(g.v.weight, v_index(g.v.weight, k), 0); }

// Multiplies each group's W and V by seeded factors in [0.2, 5]: unequal path norms.
inline void unbalance(const nn::HomogeneousUnits& u, std::uint64_t seed) {
  Generator gen(seed);
  for (const auto& g : u.groups) {
    for (const Tensor& t : {g.w.weight, g.v.weight}) {
      const double f = std::exp(ops::uniform({1}, std::log(0.2), std::log(5.0), {.dtype = DType::float64}, &gen).item());
      auto v = values(t);
      for (double& x : v) x *= f;
      assign(t, v);
    }
  }
}

// Gradients of the mean cross-entropy on a seeded random batch (the same on twin nets).
inline void set_loss_gradients(Net& net, std::uint64_t seed) {
  for (Tensor p : net.model->parameters()) p.zero_grad();
  const Tensor x = ops::to_dtype(input(net, seed), net.model->parameters()[0].dtype());
  const std::vector<std::int64_t> labels = {seed % 3 == 0 ? 1 : 2, 0};
  const Tensor y = from_vector(labels, {2});
  backward(cross_entropy((*net.model)(x), y));
}

// p <- p - lr (g + lambda p) for the "other" layers' weights, p - lr g for every other parameter.
inline void reference_sgd(Net& net, double lr, double lambda) {
  std::vector<std::string> others;
  for (const auto& o : net.units.others) others.push_back(o.layer.weight_name);
  for (const auto& [name, p] : net.model->named_parameters()) {
    if (!p.grad().defined()) continue;
    const bool decayed = std::find(others.begin(), others.end(), name) != others.end();
    auto v = values(p);
    const auto g = values(p.grad());
    for (std::size_t i = 0; i < v.size(); ++i) v[i] -= lr * (g[i] + (decayed ? lambda * v[i] : 0.0));
    assign(p, v);
  }
}

class Tanh : public nn::Module {
 public:
  Tensor forward(const Tensor& x) override { return tanh(x); }
  std::string name() const override { return "Tanh"; }
};
inline std::shared_ptr<nn::Module> tanh_mlp(Generator& gen) {
  auto net = std::make_shared<nn::Sequential>();
  net->push_back(std::make_shared<nn::Flatten>());
  net->push_back(std::make_shared<nn::Linear>(nn::LinearOptions{.in_features = 9, .out_features = 5}, gen));
  net->push_back(std::make_shared<Tanh>());
  net->push_back(std::make_shared<nn::Linear>(nn::LinearOptions{.in_features = 5, .out_features = 2}, gen));
  return net;
}

}  // namespace px::pptest
