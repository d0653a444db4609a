// CudaBackend::conv2d and its two backward passes through cuDNN, with a per-shape algorithm cache.
#include <optional>

#include "proxima/cuda/check.h"
#include "proxima/cuda/conv_plan.h"
#include "proxima/cuda/cuda.h"
#include "proxima/cuda/cuda_backend.h"

namespace px::cuda {

void run_conv_algorithm(const ConvCall& c, const ConvAlgo& algo) {
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

namespace {

// The common path of the three methods: descriptors, cached (or newly chosen) algorithm, call.
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
  if (!algo) {  // first call of this key in the process (conv_select.cpp)
    algo = choose_algorithm(call, key, dtype == DType::float32 && !tf32);
    conv_algo_cache().insert(key, *algo);
  }
  run_conv_algorithm(call, *algo);
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
