// CUDA entry points of optim/prox/group_device.h: the group lasso's per-group kernels (block norm,
// uniform and metric block prox, subgradient, normalisation), the fused pieces of ProxGen and
// ProxSGD around a group prox, and SR2's trial step and Andrei update with their reductions.
#include <cmath>

#include "proxima/core/factory.h"
#include "proxima/cuda/block_reduce.cuh"
#include "proxima/cuda/multi_tensor.cuh"
#include "proxima/optim/prox/group_device.h"
#include "proxima/optim/prox/group_root.h"

namespace px::optim::device {
namespace {

using cuda::block_allreduce;
using cuda::kBlock;
using cuda::multi_tensor::launch;

cuda::DeviceContext& context_of(const Tensor& t) { return cuda::cuda_backend_impl().context(t.device()); }

unsigned group_grid(std::int64_t groups) { return static_cast<unsigned>(groups < 65535 ? groups : 65535); }

struct Max {
  __device__ double operator()(double a, double b) const { return a > b ? a : b; }
};
struct Min {
  __device__ double operator()(double a, double b) const { return a < b ? a : b; }
};
struct Plus {
  __device__ double operator()(double a, double b) const { return a + b; }
};

// Group g of a contiguous tensor: element k (0 <= k < size) sits at (k / inner * groups + g) * inner + k % inner.
struct GroupIndex {
  std::int64_t groups, inner, size;
  __device__ std::int64_t at(std::int64_t g, std::int64_t k) const { return (k / inner * groups + g) * inner + k % inner; }
};

GroupIndex index_of(const prox::GroupLayout& l) { return {l.groups, l.inner, l.outer * l.inner}; }

// block_norm (group_prox.cpp) of value(k), k < n, over the block: max |v|, then scale * sqrt(sum (v * (1 / scale))^2).
// Every thread returns the same value. Contains __syncthreads: call from all threads.
template <class F>
__device__ double block_norm(std::int64_t n, F value, double* scratch) {
  double scale = 0;
  for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x) scale = fmax(scale, fabs(value(k)));
  scale = block_allreduce(scale, Max{}, scratch);
  if (scale == 0 || isinf(scale)) return scale;
  double sum = 0;
  const double inv = 1.0 / scale;
  for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x) {
    const double q = value(k) * inv;
    sum += q * q;
  }
  return scale * sqrt(block_allreduce(sum, Plus{}, scratch));
}

// group_prox.cpp's block_prox per group (one block per group, grid-stride over groups).
template <class T>
__global__ void __launch_bounds__(kBlock) group_prox_kernel(T* x, const T* t, double t_uniform, GroupIndex gi) {
  __shared__ double scratch[32];
  const std::int64_t n = gi.size;
  for (std::int64_t g = blockIdx.x; g < gi.groups; g += gridDim.x) {
    auto z = [&](std::int64_t k) { return double(x[gi.at(g, k)]); };
    auto tz = [&](std::int64_t k) { return double(t[gi.at(g, k)]); };
    const double norm = block_norm(n, z, scratch);
    if (isinf(norm)) continue;  // a block containing +-inf is kept
    bool uniform = t == nullptr;
    double tu = t_uniform;
    if (!uniform) {
      tu = tz(0);
      double differs = 0;
      for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x) differs = fmax(differs, tz(k) == tu ? 0.0 : 1.0);
      uniform = block_allreduce(differs, Max{}, scratch) == 0;
    }
    if (uniform) {
      const double keep = norm > tu ? 1.0 - tu / norm : 0.0;
      for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x) x[gi.at(g, k)] = T(keep * z(k));
      continue;
    }
    // the metric prox: group_prox.cpp's metric_block_prox, with the Newton steps of group_root.h
    const double inv = 1.0 / norm;
    double zero_test = 0, tau_min = INFINITY, tau_max = 0, tau_mean = 0;
    for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x) {
      const double v = z(k);
      if (v == 0) continue;
      const double u = v * inv, tau = tz(k) * inv;
      zero_test += (u / tau) * (u / tau);
      tau_min = fmin(tau_min, tau);
      tau_max = fmax(tau_max, tau);
      tau_mean += u * u * tau;
    }
    zero_test = block_allreduce(zero_test, Plus{}, scratch);
    tau_min = block_allreduce(tau_min, Min{}, scratch);
    tau_max = block_allreduce(tau_max, Max{}, scratch);
    tau_mean = block_allreduce(tau_mean, Plus{}, scratch);
    if (zero_test <= 1) {  // ||(z_i / t_i)|| <= 1
      __syncthreads();
      for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x) x[gi.at(g, k)] = T(0.0);
      continue;
    }
    prox::MetricRoot root = prox::metric_root_start(tau_min, tau_max, tau_mean);
    while (!root.done) {  // the same sums in every thread: the loop is uniform over the block
      double S = 0, D = 0;
      for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x) {
        const double v = z(k);
        if (v == 0) continue;
        const double w = 1.0 / (root.rho + tz(k) * inv), a = v * inv * w;
        S += a * a;
        D += a * a * w;
      }
      S = block_allreduce(S, Plus{}, scratch);
      D = block_allreduce(D, Plus{}, scratch);
      prox::metric_root_step(root, S, D);
    }
    const double rho = root.rho;
    __syncthreads();  // every thread has read z for the sums before any writes
    for (std::int64_t k = threadIdx.x; k < n; k += blockDim.x)
      x[gi.at(g, k)] = T(rho > 0 ? z(k) * rho / (rho + tz(k) * inv) : 0.0);
  }
}

