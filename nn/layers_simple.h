// Layers without parameters: ReLU, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Dropout, Flatten, Identity.
#pragma once

#include <cstdint>

#include "proxima/core/generator.h"
#include "proxima/nn/module.h"

namespace px::nn {

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "ReLU"; }
};

struct Pool2dOptions {
  std::int64_t kernel_size = 2;
  std::int64_t stride = 0;  // 0 = kernel_size (PyTorch's stride=None)
  std::int64_t padding = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;  // AvgPool2d only
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(const Pool2dOptions& options);
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "MaxPool2d"; }

 private:
  Pool2dOptions options_;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(const Pool2dOptions& options);
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "AvgPool2d"; }

 private:
  Pool2dOptions options_;
};

// Only output_size 1 (global average pooling): [N, C, H, W] -> [N, C, 1, 1].
class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(std::int64_t output_size = 1);
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "AdaptiveAvgPool2d"; }

 private:
  std::int64_t output_size_;
};

struct DropoutOptions {
  double p = 0.5;
};

// Training: zeroes each element with probability p and scales the rest by 1/(1-p), drawing
// from the Generator given at construction (it must outlive the module). Eval: identity.
class Dropout : public Module {
 public:
  explicit Dropout(const DropoutOptions& options = {}, Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "Dropout"; }

 private:
  DropoutOptions options_;
  Generator* gen_;
};

struct FlattenOptions {
  std::int64_t start_dim = 1;
  std::int64_t end_dim = -1;
};

class Flatten : public Module {
 public:
  explicit Flatten(const FlattenOptions& options = {}) : options_(options) {}
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "Flatten"; }

 private:
  FlattenOptions options_;
};

class Identity : public Module {
 public:
  Tensor forward(const Tensor& x) override { return x; }
  std::string name() const override { return "Identity"; }
};

}  // namespace px::nn
