// CpuBackend::batch_norm_forward / batch_norm_backward and their ReLU-fused variants: per-channel
// statistics, normalisation and gradients in fused loops (OpenMP over channels, double
// accumulators). The ReLU is folded into the write pass forward, and the mask [y > 0] into the
// reduction and grad_x passes backward (template flags Relu / Masked).
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "proxima/core/cpu/cpu_backend.h"
#include "proxima/core/cpu/cpu_common.h"

namespace px::cpu {
namespace {

// x viewed as [N, C, L]: channel c's values are N rows of L contiguous values, `stride` apart.
struct BnShape {
  std::int64_t n = 0, c = 0, l = 1;
  std::int64_t stride() const { return c * l; }
  std::int64_t count() const { return n * l; }  // values per channel
};

BnShape bn_shape(const Tensor& x) {
  BnShape s;
  s.n = x.size(0);
  s.c = x.size(1);
  s.l = s.n * s.c == 0 ? 1 : x.numel() / (s.n * s.c);
  return s;
}

// Per-channel affine parameters and statistics (T pointers; weight/bias null = 1/0).
template <class T>
struct BnParams {
  const T* weight = nullptr;
  const T* bias = nullptr;
  T* mean = nullptr;
  T* invstd = nullptr;
  T w(std::int64_t c) const { return weight ? weight[c] : T(1); }
  T b(std::int64_t c) const { return bias ? bias[c] : T(0); }
};

template <class T>
const T* ptr(const Tensor& t) {
  return t.defined() ? static_cast<const T*>(t.data_ptr()) : nullptr;
}
template <class T>
T* mut_ptr(const Tensor& t) {
  return t.defined() ? static_cast<T*>(t.data_ptr()) : nullptr;
}

// The incoming gradient at i, masked by the fused ReLU's output when Masked: gy where y > 0,
// else +0. Done with an integer mask: GCC turns both a select and gy * [y > 0] into a branch,
// which mispredicts on the random sign pattern (6x slower backward, measured).
template <bool Masked, class T>
inline T gated(const T* gy, const T* y, std::int64_t i) {
  if constexpr (Masked) {
    using U = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
    const U keep = U(0) - static_cast<U>(y[i] > T(0));  // all ones or all zeros
    return std::bit_cast<T>(std::bit_cast<U>(gy[i]) & keep);
  } else {
    return gy[i];
  }
}

// relu(v) when Relu, as math::relu (NaN stays NaN).
template <bool Relu, class T>
inline T activate(T v) {
  if constexpr (Relu)
    return v < T(0) ? T(0) : v;
  else
    return v;
}

// Eight-lane double sums (separate lanes let the compiler vectorise without reassociating).
// sum_dev2: sum (x - m)^2.  sum_gy_dev: (sum gy, sum gy (x - m)).
template <class T>
double lane_sum(const T* x, std::int64_t n) {
  double lane[8] = {};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) lane[k] += static_cast<double>(x[i + k]);
  for (; i < n; ++i) lane[0] += static_cast<double>(x[i]);
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

template <class T>
double lane_sum_dev2(const T* x, std::int64_t n, double m) {
  double lane[8] = {};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) {
      const double d = static_cast<double>(x[i + k]) - m;
      lane[k] += d * d;
    }
  for (; i < n; ++i) lane[0] += (static_cast<double>(x[i]) - m) * (static_cast<double>(x[i]) - m);
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

// Eight values of T as one GCC vector.
template <class T>
struct Lanes8;
template <>
struct Lanes8<float> {
  typedef float type __attribute__((vector_size(32)));
};
template <>
struct Lanes8<double> {
  typedef double type __attribute__((vector_size(64)));
};

// y: the fused ReLU's output (read only when Masked).
template <bool Masked, class T>
void lane_sum_gy_dev(const T* gy, const T* y, const T* x, std::int64_t n, double m, double& sum_gy,
                     double& sum_gy_dev) {
  // The eight lanes as explicit vectors (GCC does not vectorise the lane arrays itself); the
  // same per-lane arithmetic and order as the scalar tail.
  using V = typename Lanes8<double>::type;
  using VT = typename Lanes8<T>::type;
  V va = {}, vb = {};
  const V vm = V{} + m;
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    VT gt, xt;
    std::memcpy(&gt, gy + i, sizeof gt);
    std::memcpy(&xt, x + i, sizeof xt);
    if constexpr (Masked) {
      VT yt;
      std::memcpy(&yt, y + i, sizeof yt);
      gt = yt > T(0) ? gt : VT{};
    }
    const V g = __builtin_convertvector(gt, V);
    va += g;
    vb += g * (__builtin_convertvector(xt, V) - vm);
  }
  double a[8], b[8];
  std::memcpy(a, &va, sizeof a);
  std::memcpy(b, &vb, sizeof b);
  for (; i < n; ++i) {
    const double g = static_cast<double>(gated<Masked>(gy, y, i));
    a[0] += g;
    b[0] += g * (static_cast<double>(x[i]) - m);
  }
  sum_gy += ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
  sum_gy_dev += ((b[0] + b[1]) + (b[2] + b[3])) + ((b[4] + b[5]) + (b[6] + b[7]));
}

// ---- planes: L > 1, one channel at a time (its N rows of L values) ----

// Training statistics of channel c: mean, then the biased variance around it (two passes;
// a one-pass shifted variant for float32 measured no faster: the output allocation and the
// normalising pass dominate).
template <class T>
void plane_stats(const T* x, const BnShape& s, std::int64_t c, double eps, T& mean, T& invstd) {
  const T* base = x + c * s.l;
  double sum = 0;
  for (std::int64_t i = 0; i < s.n; ++i) sum += lane_sum(base + i * s.stride(), s.l);
  const double m = sum / static_cast<double>(s.count());
  double dev2 = 0;
  for (std::int64_t i = 0; i < s.n; ++i) dev2 += lane_sum_dev2(base + i * s.stride(), s.l, m);
  mean = static_cast<T>(m);
  invstd = static_cast<T>(1.0 / std::sqrt(dev2 / static_cast<double>(s.count()) + eps));
}

// y = (x - mean) * scale + shift on channel c's rows (then max(0, .) when Relu).
template <bool Relu, class T>
void plane_affine(const T* x, T* y, const BnShape& s, std::int64_t c, T mean, T scale, T shift) {
  for (std::int64_t i = 0; i < s.n; ++i) {
    const T* xr = x + i * s.stride() + c * s.l;
    T* yr = y + i * s.stride() + c * s.l;
    for (std::int64_t k = 0; k < s.l; ++k) yr[k] = activate<Relu>((xr[k] - mean) * scale + shift);
  }
}

// gx = a * gy + b * (x - mean) + k on channel c's rows (gy masked by y > 0 when Masked).
template <bool Masked, class T>
void plane_grad_x(const T* gy, const T* y, const T* x, T* gx, const BnShape& s, std::int64_t c, T mean, T a, T b,
                  T k) {
  for (std::int64_t i = 0; i < s.n; ++i) {
    const std::int64_t off = i * s.stride() + c * s.l;
    const T *gr = gy + off, *yr = Masked ? y + off : nullptr, *xr = x + off;
    T* out = gx + off;
    for (std::int64_t j = 0; j < s.l; ++j) out[j] = a * gated<Masked>(gr, yr, j) + b * (xr[j] - mean) + k;
  }
}

// ---- columns: L == 1, x is [N, C]; a chunk of channels [c0, c1) at once, vectorised over c ----

template <class T>
void column_stats(const T* x, const BnShape& s, std::int64_t c0, std::int64_t c1, double eps, T* mean, T* invstd) {
  const std::int64_t w = c1 - c0;
  std::vector<double> sum(w, 0.0), dev2(w, 0.0);
  for (std::int64_t i = 0; i < s.n; ++i) {
    const T* row = x + i * s.c + c0;
    for (std::int64_t j = 0; j < w; ++j) sum[j] += static_cast<double>(row[j]);
  }
  for (std::int64_t j = 0; j < w; ++j) sum[j] /= static_cast<double>(s.n);
  for (std::int64_t i = 0; i < s.n; ++i) {
    const T* row = x + i * s.c + c0;
    for (std::int64_t j = 0; j < w; ++j) {
      const double d = static_cast<double>(row[j]) - sum[j];
      dev2[j] += d * d;
    }
  }
  for (std::int64_t j = 0; j < w; ++j) {
    mean[c0 + j] = static_cast<T>(sum[j]);
    invstd[c0 + j] = static_cast<T>(1.0 / std::sqrt(dev2[j] / static_cast<double>(s.n) + eps));
  }
}

// Per-channel sums of gy and gy * (x - mean) over the rows, for channels [c0, c1).
template <bool Masked, class T>
void column_grad_sums(const T* gy, const T* y, const T* x, const T* mean, const BnShape& s, std::int64_t c0,
                      std::int64_t c1, double* sum_gy, double* sum_gy_dev) {
  const std::int64_t w = c1 - c0;
  for (std::int64_t j = 0; j < w; ++j) sum_gy[j] = sum_gy_dev[j] = 0.0;
  for (std::int64_t i = 0; i < s.n; ++i) {
    const T *g = gy + i * s.c + c0, *yr = Masked ? y + i * s.c + c0 : nullptr, *xr = x + i * s.c + c0;
    for (std::int64_t j = 0; j < w; ++j) {
      const double gd = static_cast<double>(gated<Masked>(g, yr, j));
      sum_gy[j] += gd;
      sum_gy_dev[j] += gd * (static_cast<double>(xr[j]) - static_cast<double>(mean[c0 + j]));
    }
  }
}

// Channels per parallel chunk: about 32K values of work each.
std::int64_t channel_grain(const BnShape& s) { return std::max<std::int64_t>(1, 32768 / std::max<std::int64_t>(1, s.count())); }

template <bool Relu, class T>
void forward_typed(const Tensor& x, const Tensor& y, const BnParams<T>& p, double eps, bool training) {
  const BnShape s = bn_shape(x);
  const T* px = ptr<T>(x);
  T* py = mut_ptr<T>(y);
  parallel_for(s.c, channel_grain(s), [&](std::int64_t c0, std::int64_t c1) {
    if (s.l > 1) {  // channel by channel: statistics, then the normalisation while x is in cache
      for (std::int64_t c = c0; c < c1; ++c) {
        if (training) plane_stats(px, s, c, eps, p.mean[c], p.invstd[c]);
        plane_affine<Relu>(px, py, s, c, p.mean[c], p.invstd[c] * p.w(c), p.b(c));
      }
    } else {  // row by row, vectorised over the chunk's channels
      if (training) column_stats(px, s, c0, c1, eps, p.mean, p.invstd);
      for (std::int64_t i = 0; i < s.n; ++i) {
        const T* xr = px + i * s.c;
        T* yr = py + i * s.c;
        for (std::int64_t c = c0; c < c1; ++c)
          yr[c] = activate<Relu>((xr[c] - p.mean[c]) * (p.invstd[c] * p.w(c)) + p.b(c));
      }
    }
  });
}

// Output tensors of the backward (null when not wanted).
template <class T>
struct BnGrads {
  T* x = nullptr;
  T* weight = nullptr;
  T* bias = nullptr;
};

// Writes the wanted gradients of channel c from its sums; returns the coefficients of
// gx = a * gy + b * (x - mean) + k.
template <class T>
void channel_coefficients(const BnParams<T>& p, const BnGrads<T>& g, std::int64_t c, double sum_gy,
                          double sum_gy_dev, double count, bool training, T& a, T& b, T& k) {
  const double invstd = static_cast<double>(p.invstd[c]), w = static_cast<double>(p.w(c));
  const double sum_gy_xhat = sum_gy_dev * invstd;
  if (g.bias) g.bias[c] = static_cast<T>(sum_gy);
  if (g.weight) g.weight[c] = static_cast<T>(sum_gy_xhat);
  a = static_cast<T>(w * invstd);
  b = static_cast<T>(training ? -w * invstd * invstd * sum_gy_xhat / count : 0.0);
  k = static_cast<T>(training ? -w * invstd * sum_gy / count : 0.0);
}

// y: the fused ReLU's output when Masked (undefined otherwise).
template <bool Masked, class T>
void backward_typed(const Tensor& grad_y, const Tensor& y, const Tensor& x, const BnParams<T>& p,
                    const BnGrads<T>& g, bool training) {
  const BnShape s = bn_shape(x);
  const T *pg = ptr<T>(grad_y), *py = ptr<T>(y), *px = ptr<T>(x);
  const bool need_sums = g.weight || g.bias || (g.x && training);
  const double count = static_cast<double>(s.count());
  parallel_for(s.c, channel_grain(s), [&](std::int64_t c0, std::int64_t c1) {
    std::vector<double> sum_gy(c1 - c0, 0.0), sum_gy_dev(c1 - c0, 0.0);
    if (need_sums && s.l == 1) column_grad_sums<Masked>(pg, py, px, p.mean, s, c0, c1, sum_gy.data(), sum_gy_dev.data());
    std::vector<T> a(c1 - c0), b(c1 - c0), k(c1 - c0);
    for (std::int64_t c = c0; c < c1; ++c) {
      const std::int64_t j = c - c0;
      const double m = static_cast<double>(p.mean[c]);
      if (need_sums && s.l > 1)
        for (std::int64_t i = 0; i < s.n; ++i) {
          const std::int64_t off = i * s.stride() + c * s.l;
          lane_sum_gy_dev<Masked>(pg + off, Masked ? py + off : nullptr, px + off, s.l, m, sum_gy[j], sum_gy_dev[j]);
        }
      channel_coefficients(p, g, c, sum_gy[j], sum_gy_dev[j], count, training, a[j], b[j], k[j]);
      if (g.x && s.l > 1) plane_grad_x<Masked>(pg, py, px, g.x, s, c, p.mean[c], a[j], b[j], k[j]);
    }
    if (g.x && s.l == 1) {
      for (std::int64_t i = 0; i < s.n; ++i) {
        const T *gr = pg + i * s.c, *yr = Masked ? py + i * s.c : nullptr, *xr = px + i * s.c;
        T* out = g.x + i * s.c;
        for (std::int64_t c = c0; c < c1; ++c) {
          const std::int64_t j = c - c0;
          out[c] = a[j] * gated<Masked>(gr, yr, c) + b[j] * (xr[c] - p.mean[c]) + k[j];
        }
      }
    }
  });
}

}  // namespace