// Mode 0: out_g = x_g / ||x_g|| (0 for a zero group); 1: norms[g] = ||x_g||; 2: x_g *= f_g, factors[g] = f_g.
template <class T, int Mode>
__global__ void __launch_bounds__(kBlock) group_norm_kernel(T* x, T* out, double* per_group, GroupIndex gi) {
  __shared__ double scratch[32];
  for (std::int64_t g = blockIdx.x; g < gi.groups; g += gridDim.x) {
    const double norm = block_norm(gi.size, [&](std::int64_t k) { return double(x[gi.at(g, k)]); }, scratch);
    if constexpr (Mode == 1) {
      if (threadIdx.x == 0) per_group[g] = norm;
    } else if constexpr (Mode == 0) {
      for (std::int64_t k = threadIdx.x; k < gi.size; k += blockDim.x) {
        const std::int64_t i = gi.at(g, k);
        out[i] = norm > 0 ? T(double(x[i]) / norm) : T(0);
      }
    } else {
      const double f = norm > 0 && isfinite(norm) ? 1.0 / norm : 1.0;
      __syncthreads();  // every thread has read its values for the norm before any writes
      for (std::int64_t k = threadIdx.x; k < gi.size; k += blockDim.x) {
        const std::int64_t i = gi.at(g, k);
        x[i] = T(double(x[i]) * f);
      }
      if (threadIdx.x == 0) per_group[g] = f;
    }
  }
}

template <class T>
__global__ void scale_kernel(T* x, const double* f, double s, std::int64_t n) {
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n; i += std::int64_t(blockDim.x) * gridDim.x)
    x[i] = T(double(x[i]) * (f ? f[i] : s));
}

void check_device_tensor(const Tensor& t, const char* who) {
  PX_CHECK(!t.device().is_cpu() && t.is_contiguous(), ValueError, who, ": expects a contiguous CUDA tensor, got one on ",
           t.device().str());
}

template <class F>
void dispatch(const Tensor& t, F&& f) {
  PX_CHECK(t.dtype() == DType::float32 || t.dtype() == DType::float64, DTypeError, "group kernels: dtype ",
           dtype_name(t.dtype()), ", expected float32 or float64");
  if (t.dtype() == DType::float32) f(float{});
  else f(double{});
}

}  // namespace

void group_prox(const Tensor& theta, const Tensor* t, double t_uniform, const prox::GroupLayout& layout) {
  check_device_tensor(theta, "group_prox");
  if (theta.numel() == 0) return;
  auto& ctx = context_of(theta);
  dispatch(theta, [&](auto tag) {
    using T = decltype(tag);
    group_prox_kernel<T><<<group_grid(layout.groups), kBlock, 0, ctx.stream>>>(
        static_cast<T*>(theta.data_ptr()), t ? static_cast<const T*>(t->data_ptr()) : nullptr, t_uniform, index_of(layout));
    PX_CUDA_CHECK_LAUNCH();
  });
}

void group_subgradient(const Tensor& theta, const Tensor& out, const prox::GroupLayout& layout) {
  check_device_tensor(theta, "group_subgradient");
  if (theta.numel() == 0) return;
  auto& ctx = context_of(theta);
  dispatch(theta, [&](auto tag) {
    using T = decltype(tag);
    group_norm_kernel<T, 0><<<group_grid(layout.groups), kBlock, 0, ctx.stream>>>(
        static_cast<T*>(theta.data_ptr()), static_cast<T*>(out.data_ptr()), nullptr, index_of(layout));
    PX_CUDA_CHECK_LAUNCH();
  });
}

void group_norms(const Tensor& theta, const Tensor& norms, const prox::GroupLayout& layout) {
  check_device_tensor(theta, "group_norms");
  if (layout.groups == 0) return;
  auto& ctx = context_of(theta);
  dispatch(theta, [&](auto tag) {
    using T = decltype(tag);
    group_norm_kernel<T, 1><<<group_grid(layout.groups), kBlock, 0, ctx.stream>>>(
        static_cast<T*>(theta.data_ptr()), nullptr, static_cast<double*>(norms.data_ptr()), index_of(layout));
    PX_CUDA_CHECK_LAUNCH();
  });
}

