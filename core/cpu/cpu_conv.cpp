// CpuBackend conv2d forward / backward-input / backward-weight: im2col + Eigen GEMM per image.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "proxima/core/cpu/cpu_backend.h"
#include "proxima/core/cpu/cpu_common.h"
#include "proxima/core/cpu/cpu_gemm.h"
#include "proxima/core/cpu/cpu_im2col.h"

namespace px::cpu {
namespace {

// Threads for a loop over images: the batch is split over threads (each image's GEMM then
// runs single-threaded inside the region) only when there are at least as many images as
// threads; otherwise images run one after another and gemm() threads each product.
int batch_threads(std::int64_t images, std::int64_t work_per_image) {
  int nt = get_num_threads();
  if (omp_in_parallel() || nt <= 1 || images < nt || images * work_per_image < (1 << 16)) return 1;
  return nt;
}

// Runs body(image, thread) for every image, threads over the batch as batch_threads decides.
template <class Body>
void for_each_image(std::int64_t images, int nt, Body&& body) {
  if (nt <= 1) {
    for (std::int64_t i = 0; i < images; ++i) body(i, 0);
    return;
  }
#pragma omp parallel for num_threads(nt) schedule(static)
  for (std::int64_t i = 0; i < images; ++i) body(i, omp_get_thread_num());
}

// out[n] (K x PQ), group by group: W_g (Kg x CgRS) * col_g (CgRS x PQ).
template <class T>
void conv_forward(const T* x, const T* w, T* out, const ConvGeometry& g, const Conv2dParams& prm) {
  const bool pointwise = conv_is_pointwise(g, prm);
  const std::int64_t pq = g.p * g.q, hw = g.h * g.w, wg_size = g.kg() * g.col_rows();
  const int nt = batch_threads(g.n, g.k * g.col_size());
  std::vector<T> cols(pointwise ? 0 : static_cast<std::size_t>(nt * g.col_size()));
  for_each_image(g.n, nt, [&](std::int64_t img, int tid) {
    T* col = cols.data() + tid * g.col_size();
    for (std::int64_t grp = 0; grp < g.groups; ++grp) {
      const T* xg = x + (img * g.c + grp * g.cg()) * hw;
      const T* src = xg;
      if (!pointwise) {
        im2col(xg, g, prm, col);
        src = col;
      }
      gemm<T>(w + grp * wg_size, src, out + (img * g.k + grp * g.kg()) * pq, g.kg(), pq, g.col_rows(),
              false, false, false);
    }
  });
}

// grad_x[n] group by group: col = W_g^T (CgRS x Kg) * grad_out_g (Kg x PQ), then col2im.
template <class T>
void conv_backward_input(const T* gout, const T* w, T* gx, const ConvGeometry& g, const Conv2dParams& prm) {
  const bool pointwise = conv_is_pointwise(g, prm);
  const std::int64_t pq = g.p * g.q, hw = g.h * g.w, wg_size = g.kg() * g.col_rows();
  const int nt = batch_threads(g.n, g.k * g.col_size());
  std::vector<T> cols(pointwise ? 0 : static_cast<std::size_t>(nt * g.col_size()));
  for_each_image(g.n, nt, [&](std::int64_t img, int tid) {
    T* col = cols.data() + tid * g.col_size();
    for (std::int64_t grp = 0; grp < g.groups; ++grp) {
      T* gxg = gx + (img * g.c + grp * g.cg()) * hw;
      const T* go = gout + (img * g.k + grp * g.kg()) * pq;
      if (pointwise) {
        gemm<T>(w + grp * wg_size, go, gxg, g.col_rows(), pq, g.kg(), true, false, false);
        continue;
      }
      gemm<T>(w + grp * wg_size, go, col, g.col_rows(), pq, g.kg(), true, false, false);
      std::fill(gxg, gxg + g.cg() * hw, T(0));
      col2im_add(col, g, prm, gxg);
    }
  });
}

// grad_w_g (Kg x CgRS) = sum over images of grad_out_g (Kg x PQ) * col_g^T (PQ x CgRS).
// Each thread accumulates its own images into a private copy; copies are added in thread order.
template <class T>
void conv_backward_weight(const T* gout, const T* x, T* gw, const ConvGeometry& g, const Conv2dParams& prm) {
  const bool pointwise = conv_is_pointwise(g, prm);
  const std::int64_t pq = g.p * g.q, hw = g.h * g.w, wg_size = g.kg() * g.col_rows();
  const std::int64_t w_size = g.groups * wg_size;
  const int nt = batch_threads(g.n, g.k * g.col_size());
  std::vector<T> cols(pointwise ? 0 : static_cast<std::size_t>(nt * g.col_size()));
  std::vector<T> partial(nt > 1 ? static_cast<std::size_t>(nt * w_size) : 0, T(0));
  std::fill(gw, gw + w_size, T(0));
  for_each_image(g.n, nt, [&](std::int64_t img, int tid) {
    T* col = cols.data() + tid * g.col_size();
    T* acc = nt > 1 ? partial.data() + tid * w_size : gw;
    for (std::int64_t grp = 0; grp < g.groups; ++grp) {
      const T* xg = x + (img * g.c + grp * g.cg()) * hw;
      const T* src = xg;
      if (!pointwise) {
        im2col(xg, g, prm, col);
        src = col;
      }
      gemm<T>(gout + (img * g.k + grp * g.kg()) * pq, src, acc + grp * wg_size, g.kg(), g.col_rows(), pq,
              false, true, true);
    }
  });
  for (int t = 0; t < (nt > 1 ? nt : 0); ++t) {
    const T* part = partial.data() + t * w_size;
    for (std::int64_t i = 0; i < w_size; ++i) gw[i] += part[i];
  }
}

}  // namespace

void CpuBackend::conv2d(const Tensor& x, const Tensor& w, const Tensor& out, const Conv2dParams& p) {
  dispatch_float(x.dtype(), "conv2d", [&](auto tag) {
    using T = decltype(tag);
    conv_forward<T>(static_cast<const T*>(x.data_ptr()), static_cast<const T*>(w.data_ptr()),
                    static_cast<T*>(out.data_ptr()), conv_geometry(x.shape(), w.shape(), out.shape(), p.groups), p);
  });
}

void CpuBackend::conv2d_backward_input(const Tensor& grad_out, const Tensor& w, const Tensor& grad_x,
                                       const Conv2dParams& p) {
  dispatch_float(w.dtype(), "conv2d_backward_input", [&](auto tag) {
    using T = decltype(tag);
    conv_backward_input<T>(static_cast<const T*>(grad_out.data_ptr()), static_cast<const T*>(w.data_ptr()),
                           static_cast<T*>(grad_x.data_ptr()),
                           conv_geometry(grad_x.shape(), w.shape(), grad_out.shape(), p.groups), p);
  });
}

void CpuBackend::conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Tensor& grad_w,
                                        const Conv2dParams& p) {
  dispatch_float(x.dtype(), "conv2d_backward_weight", [&](auto tag) {
    using T = decltype(tag);
    conv_backward_weight<T>(static_cast<const T*>(grad_out.data_ptr()), static_cast<const T*>(x.data_ptr()),
                            static_cast<T*>(grad_w.data_ptr()),
                            conv_geometry(x.shape(), grad_w.shape(), grad_out.shape(), p.groups), p);
  });
}

}  // namespace px::cpu
