// Private blocking rule of the CPU convolution: how many images share one GEMM, and how threads split the batch.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "proxima/core/cpu/cpu_common.h"
#include "proxima/core/cpu/cpu_im2col.h"

namespace px::cpu {

// How one conv2d call walks its batch. The im2col columns of `images` consecutive images sit side
// by side in one [Cg*R*S, images*P*Q] matrix, so one GEMM per block (and per group) packs the
// [Kg, Cg*R*S] weights once for all of them instead of once per image.
struct ConvPlan {
  std::int64_t images;  // images per GEMM block (the last block of a range may hold fewer)
  int threads;          // > 1: each thread walks its own contiguous range of images in blocks,
                        //      every GEMM single-threaded; 1: blocks run one after another
  int inner_threads;    // with threads == 1: threads for im2col / col2im inside a block
                        // (the block's GEMM is split across threads by gemm() itself)
};

// Columns one GEMM should have at least when its weights are worth sharing between images.
// Measured (bench/NOTES.md, 2026-11-22): per image, VGG-16's 512-channel layers at 4x4 and 2x2
// (16 and 4 columns) spent 25% of the step re-packing the [512, 4608] weights; blocks of 256
// columns took those layers from 95 to 25 ms (2x2) and 92 to 76 ms (4x4), 1024 gained no more.
constexpr std::int64_t kConvMinColumns = 256;
// Largest column block (bytes) a thread keeps: bounds the scratch memory of very deep layers.
constexpr std::int64_t kConvMaxBlockBytes = std::int64_t{16} << 20;
// Multiply-adds below which the whole convolution runs on one thread.
constexpr std::int64_t kConvParallelWork = std::int64_t{1} << 16;

inline std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// Block size that splits `range` images into equal blocks of at most `most` images.
inline std::int64_t even_block(std::int64_t range, std::int64_t most) {
  if (range <= 1) return 1;
  most = std::clamp<std::int64_t>(most, 1, range);
  return ceil_div(range, ceil_div(range, most));
}

// The rule. One image per GEMM when its own columns are at least as many as the output channels
// (pq >= Kg: the weights are no bigger than its column matrix, so re-packing them per image is
// at most half the packing, and a block's gather/scatter copies cost what it saves; measured:
// ResNet-20's 8x8 64-channel rows ran 5-12% slower in blocks of 4). Otherwise a block holds the
// fewest images that give kConvMinColumns columns (VGG-16 2x2: 64 images, 4x4: 16, 8x8: 4),
// within kConvMaxBlockBytes. Threads take one contiguous range of images each when every range
// still fills a whole block (per-image parallelism: no barrier inside the call); otherwise
// (a small batch of small images) the blocks run in turn, the GEMM split across threads by gemm().
inline ConvPlan plan_conv(const ConvGeometry& g, std::size_t elem_bytes) {
  const std::int64_t pq = std::max<std::int64_t>(g.p * g.q, 1);
  const std::int64_t image_bytes = std::max<std::int64_t>(g.col_size() * static_cast<std::int64_t>(elem_bytes), 1);
  const std::int64_t wanted = pq >= g.kg() ? 1
                               : std::min(ceil_div(kConvMinColumns, pq),
                                          std::max<std::int64_t>(kConvMaxBlockBytes / image_bytes, 1));
  const int nt = omp_in_parallel() ? 1 : get_num_threads();
  const bool tiny = g.n * g.k * g.col_size() < kConvParallelWork;
  if (nt > 1 && !tiny && g.n >= nt) {
    const std::int64_t range = ceil_div(g.n, nt);
    if (range >= wanted) return {even_block(range, wanted), nt, 1};
  }
  const std::int64_t images = even_block(g.n, wanted);
  return {images, 1, (nt > 1 && !tiny && images > 1) ? nt : 1};
}

// Uninitialised scratch of n elements per thread (every element is written before it is read).
template <class T>
struct Scratch {
  std::unique_ptr<T[]> data;
  std::int64_t per_thread;
  Scratch(int threads, std::int64_t n) : data(std::make_unique_for_overwrite<T[]>(threads * n)), per_thread(n) {}
  T* of(int tid) const { return data.get() + tid * per_thread; }
};

// Runs body(first_image, images, thread) over every block of the batch, as the plan says.
template <class Body>
void for_each_block(const ConvPlan& plan, std::int64_t n, Body&& body) {
  auto walk = [&](std::int64_t begin, std::int64_t end, int tid) {
    for (std::int64_t i = begin; i < end; i += plan.images) body(i, std::min(plan.images, end - i), tid);
  };
  if (plan.threads <= 1) {
    walk(0, n, 0);
    return;
  }
#pragma omp parallel num_threads(plan.threads)
  {
    const std::int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    walk(n * t / nt, n * (t + 1) / nt, static_cast<int>(t));
  }
}

}  // namespace px::cpu
