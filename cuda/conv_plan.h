// cuDNN plumbing of the CUDA convolutions: descriptors of one call and the per-shape algorithm cache.
// Private to cuda/: it includes cuDNN headers.
#pragma once

#include <cudnn.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "proxima/core/backend.h"

namespace px::cuda {

// The three cuDNN convolution calls. With x [N, C, H, W], w [K, C/groups, R, S] and
// y [N, K, P, Q]: forward writes y from (x, w); backward_input writes x from (y, w);
// backward_weight writes w from (x, y).
enum class ConvDirection : int { forward = 0, backward_input = 1, backward_weight = 2 };

// Everything that decides which algorithm cuDNN should run: device, direction, dtype,
// the TF32 switch (float32 only), the shapes of x and w, and the convolution parameters
// (y's shape follows from them). Stored as one flat array: equality and hash are trivial.
struct ConvKey {
  std::array<std::int64_t, 20> fields{};
  bool operator==(const ConvKey& other) const { return fields == other.fields; }
};
ConvKey make_conv_key(int device, ConvDirection direction, DType dtype, bool tf32, bool deterministic,
                      const Shape& x, const Shape& w, const Conv2dParams& p);

struct ConvKeyHash {
  std::size_t operator()(const ConvKey& key) const;
};

// What the benchmark search chose for one key: the algorithm (a value of the direction's
// cudnnConvolution*Algo_t), the workspace it needs and the math type to run it with.
struct ConvAlgo {
  int algo = 0;
  std::size_t workspace = 0;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
};

// CONVENTION: an entry is written once, by the first call of its key (after a timed search),
// and never changed; later calls read it. Shared by all devices (the key names the device).
class ConvAlgoCache {
 public:
  std::optional<ConvAlgo> find(const ConvKey& key) const;
  void insert(const ConvKey& key, const ConvAlgo& algo);
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<ConvKey, ConvAlgo, ConvKeyHash> entries_;
};
ConvAlgoCache& conv_algo_cache();

// RAII cuDNN descriptors of one convolution: NCHW tensors x and y, the filter w, and the
// convolution (cross-correlation, padding, stride, dilation, groups, compute type = dtype).
class ConvDescriptors {
 public:
  ConvDescriptors(DType dtype, const Shape& x, const Shape& w, const Shape& y, const Conv2dParams& p);
  ~ConvDescriptors();
  ConvDescriptors(const ConvDescriptors&) = delete;
  ConvDescriptors& operator=(const ConvDescriptors&) = delete;

  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;

 private:
  void destroy() noexcept;
};

// The math type a search may use: float32 gets FMA-only kernels unless TF32 is allowed;
// float64 uses cuDNN's default (double-precision kernels, no precision loss).
cudnnMathType_t search_math_type(DType dtype, bool tf32);

// Upper bound on the workspace one search may offer: min(set_conv_workspace_limit(),
// a quarter of the device's free memory).
std::size_t conv_workspace_bound();

}  // namespace px::cuda
