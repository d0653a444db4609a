// CpuBackend conv2d forward / backward-input / backward-weight: Winograd where it applies, else im2col + GEMMs.
#include <omp.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "proxima/core/cpu/cpu_backend.h"
#include "proxima/core/cpu/cpu_common.h"
#include "proxima/core/cpu/cpu_conv_plan.h"
#include "proxima/core/cpu/cpu_gemm.h"
#include "proxima/core/cpu/cpu_gemm_dot.h"
#include "proxima/core/cpu/cpu_gemm_small.h"
#include "proxima/core/cpu/cpu_im2col.h"
#include "proxima/core/cpu/cpu_winograd.h"

namespace px::cpu {
namespace {

// Runs f(b) for the images b = 0..count-1 of one block, on `threads` threads.
template <class F>
void for_each_in_block(std::int64_t count, int threads, F&& f) {
  if (threads <= 1 || count <= 1) {
    for (std::int64_t b = 0; b < count; ++b) f(b);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t b = 0; b < count; ++b) f(b);
}

// Where one block's matrices live: `pq` columns per image, `ld` = images * pq per row.
struct Block {
  std::int64_t img0, count, pq, ld;
};

// [rows, count*pq] <- the [rows, pq] planes of images img0.. (image i's at src + i*image_stride).
template <class T>
void gather_planes(const T* src, std::int64_t image_stride, std::int64_t rows, const Block& bl, int threads, T* dst) {
  for_each_in_block(bl.count, threads, [&](std::int64_t b) {
    const T* from = src + (bl.img0 + b) * image_stride;
    for (std::int64_t r = 0; r < rows; ++r) std::copy_n(from + r * bl.pq, bl.pq, dst + r * bl.ld + b * bl.pq);
  });
}

// The inverse of gather_planes.
template <class T>
void scatter_planes(const T* src, std::int64_t image_stride, std::int64_t rows, const Block& bl, int threads, T* dst) {
  for_each_in_block(bl.count, threads, [&](std::int64_t b) {
    T* to = dst + (bl.img0 + b) * image_stride;
    for (std::int64_t r = 0; r < rows; ++r) std::copy_n(src + r * bl.ld + b * bl.pq, bl.pq, to + r * bl.pq);
  });
}

// col [Cg*R*S, count*pq]: the im2col columns of group grp of the block's images, side by side.
template <class T>
void block_im2col(const T* x, const ConvGeometry& g, const Conv2dParams& prm, std::int64_t grp, const Block& bl,
                  int threads, T* col) {
  const std::int64_t hw = g.h * g.w;
  for_each_in_block(bl.count, threads, [&](std::int64_t b) {
    im2col(x + ((bl.img0 + b) * g.c + grp * g.cg()) * hw, g, prm, col + b * bl.pq, bl.ld);
  });
}

// Largest weight-side extent (output channels per group, M of the forward product and K of the
// backward-input one) for which gemm_small replaces Eigen: there A is the small weight matrix and
// B the wide column matrix that gemm_small reads in place, where Eigen re-packs all of it for
// every product and runs its 24-row register blocking part empty for 16 or 32 rows.
constexpr std::int64_t kSmallGemmChannels = 64;

// The weight-side products of one call, group by group: C [m, n] = A_g [m, k] * B [k, n] (rows of B
// and C n apart) with A_g = W_g [Kg, CgRS] (forward) or W_g^T (backward-input, W_g read in place).
// gemm_small, its A packed once per call rather than once per block, where the weight-side extent
// is at most kSmallGemmChannels; Eigen otherwise.
template <class T>
class WeightProducts {
 public:
  WeightProducts(const T* w, const ConvGeometry& g, bool transposed)
      : w_(w), wg_size_(g.kg() * g.col_rows()), transposed_(transposed),
        m_(transposed ? g.col_rows() : g.kg()), k_(transposed ? g.kg() : g.col_rows()) {
    if (g.kg() > kSmallGemmChannels) return;
    small_.reserve(static_cast<std::size_t>(g.groups));
    for (std::int64_t grp = 0; grp < g.groups; ++grp) {
      const StridedMatrix<T> a = transposed ? StridedMatrix<T>{w + grp * wg_size_, 1, m_}
                                            : StridedMatrix<T>{w + grp * wg_size_, k_, 1};
      small_.emplace_back(a, m_, k_);
    }
  }
  void run(std::int64_t grp, const T* b, T* c, std::int64_t n) const {
    if (!small_.empty()) small_[static_cast<std::size_t>(grp)].multiply(b, n, c, n, n, false);
    else gemm<T>(w_ + grp * wg_size_, b, c, m_, n, k_, transposed_, false, false);
  }

