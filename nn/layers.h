// Layers with parameters: Linear, Conv2d, BatchNorm1d, BatchNorm2d (PyTorch's defaults and names).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "proxima/core/generator.h"
#include "proxima/nn/module.h"

namespace px::nn {

struct LinearOptions {
  std::int64_t in_features = 0;
  std::int64_t out_features = 0;
  bool bias = true;
};

// y = x w^T + b; x [*, in] -> [*, out]. weight [out, in], bias [out].
// Init (PyTorch's reset_parameters): weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)).
class Linear : public Module {
 public:
  explicit Linear(const LinearOptions& options, Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "Linear"; }
  const LinearOptions& options() const { return options_; }
  Tensor weight, bias;  // bias undefined when options.bias is false

 protected:
  std::vector<std::string> own_regularized_parameters() const override { return {"weight"}; }

 private:
  LinearOptions options_;
};

struct Conv2dOptions {
  std::int64_t in_channels = 0;
  std::int64_t out_channels = 0;
  std::int64_t kernel_size = 3;  // square kernels
  std::int64_t stride = 1;
  std::int64_t padding = 0;
  std::int64_t dilation = 1;
  std::int64_t groups = 1;
  bool bias = true;
};

// x [N, in, H, W] -> [N, out, H', W']. weight [out, in/groups, k, k], bias [out].
// Init: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in/groups * k * k.
class Conv2d : public Module {
 public:
  explicit Conv2d(const Conv2dOptions& options, Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "Conv2d"; }
  const Conv2dOptions& options() const { return options_; }
  Tensor weight, bias;

 protected:
  std::vector<std::string> own_regularized_parameters() const override { return {"weight"}; }

 private:
  Conv2dOptions options_;
};

struct BatchNormOptions {
  std::int64_t num_features = 0;
  double eps = 1e-5;
  double momentum = 0.1;
  bool affine = true;               // weight (ones) and bias (zeros) parameters
  bool track_running_stats = true;  // running_mean, running_var, num_batches_tracked buffers
};

// Shared by BatchNorm1d and BatchNorm2d. Training: batch statistics, running stats updated
// with momentum (unbiased variance) and num_batches_tracked += 1. Eval: running stats.
class BatchNorm : public Module {
 public:
  BatchNorm(const BatchNormOptions& options, std::int64_t spatial_dims);
  Tensor forward(const Tensor& x) override;
  // relu(forward(x)) as one fused op (batch_norm_relu): the same values and gradients.
  Tensor forward_relu(const Tensor& x);
  const BatchNormOptions& options() const { return options_; }
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  // Frozen: training still normalises with the batch statistics but leaves running_mean,
  // running_var and num_batches_tracked untouched (SR2's trial evaluations; FreezeRunningStats).
  void set_running_stats_frozen(bool frozen) { running_stats_frozen_ = frozen; }
  bool running_stats_frozen() const { return running_stats_frozen_; }

 private:
  Tensor forward_impl(const Tensor& x, bool relu);
  BatchNormOptions options_;
  std::int64_t spatial_dims_;  // 1d: [N, C] or [N, C, L]; 2d: [N, C, H, W]
  bool running_stats_frozen_ = false;
};

// RAII: freezes the running statistics of every BatchNorm in a module tree for its lifetime and
// restores each one's previous setting afterwards (a re-evaluation of the same minibatch, e.g.
// SR2's trial point, must not update them a second time).
class FreezeRunningStats {
 public:
  explicit FreezeRunningStats(Module& root);
  ~FreezeRunningStats();
  FreezeRunningStats(const FreezeRunningStats&) = delete;
  FreezeRunningStats& operator=(const FreezeRunningStats&) = delete;

 private:
  std::vector<std::pair<BatchNorm*, bool>> saved_;
};

class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(const BatchNormOptions& options) : BatchNorm(options, 1) {}
  std::string name() const override { return "BatchNorm1d"; }
};

class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(const BatchNormOptions& options) : BatchNorm(options, 2) {}
  std::string name() const override { return "BatchNorm2d"; }
};

}  // namespace px::nn
