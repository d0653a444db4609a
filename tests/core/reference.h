// Plain reference helpers for the core tests: seeded random tensors, N-d index walking,
// host copies in float64 and closeness checks. Everything here is naive on purpose.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "proxima/core/ops.h"

namespace ref {

using px::DType;
using px::Shape;
using px::Tensor;
using Index = std::vector<std::int64_t>;

// Values uniform in [lo, hi) (floats) or integers in [lo, hi] (int64/uint8), from a fixed seed.
inline Tensor random_tensor(const Shape& shape, DType dtype, std::uint32_t seed, double lo = -2.0,
                            double hi = 2.0) {
  std::mt19937 rng(seed);
  std::int64_t n = px::shape_numel(shape);
  std::vector<double> v(static_cast<std::size_t>(n));
  if (px::is_floating(dtype)) {
    std::uniform_real_distribution<double> d(lo, hi);
    for (double& x : v) x = d(rng);
  } else {
    std::uniform_int_distribution<std::int64_t> d(static_cast<std::int64_t>(lo), static_cast<std::int64_t>(hi));
    for (double& x : v) x = static_cast<double>(d(rng));
  }
  Tensor t = px::from_vector(v, shape);
  return px::ops::to_dtype(t, dtype);
}

// The same values as t in a non-contiguous layout: a strided slice of a larger buffer (every
// other element along the last dim) when `sliced`, else a permuted copy permuted back.
inline Tensor non_contiguous(const Tensor& t, bool sliced = true) {
  if (t.dim() == 0) return t;
  if (sliced) {
    Shape big = t.shape();
    big.back() = big.back() * 2;
    Tensor buffer = px::full(big, 77.0, {.dtype = t.dtype()});
    Tensor view = px::ops::slice(buffer, -1, 0, big.back(), 2);
    px::ops::copy_(view, t);
    return view;
  }
  std::vector<std::int64_t> reverse;
  for (std::int64_t k = t.dim() - 1; k >= 0; --k) reverse.push_back(k);
  return px::ops::permute(px::ops::contiguous(px::ops::permute(t, reverse)), reverse);
}

inline std::vector<double> values(const Tensor& t) { return px::ops::to_dtype(t, DType::float64).to_vector<double>(); }

inline std::int64_t flat_index(const Shape& shape, const Index& idx) {
  std::int64_t flat = 0;
  for (std::size_t k = 0; k < shape.size(); ++k) flat = flat * shape[k] + idx[k];
  return flat;
}

// Calls f(idx) for every index of shape in row-major order.
inline void for_each_index(const Shape& shape, const std::function<void(const Index&)>& f) {
  if (px::shape_numel(shape) == 0) return;
  Index idx(shape.size(), 0);
  while (true) {
    f(idx);
    std::size_t k = shape.size();
    while (k > 0) {
      if (++idx[k - 1] < shape[k - 1]) break;
      idx[k - 1] = 0;
      --k;
    }
    if (k == 0) return;
  }
}

// Index into `in_shape` of the element broadcast to `out_idx` of a larger broadcast shape.
inline Index broadcast_source(const Index& out_idx, const Shape& in_shape) {
  Index idx(in_shape.size());
  std::size_t lead = out_idx.size() - in_shape.size();
  for (std::size_t k = 0; k < in_shape.size(); ++k) idx[k] = in_shape[k] == 1 ? 0 : out_idx[k + lead];
  return idx;
}

// Reads element idx of a row-major value list of the given shape.
inline double at(const std::vector<double>& v, const Shape& shape, const Index& idx) {
  return v[static_cast<std::size_t>(flat_index(shape, idx))];
}

inline double tolerance(DType dtype) { return dtype == DType::float32 ? 1e-5 : 1e-12; }

// Checks t's shape and each value against `expected` with a relative+absolute tolerance.
inline void check_close(const Tensor& t, const Shape& shape, const std::vector<double>& expected,
                        double tol) {
  REQUIRE(t.shape() == shape);
  std::vector<double> got = values(t);
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    bool both_nan = std::isnan(got[i]) && std::isnan(expected[i]);
    bool same_inf = std::isinf(got[i]) && got[i] == expected[i];
    if (!both_nan && !same_inf && std::abs(got[i] - expected[i]) > tol * (1.0 + std::abs(expected[i]))) {
      INFO("element " << i << ": got " << got[i] << ", expected " << expected[i]);
      CHECK(false);
      return;
    }
  }
}

// Runs f on an N-d shape in every layout: contiguous, sliced and permuted.
inline std::vector<Tensor> layouts(const Tensor& t) {
  return {t, non_contiguous(t, true), non_contiguous(t, false)};
}

}  // namespace ref