 private:
  const T* w_;
  std::int64_t wg_size_;
  bool transposed_;
  std::int64_t m_, k_;
  std::vector<SmallGemmA<T>> small_;
};

// out block (Kg x count*PQ) = W_g (Kg x CgRS) * col (CgRS x count*PQ), scattered to out[n] group by group.
template <class T>
void conv_forward(const T* x, const T* w, T* out, const ConvGeometry& g, const Conv2dParams& prm) {
  if (winograd_applies(g, prm)) {
    winograd_forward(x, w, out, g);
    return;
  }
  const ConvPlan plan = plan_conv(g, sizeof(T));
  const std::int64_t pq = g.p * g.q, hw = g.h * g.w, cols = plan.images * pq;
  const bool direct = conv_is_pointwise(g, prm) && plan.images == 1;  // the input planes are the columns
  Scratch<T> col(plan.threads, direct ? 0 : g.col_rows() * cols);
  Scratch<T> res(plan.threads, plan.images == 1 ? 0 : g.kg() * cols);
  const WeightProducts<T> products(w, g, false);
  for_each_block(plan, g.n, [&](std::int64_t img0, std::int64_t count, int tid) {
    const Block bl{img0, count, pq, count * pq};
    for (std::int64_t grp = 0; grp < g.groups; ++grp) {
      const T* src = x + (img0 * g.c + grp * g.cg()) * hw;
      if (!direct) {
        block_im2col(x, g, prm, grp, bl, plan.inner_threads, col.of(tid));
        src = col.of(tid);
      }
      T* dst = out + (img0 * g.k + grp * g.kg()) * pq;
      products.run(grp, src, count == 1 ? dst : res.of(tid), bl.ld);
      if (count > 1) scatter_planes(res.of(tid), g.k * pq, g.kg(), {0, count, pq, bl.ld}, plan.inner_threads, dst);
    }
  });
}

// col (CgRS x count*PQ) = W_g^T (CgRS x Kg) * grad_out block (Kg x count*PQ), then col2im per image.
template <class T>
void conv_backward_input(const T* gout, const T* w, T* gx, const ConvGeometry& g, const Conv2dParams& prm) {
  if (winograd_applies(g, prm)) {
    winograd_backward_input(gout, w, gx, g);
    return;
  }
  const ConvPlan plan = plan_conv(g, sizeof(T));
  const std::int64_t pq = g.p * g.q, hw = g.h * g.w, cols = plan.images * pq;
  const bool direct = conv_is_pointwise(g, prm) && plan.images == 1;  // the GEMM writes grad_x itself
  Scratch<T> col(plan.threads, direct ? 0 : g.col_rows() * cols);
  Scratch<T> gob(plan.threads, plan.images == 1 ? 0 : g.kg() * cols);
  const WeightProducts<T> products(w, g, true);
  for_each_block(plan, g.n, [&](std::int64_t img0, std::int64_t count, int tid) {
    const Block bl{img0, count, pq, count * pq};
    for (std::int64_t grp = 0; grp < g.groups; ++grp) {
      const T* go = gout + (img0 * g.k + grp * g.kg()) * pq;
      if (count > 1) {
        gather_planes(go, g.k * pq, g.kg(), {0, count, pq, bl.ld}, plan.inner_threads, gob.of(tid));
        go = gob.of(tid);
      }
      T* gxg = gx + (img0 * g.c + grp * g.cg()) * hw;
      if (direct) {
        products.run(grp, go, gxg, pq);
        continue;
      }
      products.run(grp, go, col.of(tid), bl.ld);
      for_each_in_block(count, plan.inner_threads, [&](std::int64_t b) {
        T* planes = gxg + b * g.c * hw;
        std::fill(planes, planes + g.cg() * hw, T(0));
        col2im_add(col.of(tid) + b * pq, g, prm, planes, bl.ld);
      });
    }
  });
}

// Columns that one backward-weight block gives gemm_dot at least. Its 4 x 4 tiles reduce their 16
// dot products across lanes once per tile, which costs about what 64 columns of FMAs do: alone,
// 64 x 576 x 64 runs at 44 GFLOP/s (Eigen 81), 64 x 576 x 1024 at 96 (Eigen 69), one core.
constexpr std::int64_t kDotColumns = 1024;

// grad_w_g (Kg x CgRS) += grad_out block (Kg x count*PQ) * col^T (count*PQ x CgRS), block by block:
// gemm_dot, reading both in place along the columns, for few output channels (their blocks then
// hold at least kDotColumns columns, within kConvMaxBlockBytes), Eigen otherwise. With several
// threads each accumulates its own images into a private copy; copies are added in thread order.
template <class T>
void conv_backward_weight(const T* gout, const T* x, T* gw, const ConvGeometry& g, const Conv2dParams& prm) {
  if (winograd_applies(g, prm)) {
    winograd_backward_weight(gout, x, gw, g);
    return;
  }
  ConvPlan plan = plan_conv(g, sizeof(T));
  const std::int64_t pq = g.p * g.q, hw = g.h * g.w, wg_size = g.kg() * g.col_rows();
  const bool dot = gemm_dot_vectorised<T>() && g.kg() <= kSmallGemmChannels;
  if (dot && pq > 0) {
    const std::int64_t image_bytes = std::max<std::int64_t>(g.col_size() * std::int64_t{sizeof(T)}, 1);
    const std::int64_t most = std::max<std::int64_t>(kConvMaxBlockBytes / image_bytes, 1);
    plan.images = std::max(plan.images, std::min(ceil_div(kDotColumns, pq), most));
  }
  const std::int64_t cols = plan.images * pq, w_size = g.groups * wg_size;
  const bool direct = conv_is_pointwise(g, prm) && plan.images == 1;
  Scratch<T> col(plan.threads, direct ? 0 : g.col_rows() * cols);
  Scratch<T> gob(plan.threads, plan.images == 1 ? 0 : g.kg() * cols);
  Scratch<T> partial(plan.threads > 1 ? plan.threads : 0, w_size);
  if (plan.threads > 1) std::fill(partial.of(0), partial.of(plan.threads), T(0));
  std::fill(gw, gw + w_size, T(0));
  for_each_block(plan, g.n, [&](std::int64_t img0, std::int64_t count, int tid) {
    const Block bl{img0, count, pq, count * pq};
    T* acc = plan.threads > 1 ? partial.of(tid) : gw;
    for (std::int64_t grp = 0; grp < g.groups; ++grp) {
      const T* src = x + (img0 * g.c + grp * g.cg()) * hw;
      if (!direct) {
        block_im2col(x, g, prm, grp, bl, plan.inner_threads, col.of(tid));
        src = col.of(tid);
      }
      const T* go = gout + (img0 * g.k + grp * g.kg()) * pq;
      if (count > 1) {
        gather_planes(go, g.k * pq, g.kg(), {0, count, pq, bl.ld}, plan.inner_threads, gob.of(tid));
        go = gob.of(tid);
      }
      T* c = acc + grp * wg_size;
      if (dot) gemm_dot<T>(go, bl.ld, src, bl.ld, c, g.col_rows(), g.kg(), g.col_rows(), bl.ld, true);
      else gemm<T>(go, src, c, g.kg(), g.col_rows(), bl.ld, false, true, true);
    }
  });
  for (int t = 0; t < (plan.threads > 1 ? plan.threads : 0); ++t) {
    const T* part = partial.of(t);
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
