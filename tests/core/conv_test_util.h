// Helpers shared by the convolution and pooling tests: a tensor's values as doubles, an elementwise
// comparison that reports the first mismatch, one convolution's geometry with its direct sum, a
// thread-count guard, and the check of all three directions against that sum.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "proxima/core/backend.h"
#include "proxima/core/factory.h"
#include "proxima/core/ops.h"
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

// Restores the thread count when a test leaves.
struct ThreadsGuard {
  int saved = get_num_threads();
  explicit ThreadsGuard(int n) { set_num_threads(n); }
  ~ThreadsGuard() { set_num_threads(saved); }
};

// A T tensor of `shape` holding v.
template <class T>
Tensor make(const std::vector<double>& v, const Shape& shape) {
  return from_vector(std::vector<T>(v.begin(), v.end()), shape);
}

// conv2d forward, backward-input and backward-weight on random T inputs (seeds seed, seed+1,
// seed+2; seed advances by 3) against the direct sum in double, to tol * (1 + |want|).
template <class T>
void check_conv_against_direct_sum(const ConvCase& cc, unsigned& seed, double tol) {
  auto xv = random_values(shape_numel(cc.x_shape()), seed++);
  auto wv = random_values(shape_numel(cc.w_shape()), seed++);
  auto gv = random_values(shape_numel(cc.out_shape()), seed++);
  for (auto* v : {&xv, &wv, &gv})
    for (double& e : *v) e = static_cast<double>(static_cast<T>(e));
  std::vector<double> out_want(gv.size(), 0.0), gx_want(xv.size(), 0.0), gw_want(wv.size(), 0.0);
  for_each_conv_term(cc, [&](std::int64_t xi, std::int64_t wi, std::int64_t oi) {
    out_want[oi] += xv[xi] * wv[wi];
    gx_want[xi] += gv[oi] * wv[wi];
    gw_want[wi] += gv[oi] * xv[xi];
  });
  const Tensor x = make<T>(xv, cc.x_shape()), w = make<T>(wv, cc.w_shape()), g = make<T>(gv, cc.out_shape());
  check_close(values_of<T>(ops::conv2d(x, w, cc.p)), out_want, tol, "forward");
  check_close(values_of<T>(ops::conv2d_backward_input(g, w, cc.x_shape(), cc.p)), gx_want, tol, "backward-input");
  check_close(values_of<T>(ops::conv2d_backward_weight(g, x, cc.w_shape(), cc.p)), gw_want, tol, "backward-weight");
}

}  // namespace px::test
