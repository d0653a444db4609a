// CpuBackend unary, binary (arithmetic and comparisons) and where, over arbitrary strides;
// the scalar math is px::math (core/elementwise_math.h), shared with the CUDA kernels.
#include <cmath>
#include <limits>
#include <type_traits>

#include "proxima/core/cpu/cpu_backend.h"
#include "proxima/core/cpu/cpu_common.h"
#include "proxima/core/cpu/cpu_eigen.h"
#include "proxima/core/cpu/strided_loop.h"
#include "proxima/core/elementwise_math.h"

namespace px::cpu {
namespace {

template <class T>
T* at(char* p, std::int64_t stride, std::int64_t i) {
  return reinterpret_cast<T*>(p + i * stride);
}

// out[i] = f(x[i]). Contiguous runs use `run` (a vectorised version of f over n values).
template <class TOut, class TIn, class F, class Run>
void map1(const Tensor& x, const Tensor& out, F f, Run run) {
  strided_loop<2>({&out, &x}, [f, run](std::array<char*, 2> p, std::array<std::int64_t, 2> s, std::int64_t n) {
    if (s[0] == sizeof(TOut) && s[1] == sizeof(TIn)) {
      run(reinterpret_cast<const TIn*>(p[1]), reinterpret_cast<TOut*>(p[0]), n);
    } else {
      for (std::int64_t i = 0; i < n; ++i) *at<TOut>(p[0], s[0], i) = f(*at<const TIn>(p[1], s[1], i));
    }
  });
}

// Without a vectorised version: a plain loop the compiler can vectorise for simple f.
template <class TOut, class TIn, class F>
void map1(const Tensor& x, const Tensor& out, F f) {
  map1<TOut, TIn>(x, out, f, [f](const TIn* a, TOut* o, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) o[i] = f(a[i]);
  });
}

// Eigen's SIMD versions of the transcendental functions for contiguous float runs (GCC does
// not vectorise std::exp and friends without -ffast-math). They agree with px::math to a few ulp.
template <class T>
using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <class T>
using ConstArrayMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

// Eigen's float exp saturates to inf a little early (from x ~ 88.38 instead of 88.72): redo
// those few elements with std::exp.
template <class T>
void exp_run(const T* a, T* o, std::int64_t n) {
  ArrayMap<T>(o, static_cast<Eigen::Index>(n)) = ConstArrayMap<T>(a, static_cast<Eigen::Index>(n)).exp();
  for (std::int64_t i = 0; i < n; ++i)
    if (o[i] == std::numeric_limits<T>::infinity()) o[i] = std::exp(a[i]);
}

#define PX_EIGEN_RUN(expr)                                             \
  [](const T* a, T* o, std::int64_t n) {                               \
    auto in = ConstArrayMap<T>(a, static_cast<Eigen::Index>(n));       \
    ArrayMap<T>(o, static_cast<Eigen::Index>(n)) = (expr);             \
  }

// out[i] = f(a[i], b[i]) with fast paths for contiguous operands and a broadcast scalar.
template <class TOut, class TIn, class F>
void map2(const Tensor& a, const Tensor& b, const Tensor& out, F f) {
  strided_loop<3>({&out, &a, &b}, [f](std::array<char*, 3> p, std::array<std::int64_t, 3> s, std::int64_t n) {
    TOut* o = reinterpret_cast<TOut*>(p[0]);
    const TIn* x = reinterpret_cast<const TIn*>(p[1]);
    const TIn* y = reinterpret_cast<const TIn*>(p[2]);
    constexpr std::int64_t so = sizeof(TOut), si = sizeof(TIn);
    if (s[0] == so && s[1] == si && s[2] == si) {
      for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
    } else if (s[0] == so && s[1] == si && s[2] == 0) {
      const TIn yv = *y;
      for (std::int64_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
    } else if (s[0] == so && s[1] == 0 && s[2] == si) {
      const TIn xv = *x;
      for (std::int64_t i = 0; i < n; ++i) o[i] = f(xv, y[i]);
    } else {
      for (std::int64_t i = 0; i < n; ++i)
        *at<TOut>(p[0], s[0], i) = f(*at<const TIn>(p[1], s[1], i), *at<const TIn>(p[2], s[2], i));
    }
  });
}

template <class T>
void unary_typed(UnaryOp op, const Tensor& x, const Tensor& out) {
  switch (op) {
    case UnaryOp::neg: return map1<T, T>(x, out, [](T v) { return math::neg(v); });
    case UnaryOp::abs: return map1<T, T>(x, out, [](T v) { return math::abs(v); });
    case UnaryOp::sign: return map1<T, T>(x, out, [](T v) { return math::sign(v); });
    default: break;
  }
  if constexpr (std::is_floating_point_v<T>) {
    switch (op) {
      case UnaryOp::exp: return map1<T, T>(x, out, [](T v) { return math::exp(v); }, exp_run<T>);
      case UnaryOp::log: return map1<T, T>(x, out, [](T v) { return math::log(v); }, PX_EIGEN_RUN(in.log()));
      case UnaryOp::sqrt: return map1<T, T>(x, out, [](T v) { return math::sqrt(v); }, PX_EIGEN_RUN(in.sqrt()));
      case UnaryOp::rsqrt: return map1<T, T>(x, out, [](T v) { return math::rsqrt(v); }, PX_EIGEN_RUN(in.rsqrt()));
      case UnaryOp::relu:  // a select GCC keeps as a branch (5x slower on mixed signs): Eigen's is a blend
        return map1<T, T>(x, out, [](T v) { return math::relu(v); }, PX_EIGEN_RUN((in < T(0)).select(T(0), in)));
      case UnaryOp::sigmoid: return map1<T, T>(x, out, [](T v) { return math::sigmoid(v); }, PX_EIGEN_RUN((T(1) + (-in).exp()).inverse()));
      case UnaryOp::tanh: return map1<T, T>(x, out, [](T v) { return math::tanh(v); }, PX_EIGEN_RUN(in.tanh()));
      default: break;
    }
  }
  throw DTypeError(detail::str("cpu unary: op ", static_cast<int>(op), " is not defined for dtype ",
                               dtype_name(dtype_of<T>())));
}

template <class T>
void binary_typed(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  using U8 = std::uint8_t;
  switch (op) {
    case BinaryOp::add: return map2<T, T>(a, b, out, [](T x, T y) { return static_cast<T>(x + y); });
    case BinaryOp::sub: return map2<T, T>(a, b, out, [](T x, T y) { return static_cast<T>(x - y); });
    case BinaryOp::mul: return map2<T, T>(a, b, out, [](T x, T y) { return static_cast<T>(x * y); });
    case BinaryOp::div: return map2<T, T>(a, b, out, [](T x, T y) { return math::div(x, y); });
    case BinaryOp::pow: return map2<T, T>(a, b, out, [](T x, T y) { return math::pow(x, y); });
    case BinaryOp::minimum: return map2<T, T>(a, b, out, [](T x, T y) { return math::minimum(x, y); });
    case BinaryOp::maximum: return map2<T, T>(a, b, out, [](T x, T y) { return math::maximum(x, y); });
    case BinaryOp::eq: return map2<U8, T>(a, b, out, [](T x, T y) { return U8(x == y); });
    case BinaryOp::ne: return map2<U8, T>(a, b, out, [](T x, T y) { return U8(x != y); });
    case BinaryOp::lt: return map2<U8, T>(a, b, out, [](T x, T y) { return U8(x < y); });
    case BinaryOp::le: return map2<U8, T>(a, b, out, [](T x, T y) { return U8(x <= y); });
    case BinaryOp::gt: return map2<U8, T>(a, b, out, [](T x, T y) { return U8(x > y); });
    case BinaryOp::ge: return map2<U8, T>(a, b, out, [](T x, T y) { return U8(x >= y); });
  }
}

#undef PX_EIGEN_RUN

}  // namespace

void CpuBackend::unary(UnaryOp op, const Tensor& x, const Tensor& out) {
  dispatch_dtype(x.dtype(), [&](auto tag) { unary_typed<decltype(tag)>(op, x, out); });
}

void CpuBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  dispatch_dtype(a.dtype(), [&](auto tag) { binary_typed<decltype(tag)>(op, a, b, out); });
}

void CpuBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  dispatch_dtype(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    strided_loop<4>({&out, &cond, &a, &b},
                    [](std::array<char*, 4> p, std::array<std::int64_t, 4> s, std::int64_t n) {
                      for (std::int64_t i = 0; i < n; ++i)
                        *at<T>(p[0], s[0], i) = *at<const std::uint8_t>(p[1], s[1], i)
                                                    ? *at<const T>(p[2], s[2], i)
                                                    : *at<const T>(p[3], s[3], i);
                    });
  });
}

}  // namespace px::cpu
