// CudaBackend max/avg pooling on NCHW planes (forward and backward), with the CPU backend's
// semantics (core/cpu/cpu_pool.cpp): PyTorch's windows, tie and NaN rules and divisors.
#include "proxima/cuda/cuda_backend.h"
#include "proxima/cuda/launch.cuh"

namespace px::cuda {

namespace {

// Sizes of one call: `planes` = N * C planes of H x W input and P x Q output, and the
// pooling parameters, passed by value to the kernels.
struct PoolDims {
  std::int64_t planes, h, w, p, q;
  std::int64_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
  bool count_include_pad;
};

PoolDims pool_dims(const Tensor& input, const Tensor& output, const Pool2dParams& p) {
  return {input.size(0) * input.size(1), input.size(2), input.size(3), output.size(2), output.size(3),
          p.kernel_h, p.kernel_w, p.stride_h, p.stride_w, p.pad_h, p.pad_w, p.count_include_pad};
}

// One output position's window clipped to the input: rows [h0, h1), columns [w0, w1), and
// avg_pool2d's divisor (window clipped to the padded input if count_include_pad, else to
// the input). Same arithmetic as the CPU's pool_window.
struct Window {
  std::int64_t h0, h1, w0, w1, divisor;
};

__device__ inline std::int64_t imin(std::int64_t a, std::int64_t b) { return a < b ? a : b; }
__device__ inline std::int64_t imax(std::int64_t a, std::int64_t b) { return a > b ? a : b; }

__device__ Window pool_window(std::int64_t oh, std::int64_t ow, const PoolDims& d) {
  std::int64_t h0 = oh * d.stride_h - d.pad_h, w0 = ow * d.stride_w - d.pad_w;
  std::int64_t h1 = imin(h0 + d.kernel_h, d.h + d.pad_h), w1 = imin(w0 + d.kernel_w, d.w + d.pad_w);
  const std::int64_t padded_size = (h1 - h0) * (w1 - w0);
  h0 = imax(h0, 0);
  w0 = imax(w0, 0);
  h1 = imin(h1, d.h);
  w1 = imin(w1, d.w);
  const std::int64_t inside = imax(h1 - h0, 0) * imax(w1 - w0, 0);
  return {h0, h1, w0, w1, d.count_include_pad ? padded_size : inside};
}

// The outputs along one axis whose window covers input position i: [first, last] (may be
// empty). Window o starts at o * stride - pad and spans `kernel` positions.
__device__ void covering_outputs(std::int64_t i, std::int64_t kernel, std::int64_t stride, std::int64_t pad,
                                 std::int64_t outputs, std::int64_t& first, std::int64_t& last) {
  std::int64_t lo = i + pad - kernel + 1;  // o * stride >= lo
  first = lo <= 0 ? 0 : (lo + stride - 1) / stride;
  last = imin((i + pad) / stride, outputs - 1);
}

// Grid-stride loop over `total` elements: body(k).
#define PX_POOL_LOOP(k, total)                                                                       \
  for (std::int64_t k = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; k < (total); \
       k += static_cast<std::int64_t>(gridDim.x) * blockDim.x)

// One thread per output: the first maximum in row-major scan order; a NaN wins (the last
// one in scan order, as on the CPU and in PyTorch); padding acts as -inf.
template <class T>
__global__ void max_pool_kernel(const T* x, T* out, std::int64_t* indices, PoolDims d) {
  PX_POOL_LOOP(o, d.planes * d.p * d.q) {
    const std::int64_t ow = o % d.q, oh = (o / d.q) % d.p, plane = o / (d.p * d.q);
    const T* in = x + plane * d.h * d.w;
    Window win = pool_window(oh, ow, d);
    T best = -INFINITY;
    std::int64_t best_i = win.h0 * d.w + win.w0;
    for (std::int64_t ih = win.h0; ih < win.h1; ++ih) {
      for (std::int64_t iw = win.w0; iw < win.w1; ++iw) {
        const T v = in[ih * d.w + iw];
        if (v > best || isnan(v)) {
          best = v;
          best_i = ih * d.w + iw;
        }
      }
    }
    out[o] = best;
    indices[o] = best_i;
  }
}

// Gather (deterministic, no atomics): each input element sums, in output order, the
// gradients of the outputs that cover it and chose it. Indices that point outside their
// window (not produced by max_pool2d) are reported by check_indices_kernel.
template <class T>
__global__ void max_pool_backward_kernel(const T* grad_out, const std::int64_t* indices, T* grad_x, PoolDims d) {
  PX_POOL_LOOP(i, d.planes * d.h * d.w) {
    const std::int64_t iw = i % d.w, ih = (i / d.w) % d.h, plane = i / (d.h * d.w);
    std::int64_t oh0, oh1, ow0, ow1;
    covering_outputs(ih, d.kernel_h, d.stride_h, d.pad_h, d.p, oh0, oh1);
    covering_outputs(iw, d.kernel_w, d.stride_w, d.pad_w, d.q, ow0, ow1);
    const std::int64_t self = ih * d.w + iw, base = plane * d.p * d.q;
    T sum = 0;
    for (std::int64_t oh = oh0; oh <= oh1; ++oh)
      for (std::int64_t ow = ow0; ow <= ow1; ++ow)
        if (indices[base + oh * d.q + ow] == self) sum += grad_out[base + oh * d.q + ow];
    grad_x[i] = sum;
  }
}

// Every index must name a position inside its output's window (as max_pool2d writes them).
__global__ void check_indices_kernel(const std::int64_t* indices, PoolDims d, KernelErrorRecord* errors) {
  PX_POOL_LOOP(o, d.planes * d.p * d.q) {
    const std::int64_t ow = o % d.q, oh = (o / d.q) % d.p;
    Window win = pool_window(oh, ow, d);
    const std::int64_t idx = indices[o], ih = idx / d.w, iw = idx % d.w;
    bool inside = idx >= 0 && ih >= win.h0 && ih < win.h1 && iw >= win.w0 && iw < win.w1;
    // An empty window (never produced by the front-end's shapes) keeps its default index.
    bool empty = win.h0 >= win.h1 || win.w0 >= win.w1;
    if (!inside && !empty && atomicCAS(&errors->code, 0, static_cast<int>(KernelErrorCode::max_pool2d_backward)) == 0) {
      errors->value = idx;
      errors->bound = o;
    }
  }
}

template <class T>
__global__ void avg_pool_kernel(const T* x, T* out, PoolDims d) {
  PX_POOL_LOOP(o, d.planes * d.p * d.q) {
    const std::int64_t ow = o % d.q, oh = (o / d.q) % d.p, plane = o / (d.p * d.q);
    const T* in = x + plane * d.h * d.w;
    Window win = pool_window(oh, ow, d);
    T sum = 0;
    for (std::int64_t ih = win.h0; ih < win.h1; ++ih)
      for (std::int64_t iw = win.w0; iw < win.w1; ++iw) sum += in[ih * d.w + iw];
    out[o] = win.divisor > 0 ? sum / static_cast<T>(win.divisor) : T(0);
  }
}

// Gather: each input element sums grad_out / divisor over the outputs whose window
// (clipped to the input) contains it, in output order like the CPU's scatter.
template <class T>
__global__ void avg_pool_backward_kernel(const T* grad_out, T* grad_x, PoolDims d) {
  PX_POOL_LOOP(i, d.planes * d.h * d.w) {
    const std::int64_t iw = i % d.w, ih = (i / d.w) % d.h, plane = i / (d.h * d.w);
    std::int64_t oh0, oh1, ow0, ow1;
    covering_outputs(ih, d.kernel_h, d.stride_h, d.pad_h, d.p, oh0, oh1);
    covering_outputs(iw, d.kernel_w, d.stride_w, d.pad_w, d.q, ow0, ow1);
    const std::int64_t base = plane * d.p * d.q;
    T sum = 0;
    for (std::int64_t oh = oh0; oh <= oh1; ++oh) {
      for (std::int64_t ow = ow0; ow <= ow1; ++ow) {
        Window win = pool_window(oh, ow, d);
        if (win.divisor > 0) sum += grad_out[base + oh * d.q + ow] / static_cast<T>(win.divisor);
      }
    }
    grad_x[i] = sum;
  }
}

#undef PX_POOL_LOOP

template <class F>
void dispatch_float(DType dtype, F&& f) {
  if (dtype == DType::float64) f(double{});
  else f(float{});
}

}  // namespace

void CudaBackend::max_pool2d(const Tensor& x, const Tensor& out, const Tensor& indices, const Pool2dParams& p) {
  DeviceContext& ctx = context(out.device());
  PoolDims d = pool_dims(x, out, p);
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    max_pool_kernel<T><<<grid_for(out.numel()), kBlock, 0, ctx.stream>>>(
        static_cast<const T*>(x.data_ptr()), static_cast<T*>(out.data_ptr()),
        static_cast<std::int64_t*>(indices.data_ptr()), d);
  });
  PX_CUDA_CHECK_LAUNCH();
}

