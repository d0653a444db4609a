// ResNets for CIFAR: akamaster's resnet20..110 (option-A shortcuts) and kuangliu's resnet18/34.
#include "proxima/autograd/functions.h"
#include "proxima/nn/init.h"
#include "proxima/nn/layers.h"
#include "proxima/nn/layers_simple.h"
#include "proxima/nn/models/models.h"
#include "proxima/nn/sequential.h"

namespace px::nn {

namespace {

enum class ShortcutKind { pad, projection };  // option A (akamaster) / 1x1 conv + BN (kuangliu)

// Option A: x[:, :, ::2, ::2] zero-padded with `pad` channels on each side. No parameters.
class PadShortcut : public Module {
 public:
  explicit PadShortcut(std::int64_t pad) : pad_(pad) {}
  Tensor forward(const Tensor& x) override {
    Tensor y = slice(slice(x, 2, 0, x.size(2), 2), 3, 0, x.size(3), 2);
    return px::pad(y, {0, 0, 0, 0, pad_, pad_});
  }
  std::string name() const override { return "PadShortcut"; }

 private:
  std::int64_t pad_;
};

std::shared_ptr<Conv2d> conv3x3(std::int64_t in, std::int64_t out, std::int64_t stride, Generator& gen) {
  return std::make_shared<Conv2d>(Conv2dOptions{.in_channels = in,
                                                .out_channels = out,
                                                .kernel_size = 3,
                                                .stride = stride,
                                                .padding = 1,
                                                .bias = false},
                                  gen);
}

std::shared_ptr<BatchNorm2d> bn(std::int64_t c) {
  return std::make_shared<BatchNorm2d>(BatchNormOptions{.num_features = c});
}

// out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)).
class BasicBlock : public Module {
 public:
  BasicBlock(std::int64_t in, std::int64_t planes, std::int64_t stride, ShortcutKind kind, Generator& gen) {
    conv1_ = register_module("conv1", conv3x3(in, planes, stride, gen));
    bn1_ = register_module("bn1", bn(planes));
    conv2_ = register_module("conv2", conv3x3(planes, planes, 1, gen));
    bn2_ = register_module("bn2", bn(planes));
    const bool reshape = stride != 1 || in != planes;
    if (!reshape) {
      shortcut_ = register_module("shortcut", std::make_shared<Sequential>());  // empty: identity
    } else if (kind == ShortcutKind::pad) {
      shortcut_ = register_module("shortcut", std::make_shared<PadShortcut>(planes / 4));
    } else {
      auto projection = std::make_shared<Sequential>();
      projection->push_back(std::make_shared<Conv2d>(
          Conv2dOptions{.in_channels = in, .out_channels = planes, .kernel_size = 1, .stride = stride, .bias = false},
          gen));
      projection->push_back(bn(planes));
      shortcut_ = register_module("shortcut", projection);
    }
  }
  Tensor forward(const Tensor& x) override {
    Tensor out = bn1_->forward_relu((*conv1_)(x));
    out = (*bn2_)((*conv2_)(out));
    return relu(out + (*shortcut_)(x));
  }
  std::string name() const override { return "BasicBlock"; }

 private:
  std::shared_ptr<Conv2d> conv1_, conv2_;
  std::shared_ptr<BatchNorm2d> bn1_, bn2_;
  std::shared_ptr<Module> shortcut_;
};

// conv1 -> bn1 -> relu -> layer1..K (stages of BasicBlocks) -> average pool -> linear.
class ResNet : public Module {
 public:
  // widths[i] and blocks[i] describe stage i; stage 0 has stride 1, the others stride 2.
  ResNet(const std::vector<std::int64_t>& widths, const std::vector<std::int64_t>& blocks, ShortcutKind kind,
         std::int64_t pool, const ModelSpec& spec, Generator& gen)
      : pool_(pool) {
    std::int64_t in = widths[0];
    conv1_ = register_module("conv1", conv3x3(spec.in_channels, in, 1, gen));
    bn1_ = register_module("bn1", bn(in));
    for (std::size_t s = 0; s < widths.size(); ++s) {
      auto stage = std::make_shared<Sequential>();
      for (std::int64_t b = 0; b < blocks[s]; ++b) {
        const std::int64_t stride = (s > 0 && b == 0) ? 2 : 1;
        stage->push_back(std::make_shared<BasicBlock>(in, widths[s], stride, kind, gen));
        in = widths[s];
      }
      stages_.push_back(register_module("layer" + std::to_string(s + 1), stage));
    }
    linear_ = register_module("linear",
                              std::make_shared<Linear>(LinearOptions{.in_features = in, .out_features = spec.num_classes}, gen));
  }
  Tensor forward(const Tensor& x) override {
    Tensor out = bn1_->forward_relu((*conv1_)(x));
    for (auto& stage : stages_) out = (*stage)(out);
    // pool_ 0: global average pooling (akamaster's avg_pool2d(out, out.size(3))).
    const std::int64_t k = pool_ == 0 ? out.size(3) : pool_;
    out = avg_pool2d(out, Pool2dParams{.kernel_h = k, .kernel_w = k, .stride_h = k, .stride_w = k});
    return (*linear_)(flatten(out, 1));
  }
  std::string name() const override { return "ResNet"; }

 private:
  std::int64_t pool_;
  std::shared_ptr<Conv2d> conv1_;
  std::shared_ptr<BatchNorm2d> bn1_;
  std::vector<std::shared_ptr<Sequential>> stages_;
  std::shared_ptr<Linear> linear_;
};

}  // namespace

std::shared_ptr<Module> make_cifar_resnet(std::int64_t depth, const ModelSpec& spec, Generator& gen) {
  PX_CHECK(depth >= 8 && (depth - 2) % 6 == 0, ValueError, "make_cifar_resnet: depth must be 6n+2 (20, 32, 44, 56, ",
           "110), got ", depth);
  PX_CHECK(spec.image_size >= 4, ValueError, "resnet", depth, ": image_size must be at least 4, got ",
           spec.image_size);
  const std::int64_t n = (depth - 2) / 6;
  auto net = std::make_shared<ResNet>(std::vector<std::int64_t>{16, 32, 64}, std::vector<std::int64_t>{n, n, n},
                                      ShortcutKind::pad, 0, spec, gen);
  // akamaster's _weights_init: kaiming_normal_ (fan_in, gain sqrt(2)) on every Conv2d and Linear weight.
  for (auto& [name, module] : net->named_modules()) {
    if (auto* conv = dynamic_cast<Conv2d*>(module)) init::kaiming_normal_(conv->weight, gen);
    if (auto* fc = dynamic_cast<Linear*>(module)) init::kaiming_normal_(fc->weight, gen);
  }
  return net;
}

std::shared_ptr<Module> make_resnet(std::int64_t depth, const ModelSpec& spec, Generator& gen) {
  PX_CHECK(depth == 18 || depth == 34, ValueError, "make_resnet: depth must be 18 or 34, got ", depth);
  PX_CHECK(spec.image_size == 32, ValueError, "resnet", depth, ": needs 32x32 images (avg_pool2d(4) on the 4x4 ",
           "final map feeds the 512-feature linear layer), got image_size ", spec.image_size);
  const std::vector<std::int64_t> blocks =
      depth == 18 ? std::vector<std::int64_t>{2, 2, 2, 2} : std::vector<std::int64_t>{3, 4, 6, 3};
  return std::make_shared<ResNet>(std::vector<std::int64_t>{64, 128, 256, 512}, blocks, ShortcutKind::projection, 4,
                                  spec, gen);
}

}  // namespace px::nn
