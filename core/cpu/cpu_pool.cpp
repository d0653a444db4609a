// CpuBackend max/avg pooling (forward and backward) on NCHW planes, with PyTorch's semantics.
#include <cmath>
#include <limits>

#include "proxima/core/cpu/cpu_backend.h"
#include "proxima/core/cpu/cpu_common.h"

namespace px::cpu {
namespace {

// One output position's window, clipped to the input: rows [h0, h1), columns [w0, w1).
// `divisor` follows PyTorch's avg_pool2d: the window clipped to the padded input when
// count_include_pad, else clipped to the input itself.
struct Window {
  std::int64_t h0, h1, w0, w1, divisor;
};

inline Window pool_window(std::int64_t oh, std::int64_t ow, std::int64_t h, std::int64_t w, const Pool2dParams& p) {
  std::int64_t h0 = oh * p.stride_h - p.pad_h, w0 = ow * p.stride_w - p.pad_w;
  std::int64_t h1 = std::min(h0 + p.kernel_h, h + p.pad_h), w1 = std::min(w0 + p.kernel_w, w + p.pad_w);
  const std::int64_t padded_size = (h1 - h0) * (w1 - w0);
  h0 = std::max<std::int64_t>(h0, 0);
  w0 = std::max<std::int64_t>(w0, 0);
  h1 = std::min(h1, h);
  w1 = std::min(w1, w);
  const std::int64_t inside = std::max<std::int64_t>(h1 - h0, 0) * std::max<std::int64_t>(w1 - w0, 0);
  return {h0, h1, w0, w1, p.count_include_pad ? padded_size : inside};
}

struct PlaneDims {
  std::int64_t planes, h, w, p, q;
};

inline PlaneDims plane_dims(const Tensor& x, const Tensor& out) {
  return {x.size(0) * x.size(1), x.size(2), x.size(3), out.size(2), out.size(3)};
}

constexpr std::int64_t kPlaneGrain = 4;  // planes per thread at least

template <class T>
void max_pool_forward(const T* x, T* out, std::int64_t* idx, const PlaneDims& d, const Pool2dParams& p) {
  parallel_for(d.planes, kPlaneGrain, [&](std::int64_t c0, std::int64_t c1) {
    for (std::int64_t c = c0; c < c1; ++c) {
      const T* plane = x + c * d.h * d.w;
      for (std::int64_t oh = 0; oh < d.p; ++oh) {
        for (std::int64_t ow = 0; ow < d.q; ++ow) {
          Window win = pool_window(oh, ow, d.h, d.w, p);
          // Padding acts as -inf; NaN wins (as in PyTorch).
          T best = -std::numeric_limits<T>::infinity();
          std::int64_t best_i = win.h0 * d.w + win.w0;
          for (std::int64_t ih = win.h0; ih < win.h1; ++ih) {
            for (std::int64_t iw = win.w0; iw < win.w1; ++iw) {
              T v = plane[ih * d.w + iw];
              if (v > best || std::isnan(v)) {
                best = v;
                best_i = ih * d.w + iw;
              }
            }
          }
          const std::int64_t o = (c * d.p + oh) * d.q + ow;
          out[o] = best;
          idx[o] = best_i;
        }
      }
    }
  });
}

template <class T>
void max_pool_backward(const T* gout, const std::int64_t* idx, T* gx, const PlaneDims& d) {
  parallel_for(d.planes, kPlaneGrain, [&](std::int64_t c0, std::int64_t c1) {
    for (std::int64_t c = c0; c < c1; ++c) {
      T* plane = gx + c * d.h * d.w;
      std::fill(plane, plane + d.h * d.w, T(0));
      for (std::int64_t o = c * d.p * d.q; o < (c + 1) * d.p * d.q; ++o) plane[idx[o]] += gout[o];
    }
  });
}

template <class T>
void avg_pool_forward(const T* x, T* out, const PlaneDims& d, const Pool2dParams& p) {
  parallel_for(d.planes, kPlaneGrain, [&](std::int64_t c0, std::int64_t c1) {
    for (std::int64_t c = c0; c < c1; ++c) {
      const T* plane = x + c * d.h * d.w;
      for (std::int64_t oh = 0; oh < d.p; ++oh) {
        for (std::int64_t ow = 0; ow < d.q; ++ow) {
          Window win = pool_window(oh, ow, d.h, d.w, p);
          T sum = 0;
          for (std::int64_t ih = win.h0; ih < win.h1; ++ih)
            for (std::int64_t iw = win.w0; iw < win.w1; ++iw) sum += plane[ih * d.w + iw];
          out[(c * d.p + oh) * d.q + ow] = win.divisor > 0 ? sum / static_cast<T>(win.divisor) : T(0);
        }
      }
    }
  });
}

template <class T>
void avg_pool_backward(const T* gout, T* gx, const PlaneDims& d, const Pool2dParams& p) {
  parallel_for(d.planes, kPlaneGrain, [&](std::int64_t c0, std::int64_t c1) {
    for (std::int64_t c = c0; c < c1; ++c) {
      T* plane = gx + c * d.h * d.w;
      std::fill(plane, plane + d.h * d.w, T(0));
      for (std::int64_t oh = 0; oh < d.p; ++oh) {
        for (std::int64_t ow = 0; ow < d.q; ++ow) {
          Window win = pool_window(oh, ow, d.h, d.w, p);
          if (win.divisor <= 0) continue;
          const T g = gout[(c * d.p + oh) * d.q + ow] / static_cast<T>(win.divisor);
          for (std::int64_t ih = win.h0; ih < win.h1; ++ih)
            for (std::int64_t iw = win.w0; iw < win.w1; ++iw) plane[ih * d.w + iw] += g;
        }
      }
    }
  });
}

}  // namespace

void CpuBackend::max_pool2d(const Tensor& x, const Tensor& out, const Tensor& indices, const Pool2dParams& p) {
  dispatch_float(x.dtype(), "max_pool2d", [&](auto tag) {
    using T = decltype(tag);
    max_pool_forward<T>(static_cast<const T*>(x.data_ptr()), static_cast<T*>(out.data_ptr()),
                        static_cast<std::int64_t*>(indices.data_ptr()), plane_dims(x, out), p);
  });
}

void CpuBackend::max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const Tensor& grad_x,
                                     const Pool2dParams& p) {
  dispatch_float(grad_x.dtype(), "max_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    // Indices come from the caller: check them here, outside the parallel loop.
    const auto* idx = static_cast<const std::int64_t*>(indices.data_ptr());
    const std::int64_t plane = grad_x.size(2) * grad_x.size(3);
    for (std::int64_t i = 0; i < indices.numel(); ++i)
      PX_CHECK(idx[i] >= 0 && idx[i] < plane, IndexError, "max_pool2d_backward: indices[", i, "] = ", idx[i],
               ", expected a position in [0, ", plane, ") of the ", grad_x.size(2), "x", grad_x.size(3), " plane");
    max_pool_backward<T>(static_cast<const T*>(grad_out.data_ptr()),
                         static_cast<const std::int64_t*>(indices.data_ptr()),
                         static_cast<T*>(grad_x.data_ptr()), plane_dims(grad_x, grad_out));
  });
}

void CpuBackend::avg_pool2d(const Tensor& x, const Tensor& out, const Pool2dParams& p) {
  dispatch_float(x.dtype(), "avg_pool2d", [&](auto tag) {
    using T = decltype(tag);
    avg_pool_forward<T>(static_cast<const T*>(x.data_ptr()), static_cast<T*>(out.data_ptr()),
                        plane_dims(x, out), p);
  });
}

void CpuBackend::avg_pool2d_backward(const Tensor& grad_out, const Tensor& grad_x, const Pool2dParams& p) {
  dispatch_float(grad_x.dtype(), "avg_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    avg_pool_backward<T>(static_cast<const T*>(grad_out.data_ptr()), static_cast<T*>(grad_x.data_ptr()),
                         plane_dims(grad_x, grad_out), p);
  });
}

}  // namespace px::cpu
