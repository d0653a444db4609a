// The fused BatchNorm+ReLU in the models (ResNet's bn1+relu, Sequential's BatchNorm2d,ReLU
// pairs in VGG): outputs, gradients and running statistics equal an unfused reference forward
// that walks the same modules; state-dict keys and children unchanged.
#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <set>
#include <string>

#include "nn_helpers.h"
#include "proxima/nn/layers.h"
#include "proxima/nn/layers_simple.h"
#include "proxima/nn/models/models.h"
#include "proxima/nn/sequential.h"

using namespace px;
using namespace px::nn;

namespace {

std::map<std::string, Module*> children(const Module& m) {
  std::map<std::string, Module*> out;
  for (const auto& [name, child] : m.named_children()) out[name] = child.get();
  return out;
}

// Every child's own forward in order: BatchNorm then ReLU as two ops.
Tensor unfused_sequential(const Module& seq, const Tensor& x) {
  Tensor y = x;
  for (const auto& [name, child] : seq.named_children()) y = child->forward(y);
  return y;
}

// akamaster's CIFAR ResNet written out from the module tree, with relu(bn(.)) unfused.
Tensor unfused_resnet(const Module& net, const Tensor& x) {
  auto top = children(net);
  Tensor out = px::relu(top["bn1"]->forward(top["conv1"]->forward(x)));
  for (int s = 1; top.count("layer" + std::to_string(s)); ++s) {
    for (const auto& [name, block] : top["layer" + std::to_string(s)]->named_children()) {
      auto b = children(*block);
      Tensor o = px::relu(b["bn1"]->forward(b["conv1"]->forward(out)));
      o = b["bn2"]->forward(b["conv2"]->forward(o));
      out = px::relu(px::add(o, b["shortcut"]->forward(out)));
    }
  }
  const std::int64_t k = out.size(3);
  out = avg_pool2d(out, Pool2dParams{.kernel_h = k, .kernel_w = k, .stride_h = k, .stride_w = k});
  return top["linear"]->forward(flatten(out, 1));
}

Tensor unfused_vgg(const Module& net, const Tensor& x) {
  auto top = children(net);
  return top["classifier"]->forward(flatten(unfused_sequential(*top["features"], x), 1));
}

// Recorded nodes named `name` in y's graph.
std::int64_t count_nodes(const Tensor& y, const std::string& name) {
  std::set<autograd::Node*> seen;
  std::vector<autograd::Node*> todo{y.autograd_meta()->grad_fn.get()};
  std::int64_t count = 0;
  while (!todo.empty()) {
    autograd::Node* n = todo.back();
    todo.pop_back();
    if (!n || !seen.insert(n).second) continue;
    count += n->name == name;
    for (const auto& e : n->inputs) todo.push_back(e.node.get());
  }
  return count;
}

struct Result {
  Tensor y, gx;
  std::vector<Tensor> grads, buffers;
  std::int64_t fused_nodes = 0, bn_nodes = 0;
};

// One forward (model's own or the reference) + backward of sum(y * r), from the state `start`.
Result run(Module& model, const StateDict& start, const Tensor& x0, const Tensor& r,
           const std::function<Tensor(const Tensor&)>& forward) {
  model.load_state_dict(start);
  for (auto& p : model.parameters()) p.zero_grad();
  Result res;
  Tensor x = x0.clone().set_requires_grad();
  res.y = forward(x);
  res.fused_nodes = count_nodes(res.y, "batch_norm_relu");
  res.bn_nodes = count_nodes(res.y, "batch_norm");
  backward(px::sum(px::mul(res.y, r)));
  res.gx = x.grad();
  for (auto& p : model.parameters()) res.grads.push_back(p.grad().clone());
  for (auto& [name, b] : model.named_buffers()) res.buffers.push_back(b.clone());
  return res;
}

void check_same(const Result& got, const Result& want, const std::string& what) {
  INFO(what);
  const double tol = 1e-12;
  CHECK(nnt::max_diff(got.y, want.y) <= tol * (1.0 + nnt::max_diff(want.y, px::zeros_like(want.y))));
  CHECK(nnt::max_diff(got.gx, want.gx) <= tol);
  REQUIRE(got.grads.size() == want.grads.size());
  for (std::size_t i = 0; i < got.grads.size(); ++i) CHECK(nnt::max_diff(got.grads[i], want.grads[i]) <= tol);
  REQUIRE(got.buffers.size() == want.buffers.size());
  for (std::size_t i = 0; i < got.buffers.size(); ++i) CHECK(nnt::max_diff(got.buffers[i], want.buffers[i]) <= tol);
}

StateDict snapshot(const Module& m) {
  StateDict copy;
  for (auto& [name, t] : m.state_dict()) copy.emplace_back(name, t.clone());
  return copy;
}

void compare_model(const std::string& name, std::int64_t batch, std::int64_t fused_nodes,
                   const std::function<Tensor(const Module&, const Tensor&)>& reference) {
  Generator gen(31);
  auto model = make_model(name, {}, gen);
  model->to(DType::float64);
  const StateDict start = snapshot(*model);
  const Tensor x = nnt::random({batch, 3, 32, 32}, 32, DType::float64);
  const Tensor r = nnt::random({batch, 10}, 33, DType::float64);
  for (bool training : {true, false}) {
    model->train(training);
    const Result fused = run(*model, start, x, r, [&](const Tensor& in) { return (*model)(in); });
    const Result plain = run(*model, start, x, r, [&](const Tensor& in) { return reference(*model, in); });
    check_same(fused, plain, name + (training ? " training" : " eval"));
    CHECK(fused.fused_nodes == fused_nodes);  // the model did take the fused path
    CHECK(plain.fused_nodes == 0);
    CHECK(fused.fused_nodes + fused.bn_nodes == plain.bn_nodes);
  }
}

}  // namespace