void group_normalize(const Tensor& theta, const Tensor& factors, const prox::GroupLayout& layout) {
  check_device_tensor(theta, "group_normalize");
  if (layout.groups == 0) return;
  auto& ctx = context_of(theta);
  dispatch(theta, [&](auto tag) {
    using T = decltype(tag);
    group_norm_kernel<T, 2><<<group_grid(layout.groups), kBlock, 0, ctx.stream>>>(
        static_cast<T*>(theta.data_ptr()), nullptr, static_cast<double*>(factors.data_ptr()), index_of(layout));
    PX_CUDA_CHECK_LAUNCH();
  });
}

void scale_by(const Tensor& x, const Tensor& factors) {
  check_device_tensor(x, "scale_by");
  if (x.numel() == 0) return;
  auto& ctx = context_of(x);
  dispatch(x, [&](auto tag) {
    using T = decltype(tag);
    scale_kernel<T><<<cuda::grid_for(x.numel()), kBlock, 0, ctx.stream>>>(
        static_cast<T*>(x.data_ptr()), static_cast<const double*>(factors.data_ptr()), 1.0, x.numel());
    PX_CUDA_CHECK_LAUNCH();
  });
}

void scale(const Tensor& x, double s) {
  check_device_tensor(x, "scale");
  if (x.numel() == 0) return;
  auto& ctx = context_of(x);
  dispatch(x, [&](auto tag) {
    using T = decltype(tag);
    scale_kernel<T><<<cuda::grid_for(x.numel()), kBlock, 0, ctx.stream>>>(static_cast<T*>(x.data_ptr()), nullptr, s,
                                                                         x.numel());
    PX_CUDA_CHECK_LAUNCH();
  });
}

// ---- ProxGen / ProxSGD pieces ----
namespace {

template <class T>
struct ProxGenThresholdOp {
  prox::ProxGenCoefficients<T> c;
  __device__ void operator()(T* const* s, std::int64_t i) const {
    T p = s[0][i], m = s[2][i], unused = 0;
    T& v = s[3] ? s[3][i] : unused;
    s[4][i] = prox::proxgen_gradient_step(p, s[1][i], m, v, c);
    s[0][i] = p;
    s[2][i] = m;
  }
};

template <class T>
struct ClipOp {
  T bound;
  __device__ void operator()(T* const* s, std::int64_t i) const {
    const T p = s[0][i];
    s[0][i] = p > bound ? bound : (p < -bound ? -bound : p);
  }
};

template <class T>
struct ProxSgdDirectionOp {
  prox::ProxSGDCoefficients<T> c;
  __device__ void operator()(T* const* s, std::int64_t i) const {
    T p = s[0][i], v = s[2][i], r = s[3][i], threshold;
    s[4][i] = prox::proxsgd_direction(p, s[1][i], v, r, c, threshold);
    s[0][i] = p;
    s[2][i] = v;
    s[3][i] = r;
  }
};

template <class T>
struct ProxSgdThresholdOp {
  prox::ProxSGDCoefficients<T> c;
  __device__ void operator()(T* const* s, std::int64_t i) const { s[0][i] = c.lambda / prox::proxsgd_tau(s[1][i], c); }
};

template <class T>
struct ProxSgdCombineOp {
  prox::ProxSGDCoefficients<T> c;
  __device__ void operator()(T* const* s, std::int64_t i) const {
    T p = s[0][i];
    prox::proxsgd_combine(p, prox::proxsgd_clip(s[1][i], c), c);
    s[0][i] = p;
  }
};

}  // namespace

template <class T>
void proxgen_thresholds(const TensorList& list, const prox::ProxGenCoefficients<T>& c) {
  launch<T>(list, ProxGenThresholdOp<T>{c});
}
template <class T>
void clip(const TensorList& list, double bound) {
  launch<T>(list, ClipOp<T>{T(bound)});
}
template <class T>
void proxsgd_direction(const TensorList& list, const prox::ProxSGDCoefficients<T>& c) {
  launch<T>(list, ProxSgdDirectionOp<T>{c});
}
template <class T>
void proxsgd_thresholds(const TensorList& list, const prox::ProxSGDCoefficients<T>& c) {
  launch<T>(list, ProxSgdThresholdOp<T>{c});
}
template <class T>
void proxsgd_combine(const TensorList& list, const prox::ProxSGDCoefficients<T>& c) {
  launch<T>(list, ProxSgdCombineOp<T>{c});
}

PX_INSTANTIATE_GROUP_PIECES(float)
PX_INSTANTIATE_GROUP_PIECES(double)

}  // namespace px::optim::device
