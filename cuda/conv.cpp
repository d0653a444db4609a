// CudaBackend::conv2d and its two backward passes through cuDNN, with a per-shape algorithm search.
#include <initializer_list>
#include <optional>

#include "proxima/cuda/check.h"
#include "proxima/cuda/conv_plan.h"
#include "proxima/cuda/cuda.h"
#include "proxima/cuda/cuda_backend.h"

namespace px::cuda {

namespace {

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

// The largest workspace any algorithm of this call asks for, among those within `bound`.
std::size_t largest_workspace(const ConvCall& c, std::size_t bound) {
  const ConvDescriptors& d = c.desc;
  std::size_t largest = 0;
  auto consider = [&](cudnnStatus_t status, std::size_t bytes) {
    if (status == CUDNN_STATUS_SUCCESS && bytes <= bound && bytes > largest) largest = bytes;
  };
  std::size_t bytes = 0;
  switch (c.direction) {
    case ConvDirection::forward:
      for (int a = 0; a < CUDNN_CONVOLUTION_FWD_ALGO_COUNT; ++a)
        consider(cudnnGetConvolutionForwardWorkspaceSize(c.ctx.cudnn, d.x, d.w, d.conv, d.y,
                                                         static_cast<cudnnConvolutionFwdAlgo_t>(a), &bytes),
                 bytes);
      break;
    case ConvDirection::backward_input:
      for (int a = 0; a < CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT; ++a)
        consider(cudnnGetConvolutionBackwardDataWorkspaceSize(
                     c.ctx.cudnn, d.w, d.y, d.conv, d.x, static_cast<cudnnConvolutionBwdDataAlgo_t>(a), &bytes),
                 bytes);
      break;
    case ConvDirection::backward_weight:
      for (int a = 0; a < CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT; ++a)
        consider(cudnnGetConvolutionBackwardFilterWorkspaceSize(
                     c.ctx.cudnn, d.x, d.y, d.conv, d.w, static_cast<cudnnConvolutionBwdFilterAlgo_t>(a), &bytes),
                 bytes);
      break;
  }
  return largest;
}

bool is_tensor_op(cudnnMathType_t math) {
  return math == CUDNN_TENSOR_OP_MATH || math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

// The fastest usable result of a search (cuDNN sorts them by time), as PyTorch's
// cudnn.benchmark; with deterministic_algorithms() the fastest deterministic one (results
// reproducible run to run) when there is one. In strict float32 (TF32 off) tensor-op results
// are skipped and the algorithm runs with FMA math.
template <class Perf>
std::optional<ConvAlgo> pick(const Perf* results, int count, bool strict_fp32) {
  const std::initializer_list<bool> passes =
      deterministic_algorithms() ? std::initializer_list<bool>{true, false} : std::initializer_list<bool>{false};
  for (bool need_deterministic : passes) {
    for (int i = 0; i < count; ++i) {
      const Perf& r = results[i];
      if (r.status != CUDNN_STATUS_SUCCESS) continue;
      if (need_deterministic && r.determinism != CUDNN_DETERMINISTIC) continue;
      if (strict_fp32 && is_tensor_op(r.mathType)) continue;
      return ConvAlgo{static_cast<int>(r.algo), r.memory, strict_fp32 ? CUDNN_FMA_MATH : r.mathType};
    }
  }
  return std::nullopt;
}

// cuDNN's timed search (cudnnFind*AlgorithmEx) on the call's own buffers: the output is
// about to be overwritten anyway and the inputs are only read, so no scratch copies are
// needed. The workspace offered is the largest any algorithm wants within the bound.
ConvAlgo search(const ConvCall& c, bool strict_fp32) {
  const ConvDescriptors& d = c.desc;
  std::size_t bytes = largest_workspace(c, conv_workspace_bound());
  std::optional<Workspace> ws;
  try {
    ws.emplace(*c.ctx.allocator, bytes);
  } catch (const OutOfMemoryError&) {
    ws.emplace(*c.ctx.allocator, 0);  // search among the algorithms that need no workspace
  }
  int returned = 0;
  std::optional<ConvAlgo> chosen;
  switch (c.direction) {
    case ConvDirection::forward: {
      cudnnConvolutionFwdAlgoPerf_t results[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
      PX_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(
          c.ctx.cudnn, d.x, c.x, d.w, c.w, d.conv, d.y, c.y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned,
          results, ws->get(), ws->size()));
      chosen = pick(results, returned, strict_fp32);
      break;
    }
    case ConvDirection::backward_input: {
      cudnnConvolutionBwdDataAlgoPerf_t results[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
      PX_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(
          c.ctx.cudnn, d.w, c.w, d.y, c.y, d.conv, d.x, c.x, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
          &returned, results, ws->get(), ws->size()));
      chosen = pick(results, returned, strict_fp32);
      break;
    }
    case ConvDirection::backward_weight: {
      cudnnConvolutionBwdFilterAlgoPerf_t results[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
      PX_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(
          c.ctx.cudnn, d.x, c.x, d.y, c.y, d.conv, d.w, c.w, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
          &returned, results, ws->get(), ws->size()));
      chosen = pick(results, returned, strict_fp32);
      break;
    }
  }
  PX_CHECK(chosen.has_value(), DeviceError, "conv2d on cuda:", c.ctx.index, ": cuDNN found no algorithm for ",
           "direction ", static_cast<int>(c.direction), " (0 forward, 1 backward_input, 2 backward_weight) ",
           "among ", returned, " candidates with a workspace of ", ws->size(), " bytes");
  return *chosen;
}

// Enqueues the chosen algorithm on the device's stream: out = 1 * conv(...) + 0 * out.
void execute(const ConvCall& c, const ConvAlgo& algo) {
  const ConvDescriptors& d = c.desc;
  PX_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, algo.math));
  Workspace ws(*c.ctx.allocator, algo.workspace);
  const double one_d = 1.0, zero_d = 0.0;  // scaling factors: double for double data
  const float one_f = 1.0f, zero_f = 0.0f;
  const void* one = c.dtype == DType::float64 ? static_cast<const void*>(&one_d) : &one_f;
  const void* zero = c.dtype == DType::float64 ? static_cast<const void*>(&zero_d) : &zero_f;
  switch (c.direction) {
    case ConvDirection::forward:
      PX_CUDNN_CHECK(cudnnConvolutionForward(c.ctx.cudnn, one, d.x, c.x, d.w, c.w, d.conv,
                                             static_cast<cudnnConvolutionFwdAlgo_t>(algo.algo), ws.get(),
                                             ws.size(), zero, d.y, c.y));
      break;
    case ConvDirection::backward_input:
      PX_CUDNN_CHECK(cudnnConvolutionBackwardData(c.ctx.cudnn, one, d.w, c.w, d.y, c.y, d.conv,
                                                  static_cast<cudnnConvolutionBwdDataAlgo_t>(algo.algo),
                                                  ws.get(), ws.size(), zero, d.x, c.x));
      break;
    case ConvDirection::backward_weight:
      PX_CUDNN_CHECK(cudnnConvolutionBackwardFilter(c.ctx.cudnn, one, d.x, c.x, d.y, c.y, d.conv,
                                                    static_cast<cudnnConvolutionBwdFilterAlgo_t>(algo.algo),
                                                    ws.get(), ws.size(), zero, d.w, c.w));
      break;
  }
}

// The common path of the three methods: descriptors, cached (or searched) algorithm, call.
void convolve(DeviceContext& ctx, ConvDirection direction, const Tensor& x, const Tensor& w,
              const Tensor& y, const Conv2dParams& p) {
  const Tensor& out = direction == ConvDirection::forward          ? y
                      : direction == ConvDirection::backward_input ? x
                                                                   : w;
  if (x.numel() == 0 || w.numel() == 0 || y.numel() == 0) {  // an empty sum (e.g. C = 0): zeros
    PX_CUDA_CHECK(cudaMemsetAsync(out.data_ptr(), 0, out.numel() * dtype_size(out.dtype()), ctx.stream));
    return;
  }
  const DType dtype = out.dtype();
  const bool tf32 = allow_tf32();
  ConvDescriptors desc(dtype, x.shape(), w.shape(), y.shape(), p);
  PX_CUDNN_CHECK(cudnnSetConvolutionMathType(desc.conv, search_math_type(dtype, tf32)));
  ConvCall call{ctx, direction, dtype, desc, x.data_ptr(), w.data_ptr(), y.data_ptr()};
  ConvKey key = make_conv_key(ctx.index, direction, dtype, tf32, deterministic_algorithms(), x.shape(),
                              w.shape(), p);
  std::optional<ConvAlgo> algo = conv_algo_cache().find(key);
  if (!algo) {
    algo = search(call, dtype == DType::float32 && !tf32);
    conv_algo_cache().insert(key, *algo);
  }
  execute(call, *algo);
}

}  // namespace

void CudaBackend::conv2d(const Tensor& x, const Tensor& w, const Tensor& out, const Conv2dParams& p) {
  convolve(context(out.device()), ConvDirection::forward, x, w, out, p);
}

void CudaBackend::conv2d_backward_input(const Tensor& grad_out, const Tensor& w, const Tensor& grad_x,
                                        const Conv2dParams& p) {
  convolve(context(grad_x.device()), ConvDirection::backward_input, grad_x, w, grad_out, p);
}

void CudaBackend::conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Tensor& grad_w,
                                         const Conv2dParams& p) {
  convolve(context(grad_w.device()), ConvDirection::backward_weight, x, grad_w, grad_out, p);
}

}  // namespace px::cuda
