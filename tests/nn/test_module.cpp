// Module: registration order, tree walks, train/eval, state dicts, strict/non-strict loads, to().
#include <doctest/doctest.h>

#include "nn_helpers.h"
#include "proxima/nn/layers.h"
#include "proxima/nn/layers_simple.h"
#include "proxima/nn/sequential.h"

using namespace px;
using namespace px::nn;
using nnt::host;
using nnt::max_diff;

namespace {

// A module with its own parameter and buffer registered before and after children, to pin the
// order: own parameters, own buffers, then children (as PyTorch).
class Net : public Module {
 public:
  explicit Net(Generator& gen) {
    conv = register_module("conv", std::make_shared<Conv2d>(Conv2dOptions{.in_channels = 1, .out_channels = 2, .kernel_size = 3}, gen));
    scale = register_parameter("scale", ones({2}));
    bn = register_module("bn", std::make_shared<BatchNorm2d>(BatchNormOptions{.num_features = 2}));
    steps = register_buffer("steps", zeros({3}));
    head = register_module("head", std::make_shared<Sequential>());
    head->push_back(std::make_shared<Flatten>());
    head->push_back(std::make_shared<Linear>(LinearOptions{.in_features = 8, .out_features = 3}, gen));
  }
  Tensor forward(const Tensor& x) override {
    return (*head)(relu((*bn)((*conv)(x)) * reshape(scale, {1, 2, 1, 1})));
  }
  std::string name() const override { return "Net"; }
  std::shared_ptr<Conv2d> conv;
  std::shared_ptr<BatchNorm2d> bn;
  std::shared_ptr<Sequential> head;
  Tensor scale, steps;
};

std::vector<std::string> keys(const StateDict& d) {
  std::vector<std::string> out;
  for (auto& [k, t] : d) out.push_back(k);
  return out;
}

std::string load_error(Module& m, const StateDict& d) {
  try {
    m.load_state_dict(d);
  } catch (const ValueError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("tree walks: own parameters, own buffers, then children, with dotted names") {
  Generator gen(1);
  Net net(gen);
  CHECK(keys(net.named_parameters()) ==
        std::vector<std::string>{"scale", "conv.weight", "conv.bias", "bn.weight", "bn.bias", "head.1.weight", "head.1.bias"});
  CHECK(keys(net.named_buffers()) ==
        std::vector<std::string>{"steps", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"});
  CHECK(keys(net.state_dict()) ==
        std::vector<std::string>{"scale", "steps", "conv.weight", "conv.bias", "bn.weight", "bn.bias", "bn.running_mean",
                                 "bn.running_var", "bn.num_batches_tracked", "head.1.weight", "head.1.bias"});
  std::vector<std::string> module_names;
  for (auto& [k, m] : net.named_modules()) module_names.push_back(k + ":" + m->name());
  CHECK(module_names == std::vector<std::string>{":Net", "conv:Conv2d", "bn:BatchNorm2d", "head:Sequential",
                                                 "head.0:Flatten", "head.1:Linear"});
  CHECK(net.parameter_count() == 2 + 18 + 2 + 2 + 2 + 24 + 3);
  CHECK(net.parameters().size() == 7);
  for (const Tensor& p : net.parameters()) CHECK(p.requires_grad());
  for (auto& [k, b] : net.named_buffers()) CHECK(!b.requires_grad());
  CHECK(net.parameters()[1].is_same(net.conv->weight));  // handles, not copies
  CHECK(net.regularized_weight_names() == std::vector<std::string>{"conv.weight", "head.1.weight"});
  CHECK(net(nnt::random({2, 1, 4, 4}, 3)).shape() == Shape{2, 3});
}

TEST_CASE("train/eval are recursive") {
  Generator gen(1);
  Net net(gen);
  CHECK(net.is_training());
  net.eval();
  for (auto& [k, m] : net.named_modules()) CHECK(!m->is_training());
  net.train();
  for (auto& [k, m] : net.named_modules()) CHECK(m->is_training());
  net.head->train(false);
  CHECK(net.is_training());
  CHECK(!net.head->at(1)->is_training());
}

TEST_CASE("registering a name twice or a dotted name throws") {
  class Bad : public Module {
   public:
    explicit Bad(int which) {
      register_parameter("w", ones({1}));
      if (which == 0) register_buffer("w", ones({1}));
      if (which == 1) register_module("w", std::make_shared<ReLU>());
      if (which == 2) register_parameter("a.b", ones({1}));
    }
    Tensor forward(const Tensor& x) override { return x; }
    std::string name() const override { return "Bad"; }
  };
  for (int which = 0; which < 3; ++which) CHECK_THROWS_AS(Bad{which}, ValueError);
}

TEST_CASE("state_dict round trip: save, perturb, load restores values in the same handles") {
  Generator gen(2);
  Net net(gen);
  net(nnt::random({3, 1, 4, 4}, 5));  // moves running stats and num_batches_tracked
  StateDict saved;
  for (auto& [k, t] : net.state_dict()) saved.emplace_back(k, ops::clone(t.detach()));
  const std::vector<Tensor> handles = net.parameters();
  {
    NoGradGuard no_grad;
    for (auto& [k, t] : net.state_dict()) ops::copy_(t, ops::add(t, 1.0));
  }
  for (std::size_t i = 0; i < saved.size(); ++i) CHECK(max_diff(net.state_dict()[i].second, saved[i].second) > 0.5);
  const auto result = net.load_state_dict(saved);
  CHECK(result.missing_keys.empty());
  for (std::size_t i = 0; i < saved.size(); ++i) {
    INFO(saved[i].first);
    CHECK(max_diff(net.state_dict()[i].second, saved[i].second) == 0.0);
  }
  const std::vector<Tensor> after = net.parameters();
  for (std::size_t i = 0; i < handles.size(); ++i) CHECK(after[i].is_same(handles[i]));
  CHECK(net.bn->num_batches_tracked.dtype() == DType::int64);
  CHECK(net.bn->num_batches_tracked.item() == 1);
  // A dict of float64 values is cast into the float32 tensors.
  StateDict as_double;
  for (auto& [k, t] : saved) as_double.emplace_back(k, ops::to_dtype(t, DType::float64));
  net.load_state_dict(as_double);
  CHECK(net.conv->weight.dtype() == DType::float32);
  CHECK(max_diff(net.conv->weight, saved[2].second) == 0.0);
}

TEST_CASE("strict load_state_dict: one error listing every missing, unexpected and mis-shaped key") {
  Generator gen(3);
  Net net(gen);
  const std::vector<double> before = host(net.conv->weight);
  StateDict d;
  for (auto& [k, t] : net.state_dict()) {
    if (k == "bn.running_var" || k == "scale") continue;                 // missing
    if (k == "head.1.weight") {                                          // mis-shaped
      d.emplace_back(k, zeros({3, 9}));
      continue;
    }
    d.emplace_back(k, ops::add(t.detach(), 1.0));
  }
  d.emplace_back("head.2.weight", zeros({3}));  // unexpected
  d.emplace_back("extra", zeros({1}));
  const std::string message = load_error(net, d);
  INFO(message);
  for (const char* part : {"missing", "bn.running_var", "scale", "unexpected", "head.2.weight", "extra", "head.1.weight",
                           "expected [3, 8] vs got [3, 9]"})
    CHECK(message.find(part) != std::string::npos);
  CHECK(host(net.conv->weight) == before);  // a failed strict load changes nothing
  CHECK(load_error(net, net.state_dict()) == "(no error)");
}

TEST_CASE("non-strict load_state_dict loads what matches and reports the rest") {
  Generator gen(4);
  Net net(gen);
  const std::vector<double> bias_before = host(net.head->at(1)->named_parameters()[1].second);
  StateDict d = {{"conv.weight", ones({2, 1, 3, 3})},
                 {"head.1.bias", zeros({4})},  // mis-shaped: skipped
                 {"nonsense", zeros({2})}};
  const auto r = net.load_state_dict(d, /*strict=*/false);
  CHECK(host(net.conv->weight) == std::vector<double>(18, 1.0));
  CHECK(host(net.head->at(1)->named_parameters()[1].second) == bias_before);
  CHECK(r.unexpected_keys == std::vector<std::string>{"nonsense"});
  REQUIRE(r.mismatched_keys.size() == 1);
  CHECK(r.mismatched_keys[0].find("head.1.bias") != std::string::npos);
  CHECK(r.missing_keys.size() == net.state_dict().size() - 2);
}

TEST_CASE("to(float64) converts floating tensors in place: handles, values and grads kept") {
  Generator gen(5);
  Net net(gen);
  const Tensor x = nnt::random({2, 1, 4, 4}, 9);
  backward(sum(net(x)));
  const std::vector<Tensor> handles = net.parameters();
  std::vector<std::vector<double>> values, grads;
  for (const Tensor& p : handles) values.push_back(host(p)), grads.push_back(host(p.grad()));
  net.to(DType::float64);
  const std::vector<Tensor> after = net.parameters();
  for (std::size_t i = 0; i < handles.size(); ++i) {
    CHECK(after[i].is_same(handles[i]));
    CHECK(handles[i].dtype() == DType::float64);
    CHECK(handles[i].requires_grad());
    CHECK(host(handles[i]) == values[i]);
    CHECK(handles[i].grad().dtype() == DType::float64);
    CHECK(host(handles[i].grad()) == grads[i]);
  }
  CHECK(net.steps.dtype() == DType::float64);
  CHECK(net.bn->num_batches_tracked.dtype() == DType::int64);
  const Tensor y = net(ops::to_dtype(x, DType::float64));
  CHECK(y.dtype() == DType::float64);
  backward(sum(y));  // still trainable after the move
  CHECK(handles[0].grad().dtype() == DType::float64);
  net.to(Device::cpu());  // no-op on the same device keeps handles
  CHECK(net.parameters()[0].is_same(handles[0]));
  net.to(DType::float32);
  CHECK(handles[1].dtype() == DType::float32);
  CHECK_THROWS_AS(net.to(DType::int64), DTypeError);
}
