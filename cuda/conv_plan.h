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
#include "proxima/cuda/allocator.h"

namespace px::cuda {

struct DeviceContext;  // cuda_backend.h

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

// What the selection (choose_algorithm) chose for one key: the algorithm (a value of the
// direction's cudnnConvolution*Algo_t), the workspace it needs and the math type to run it with.
struct ConvAlgo {
  int algo = 0;
  std::size_t workspace = 0;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
};

// CONVENTION: an entry is written once, by the first call of its key (after choose_algorithm),
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

// Device memory from the caching allocator, returned when it goes out of scope. Returning it
// right after the calls that use it were enqueued is safe (CachingAllocator's CONVENTION:
// the next owner's work is ordered after ours on the same stream).
class Workspace {
 public:
  Workspace(CachingAllocator& allocator, std::size_t bytes) : allocator_(allocator), bytes_(bytes) {
    if (bytes_ > 0) ptr_ = allocator_.allocate(bytes_);
  }
  ~Workspace() {
    if (ptr_) allocator_.release(ptr_);
  }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  void* get() const { return ptr_; }
  std::size_t size() const { return bytes_; }

 private:
  CachingAllocator& allocator_;
  std::size_t bytes_;
  void* ptr_ = nullptr;
};

// One cuDNN call: x [N, C, H, W], w [K, C/groups, R, S], y [N, K, P, Q]; which of them is
// written depends on the direction (see ConvDirection).
struct ConvCall {
  DeviceContext& ctx;
  ConvDirection direction;
  DType dtype;
  const ConvDescriptors& desc;
  void* x;
  void* w;
  void* y;
};

// The algorithm for a key not yet in the cache (conv_select.cpp). strict_fp32: float32 with
// TF32 off (no tensor-op math; the algorithm runs with FMA math).
//  - Default: cuDNN's timed search (cudnnFind*AlgorithmEx) on the call's own buffers, fastest
//    usable result, like PyTorch's cudnn.benchmark.
//  - deterministic_algorithms(): cuDNN's heuristic ranking (cudnnGet*Algorithm_v7), first
//    deterministic result, like PyTorch with cudnn.deterministic and benchmark off. Timings vary
//    from process to process, so a timed search can pick a different (deterministic, but
//    differently rounding) algorithm in a resumed or repeated run; the heuristics cannot. The
//    algorithms cuDNN documents as non-deterministic are excluded whatever the reported flag,
//    and there is no fallback to a non-deterministic one: DeviceError instead. Only when the
//    heuristics flag no usable algorithm deterministic, the timed search's deterministic ones.
// With the environment variable PX_CUDA_CONV_LOG set (non-empty, not "0"), prints the key, every
// candidate and the choice to stderr (one line; bench/gpu_determinism turns it on).
ConvAlgo choose_algorithm(const ConvCall& call, const ConvKey& key, bool strict_fp32);

// Enqueues `algo` on the device's stream (conv.cpp): out = 1 * conv(...) + 0 * out, with the
// workspace from the caching allocator and the descriptor's math type set to algo.math.
void run_conv_algorithm(const ConvCall& call, const ConvAlgo& algo);

}  // namespace px::cuda
