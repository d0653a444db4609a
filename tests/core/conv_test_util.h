// Helpers shared by the convolution and pooling tests: a tensor's values as doubles, an elementwise
// comparison that reports the first mismatch, and one convolution's geometry with its direct sum.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "proxima/core/backend.h"
#include "proxima/core/tensor.h"

namespace px::test {

// n values uniform in [-1, 1) from std::mt19937(seed).
inline std::vector<double> random_values(std::int64_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<double> v(static_cast<std::size_t>(n));
  for (double& x : v) x = dist(gen);
  return v;
}

template <class T>
std::vector<double> values_of(const Tensor& t) {
  std::vector<T> v = t.contiguous().to_vector<T>();
  return std::vector<double>(v.begin(), v.end());
}

// |got - want| <= tol * (1 + |want|) elementwise; reports the first mismatch.
inline void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol,
                        const std::string& what) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::abs(got[i] - want[i]) > tol * (1 + std::abs(want[i]))) {
      FAIL_CHECK(what << ": element " << i << " is " << got[i] << ", expected " << want[i]);
      return;
    }
  }
}

// One convolution: x [n, c, h, w], w [k, c / groups, r, s], parameters p.
struct ConvCase {
  std::int64_t n, c, h, w, k, r, s;
  Conv2dParams p;
  std::string str() const {
    return "x [" + std::to_string(n) + "," + std::to_string(c) + "," + std::to_string(h) + "," + std::to_string(w) +
           "] w [" + std::to_string(k) + "," + std::to_string(c / p.groups) + "," + std::to_string(r) + "," +
           std::to_string(s) + "] stride (" + std::to_string(p.stride_h) + "," + std::to_string(p.stride_w) +
           ") pad (" + std::to_string(p.pad_h) + "," + std::to_string(p.pad_w) + ") dilation (" +
           std::to_string(p.dilation_h) + "," + std::to_string(p.dilation_w) + ") groups " + std::to_string(p.groups);
  }
  std::int64_t out_h() const { return (h + 2 * p.pad_h - p.dilation_h * (r - 1) - 1) / p.stride_h + 1; }
  std::int64_t out_w() const { return (w + 2 * p.pad_w - p.dilation_w * (s - 1) - 1) / p.stride_w + 1; }
  Shape x_shape() const { return {n, c, h, w}; }
  Shape w_shape() const { return {k, c / p.groups, r, s}; }
  Shape out_shape() const { return {n, k, out_h(), out_w()}; }
};

// Calls f(x_index, w_index, out_index) for every product term x * w of the convolution sum.
template <class F>
void for_each_conv_term(const ConvCase& cc, F f) {
  const std::int64_t cg = cc.c / cc.p.groups, kg = cc.k / cc.p.groups, oh = cc.out_h(), ow = cc.out_w();
  for (std::int64_t b = 0; b < cc.n; ++b)
    for (std::int64_t k = 0; k < cc.k; ++k)
      for (std::int64_t y = 0; y < oh; ++y)
        for (std::int64_t x = 0; x < ow; ++x)
          for (std::int64_t c = 0; c < cg; ++c)
            for (std::int64_t r = 0; r < cc.r; ++r)
              for (std::int64_t s = 0; s < cc.s; ++s) {
                std::int64_t ih = y * cc.p.stride_h - cc.p.pad_h + r * cc.p.dilation_h;
                std::int64_t iw = x * cc.p.stride_w - cc.p.pad_w + s * cc.p.dilation_w;
                if (ih < 0 || ih >= cc.h || iw < 0 || iw >= cc.w) continue;
                std::int64_t ci = (k / kg) * cg + c;
                f(((b * cc.c + ci) * cc.h + ih) * cc.w + iw, ((k * cg + c) * cc.r + r) * cc.s + s,
                  ((b * cc.k + k) * oh + y) * ow + x);
              }
}

}  // namespace px::test
