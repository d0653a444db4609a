// CudaBackend::batch_norm_forward / batch_norm_backward: a two-level per-channel reduction
// (partial sums per chunk of a channel, then one combine per channel) and one elementwise pass.
//
// Accumulation is in double for both dtypes: the kernels are bound by memory traffic, and
// double adds cost little next to the loads (H100: FP64 at half the FP32 rate). Forward sums
// are shifted by the channel's first value K (sum (x - K), sum (x - K)^2), so the variance
// E[(x-K)^2] - (E[x-K])^2 does not cancel unless |mean - K| is far larger than the spread.
#include <algorithm>
#include <functional>
#include <memory>

#include "proxima/cuda/block_reduce.cuh"
#include "proxima/cuda/cuda_backend.h"
#include "proxima/cuda/launch.cuh"

namespace px::cuda {
namespace {

// x viewed as [N, C, L]; element e of channel c's N*L values (e = n * L + l) sits at
// n * C * L + c * L + l. I is the index type (32-bit when numel fits, to keep divisions cheap).
template <class I>
struct BnDims {
  I c, l, count;  // count = N * L, values per channel
  __device__ I offset(I channel, I e) const {
    const I n = e / l;
    return n * c * l + channel * l + (e - n * l);
  }
  __device__ I channel_of(I flat) const { return (flat / l) % c; }
};

struct Sums {
  double a, b;
};

constexpr int kReduceThreads = 256;

// Block (chunk k of channel c) of the reduction. Forward: a = sum (x - K), b = sum (x - K)^2
// with K the channel's first value. Backward: a = sum gy, b = sum gy * (x - mean).
template <class T, class I, bool kBackward>
__global__ void bn_partial_kernel(const T* x, const T* gy, const T* mean, BnDims<I> d, I chunks, Sums* partial) {
  __shared__ double scratch[32];
  const I channel = static_cast<I>(blockIdx.x) / chunks, k = static_cast<I>(blockIdx.x) % chunks;
  const I per = (d.count + chunks - 1) / chunks;
  const I begin = k * per, end = min(d.count, begin + per);
  const double shift = kBackward ? static_cast<double>(mean[channel]) : static_cast<double>(x[d.offset(channel, 0)]);
  double a = 0.0, b = 0.0;
  for (I e = begin + threadIdx.x; e < end; e += blockDim.x) {
    const I at = d.offset(channel, e);
    const double v = static_cast<double>(x[at]) - shift;
    if constexpr (kBackward) {
      const double g = static_cast<double>(gy[at]);
      a += g;
      b += g * v;
    } else {
      a += v;
      b += v * v;
    }
  }
  auto add = [](double u, double v) { return u + v; };
  a = block_allreduce(a, add, scratch);
  b = block_allreduce(b, add, scratch);
  if (threadIdx.x == 0) partial[blockIdx.x] = {a, b};
}

// One thread per channel: mean and invstd from the forward partials.
template <class T, class I>
__global__ void bn_stats_kernel(const T* x, const Sums* partial, BnDims<I> d, I chunks, double eps, T* mean,
                                T* invstd) {
  for (I c = blockIdx.x * blockDim.x + threadIdx.x; c < d.c; c += gridDim.x * blockDim.x) {
    double a = 0.0, b = 0.0;
    for (I k = 0; k < chunks; ++k) {
      a += partial[c * chunks + k].a;
      b += partial[c * chunks + k].b;
    }
    const double n = static_cast<double>(d.count), dm = a / n;
    const double var = max(b / n - dm * dm, 0.0);
    mean[c] = static_cast<T>(static_cast<double>(x[d.offset(c, 0)]) + dm);
    invstd[c] = static_cast<T>(1.0 / sqrt(var + eps));
  }
}

// One thread per channel: grad_weight, grad_bias and the coefficients of
// grad_x = a * gy + b * (x - mean) + k (coef[3c .. 3c+2]). partial null: no sums (eval, grad_x only).
template <class T, class I>
__global__ void bn_grad_coef_kernel(const Sums* partial, I chunks, BnDims<I> d, const T* weight, const T* invstd,
                                    bool training, T* grad_weight, T* grad_bias, T* coef) {
  for (I c = blockIdx.x * blockDim.x + threadIdx.x; c < d.c; c += gridDim.x * blockDim.x) {
    double sum_gy = 0.0, sum_gy_dev = 0.0;
    if (partial)
      for (I k = 0; k < chunks; ++k) {
        sum_gy += partial[c * chunks + k].a;
        sum_gy_dev += partial[c * chunks + k].b;
      }
    const double is = static_cast<double>(invstd[c]), w = weight ? static_cast<double>(weight[c]) : 1.0;
    const double sum_gy_xhat = sum_gy_dev * is, n = static_cast<double>(d.count);
    if (grad_bias) grad_bias[c] = static_cast<T>(sum_gy);
    if (grad_weight) grad_weight[c] = static_cast<T>(sum_gy_xhat);
    if (coef) {
      coef[3 * c] = static_cast<T>(w * is);
      coef[3 * c + 1] = static_cast<T>(training ? -w * is * is * sum_gy_xhat / n : 0.0);
      coef[3 * c + 2] = static_cast<T>(training ? -w * is * sum_gy / n : 0.0);
    }
  }
}

// y = (x - mean) * invstd * weight + bias, grid-stride over all elements.
template <class T, class I>
__global__ void bn_normalize_kernel(const T* x, const T* weight, const T* bias, const T* mean, const T* invstd, T* y,
                                    BnDims<I> d, I numel) {
  for (I i = blockIdx.x * blockDim.x + threadIdx.x; i < numel; i += gridDim.x * blockDim.x) {
    const I c = d.channel_of(i);
    const T scale = weight ? invstd[c] * weight[c] : invstd[c];
    y[i] = (x[i] - mean[c]) * scale + (bias ? bias[c] : T(0));
  }
}

template <class T, class I>
__global__ void bn_grad_x_kernel(const T* gy, const T* x, const T* mean, const T* coef, T* gx, BnDims<I> d, I numel) {
  for (I i = blockIdx.x * blockDim.x + threadIdx.x; i < numel; i += gridDim.x * blockDim.x) {
    const I c = d.channel_of(i);
    gx[i] = coef[3 * c] * gy[i] + coef[3 * c + 1] * (x[i] - mean[c]) + coef[3 * c + 2];
  }
}

template <class T>
const T* cptr(const Tensor& t) {
  return t.defined() ? static_cast<const T*>(t.data_ptr()) : nullptr;
}
template <class T>
T* mptr(const Tensor& t) {
  return t.defined() ? static_cast<T*>(t.data_ptr()) : nullptr;
}

// Device scratch from the caching allocator, released when it goes out of scope (safe once
// the kernels using it are queued: the stream orders the memory's reuse).
using Scratch = std::unique_ptr<void, std::function<void(void*)>>;
Scratch scratch(DeviceContext& ctx, std::size_t bytes) {
  return Scratch(ctx.allocator->allocate(bytes), [&ctx](void* p) { ctx.allocator->release(p); });
}

// Blocks per channel: enough blocks in all to fill the device, each with >= 4096 values.
template <class I>
I chunks_for(DeviceContext& ctx, const BnDims<I>& d) {
  const std::int64_t by_size = (static_cast<std::int64_t>(d.count) + 4095) / 4096;
  const std::int64_t by_device = (4 * static_cast<std::int64_t>(ctx.num_sms) + d.c - 1) / d.c;
  return static_cast<I>(std::max<std::int64_t>(1, std::min(by_size, by_device)));
}

unsigned channel_grid(std::int64_t c) { return static_cast<unsigned>((c + 127) / 128); }

// Calls f(BnDims<I>) with a 32-bit index when every offset fits, else 64-bit.
template <class F>
void with_dims(const Tensor& x, F&& f) {
  const std::int64_t n = x.size(0), c = x.size(1), l = n * c == 0 ? 1 : x.numel() / (n * c);
  if (x.numel() < (std::int64_t{1} << 31)) {
    f(BnDims<unsigned>{static_cast<unsigned>(c), static_cast<unsigned>(l), static_cast<unsigned>(n * l)});
  } else {
    f(BnDims<std::int64_t>{c, l, n * l});
  }
}

template <class T, class I>
void forward_typed(DeviceContext& ctx, const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean,
                   const Tensor& invstd, const Tensor& y, double eps, bool training, BnDims<I> d) {
  const T* px = cptr<T>(x);
  if (training) {
    const I chunks = chunks_for(ctx, d);
    Scratch partial = scratch(ctx, static_cast<std::size_t>(d.c) * chunks * sizeof(Sums));
    auto* sums = static_cast<Sums*>(partial.get());
    bn_partial_kernel<T, I, false><<<static_cast<unsigned>(d.c * chunks), kReduceThreads, 0, ctx.stream>>>(
        px, nullptr, nullptr, d, chunks, sums);
    PX_CUDA_CHECK_LAUNCH();
    bn_stats_kernel<T, I><<<channel_grid(d.c), 128, 0, ctx.stream>>>(px, sums, d, chunks, eps, mptr<T>(mean),
                                                                      mptr<T>(invstd));
    PX_CUDA_CHECK_LAUNCH();
  }
  const I numel = static_cast<I>(x.numel());
  bn_normalize_kernel<T, I><<<grid_for(numel), kBlock, 0, ctx.stream>>>(
      px, cptr<T>(weight), cptr<T>(bias), cptr<T>(mean), cptr<T>(invstd), mptr<T>(y), d, numel);
  PX_CUDA_CHECK_LAUNCH();
}

template <class T, class I>
void backward_typed(DeviceContext& ctx, const Tensor& gy, const Tensor& x, const Tensor& weight, const Tensor& mean,
                    const Tensor& invstd, const Tensor& gx, const Tensor& gw, const Tensor& gb, bool training,
                    BnDims<I> d) {
  const bool need_sums = gw.defined() || gb.defined() || (gx.defined() && training);
  const I chunks = need_sums ? chunks_for(ctx, d) : I(1);
  Scratch partial = scratch(ctx, need_sums ? static_cast<std::size_t>(d.c) * chunks * sizeof(Sums) : 1);
  Scratch coef = scratch(ctx, gx.defined() ? static_cast<std::size_t>(d.c) * 3 * sizeof(T) : 1);
  auto* sums = need_sums ? static_cast<Sums*>(partial.get()) : nullptr;
  T* pcoef = gx.defined() ? static_cast<T*>(coef.get()) : nullptr;
  if (need_sums) {
    bn_partial_kernel<T, I, true><<<static_cast<unsigned>(d.c * chunks), kReduceThreads, 0, ctx.stream>>>(
        cptr<T>(x), cptr<T>(gy), cptr<T>(mean), d, chunks, sums);
    PX_CUDA_CHECK_LAUNCH();
  }
  bn_grad_coef_kernel<T, I><<<channel_grid(d.c), 128, 0, ctx.stream>>>(
      sums, chunks, d, cptr<T>(weight), cptr<T>(invstd), training, mptr<T>(gw), mptr<T>(gb), pcoef);
  PX_CUDA_CHECK_LAUNCH();
  if (gx.defined()) {
    const I numel = static_cast<I>(x.numel());
    bn_grad_x_kernel<T, I><<<grid_for(numel), kBlock, 0, ctx.stream>>>(cptr<T>(gy), cptr<T>(x), cptr<T>(mean), pcoef,
                                                                        mptr<T>(gx), d, numel);
    PX_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace

void CudaBackend::batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean,
                                     const Tensor& invstd, const Tensor& y, double eps, bool training) {
  DeviceContext& ctx = context(x.device());
  if (x.size(1) == 0 || (x.numel() == 0 && !training)) return;
  with_dims(x, [&](auto d) {
    using I = decltype(d.c);
    if (x.dtype() == DType::float32) {
      forward_typed<float, I>(ctx, x, weight, bias, mean, invstd, y, eps, training, d);
    } else {
      forward_typed<double, I>(ctx, x, weight, bias, mean, invstd, y, eps, training, d);
    }
  });
}

void CudaBackend::batch_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                                      const Tensor& mean, const Tensor& invstd, const Tensor& grad_x,
                                      const Tensor& grad_weight, const Tensor& grad_bias, bool training) {
  DeviceContext& ctx = context(x.device());
  if (x.size(1) == 0) return;
  with_dims(x, [&](auto d) {
    using I = decltype(d.c);
    if (x.dtype() == DType::float32) {
      backward_typed<float, I>(ctx, grad_y, x, weight, mean, invstd, grad_x, grad_weight, grad_bias, training, d);
    } else {
      backward_typed<double, I>(ctx, grad_y, x, weight, mean, invstd, grad_x, grad_weight, grad_bias, training, d);
    }
  });
}

}  // namespace px::cuda
