// The model zoo: make_model(name, spec, gen) builds networks whose state-dict keys, order and
// layouts are identical to the reference PyTorch definitions (tests/golden/make_model_keys.py).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "proxima/core/generator.h"
#include "proxima/nn/module.h"

namespace px::nn {

struct ModelSpec {
  std::int64_t in_channels = 3;
  std::int64_t image_size = 32;  // square images
  std::int64_t num_classes = 10;
};

// Names: mlp (in_channels*image_size^2 -> 1000 -> classes) or "mlp:W1,W2,..." (hidden widths),
// mlp-factorized or "mlp-factorized:H" (PathProx's factorised MLP, hidden H = 400 by default),
// lenet5, vgg11, vgg13, vgg16, vgg19, vgg11-nobn ... vgg19-nobn (no BatchNorm, PathProx's VGG),
// resnet20, resnet32, resnet44, resnet56, resnet110, resnet18, resnet34. Unknown names throw px::ValueError listing model_names(); a spec a model
// cannot take (e.g. vgg or resnet18 on images that are not 32x32) throws px::ValueError.
std::shared_ptr<Module> make_model(const std::string& name, const ModelSpec& spec, Generator& gen = default_generator());
std::vector<std::string> model_names();

// The builders behind make_model.
// akamaster/pytorch_resnet_cifar10: depth 6n+2 (20, 32, 44, 56, 110), option-A shortcuts,
// kaiming_normal_ init of every Conv2d and Linear weight. Global average pooling, so any
// image size >= 4 works.
std::shared_ptr<Module> make_cifar_resnet(std::int64_t depth, const ModelSpec& spec, Generator& gen);
// kuangliu/pytorch-cifar ResNet18/34 (BasicBlock, projection shortcuts); 32x32 images.
std::shared_ptr<Module> make_resnet(std::int64_t depth, const ModelSpec& spec, Generator& gen);
// kuangliu/pytorch-cifar VGG11/13/16/19 with BatchNorm (depth 11, 13, 16, 19); 32x32 images.
std::shared_ptr<Module> make_vgg(std::int64_t depth, const ModelSpec& spec, Generator& gen);
// LeNet-5; conv1 gets padding 2 when image_size is 28 (MNIST), so fc1 sees 16*5*5 features.
std::shared_ptr<Module> make_lenet5(const ModelSpec& spec, Generator& gen);
// Sequential(Flatten, Linear, ReLU, ..., Linear): keys "1.weight", "1.bias", "3.weight", ...
std::shared_ptr<Module> make_mlp(const std::vector<std::int64_t>& hidden, const ModelSpec& spec, Generator& gen);
// PathProx (ALGORITHMS.md §6.3): Sequential(Flatten, L1, ReLU, L2, L3, ReLU, L4, L5, ReLU, fc), all
// hidden widths `hidden`; homogeneous units (L1, L2), (L3, L4), (L5, fc).
std::shared_ptr<Module> make_mlp_factorized(std::int64_t hidden, const ModelSpec& spec, Generator& gen);
// VGG11/13/16/19 without BatchNorm (PathProx's CIFAR VGG): conv + bias + ReLU, max-pools between
// blocks, AvgPool2d(2) and fc 512 -> classes; Kaiming-normal (fan_in) weights, zero biases; keys
// features.N.*, classifier.*. Declares its homogeneous units: conv pairs inside each block, an
// unpaired conv and the classifier are "other" layers. 32x32 images.
std::shared_ptr<Module> make_vgg_nobn(std::int64_t depth, const ModelSpec& spec, Generator& gen);

}  // namespace px::nn