void CpuBackend::batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean,
                                    const Tensor& invstd, const Tensor& y, double eps, bool training) {
  dispatch_float(x.dtype(), "batch_norm_forward", [&](auto tag) {
    using T = decltype(tag);
    BnParams<T> p{ptr<T>(weight), ptr<T>(bias), mut_ptr<T>(mean), mut_ptr<T>(invstd)};
    forward_typed<false, T>(x, y, p, eps, training);
  });
}

void CpuBackend::batch_norm_relu_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                         const Tensor& mean, const Tensor& invstd, const Tensor& y, double eps,
                                         bool training) {
  dispatch_float(x.dtype(), "batch_norm_relu_forward", [&](auto tag) {
    using T = decltype(tag);
    BnParams<T> p{ptr<T>(weight), ptr<T>(bias), mut_ptr<T>(mean), mut_ptr<T>(invstd)};
    forward_typed<true, T>(x, y, p, eps, training);
  });
}

void CpuBackend::batch_norm_backward(const Tensor& grad_y, const Tensor& x, const Tensor& weight,
                                     const Tensor& mean, const Tensor& invstd, const Tensor& grad_x,
                                     const Tensor& grad_weight, const Tensor& grad_bias, bool training) {
  dispatch_float(x.dtype(), "batch_norm_backward", [&](auto tag) {
    using T = decltype(tag);
    BnParams<T> p{ptr<T>(weight), nullptr, mut_ptr<T>(mean), mut_ptr<T>(invstd)};
    BnGrads<T> g{mut_ptr<T>(grad_x), mut_ptr<T>(grad_weight), mut_ptr<T>(grad_bias)};
    backward_typed<false, T>(grad_y, Tensor(), x, p, g, training);
  });
}

void CpuBackend::batch_norm_relu_backward(const Tensor& grad_y, const Tensor& x, const Tensor& y,
                                          const Tensor& weight, const Tensor& mean, const Tensor& invstd,
                                          const Tensor& grad_x, const Tensor& grad_weight, const Tensor& grad_bias,
                                          bool training) {
  dispatch_float(x.dtype(), "batch_norm_relu_backward", [&](auto tag) {
    using T = decltype(tag);
    BnParams<T> p{ptr<T>(weight), nullptr, mut_ptr<T>(mean), mut_ptr<T>(invstd)};
    BnGrads<T> g{mut_ptr<T>(grad_x), mut_ptr<T>(grad_weight), mut_ptr<T>(grad_bias)};
    backward_typed<true, T>(grad_y, y, x, p, g, training);
  });
}

}  // namespace px::cpu
