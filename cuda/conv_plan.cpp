// cuDNN descriptors, the convolution algorithm cache and the workspace bound (conv_plan.h).
#include "proxima/cuda/conv_plan.h"

#include <algorithm>
#include <atomic>
#include <climits>

#include "proxima/cuda/check.h"
#include "proxima/cuda/cuda.h"

namespace px::cuda {

namespace {

std::atomic<std::size_t> g_workspace_limit{std::size_t{1} << 30};
std::atomic<bool> g_deterministic{false};

int to_int(std::int64_t value, const char* what) {
  PX_CHECK(value >= 0 && value <= INT_MAX, ValueError, "conv2d on CUDA: ", what, " = ", value,
           " exceeds cuDNN's limit of ", INT_MAX);
  return static_cast<int>(value);
}

cudnnDataType_t cudnn_type(DType dtype) {
  return dtype == DType::float64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
}

void set_nchw(cudnnTensorDescriptor_t desc, DType dtype, const Shape& s, const char* what) {
  PX_CUDNN_CHECK(cudnnSetTensor4dDescriptor(desc, CUDNN_TENSOR_NCHW, cudnn_type(dtype),
                                            to_int(s[0], what), to_int(s[1], what),
                                            to_int(s[2], what), to_int(s[3], what)));
}

}  // namespace

void set_conv_workspace_limit(std::size_t bytes) { g_workspace_limit.store(bytes); }
void set_deterministic_algorithms(bool on) { g_deterministic.store(on); }
bool deterministic_algorithms() { return g_deterministic.load(); }
std::size_t conv_workspace_limit() { return g_workspace_limit.load(); }
std::size_t conv_algorithm_cache_size() { return conv_algo_cache().size(); }

ConvKey make_conv_key(int device, ConvDirection direction, DType dtype, bool tf32, bool deterministic,
                      const Shape& x, const Shape& w, const Conv2dParams& p) {
  bool uses_tf32 = dtype == DType::float32 && tf32;
  return ConvKey{{device, static_cast<std::int64_t>(direction), static_cast<std::int64_t>(dtype),
                  uses_tf32 ? 1 : 0, deterministic ? 1 : 0, x[0], x[1], x[2], x[3], w[0], w[1], w[2], w[3], p.stride_h,
                  p.stride_w, p.pad_h, p.pad_w, p.dilation_h, p.dilation_w, p.groups}};
}

std::size_t ConvKeyHash::operator()(const ConvKey& key) const {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a over the fields
  for (std::int64_t f : key.fields) {
    h ^= static_cast<std::uint64_t>(f);
    h *= 1099511628211ull;
  }
  return static_cast<std::size_t>(h);
}

std::optional<ConvAlgo> ConvAlgoCache::find(const ConvKey& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void ConvAlgoCache::insert(const ConvKey& key, const ConvAlgo& algo) {
  std::lock_guard<std::mutex> lock(mutex_);
  entries_.emplace(key, algo);  // a concurrent search of the same key: the first one stays
}

std::size_t ConvAlgoCache::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.size();
}

ConvAlgoCache& conv_algo_cache() {
  static ConvAlgoCache* cache = new ConvAlgoCache();  // never destroyed, like the backend
  return *cache;
}

ConvDescriptors::ConvDescriptors(DType dtype, const Shape& xs, const Shape& ws, const Shape& ys,
                                 const Conv2dParams& p) {
  try {  // a constructor that throws gets no destructor call: release what was created here
    PX_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x));
    PX_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y));
    PX_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w));
    PX_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv));
    set_nchw(x, dtype, xs, "an input dimension");
    set_nchw(y, dtype, ys, "an output dimension");
    PX_CUDNN_CHECK(cudnnSetFilter4dDescriptor(
        w, cudnn_type(dtype), CUDNN_TENSOR_NCHW, to_int(ws[0], "a weight dimension"),
        to_int(ws[1], "a weight dimension"), to_int(ws[2], "a weight dimension"),
        to_int(ws[3], "a weight dimension")));
    PX_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(
        conv, to_int(p.pad_h, "padding"), to_int(p.pad_w, "padding"), to_int(p.stride_h, "stride"),
        to_int(p.stride_w, "stride"), to_int(p.dilation_h, "dilation"), to_int(p.dilation_w, "dilation"),
        CUDNN_CROSS_CORRELATION, cudnn_type(dtype)));
    PX_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv, to_int(p.groups, "groups")));
  } catch (...) {
    destroy();
    throw;
  }
}

ConvDescriptors::~ConvDescriptors() { destroy(); }

void ConvDescriptors::destroy() noexcept {
  if (conv) cudnnDestroyConvolutionDescriptor(conv);
  if (w) cudnnDestroyFilterDescriptor(w);
  if (y) cudnnDestroyTensorDescriptor(y);
  if (x) cudnnDestroyTensorDescriptor(x);
  conv = nullptr;
  w = nullptr;
  x = y = nullptr;
}

cudnnMathType_t search_math_type(DType dtype, bool tf32) {
  // float32 as PyTorch sets it: tensor-op (TF32) kernels are searched only when allowed (with
  // CUDNN_DEFAULT_MATH cuDNN's search skipped the faster tensor-op forward kernels of 3x3 layers).
  if (dtype == DType::float32) return tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
  return CUDNN_DEFAULT_MATH;
}

std::size_t conv_workspace_bound() {
  std::size_t free_bytes = 0, total_bytes = 0;
  PX_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  return std::min(conv_workspace_limit(), free_bytes / 4);
}

}  // namespace px::cuda
