// CudaBackend's elementwise methods: copy (with casts), fill, random, unary, binary, where.
#include "proxima/core/elementwise_math.h"
#include "proxima/core/philox.h"
#include "proxima/cuda/cuda_backend.h"
#include "proxima/cuda/launch.cuh"

namespace px::cuda {

namespace {

// One thread per element (grid-stride): f(offsets) with the N tensors' element offsets.
template <int N, class F>
__global__ void strided_kernel(std::int64_t n, StridedIndexer<N> indexer, F f) {
  std::int64_t step = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += step) {
    std::int64_t off[N];
    indexer.offsets(i, off);
    f(off);
  }
}

template <int N, class F>
void launch_strided(DeviceContext& ctx, const std::array<const Tensor*, N>& tensors, F f) {
  if (tensors[0]->numel() == 0) return;
  for_each_strided<N>(tensors, [&](const StridedIndexer<N>& indexer, std::int64_t count) {
    strided_kernel<N><<<grid_for(count), kBlock, 0, ctx.stream>>>(count, indexer, f);
    PX_CUDA_CHECK_LAUNCH();
  });
}

template <class T>
T* ptr(const Tensor& t) {
  return static_cast<T*>(t.data_ptr());
}

template <class From, class To>
void copy_typed(DeviceContext& ctx, const Tensor& src, const Tensor& dst) {
  const From* s = ptr<From>(src);
  To* d = ptr<To>(dst);
  launch_strided<2>(ctx, {&dst, &src}, [=] __device__(const std::int64_t* off) {
    d[off[0]] = math::cast<To>(s[off[1]]);
  });
}

template <class T>
void fill_typed(DeviceContext& ctx, const Tensor& dst, double value) {
  T v = math::cast<T>(value);
  T* d = ptr<T>(dst);
  launch_strided<1>(ctx, {&dst}, [=] __device__(const std::int64_t* off) { d[off[0]] = v; });
}

template <class T>
__global__ void random_kernel(T* out, std::int64_t n, bool normal, double a, double b,
                              std::uint64_t seed, std::uint64_t offset) {
  std::int64_t step = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += step) {
    std::uint64_t k = static_cast<std::uint64_t>(i);
    double value = normal ? math::normal_transform(philox::normal_at(seed, offset, k), a, b)
                          : math::uniform_transform(philox::uniform_at(seed, offset, k), a, b);
    out[i] = static_cast<T>(value);
  }
}

template <class T>
void unary_typed(DeviceContext& ctx, UnaryOp op, const Tensor& x, const Tensor& out) {
  const T* xs = ptr<T>(x);
  T* o = ptr<T>(out);
  launch_strided<2>(ctx, {&out, &x}, [=] __device__(const std::int64_t* off) {
    o[off[0]] = math::unary<T>(op, xs[off[1]]);
  });
}

template <class T>
void binary_typed(DeviceContext& ctx, BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  const T* as = ptr<T>(a);
  const T* bs = ptr<T>(b);
  if (is_comparison(op)) {
    std::uint8_t* o = ptr<std::uint8_t>(out);
    launch_strided<3>(ctx, {&out, &a, &b}, [=] __device__(const std::int64_t* off) {
      o[off[0]] = math::compare<T>(op, as[off[1]], bs[off[2]]);
    });
  } else {
    T* o = ptr<T>(out);
    launch_strided<3>(ctx, {&out, &a, &b}, [=] __device__(const std::int64_t* off) {
      o[off[0]] = math::arithmetic<T>(op, as[off[1]], bs[off[2]]);
    });
  }
}

template <class T>
void where_typed(DeviceContext& ctx, const Tensor& cond, const Tensor& a, const Tensor& b,
                 const Tensor& out) {
  const std::uint8_t* c = ptr<std::uint8_t>(cond);
  const T* as = ptr<T>(a);
  const T* bs = ptr<T>(b);
  T* o = ptr<T>(out);
  launch_strided<4>(ctx, {&out, &cond, &a, &b}, [=] __device__(const std::int64_t* off) {
    o[off[0]] = c[off[1]] ? as[off[2]] : bs[off[3]];
  });
}

}  // namespace

void CudaBackend::copy(const Tensor& src, const Tensor& dst) {
  DeviceContext& ctx = context(dst.device());
  dispatch_dtype(src.dtype(), [&](auto from) {
    dispatch_dtype(dst.dtype(), [&](auto to) {
      copy_typed<decltype(from), decltype(to)>(ctx, src, dst);
    });
  });
}

void CudaBackend::fill(const Tensor& dst, double value) {
  DeviceContext& ctx = context(dst.device());
  dispatch_dtype(dst.dtype(), [&](auto tag) { fill_typed<decltype(tag)>(ctx, dst, value); });
}

void CudaBackend::random(const Tensor& dst, RandomKind kind, double a, double b, std::uint64_t seed,
                         std::uint64_t offset) {
  DeviceContext& ctx = context(dst.device());
  std::int64_t n = dst.numel();
  if (n == 0) return;
  bool normal = kind == RandomKind::normal;
  if (dst.dtype() == DType::float32) {
    random_kernel<float><<<grid_for(n), kBlock, 0, ctx.stream>>>(ptr<float>(dst), n, normal, a, b, seed, offset);
  } else {
    random_kernel<double><<<grid_for(n), kBlock, 0, ctx.stream>>>(ptr<double>(dst), n, normal, a, b, seed, offset);
  }
  PX_CUDA_CHECK_LAUNCH();
}

void CudaBackend::unary(UnaryOp op, const Tensor& x, const Tensor& out) {
  DeviceContext& ctx = context(out.device());
  switch (x.dtype()) {
    case DType::float32: unary_typed<float>(ctx, op, x, out); return;
    case DType::float64: unary_typed<double>(ctx, op, x, out); return;
    case DType::int64: unary_typed<std::int64_t>(ctx, op, x, out); return;
    case DType::uint8: throw DTypeError("unary ops are not defined for uint8 on CUDA");
  }
}

void CudaBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  DeviceContext& ctx = context(out.device());
  dispatch_dtype(a.dtype(), [&](auto tag) { binary_typed<decltype(tag)>(ctx, op, a, b, out); });
}

void CudaBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  DeviceContext& ctx = context(out.device());
  dispatch_dtype(out.dtype(), [&](auto tag) { where_typed<decltype(tag)>(ctx, cond, a, b, out); });
}

}  // namespace px::cuda
