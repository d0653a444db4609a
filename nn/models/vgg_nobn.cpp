// VGG11/13/16/19 without BatchNorm (PathProx's CIFAR network, ALGORITHMS.md §6.3), with its
// homogeneous units: conv pairs inside each block.
#include "proxima/autograd/functions.h"
#include "proxima/nn/init.h"
#include "proxima/nn/layers.h"
#include "proxima/nn/layers_simple.h"
#include "proxima/nn/models/models.h"
#include "proxima/nn/sequential.h"

namespace px::nn {

namespace {

// Conv widths per block (a block ends at a 2x2 max-pool; the last block at the final AvgPool2d(2)).
std::vector<std::vector<std::int64_t>> vgg_nobn_blocks(std::int64_t depth) {
  switch (depth) {
    case 11: return {{64}, {128}, {256, 256}, {512, 512}, {512, 512}};
    case 13: return {{64, 64}, {128, 128}, {256, 256}, {512, 512}, {512, 512}};
    case 16: return {{64, 64}, {128, 128}, {256, 256, 256}, {512, 512, 512}, {512, 512, 512}};
    case 19: return {{64, 64}, {128, 128}, {256, 256, 256, 256}, {512, 512, 512, 512}, {512, 512, 512, 512}};
  }
  throw ValueError("make_vgg_nobn: depth must be 11, 13, 16 or 19, got " + std::to_string(depth));
}

// features: per block, Conv2d(3x3, padding 1, bias) + ReLU per width, then MaxPool2d(2, 2) after
// the first four blocks and AvgPool2d(2) after the fifth (32 -> 2 -> 1); classifier Linear(512,
// classes). Kaiming-normal (fan_in, gain sqrt 2) weights and zero biases everywhere.
class VggNoBn : public Module {
 public:
  VggNoBn(std::int64_t depth, const ModelSpec& spec, Generator& gen) : depth_(depth) {
    const auto blocks = vgg_nobn_blocks(depth);
    PX_CHECK(spec.image_size == 32, ValueError, "vgg", depth, "-nobn: needs 32x32 images (four 2x2 max-pools and ",
             "a 2x2 average pool to 1x1 before the 512-feature classifier), got image_size ", spec.image_size);
    features_ = register_module("features", std::make_shared<Sequential>());
    std::int64_t channels = spec.in_channels;
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      std::vector<std::int64_t> convs;
      for (std::int64_t width : blocks[b]) {
        convs.push_back(features_->size());
        auto conv = features_->push_back(std::make_shared<Conv2d>(
            Conv2dOptions{.in_channels = channels, .out_channels = width, .kernel_size = 3, .padding = 1}, gen));
        init::kaiming_normal_(conv->weight, gen);
        init::zeros_(conv->bias);
        features_->push_back(std::make_shared<ReLU>());
        channels = width;
      }
      block_convs_.push_back(convs);
      if (b + 1 < blocks.size()) {
        features_->push_back(std::make_shared<MaxPool2d>(Pool2dOptions{.kernel_size = 2, .stride = 2}));
      } else {
        features_->push_back(std::make_shared<AvgPool2d>(Pool2dOptions{.kernel_size = 2, .stride = 2}));
      }
    }
    classifier_ = register_module(
        "classifier", std::make_shared<Linear>(LinearOptions{.in_features = 512, .out_features = spec.num_classes}, gen));
    init::kaiming_normal_(classifier_->weight, gen);
    init::zeros_(classifier_->bias);
  }
  Tensor forward(const Tensor& x) override { return (*classifier_)(flatten((*features_)(x), 1)); }
  std::string name() const override { return "VGG-noBN"; }

  // Groups: consecutive conv pairs inside a block (never across a pool); an unpaired conv and the
  // classifier are "other" layers.
  std::optional<HomogeneousUnits> homogeneous_units() override {
    HomogeneousUnits u{.model = "vgg" + std::to_string(depth_) + "-nobn"};
    for (const auto& convs : block_convs_) {
      for (std::size_t i = 0; i < convs.size(); i += 2) {
        if (i + 1 < convs.size()) {
          u.groups.push_back({conv_layer(convs[i]), conv_layer(convs[i + 1])});
        } else {
          u.others.push_back({conv_layer(convs[i]), static_cast<std::int64_t>(u.groups.size())});
        }
      }
    }
    u.others.push_back({UnitLayer{"classifier.weight", classifier_->weight, "classifier.bias", classifier_->bias},
                        static_cast<std::int64_t>(u.groups.size())});
    return u;
  }

 private:
  UnitLayer conv_layer(std::int64_t index) const {
    auto* conv = dynamic_cast<Conv2d*>(features_->at(index).get());
    const std::string prefix = "features." + std::to_string(index) + ".";
    return {prefix + "weight", conv->weight, prefix + "bias", conv->bias};
  }

  std::int64_t depth_;
  std::vector<std::vector<std::int64_t>> block_convs_;  // indices in features_ of each block's convs
  std::shared_ptr<Sequential> features_;
  std::shared_ptr<Linear> classifier_;
};

}  // namespace

std::shared_ptr<Module> make_vgg_nobn(std::int64_t depth, const ModelSpec& spec, Generator& gen) {
  return std::make_shared<VggNoBn>(depth, spec, gen);
}

}  // namespace px::nn