TEST_CASE("resnet20 with fused bn1+relu equals the unfused forward: outputs, gradients, running stats (float64)") {
  compare_model("resnet20", 3, /*fused_nodes=*/10, unfused_resnet);  // the stem and each block's bn1
}

TEST_CASE("vgg16 with Sequential's fused BatchNorm2d+ReLU equals the unfused forward (float64)") {
  compare_model("vgg16", 2, /*fused_nodes=*/13, unfused_vgg);
}

TEST_CASE("Sequential fuses only BatchNorm directly followed by ReLU, names and children unchanged") {
  Generator gen(40);
  auto seq = std::make_shared<Sequential>();
  seq->push_back(std::make_shared<BatchNorm2d>(BatchNormOptions{.num_features = 3}));
  seq->push_back(std::make_shared<ReLU>());
  seq->push_back(std::make_shared<BatchNorm2d>(BatchNormOptions{.num_features = 3}));  // last: not fused
  CHECK(seq->size() == 3);
  std::vector<std::string> keys;
  for (auto& [k, v] : seq->state_dict()) keys.push_back(k);
  CHECK(keys == std::vector<std::string>{"0.weight", "0.bias", "0.running_mean", "0.running_var",
                                         "0.num_batches_tracked", "2.weight", "2.bias", "2.running_mean",
                                         "2.running_var", "2.num_batches_tracked"});
  seq->to(DType::float64);
  const Tensor x = nnt::random({4, 3, 5, 5}, 41, DType::float64);
  const StateDict start = snapshot(*seq);
  const Tensor y = (*seq)(x);
  seq->load_state_dict(start);
  const Tensor want = unfused_sequential(*seq, x);
  CHECK(nnt::max_diff(y, want) <= 1e-12);
  // The fused output is relu'd before the last BatchNorm: its statistics saw no negatives.
  seq->load_state_dict(start);
  const Tensor skipped = seq->at(2)->forward(seq->at(0)->forward(x));
  CHECK(nnt::max_diff(y, skipped) > 1e-3);
}

TEST_CASE("vgg16 keeps its Conv2d, BatchNorm2d, ReLU children (fusion is in Sequential::forward only)") {
  Generator gen(50);
  auto model = make_model("vgg16", {}, gen);
  auto features = std::dynamic_pointer_cast<Sequential>(model->named_children().at(0).second);
  REQUIRE(features);
  std::int64_t pairs = 0;
  for (std::int64_t i = 0; i + 1 < features->size(); ++i)
    pairs += dynamic_cast<BatchNorm2d*>(features->at(i).get()) && dynamic_cast<ReLU*>(features->at(i + 1).get());
  CHECK(pairs == 13);
  CHECK(model->state_dict().at(1).first == "features.0.bias");
  CHECK(model->state_dict().at(2).first == "features.1.weight");
}
