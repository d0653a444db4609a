// CUDA entry points of optim/prox/group_device.h for SR2: the trial step and Andrei's update, with
// their double-precision reductions accumulated into a device tensor (deterministic: per-block
// partials, then one block adds them in block order).
#include "proxima/core/factory.h"
#include "proxima/cuda/block_reduce.cuh"
#include "proxima/cuda/multi_tensor.cuh"
#include "proxima/optim/prox/group_device.h"

namespace px::optim::device {
namespace {

using cuda::block_allreduce;
using cuda::kBlock;
namespace mt = cuda::multi_tensor;

struct Plus {
  __device__ double operator()(double a, double b) const { return a + b; }
};

// multi_tensor_kernel with N sums: op(ptrs, i, acc) adds coordinate i's terms to acc[0..N); block b
// of this launch writes its totals to partials[(first + b) * N + j].
template <class T, int N, class Op>
__global__ void __launch_bounds__(kBlock) sums_kernel(mt::Table table, Op op, double* partials, std::int64_t first) {
  __shared__ double scratch[32];
  const int b = static_cast<int>(blockIdx.x);
  int lo = 0, hi = table.count - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (table.first_block[mid] <= b) lo = mid;
    else hi = mid - 1;
  }
  T* ptrs[mt::kSlots];
#pragma unroll
  for (int s = 0; s < mt::kSlots; ++s) ptrs[s] = static_cast<T*>(table.ptrs[lo][s]);
  const std::int64_t begin = static_cast<std::int64_t>(b - table.first_block[lo]) * mt::kChunk;
  const std::int64_t end = begin + mt::kChunk < table.numel[lo] ? begin + mt::kChunk : table.numel[lo];
  double acc[N] = {};
  for (std::int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) op(ptrs, i, acc);
#pragma unroll
  for (int j = 0; j < N; ++j) {
    const double total = block_allreduce(acc[j], Plus{}, scratch);
    if (threadIdx.x == 0) partials[(first + b) * N + j] = total;
  }
}

// sums[j] += sum over blocks of partials[b * N + j], in block order.
template <int N>
__global__ void add_partials_kernel(const double* partials, std::int64_t blocks, double* sums) {
  const int j = static_cast<int>(threadIdx.x);
  if (j >= N) return;
  double total = 0;
  for (std::int64_t b = 0; b < blocks; ++b) total += partials[b * N + j];
  sums[j] += total;
}

// As multi_tensor::launch, with the N sums added to `sums` (float64 [N] on the list's device).
template <class T, int N, class Op>
void launch_sums(const TensorList& list, const Op& op, const Tensor& sums) {
  if (list.empty()) return;
  PX_CHECK(sums.device() == list.device && sums.dtype() == DType::float64 && sums.numel() == N, ValueError,
           "sr2 kernels: sums must be float64 with ", N, " entries on ", list.device.str());
  cuda::DeviceContext& ctx = cuda::cuda_backend_impl().context(list.device);
  std::int64_t total_blocks = 0;
  for (std::int64_t n : list.numel) total_blocks += (n + mt::kChunk - 1) / mt::kChunk;
  if (total_blocks == 0) return;
  const Tensor partials = empty({total_blocks * N}, {.dtype = DType::float64, .device = list.device});
  double* part = static_cast<double*>(partials.data_ptr());
  mt::Table table{};
  std::int64_t blocks = 0, first = 0;
  auto flush = [&] {
    if (table.count == 0) return;
    table.first_block[table.count] = static_cast<int>(blocks);
    sums_kernel<T, N><<<static_cast<unsigned>(blocks), kBlock, 0, ctx.stream>>>(table, op, part, first);
    PX_CUDA_CHECK_LAUNCH();
    ++mt::launches();
    first += blocks;
    table.count = 0;
    blocks = 0;
  };
  for (std::size_t k = 0; k < list.ptrs.size(); ++k) {
    const std::int64_t n = list.numel[k];
    if (n == 0) continue;
    const std::int64_t need = (n + mt::kChunk - 1) / mt::kChunk;
    if (table.count == mt::kMaxTensors || blocks + need > INT_MAX) flush();
    for (int s = 0; s < mt::kSlots; ++s) table.ptrs[table.count][s] = list.ptrs[k][static_cast<std::size_t>(s)];
    table.numel[table.count] = n;
    table.first_block[table.count] = static_cast<int>(blocks);
    ++table.count;
    blocks += need;
  }
  flush();
  // The partials tensor is released after this launch is queued: the allocator's reuse is ordered by the stream.
  add_partials_kernel<N><<<1, 32, 0, ctx.stream>>>(part, total_blocks, static_cast<double*>(sums.data_ptr()));
  PX_CUDA_CHECK_LAUNCH();
}

// sr2.cpp's trial_step loop body for one coordinate (the same T arithmetic).
template <class T>
struct TrialOp {
  SR2TrialSettings s;
  __device__ void operator()(T* const* p, std::int64_t k, double* acc) const {
    const T gr = p[1][k];
    const T beta = T(s.beta), one_minus_beta = T(1 - s.beta);
    T v = s.restart ? gr : beta * p[2][k] + one_minus_beta * gr;
    p[2][k] = v;
    T extra = T(0);
    if (s.adam) {
      const T eb = T(s.ema_beta), one_minus_eb = T(1 - s.ema_beta);
      const T e = eb * p[3][k] + one_minus_eb * gr * gr;
      p[3][k] = e;
      extra = px::math::sqrt(e);
    } else if (s.andrei) {
      const T B = p[3][k], floor = T(s.andrei_floor);
      extra = B > floor ? B : T(0);
    }
    const T d = T(s.sigma) + extra;
    const T x0 = p[0][k];
    const T z = x0 - v / d;
    const T x1 = s.regularized ? s.r.apply(z, T(s.lambda) / d) : z;
    p[0][k] = x1;
    const double step = double(x1) - double(x0);
    acc[0] += step * step;
    acc[1] += double(v) * step;
    acc[2] += double(gr) * step;
    if (s.regularized) {
      const double r0 = s.r.value(double(x0));
      acc[3] += s.lambda * r0;
      acc[4] += s.lambda * (r0 - s.r.value(double(x1)));
    }
  }
};

template <class T>
struct AndreiSumsOp {
  __device__ void operator()(T* const* p, std::int64_t k, double* acc) const {
    const double s = double(p[0][k]) - double(p[1][k]), y = double(p[2][k]) - double(p[3][k]);
    acc[0] += s * y;
    acc[1] += s * s;
    acc[2] += s * s * double(p[4][k]);
    acc[3] += s * s * s * s;
  }
};

template <class T>
struct AndreiUpdateOp {
  double q;
  __device__ void operator()(T* const* p, std::int64_t k) const {
    const double s = double(p[0][k]) - double(p[1][k]);
    p[2][k] = T(double(p[2][k]) - 1.0 + q * s * s);
  }
};

}  // namespace

template <class T>
void sr2_trial(const TensorList& list, const SR2TrialSettings& s, const Tensor& sums) {
  launch_sums<T, 5>(list, TrialOp<T>{s}, sums);
}
template <class T>
void sr2_andrei_sums(const TensorList& list, const Tensor& sums) {
  launch_sums<T, 4>(list, AndreiSumsOp<T>{}, sums);
}
template <class T>
void sr2_andrei_update(const TensorList& list, double q) {
  mt::launch<T>(list, AndreiUpdateOp<T>{q});
}

PX_INSTANTIATE_SR2_PIECES(float)
PX_INSTANTIATE_SR2_PIECES(double)

}  // namespace px::optim::device
