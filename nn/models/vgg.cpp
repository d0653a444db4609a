// VGG11/13/16/19 with BatchNorm, as kuangliu/pytorch-cifar: features.N.* and classifier.*.
#include "proxima/autograd/functions.h"
#include "proxima/nn/layers.h"
#include "proxima/nn/layers_simple.h"
#include "proxima/nn/models/models.h"
#include "proxima/nn/sequential.h"

namespace px::nn {

namespace {

constexpr std::int64_t M = 0;  // a max-pool entry in a configuration

std::vector<std::int64_t> vgg_config(std::int64_t depth) {
  switch (depth) {
    case 11: return {64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M};
    case 13: return {64, 64, M, 128, 128, M, 256, 256, M, 512, 512, M, 512, 512, M};
    case 16: return {64, 64, M, 128, 128, M, 256, 256, 256, M, 512, 512, 512, M, 512, 512, 512, M};
    case 19:
      return {64, 64, M, 128, 128, M, 256, 256, 256, 256, M, 512, 512, 512, 512, M, 512, 512, 512, 512, M};
  }
  throw ValueError("make_vgg: depth must be 11, 13, 16 or 19, got " + std::to_string(depth));
}

// features: per entry Conv2d(3x3, padding 1) + BatchNorm2d + ReLU, or MaxPool2d(2, 2); then
// AvgPool2d(1, 1). Five pools take 32x32 to 1x1, so the classifier sees 512 features.
class Vgg : public Module {
 public:
  Vgg(std::int64_t depth, const ModelSpec& spec, Generator& gen) {
    const auto config = vgg_config(depth);
    PX_CHECK(spec.image_size == 32, ValueError, "vgg", depth, ": needs 32x32 images (five 2x2 pools to 1x1 before ",
             "the 512-feature classifier), got image_size ", spec.image_size);
    features_ = register_module("features", std::make_shared<Sequential>());
    std::int64_t channels = spec.in_channels;
    for (std::int64_t x : config) {
      if (x == M) {
        features_->push_back(std::make_shared<MaxPool2d>(Pool2dOptions{.kernel_size = 2, .stride = 2}));
        continue;
      }
      features_->push_back(std::make_shared<Conv2d>(
          Conv2dOptions{.in_channels = channels, .out_channels = x, .kernel_size = 3, .padding = 1}, gen));
      features_->push_back(std::make_shared<BatchNorm2d>(BatchNormOptions{.num_features = x}));
      features_->push_back(std::make_shared<ReLU>());
      channels = x;
    }
    features_->push_back(std::make_shared<AvgPool2d>(Pool2dOptions{.kernel_size = 1, .stride = 1}));
    classifier_ = register_module(
        "classifier", std::make_shared<Linear>(LinearOptions{.in_features = 512, .out_features = spec.num_classes}, gen));
  }
  Tensor forward(const Tensor& x) override {
    Tensor y = (*features_)(x);
    return (*classifier_)(flatten(y, 1));
  }
  std::string name() const override { return "VGG"; }

 private:
  std::shared_ptr<Sequential> features_;
  std::shared_ptr<Linear> classifier_;
};

}  // namespace

std::shared_ptr<Module> make_vgg(std::int64_t depth, const ModelSpec& spec, Generator& gen) {
  return std::make_shared<Vgg>(depth, spec, gen);
}

}  // namespace px::nn
