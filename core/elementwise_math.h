// Scalar math of the elementwise ops (unary, binary, casts, random transforms), shared by
// the CPU loops and the CUDA kernels through PX_HD.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "proxima/core/backend.h"
#include "proxima/core/hd.h"

namespace px::math {

// ---- casts: like a C cast, except that float -> uint8 goes through int64 (wraps modulo
// 256 instead of being undefined for negative values) ----
template <class To, class From>
PX_HD To cast(From x) {
  if constexpr (std::is_same_v<To, std::uint8_t> && std::is_floating_point_v<From>) {
    return static_cast<std::uint8_t>(static_cast<std::int64_t>(x));
  } else {
    return static_cast<To>(x);
  }
}

// ---- unary (float32/float64; neg, abs and sign also int64) ----
template <class T> PX_HD T neg(T x) { return -x; }
template <class T> PX_HD T abs(T x) { return x < T(0) ? -x : x; }
template <class T> PX_HD T sign(T x) { return static_cast<T>((T(0) < x) - (x < T(0))); }
template <class T> PX_HD T exp(T x) { return std::exp(x); }
template <class T> PX_HD T log(T x) { return std::log(x); }
template <class T> PX_HD T sqrt(T x) { return std::sqrt(x); }
template <class T> PX_HD T rsqrt(T x) { return T(1) / std::sqrt(x); }
template <class T> PX_HD T relu(T x) { return x < T(0) ? T(0) : x; }  // NaN stays NaN
template <class T> PX_HD T sigmoid(T x) { return T(1) / (T(1) + std::exp(-x)); }
template <class T> PX_HD T tanh(T x) { return std::tanh(x); }

template <class T>
PX_HD T unary(UnaryOp op, T x) {
  if constexpr (std::is_floating_point_v<T>) {
    switch (op) {
      case UnaryOp::neg: return neg(x);
      case UnaryOp::abs: return abs(x);
      case UnaryOp::sign: return sign(x);
      case UnaryOp::exp: return exp(x);
      case UnaryOp::log: return log(x);
      case UnaryOp::sqrt: return sqrt(x);
      case UnaryOp::rsqrt: return rsqrt(x);
      case UnaryOp::relu: return relu(x);
      case UnaryOp::sigmoid: return sigmoid(x);
      case UnaryOp::tanh: return tanh(x);
    }
  } else {
    switch (op) {
      case UnaryOp::neg: return neg(x);
      case UnaryOp::abs: return abs(x);
      case UnaryOp::sign: return sign(x);
      case UnaryOp::relu: return relu(x);
      default: break;  // float-only ops never reach an integer type (front-end checks)
    }
  }
  return x;
}

// ---- binary (float32/float64/int64; comparisons also uint8) ----
// Integer division truncates toward zero like C; x / 0 is 0 and x / -1 wraps instead of
// trapping, so bad input never crashes.
template <class T>
PX_HD T div(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    return a / b;
  } else {
    if (b == T(0)) return T(0);
    if constexpr (std::is_signed_v<T>) {
      if (b == T(-1)) return static_cast<T>(static_cast<std::make_unsigned_t<T>>(0) -
                                           static_cast<std::make_unsigned_t<T>>(a));
    }
    return static_cast<T>(a / b);
  }
}
// minimum/maximum propagate NaN (as torch.minimum/maximum).
template <class T>
PX_HD T minimum(T a, T b) {
  if (a != a) return a;
  if (b != b) return b;
  return b < a ? b : a;
}
template <class T>
PX_HD T maximum(T a, T b) {
  if (a != a) return a;
  if (b != b) return b;
  return a < b ? b : a;
}
template <class T>
PX_HD T pow(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::pow(a, b);
  } else {
    return a;  // pow is float-only (front-end checks)
  }
}

// Arithmetic ops (add ... maximum); comparisons go through compare().
template <class T>
PX_HD T arithmetic(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::add: return static_cast<T>(a + b);
    case BinaryOp::sub: return static_cast<T>(a - b);
    case BinaryOp::mul: return static_cast<T>(a * b);
    case BinaryOp::div: return div(a, b);
    case BinaryOp::pow: return pow(a, b);
    case BinaryOp::minimum: return minimum(a, b);
    case BinaryOp::maximum: return maximum(a, b);
    default: return T(0);
  }
}
template <class T>
PX_HD std::uint8_t compare(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::eq: return a == b;
    case BinaryOp::ne: return a != b;
    case BinaryOp::lt: return a < b;
    case BinaryOp::le: return a <= b;
    case BinaryOp::gt: return a > b;
    case BinaryOp::ge: return a >= b;
    default: return 0;
  }
}

// ---- random transforms (in double, then cast to the tensor's dtype). One explicit fused
// multiply-add, rounded once on every host and device, so that GPU draws equal CPU draws bit
// for bit whatever the compiler contracts (g++ fuses a * b + c under -march=native) ----
// u in [0, 1) -> lo + (hi - lo) * u; z standard normal -> mean + std * z.
PX_HD double uniform_transform(double u, double lo, double hi) { return std::fma(hi - lo, u, lo); }
PX_HD double normal_transform(double z, double mean, double std) { return std::fma(std, z, mean); }

}  // namespace px::math
