// CudaBackend::reduce ([outer, n, inner] sum/max/min/argmax/argmin) and softmax.
#include <cuda/std/limits>

#include <algorithm>
#include <functional>
#include <memory>

#include "proxima/core/elementwise_math.h"
#include "proxima/cuda/block_reduce.cuh"
#include "proxima/cuda/cuda_backend.h"
#include "proxima/cuda/launch.cuh"

namespace px::cuda {

namespace {

// A partial result: value and (for argmax/argmin) the index it came from.
template <class T>
struct Partial {
  T v;
  std::int64_t i;
};

// Found by warp_allreduce through argument-dependent lookup.
template <class T>
__device__ Partial<T> shuffle_xor(Partial<T> p, int mask) {
  return {cuda::shuffle_xor(p.v, mask), cuda::shuffle_xor(p.i, mask)};
}

template <class T>
__device__ bool is_nan(T v) {
  return v != v;  // never true for integers
}

template <class T>
__device__ Partial<T> identity(ReduceOp op) {
  constexpr std::int64_t kNoIndex = ::cuda::std::numeric_limits<std::int64_t>::max();
  using L = ::cuda::std::numeric_limits<T>;
  bool lowest = op == ReduceOp::max || op == ReduceOp::argmax;
  if (op == ReduceOp::sum) return {T(0), kNoIndex};
  if constexpr (L::has_infinity) return {lowest ? -L::infinity() : L::infinity(), kNoIndex};
  return {lowest ? L::lowest() : L::max(), kNoIndex};
}

// Order-free combination (so tree reductions agree with a left-to-right scan): NaN wins,
// ties go to the smaller index, as on the CPU.
template <class T>
__device__ Partial<T> combine(ReduceOp op, Partial<T> a, Partial<T> b) {
  switch (op) {
    case ReduceOp::sum: return {static_cast<T>(a.v + b.v), 0};
    case ReduceOp::max: return {math::maximum(a.v, b.v), 0};
    case ReduceOp::min: return {math::minimum(a.v, b.v), 0};
    default: break;
  }
  bool a_nan = is_nan(a.v), b_nan = is_nan(b.v);
  if (a_nan != b_nan) return a_nan ? a : b;
  if (!a_nan) {
    bool a_wins = op == ReduceOp::argmax ? a.v > b.v : a.v < b.v;
    bool b_wins = op == ReduceOp::argmax ? b.v > a.v : b.v < a.v;
    if (a_wins) return a;
    if (b_wins) return b;
  }
  return a.i <= b.i ? a : b;
}

template <class T>
__device__ void store(ReduceOp op, void* out, std::int64_t k, Partial<T> p) {
  if (op == ReduceOp::argmax || op == ReduceOp::argmin) static_cast<std::int64_t*>(out)[k] = p.i;
  else static_cast<T*>(out)[k] = p.v;
}

// inner == 1: each of `rows` contiguous rows of n values is cut into `chunks` segments, one
// block per segment: per-thread partials, then a tree. Reads T values (indices kept for
// argmax/argmin) or, in the second pass of a split reduction, Partials; writes the final
// value or, in a first pass, one Partial per segment.
template <class T, bool kFromPartials, bool kToPartials>
__global__ void reduce_rows_kernel(ReduceOp op, const void* in, void* out, std::int64_t rows,
                                   std::int64_t n, std::int64_t chunks) {
  __shared__ Partial<T> scratch[32];
  auto comb = [op](Partial<T> a, Partial<T> b) { return combine(op, a, b); };
  const std::int64_t seg = (n + chunks - 1) / chunks;
  for (std::int64_t task = blockIdx.x; task < rows * chunks; task += gridDim.x) {
    std::int64_t row = task / chunks, begin = (task % chunks) * seg;
    std::int64_t end = begin + seg < n ? begin + seg : n;
    Partial<T> acc = identity<T>(op);
    for (std::int64_t k = begin + threadIdx.x; k < end; k += blockDim.x) {
      if constexpr (kFromPartials) acc = comb(acc, static_cast<const Partial<T>*>(in)[row * n + k]);
      else acc = comb(acc, Partial<T>{static_cast<const T*>(in)[row * n + k], k});
    }
    acc = block_allreduce(acc, comb, scratch);
    if (threadIdx.x == 0) {
      if constexpr (kToPartials) static_cast<Partial<T>*>(out)[task] = acc;
      else store(op, out, row, acc);
    }
  }
}

// inner > 1: block (32, 8); threadIdx.x walks inner (coalesced), threadIdx.y splits n.
constexpr int kColsY = 8;
template <class T>
__global__ void reduce_cols_kernel(ReduceOp op, const T* x, void* out, std::int64_t outer,
                                   std::int64_t n, std::int64_t inner) {
  __shared__ Partial<T> partial[kColsY][33];
  std::int64_t j = blockIdx.x * static_cast<std::int64_t>(32) + threadIdx.x;
  for (std::int64_t o = blockIdx.y; o < outer; o += gridDim.y) {
    Partial<T> acc = identity<T>(op);
    if (j < inner) {
      for (std::int64_t k = threadIdx.y; k < n; k += kColsY)
        acc = combine(op, acc, Partial<T>{x[(o * n + k) * inner + j], k});
    }
    partial[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && j < inner) {
      for (int r = 1; r < kColsY; ++r) acc = combine(op, acc, partial[r][threadIdx.x]);
      store(op, out, o * inner + j, acc);
    }
    __syncthreads();
  }
}

// Softmax over rows of n: a warp per row (n <= 1024) or a block per row; max and sum are
// tree reductions in T. Matches the CPU: NaN propagates, an all -inf row uses max 0.
template <class T, bool kWarpPerRow>
__global__ void softmax_kernel(const T* x, T* y, std::int64_t rows, std::int64_t n, bool log) {
  __shared__ T scratch[32];
  const int lane = kWarpPerRow ? threadIdx.x % 32 : threadIdx.x;
  const int width = kWarpPerRow ? 32 : blockDim.x;
  const int groups = kWarpPerRow ? blockDim.x / 32 : 1;
  const std::int64_t first = blockIdx.x * static_cast<std::int64_t>(groups) + (kWarpPerRow ? threadIdx.x / 32 : 0);
  auto max_op = [](T a, T b) { return math::maximum(a, b); };
  auto sum_op = [](T a, T b) { return a + b; };
  auto allreduce = [&](T v, auto op) {
    if constexpr (kWarpPerRow) return warp_allreduce(v, op);
    else return block_allreduce(v, op, scratch);
  };
  for (std::int64_t row = first; row < rows; row += static_cast<std::int64_t>(gridDim.x) * groups) {
    const T* xr = x + row * n;
    T* yr = y + row * n;
    T mx = -::cuda::std::numeric_limits<T>::infinity();
    for (std::int64_t k = lane; k < n; k += width) mx = max_op(mx, xr[k]);
    mx = allreduce(mx, max_op);
    if (mx == -::cuda::std::numeric_limits<T>::infinity()) mx = T(0);
    T sum = T(0);
    for (std::int64_t k = lane; k < n; k += width) sum += math::exp<T>(xr[k] - mx);
    sum = allreduce(sum, sum_op);
    if (log) {
      T shift = mx + math::log<T>(sum);
      for (std::int64_t k = lane; k < n; k += width) yr[k] = xr[k] - shift;
    } else {
      T inv = T(1) / sum;
      for (std::int64_t k = lane; k < n; k += width) yr[k] = math::exp<T>(xr[k] - mx) * inv;
    }
  }
}

template <class T>
void reduce_typed(DeviceContext& ctx, ReduceOp op, const T* x, void* out, std::int64_t outer,
                  std::int64_t n, std::int64_t inner) {
  if (inner == 1) {
    int threads = n >= 256 ? 256 : (n >= 64 ? 64 : 32);
    auto blocks = [](std::int64_t tasks) { return static_cast<unsigned>(tasks < (1 << 20) ? tasks : (1 << 20)); };
    // Few long rows: split each row over many blocks, then reduce the partials (two passes).
    std::int64_t chunks = std::min<std::int64_t>((n + 8191) / 8192, (4 * ctx.num_sms + outer - 1) / outer);
    if (n < 32768 || chunks < 2) {
      reduce_rows_kernel<T, false, false><<<blocks(outer), threads, 0, ctx.stream>>>(op, x, out, outer, n, 1);
    } else {
      std::size_t bytes = static_cast<std::size_t>(outer * chunks) * sizeof(Partial<T>);
      // Released right after the second pass is queued: safe, the stream orders its reuse.
      std::unique_ptr<void, std::function<void(void*)>> partials(
          ctx.allocator->allocate(bytes), [&ctx](void* p) { ctx.allocator->release(p); });
      reduce_rows_kernel<T, false, true><<<blocks(outer * chunks), threads, 0, ctx.stream>>>(
          op, x, partials.get(), outer, n, chunks);
      PX_CUDA_CHECK_LAUNCH();
      reduce_rows_kernel<T, true, false><<<blocks(outer), 32, 0, ctx.stream>>>(
          op, partials.get(), out, outer, chunks, 1);
    }
  } else {
    dim3 grid(static_cast<unsigned>((inner + 31) / 32), static_cast<unsigned>(outer < 65535 ? outer : 65535));
    reduce_cols_kernel<T><<<grid, dim3(32, kColsY), 0, ctx.stream>>>(op, x, out, outer, n, inner);
  }
  PX_CUDA_CHECK_LAUNCH();
}

template <class T>
void softmax_typed(DeviceContext& ctx, const T* x, T* y, std::int64_t rows, std::int64_t n, bool log) {
  constexpr std::int64_t kMaxBlocks = 1 << 20;
  if (n <= 1024) {
    constexpr int kWarps = 4;
    std::int64_t blocks = (rows + kWarps - 1) / kWarps;
    softmax_kernel<T, true><<<static_cast<unsigned>(blocks < kMaxBlocks ? blocks : kMaxBlocks), 32 * kWarps, 0,
                              ctx.stream>>>(x, y, rows, n, log);
  } else {
    softmax_kernel<T, false><<<static_cast<unsigned>(rows < kMaxBlocks ? rows : kMaxBlocks), 256, 0,
                               ctx.stream>>>(x, y, rows, n, log);
  }
  PX_CUDA_CHECK_LAUNCH();
}

}  // namespace

void CudaBackend::reduce(ReduceOp op, const Tensor& x, const Tensor& out, std::int64_t outer,
                         std::int64_t n, std::int64_t inner) {
  DeviceContext& ctx = context(out.device());
  if (outer == 0 || inner == 0) return;
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    reduce_typed<T>(ctx, op, static_cast<const T*>(x.data_ptr()), out.data_ptr(), outer, n, inner);
  });
}

void CudaBackend::softmax(const Tensor& x, const Tensor& out, bool log) {
  DeviceContext& ctx = context(out.device());
  std::int64_t n = x.dim() == 0 ? 1 : x.size(-1);
  if (x.numel() == 0 || n == 0) return;
  std::int64_t rows = x.numel() / n;
  if (x.dtype() == DType::float32) {
    softmax_typed(ctx, static_cast<const float*>(x.data_ptr()), static_cast<float*>(out.data_ptr()), rows, n, log);
  } else {
    softmax_typed(ctx, static_cast<const double*>(x.data_ptr()), static_cast<double*>(out.data_ptr()), rows, n, log);
  }
}

}  // namespace px::cuda