void CudaBackend::max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const Tensor& grad_x,
                                      const Pool2dParams& p) {
  DeviceContext& ctx = context(grad_x.device());
  PoolDims d = pool_dims(grad_x, grad_out, p);
  const auto* idx = static_cast<const std::int64_t*>(indices.data_ptr());
  check_indices_kernel<<<grid_for(indices.numel()), kBlock, 0, ctx.stream>>>(idx, d, ctx.errors);
  PX_CUDA_CHECK_LAUNCH();
  dispatch_float(grad_x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    max_pool_backward_kernel<T><<<grid_for(grad_x.numel()), kBlock, 0, ctx.stream>>>(
        static_cast<const T*>(grad_out.data_ptr()), idx, static_cast<T*>(grad_x.data_ptr()), d);
  });
  PX_CUDA_CHECK_LAUNCH();
}

void CudaBackend::avg_pool2d(const Tensor& x, const Tensor& out, const Pool2dParams& p) {
  DeviceContext& ctx = context(out.device());
  PoolDims d = pool_dims(x, out, p);
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    avg_pool_kernel<T><<<grid_for(out.numel()), kBlock, 0, ctx.stream>>>(
        static_cast<const T*>(x.data_ptr()), static_cast<T*>(out.data_ptr()), d);
  });
  PX_CUDA_CHECK_LAUNCH();
}

void CudaBackend::avg_pool2d_backward(const Tensor& grad_out, const Tensor& grad_x, const Pool2dParams& p) {
  DeviceContext& ctx = context(grad_x.device());
  PoolDims d = pool_dims(grad_x, grad_out, p);
  dispatch_float(grad_x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    avg_pool_backward_kernel<T><<<grid_for(grad_x.numel()), kBlock, 0, ctx.stream>>>(
        static_cast<const T*>(grad_out.data_ptr()), static_cast<T*>(grad_x.data_ptr()), d);
  });
  PX_CUDA_CHECK_LAUNCH();
}

}  // namespace px::cuda
