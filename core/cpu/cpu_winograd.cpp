// CPU Winograd F(2x2,3x3) convolution (cpu_winograd.h): per block of images, tile transforms around 16 GEMMs.
#include "proxima/core/cpu/cpu_winograd.h"

#include <omp.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "proxima/core/cpu/cpu_common.h"
#include "proxima/core/cpu/cpu_conv_plan.h"
#include "proxima/core/cpu/cpu_gemm.h"
#include "proxima/core/cpu/cpu_gemm_dot.h"
#include "proxima/core/cpu/cpu_gemm_small.h"
#include "proxima/core/cpu/cpu_winograd_tiles.h"

namespace px::cpu {
namespace {

using winograd::tiles_along;

constexpr std::int64_t kElems = 16;  // elements xi of a transformed 4x4 tile: 16 products per block
// Tiles (columns of each of the 16 products) that one block of images gives at least, measured on
// one core (bench_cpu_workloads --workload conv, 2026-11-22, ms): forward and backward-input favour
// small blocks, whose 16 x (C + K) x tiles transformed values stay in L2 (256 -> 256 channels 8x8
// b64: 32 at 64 tiles, 42 at 128, 43 at 256; 64 -> 64 8x8 b128: 4.4, 4.5, 5.3); backward-weight
// favours longer sums, as gemm_dot reduces each tile's dot products across lanes once (64 -> 64
// 8x8: 7.3, 5.9, 5.7, 6.1 at 64, 128, 256, 512), except through Eigen (K > 64; 512 -> 512 4x4:
// 46, 40, 58 at 64, 128, 256).
constexpr std::int64_t kApplyTiles = 64;
constexpr std::int64_t kDotTiles = 256;
constexpr std::int64_t kEigenTiles = 128;
// Largest weight-side extent for gemm_small / gemm_dot instead of Eigen (as kSmallGemmChannels in cpu_conv.cpp).
constexpr std::int64_t kSmallChannels = 64;

// Elements between consecutive element planes [rows, ld] of a block: a little more than rows * ld,
// so that the 16 planes a tile transform writes (or reads) at once do not fall into the same cache
// sets when rows * ld * sizeof(T) is a multiple of 4 KiB (16 x 256 tiles: 16-way conflicts in L1).
inline std::int64_t element_stride(std::int64_t rows, std::int64_t ld) { return rows * ld + 32; }

// The rule (winograd_applies), measured on one core against the im2col path (ms, same benches):
// - channels: at least 16 in and out. The first layers (3 input channels) lose: 3 -> 16 32x32
//   b128 forward 2.1 against 1.7, 3 -> 64 b64 5.6 against 2.8, backward-input 6.2 against 4.4;
//   16 -> 16 32x32 b128 wins (forward 6.2 against 9.5);
// - plane: at least 4x4. At 2x2 (one partial tile, 12 of its 16 inputs padding) 512 -> 512 neither
//   direction wins reliably: b64 forward 21.4 against 20.3, backward-input 21.7 against 23.2, but
//   b32 (a thread's share of b64 on 2 threads) backward-input 26 against 17, backward-weight
//   14.6 against 15.9 on one thread and 67 against 52 on two.
constexpr std::int64_t kMinChannels = 16;
constexpr std::int64_t kMinPlane = 4;

// How one call walks its batch: blocks of whole images (their tiles side by side in every matrix)
// of at least block_tiles tiles, within kConvMaxBlockBytes of transformed tiles per thread. With
// as many images as threads each thread takes its own range of images (as plan_conv); otherwise
// the blocks run in turn with their transforms and their 16 products split across the threads.
ConvPlan plan_winograd(std::int64_t n, std::int64_t tiles, std::int64_t block_tiles, std::int64_t channels,
                       std::int64_t elem_bytes, std::int64_t work) {
  const std::int64_t image_bytes = std::max<std::int64_t>(kElems * channels * tiles * elem_bytes, 1);
  const std::int64_t wanted = std::clamp<std::int64_t>(ceil_div(block_tiles, tiles), 1,
                                                       std::max<std::int64_t>(kConvMaxBlockBytes / image_bytes, 1));
  const int nt = omp_in_parallel() ? 1 : get_num_threads();
  const bool tiny = work < kConvParallelWork;
  if (nt > 1 && !tiny && n >= nt) return {even_block(ceil_div(n, nt), wanted), nt, 1};
  return {even_block(n, wanted), 1, tiny ? 1 : nt};
}

// Runs f(i, thread) for i = 0..count-1 on `threads` threads (static split, thread = 0.. its index).
template <class F>
void parallel_for(std::int64_t count, int threads, F&& f) {
  if (threads <= 1 || count <= 1) {
    for (std::int64_t i = 0; i < count; ++i) f(i, 0);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t i = 0; i < count; ++i) f(i, omp_get_thread_num());
}

// Bytes of input-plane copies a thread keeps at once: transform_inputs copies a group of planes
// before it transforms them, so that the copies' stores have reached the cache when the transforms
// read them back (a read straight after the stores it spans waits for them).
constexpr std::int64_t kCopyBytes = 16 << 10;

template <class T>
winograd::PlaneWork plane_layout(std::int64_t h, std::int64_t w) {
  const winograd::PlaneWork one(h, w, 1);
  const std::int64_t copies = kCopyBytes / (one.copy_size() * std::int64_t{sizeof(T)});
  return {h, w, std::clamp<std::int64_t>(copies, 1, 16)};
}

// Zeroed work space of the plane transforms (plane_layout) for each thread of the plan.
template <class T>
Scratch<T> plane_work(const ConvPlan& plan, std::int64_t h, std::int64_t w) {
  const int threads = std::max(plan.threads, plan.inner_threads);
  Scratch<T> work(threads, plane_layout<T>(h, w).size());
  std::fill(work.of(0), work.of(threads), T(0));
  return work;
}

// Threads for a per-call loop of `work` multiply-adds outside the blocks (filter transforms).
int call_threads(std::int64_t work) { return omp_in_parallel() || work < kConvParallelWork ? 1 : get_num_threads(); }

// u [16][co][ci] = the transforms of the filters of w [K, C, 3, 3]: as they are (co = K, ci = C),
// or flipped for the backward-input (co = C, ci = K, filter (c, k) = w[k][c] rotated by 180 degrees).
// Filter (o, i) starts at base + o * o_step + i * i_step; each row o is vectorised along i.
template <class T>
void transform_filters(const T* w, std::int64_t k, std::int64_t c, bool flipped, T* u) {
  const std::int64_t co = flipped ? c : k, ci = flipped ? k : c;
  const std::int64_t o_step = flipped ? 9 : 9 * c, i_step = flipped ? 9 * c : 9, step = flipped ? -1 : 1;
  const T* base = w + (flipped ? 8 : 0);
  parallel_for(co, call_threads(co * ci * 64), [&](std::int64_t o, int) {
    const T* row = base + o * o_step;
    T* uo = u + o * ci;
#pragma omp simd
    for (std::int64_t i = 0; i < ci; ++i) winograd::filter_tile(row + i * i_step, step, uo + i, co * ci);
  });
}

// m [co, ld] = u [co, ci] * v [ci, ld]: gemm_small (v read in place) for few output channels, else Eigen.
template <class T>
void tile_product(const T* u, const T* v, T* m, std::int64_t co, std::int64_t ld, std::int64_t ci) {
  if (co <= kSmallChannels) gemm_small<T>({u, ci, 1}, v, ld, m, ld, co, ld, ci, false);
  else gemm<T>(u, v, m, co, ld, ci, false, false, false);
}

template <class T>
bool uses_gemm_dot(std::int64_t k) {
  return gemm_dot_vectorised<T>() && k <= kSmallChannels;
}

// acc [k, c] += gy [k, ld] * v [c, ld]^T: gemm_dot (both read in place along the tiles) where it is
// vectorised and k is small, else Eigen.
template <class T>
void tile_gradient_product(const T* gy, const T* v, T* acc, std::int64_t k, std::int64_t c, std::int64_t ld) {
  if (uses_gemm_dot<T>(k)) gemm_dot<T>(gy, ld, v, ld, acc, c, k, c, ld, true);
  else gemm<T>(gy, v, acc, k, c, ld, false, true, true);
}

// v [16][ci][ld] <- the input tiles of images img0 .. img0+count-1 of x [n, ci, h, w], image b's
// at columns b * tiles ..: plane by plane, in groups of copies (plane_layout) split across `threads`.
template <class T>
void transform_inputs(const T* x, std::int64_t img0, std::int64_t count, std::int64_t ci, std::int64_t h,
                      std::int64_t w, T* v, int threads, const Scratch<T>& work, int tid) {
  const winograd::PlaneWork pw = plane_layout<T>(h, w);
  const std::int64_t tiles = pw.th * pw.tw, ld = count * tiles, planes = count * ci;
  parallel_for(ceil_div(planes, pw.copies), threads, [&](std::int64_t group, int it) {
    T* wk = work.of(tid + it);
    const std::int64_t first = group * pw.copies, last = std::min(planes, first + pw.copies);
    for (std::int64_t k = first; k < last; ++k)  // plane k: channel k % ci of image img0 + k / ci
      winograd::copy_input(x + (img0 * ci + k) * h * w, h, w, pw, k - first, wk);
    for (std::int64_t k = first; k < last; ++k)
      winograd::input_tiles(wk + pw.input_copy(k - first), h, w, v + (k % ci) * ld + (k / ci) * tiles,
                            element_stride(ci, ld), wk + pw.rows());
  });
}

// out [n, co, h, w] = x [n, ci, h, w] convolved (3x3, padding 1) with the filters transformed to u [16][co][ci].
template <class T>
void winograd_apply(const T* x, const T* u, T* out, std::int64_t n, std::int64_t ci, std::int64_t co,
                    std::int64_t h, std::int64_t w) {
  const std::int64_t tiles = tiles_along(h) * tiles_along(w), hw = h * w;
  const ConvPlan plan = plan_winograd(n, tiles, kApplyTiles, ci + co, sizeof(T), n * co * ci * 9 * hw);
  const std::int64_t cap = plan.images * tiles;
  Scratch<T> v(plan.threads, kElems * element_stride(ci, cap)), m(plan.threads, kElems * element_stride(co, cap));
  const Scratch<T> work = plane_work<T>(plan, h, w);
  const winograd::PlaneWork layout = plane_layout<T>(h, w);
  for_each_block(plan, n, [&](std::int64_t img0, std::int64_t count, int tid) {
    const std::int64_t ld = count * tiles;
    T* vb = v.of(tid);
    T* mb = m.of(tid);
    transform_inputs(x, img0, count, ci, h, w, vb, plan.inner_threads, work, tid);
    parallel_for(kElems, plan.inner_threads, [&](std::int64_t e, int) {
      tile_product(u + e * co * ci, vb + e * element_stride(ci, ld), mb + e * element_stride(co, ld), co, ld, ci);
    });
    parallel_for(count * co, plan.inner_threads, [&](std::int64_t bk, int it) {
      const std::int64_t b = bk / co, k = bk % co;
      winograd::output_tiles(mb + k * ld + b * tiles, element_stride(co, ld), h, w,
                             out + ((img0 + b) * co + k) * hw, work.of(tid + it) + layout.rows());
    });
  });
}

}  // namespace

bool winograd_applies(const ConvGeometry& g, const Conv2dParams& prm) {
  const bool form = g.r == 3 && g.s == 3 && prm.stride_h == 1 && prm.stride_w == 1 && prm.pad_h == 1 &&
                    prm.pad_w == 1 && prm.dilation_h == 1 && prm.dilation_w == 1 && g.groups == 1 &&
                    g.p == g.h && g.q == g.w;
  return form && g.c >= kMinChannels && g.k >= kMinChannels && g.h >= kMinPlane && g.w >= kMinPlane;
}

template <class T>
void winograd_forward(const T* x, const T* w, T* out, const ConvGeometry& g) {
  const auto u = std::make_unique_for_overwrite<T[]>(kElems * g.k * g.c);
  transform_filters(w, g.k, g.c, false, u.get());
  winograd_apply(x, u.get(), out, g.n, g.c, g.k, g.h, g.w);
}

// For stride 1 and padding 1, grad_x is the forward convolution of grad_out with the filters
// w'[c][k][r][s] = w[k][c][2-r][2-s] (rotated by 180 degrees, channels swapped), padding 1.
template <class T>
void winograd_backward_input(const T* grad_out, const T* w, T* grad_x, const ConvGeometry& g) {
  const auto u = std::make_unique_for_overwrite<T[]>(kElems * g.k * g.c);
  transform_filters(w, g.k, g.c, true, u.get());
  winograd_apply(grad_out, u.get(), grad_x, g.n, g.k, g.c, g.h, g.w);
}

// The forward identity transposed: dL/dg_kc = G^T [ sum over tiles t of (A dY_kt A^T) ⊙ V_ct ] G,
// the sum being 16 products acc[xi] [K, C] += GY[xi] [K, T] * V[xi] [C, T]^T over the blocks.
template <class T>
void winograd_backward_weight(const T* grad_out, const T* x, T* grad_w, const ConvGeometry& g) {
  const std::int64_t tiles = tiles_along(g.h) * tiles_along(g.w), hw = g.h * g.w, kc = g.k * g.c;
  const std::int64_t block_tiles = uses_gemm_dot<T>(g.k) ? kDotTiles : kEigenTiles;
  const ConvPlan plan = plan_winograd(g.n, tiles, block_tiles, g.c + g.k, sizeof(T), g.n * kc * 9 * hw);
  const std::int64_t cap = plan.images * tiles;
  Scratch<T> v(plan.threads, kElems * element_stride(g.c, cap));
  Scratch<T> gy(plan.threads, kElems * element_stride(g.k, cap));
  const Scratch<T> work = plane_work<T>(plan, g.h, g.w);
  const winograd::PlaneWork layout = plane_layout<T>(g.h, g.w);
  Scratch<T> acc(plan.threads, kElems * kc);  // each thread's sums, zeroed by the thread itself
  std::vector<char> started(plan.threads, 0);
  for_each_block(plan, g.n, [&](std::int64_t img0, std::int64_t count, int tid) {
    const std::int64_t ld = count * tiles;
    T* vb = v.of(tid);
    T* gb = gy.of(tid);
    if (!started[tid]) std::fill(acc.of(tid), acc.of(tid + 1), T(0));
    started[tid] = 1;
    transform_inputs(x, img0, count, g.c, g.h, g.w, vb, plan.inner_threads, work, tid);
    parallel_for(count * g.k, plan.inner_threads, [&](std::int64_t bk, int it) {
      const std::int64_t b = bk / g.k, k = bk % g.k;
      winograd::gradient_tiles(grad_out + ((img0 + b) * g.k + k) * hw, g.h, g.w, gb + k * ld + b * tiles,
                               element_stride(g.k, ld), layout, work.of(tid + it));
    });
    parallel_for(kElems, plan.inner_threads, [&](std::int64_t e, int) {
      tile_gradient_product(gb + e * element_stride(g.k, ld), vb + e * element_stride(g.c, ld), acc.of(tid) + e * kc,
                            g.k, g.c, ld);
    });
  });
  T* total = acc.of(0);
  if (!started[0]) std::fill(total, total + kElems * kc, T(0));  // no images
  parallel_for(kElems * g.k, call_threads(kElems * kc * plan.threads), [&](std::int64_t row, int) {
    for (int t = 1; t < plan.threads; ++t)  // in thread order: the same sums for any timing
      if (started[t])
        for (std::int64_t i = row * g.c; i < (row + 1) * g.c; ++i) total[i] += acc.of(t)[i];
  });
  parallel_for(g.k, call_threads(kc * 64), [&](std::int64_t k, int) {
    for (std::int64_t i = k * g.c; i < (k + 1) * g.c; ++i)
      winograd::filter_tile_transpose(total + i, kc, grad_w + i * 9);
  });
}

#define PX_WINOGRAD_INSTANTIATE(T)                                                                   \
  template void winograd_forward<T>(const T*, const T*, T*, const ConvGeometry&);                    \
  template void winograd_backward_input<T>(const T*, const T*, T*, const ConvGeometry&);             \
  template void winograd_backward_weight<T>(const T*, const T*, T*, const ConvGeometry&);
PX_WINOGRAD_INSTANTIATE(float)
PX_WINOGRAD_INSTANTIATE(double)
#undef PX_WINOGRAD_INSTANTIATE

}  // namespace px::cpu
