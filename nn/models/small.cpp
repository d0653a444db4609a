// Small models: the MLPs (Sequentials: the plain and PathProx's factorised one) and LeNet-5.
#include "proxima/autograd/functions.h"
#include "proxima/nn/layers.h"
#include "proxima/nn/layers_simple.h"
#include "proxima/nn/models/models.h"
#include "proxima/nn/sequential.h"

namespace px::nn {

std::shared_ptr<Module> make_mlp(const std::vector<std::int64_t>& hidden, const ModelSpec& spec, Generator& gen) {
  auto net = std::make_shared<Sequential>();
  net->push_back(std::make_shared<Flatten>());
  std::int64_t width = spec.in_channels * spec.image_size * spec.image_size;
  for (std::int64_t h : hidden) {
    PX_CHECK(h > 0, ValueError, "make_mlp: hidden widths must be positive, got ", h);
    net->push_back(std::make_shared<Linear>(LinearOptions{.in_features = width, .out_features = h}, gen));
    net->push_back(std::make_shared<ReLU>());
    width = h;
  }
  net->push_back(std::make_shared<Linear>(LinearOptions{.in_features = width, .out_features = spec.num_classes}, gen));
  return net;
}

// PathProx's factorised MLP (ALGORITHMS.md §6.3): Flatten, L1, ReLU, L2, L3, ReLU, L4, L5, ReLU, fc;
// L2 and L4 are linear (no activation). Keys "1.weight" (L1), "3.*" (L2), "4.*" (L3), "6.*" (L4),
// "7.*" (L5), "9.*" (fc). require_homogeneous_units pairs them as (L1, L2), (L3, L4), (L5, fc).
std::shared_ptr<Module> make_mlp_factorized(std::int64_t hidden, const ModelSpec& spec, Generator& gen) {
  PX_CHECK(hidden > 0, ValueError, "make_mlp_factorized: the hidden width must be positive, got ", hidden);
  auto net = std::make_shared<Sequential>();
  net->push_back(std::make_shared<Flatten>());
  std::int64_t width = spec.in_channels * spec.image_size * spec.image_size;
  auto linear = [&](std::int64_t out) {
    net->push_back(std::make_shared<Linear>(LinearOptions{.in_features = width, .out_features = out}, gen));
    width = out;
  };
  for (int pair = 0; pair < 3; ++pair) {
    linear(hidden);  // L1, L3, L5
    net->push_back(std::make_shared<ReLU>());
    linear(pair < 2 ? hidden : spec.num_classes);  // L2, L4 (linear), fc
  }
  return net;
}

namespace {

// conv1 (5x5) -> relu -> pool 2 -> conv2 (5x5) -> relu -> pool 2 -> fc1 -> relu -> fc2 -> relu -> fc3.
class LeNet5 : public Module {
 public:
  LeNet5(const ModelSpec& spec, Generator& gen) {
    const std::int64_t pad = spec.image_size == 28 ? 2 : 0;
    const std::int64_t side = ((spec.image_size + 2 * pad - 4) / 2 - 4) / 2;  // after the second pool
    PX_CHECK(spec.image_size + 2 * pad >= 16 && side >= 1, ValueError,
             "lenet5: image_size must be at least 16, got ", spec.image_size);
    conv1_ = register_module(
        "conv1", std::make_shared<Conv2d>(
                     Conv2dOptions{.in_channels = spec.in_channels, .out_channels = 6, .kernel_size = 5, .padding = pad},
                     gen));
    conv2_ = register_module(
        "conv2", std::make_shared<Conv2d>(Conv2dOptions{.in_channels = 6, .out_channels = 16, .kernel_size = 5}, gen));
    fc1_ = register_module(
        "fc1", std::make_shared<Linear>(LinearOptions{.in_features = 16 * side * side, .out_features = 120}, gen));
    fc2_ = register_module("fc2", std::make_shared<Linear>(LinearOptions{.in_features = 120, .out_features = 84}, gen));
    fc3_ = register_module(
        "fc3", std::make_shared<Linear>(LinearOptions{.in_features = 84, .out_features = spec.num_classes}, gen));
  }
  Tensor forward(const Tensor& x) override {
    const Pool2dParams pool{};  // 2x2, stride 2
    Tensor y = max_pool2d(relu((*conv1_)(x)), pool);
    y = flatten(max_pool2d(relu((*conv2_)(y)), pool), 1);
    return (*fc3_)(relu((*fc2_)(relu((*fc1_)(y)))));
  }
  std::string name() const override { return "LeNet5"; }

 private:
  std::shared_ptr<Conv2d> conv1_, conv2_;
  std::shared_ptr<Linear> fc1_, fc2_, fc3_;
};

}  // namespace

std::shared_ptr<Module> make_lenet5(const ModelSpec& spec, Generator& gen) { return std::make_shared<LeNet5>(spec, gen); }

}  // namespace px::nn
