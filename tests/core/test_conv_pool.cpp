// Tests of conv2d, max/avg pooling (forward and backward) against naive loops, and of the CPU
// backend's dtype casts, random draws and large sums.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "proxima/core/backend.h"
#include "proxima/core/ops.h"
#include "core/conv_test_util.h"
#include "proxima/core/philox.h"

namespace {

using px::test::check_close;
using px::test::ConvCase;
using px::test::for_each_conv_term;
using px::test::random_values;
using px::test::values_of;

using px::Conv2dParams;
using px::Pool2dParams;
using px::Shape;
using px::Tensor;

// Values as T holds them (so references in double see exactly the tensor's inputs).
template <class T>
std::vector<double> random_values_as(std::int64_t n, unsigned seed) {
  std::vector<double> v = random_values(n, seed);
  for (double& x : v) x = static_cast<double>(static_cast<T>(x));
  return v;
}

template <class T>
Tensor make_tensor(const std::vector<double>& v, const Shape& shape) {
  return px::from_vector(std::vector<T>(v.begin(), v.end()), shape);
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

template <class T>
double tolerance() {
  return std::is_same_v<T, float> ? 2e-4 : 1e-11;
}

// ---------------------------------------------------------------- convolution references
std::vector<ConvCase> conv_cases() {
  std::vector<ConvCase> cases;
  auto add = [&](std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w, std::int64_t k, std::int64_t r,
                 std::int64_t s, Conv2dParams p) { cases.push_back({n, c, h, w, k, r, s, p}); };
  for (std::int64_t stride : {1, 2})
    for (std::int64_t pad : {0, 1, 2})
      for (std::int64_t dil : {1, 2})
        for (std::int64_t groups : {1, 2}) add(stride == 1 ? 3 : 1, 4, 7, 8, 6, 3, 3, {stride, stride, pad, pad, dil, dil, groups});
  add(3, 4, 9, 7, 4, 3, 3, {1, 1, 1, 1, 1, 1, 4});          // depthwise
  add(1, 8, 6, 6, 16, 3, 3, {2, 2, 1, 1, 1, 1, 8});         // depthwise, channel multiplier 2
  add(3, 4, 8, 8, 8, 2, 3, {1, 2, 1, 0, 1, 1, 4});          // groups 4, non-square kernel, mixed stride
  add(2, 3, 7, 9, 5, 1, 4, {2, 1, 0, 2, 1, 2, 1});          // 1x4 kernel, dilation in w only
  add(3, 6, 5, 5, 4, 1, 1, {1, 1, 0, 0, 1, 1, 1});          // 1x1 fast path
  add(2, 8, 4, 6, 6, 1, 1, {1, 1, 0, 0, 1, 1, 2});          // 1x1 fast path, grouped
  add(3, 6, 5, 5, 4, 1, 1, {2, 2, 0, 0, 1, 1, 1});          // 1x1 with stride
  add(1, 3, 5, 5, 2, 1, 1, {1, 1, 1, 1, 1, 1, 1});          // 1x1 with padding
  add(1, 2, 3, 3, 3, 3, 3, {1, 1, 0, 0, 1, 1, 1});          // kernel = input
  add(4, 3, 12, 10, 8, 5, 3, {2, 1, 2, 1, 1, 1, 1});        // batch > threads, 5x3 kernel
  return cases;
}

}  // namespace

TEST_CASE_TEMPLATE("conv2d forward matches the direct loop", T, float, double) {
  unsigned seed = 1;
  for (const ConvCase& cc : conv_cases()) {
    CAPTURE(cc.str());
    auto xv = random_values_as<T>(px::shape_numel(cc.x_shape()), seed++);
    auto wv = random_values_as<T>(px::shape_numel(cc.w_shape()), seed++);
    std::vector<double> want(static_cast<std::size_t>(px::shape_numel(cc.out_shape())), 0.0);
    for_each_conv_term(cc, [&](std::int64_t xi, std::int64_t wi, std::int64_t oi) { want[oi] += xv[xi] * wv[wi]; });
    Tensor out = px::ops::conv2d(make_tensor<T>(xv, cc.x_shape()), make_tensor<T>(wv, cc.w_shape()), cc.p);
    REQUIRE(out.shape() == cc.out_shape());
    check_close(values_of<T>(out), want, tolerance<T>(), "conv2d " + cc.str());
  }
}

TEST_CASE_TEMPLATE("conv2d backward input and weight match direct loops and adjoint identities", T, float, double) {
  unsigned seed = 100;
  for (const ConvCase& cc : conv_cases()) {
    CAPTURE(cc.str());
    auto xv = random_values_as<T>(px::shape_numel(cc.x_shape()), seed++);
    auto wv = random_values_as<T>(px::shape_numel(cc.w_shape()), seed++);
    auto gv = random_values_as<T>(px::shape_numel(cc.out_shape()), seed++);
    std::vector<double> gx_want(xv.size(), 0.0), gw_want(wv.size(), 0.0);
    for_each_conv_term(cc, [&](std::int64_t xi, std::int64_t wi, std::int64_t oi) {
      gx_want[xi] += gv[oi] * wv[wi];
      gw_want[wi] += gv[oi] * xv[xi];
    });
    Tensor x = make_tensor<T>(xv, cc.x_shape()), w = make_tensor<T>(wv, cc.w_shape());
    Tensor g = make_tensor<T>(gv, cc.out_shape());
    auto gx = values_of<T>(px::ops::conv2d_backward_input(g, w, cc.x_shape(), cc.p));
    auto gw = values_of<T>(px::ops::conv2d_backward_weight(g, x, cc.w_shape(), cc.p));
    check_close(gx, gx_want, tolerance<T>(), "conv2d_backward_input " + cc.str());
    check_close(gw, gw_want, tolerance<T>(), "conv2d_backward_weight " + cc.str());
    // <conv(x, w), g> = <x, conv_backward_input(g, w)> = <w, conv_backward_weight(g, x)>.
    double lhs = dot(values_of<T>(px::ops::conv2d(x, w, cc.p)), gv);
    double scale = tolerance<T>() * (1 + std::abs(lhs)) * 10;
    CHECK(std::abs(dot(xv, gx) - lhs) <= scale);
    CHECK(std::abs(dot(wv, gw) - lhs) <= scale);
  }
}

TEST_CASE("conv2d gives the same result with one thread and with several") {
  ConvCase cc{5, 6, 10, 10, 8, 3, 3, {1, 1, 1, 1, 1, 1, 2}};
  Tensor x = make_tensor<float>(random_values(px::shape_numel(cc.x_shape()), 7), cc.x_shape());
  Tensor w = make_tensor<float>(random_values(px::shape_numel(cc.w_shape()), 8), cc.w_shape());
  Tensor g = make_tensor<float>(random_values(px::shape_numel(cc.out_shape()), 9), cc.out_shape());
  const int saved = px::get_num_threads();
  px::set_num_threads(1);
  auto one_out = values_of<float>(px::ops::conv2d(x, w, cc.p));
  auto one_gw = values_of<float>(px::ops::conv2d_backward_weight(g, x, cc.w_shape(), cc.p));
  px::set_num_threads(4);
  auto many_out = values_of<float>(px::ops::conv2d(x, w, cc.p));
  auto many_gw = values_of<float>(px::ops::conv2d_backward_weight(g, x, cc.w_shape(), cc.p));
  px::set_num_threads(saved);
  check_close(many_out, one_out, 1e-5, "conv2d threads");
  check_close(many_gw, one_gw, 1e-5, "conv2d_backward_weight threads");
  CHECK_THROWS_AS(px::set_num_threads(0), px::ValueError);
}

// ---------------------------------------------------------------- pooling references
namespace {

struct PoolCase {
  std::int64_t n, c, h, w;
  Pool2dParams p;
  std::string str() const {
    return "x [" + std::to_string(n) + "," + std::to_string(c) + "," + std::to_string(h) + "," + std::to_string(w) +
           "] kernel (" + std::to_string(p.kernel_h) + "," + std::to_string(p.kernel_w) + ") stride (" +
           std::to_string(p.stride_h) + "," + std::to_string(p.stride_w) + ") pad (" + std::to_string(p.pad_h) +
           "," + std::to_string(p.pad_w) + ") ceil " + std::to_string(p.ceil_mode) + " include_pad " +
           std::to_string(p.count_include_pad);
  }
  // PyTorch's rule, written out independently of ops::pool_output_size.
  static std::int64_t out_size(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t pad, bool ceil) {
    double q = static_cast<double>(in + 2 * pad - k) / static_cast<double>(s);
    std::int64_t out = static_cast<std::int64_t>(ceil ? std::ceil(q) : std::floor(q)) + 1;
    if (ceil && (out - 1) * s >= in + pad) --out;
    return out;
  }
  std::int64_t out_h() const { return out_size(h, p.kernel_h, p.stride_h, p.pad_h, p.ceil_mode); }
  std::int64_t out_w() const { return out_size(w, p.kernel_w, p.stride_w, p.pad_w, p.ceil_mode); }
  Shape x_shape() const { return {n, c, h, w}; }
  Shape out_shape() const { return {n, c, out_h(), out_w()}; }
};

std::vector<PoolCase> pool_cases() {
  std::vector<PoolCase> cases;
  for (bool ceil : {false, true})
    for (bool include_pad : {true, false}) {
      auto add = [&](std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w, std::int64_t kh, std::int64_t kw,
                     std::int64_t sh, std::int64_t sw, std::int64_t ph, std::int64_t pw) {
        cases.push_back({n, c, h, w, {kh, kw, sh, sw, ph, pw, ceil, include_pad}});
      };
      add(3, 2, 8, 8, 2, 2, 2, 2, 0, 0);
      add(1, 3, 7, 7, 2, 2, 2, 2, 0, 0);   // odd size: ceil_mode adds a partial window
      add(3, 2, 7, 9, 3, 3, 2, 2, 1, 1);
      add(1, 2, 6, 5, 3, 3, 1, 1, 1, 1);
      add(3, 1, 10, 11, 3, 2, 3, 2, 1, 1);  // non-square kernel, stride 3
      add(1, 4, 9, 9, 5, 5, 2, 2, 2, 2);    // pad 2
      add(3, 2, 5, 8, 4, 2, 3, 1, 2, 0);
      add(1, 1, 4, 4, 4, 4, 1, 1, 0, 0);    // global window
    }
  return cases;
}

// Calls f(out_index, x_index, inside) for every kernel position of every output window:
// inside = whether the position is in the input (else it is padding).
template <class F>
void for_each_pool_term(const PoolCase& pc, F f) {
  const std::int64_t oh = pc.out_h(), ow = pc.out_w();
  for (std::int64_t plane = 0; plane < pc.n * pc.c; ++plane)
    for (std::int64_t y = 0; y < oh; ++y)
      for (std::int64_t x = 0; x < ow; ++x)
        for (std::int64_t a = 0; a < pc.p.kernel_h; ++a)
          for (std::int64_t b = 0; b < pc.p.kernel_w; ++b) {
            std::int64_t ih = y * pc.p.stride_h - pc.p.pad_h + a, iw = x * pc.p.stride_w - pc.p.pad_w + b;
            bool in_padded = ih < pc.h + pc.p.pad_h && iw < pc.w + pc.p.pad_w;  // ih, iw >= -pad always
            bool inside = ih >= 0 && ih < pc.h && iw >= 0 && iw < pc.w;
            if (!in_padded) continue;
            f((plane * oh + y) * ow + x, inside ? (plane * pc.h + ih) * pc.w + iw : -1, plane);
          }
}

}  // namespace

TEST_CASE_TEMPLATE("max_pool2d and its backward match direct loops", T, float, double) {
  unsigned seed = 300;
  for (const PoolCase& pc : pool_cases()) {
    if (!pc.p.count_include_pad) continue;  // irrelevant to max pooling: run each case once
    CAPTURE(pc.str());
    auto xv = random_values_as<T>(px::shape_numel(pc.x_shape()), seed++);
    for (double& v : xv) v = std::round(v * 4) / 4;  // many ties: the first maximum must win
    auto gv = random_values_as<T>(px::shape_numel(pc.out_shape()), seed++);
    const std::size_t outs = gv.size();
    std::vector<double> best(outs, -INFINITY), gx_want(xv.size(), 0.0);
    std::vector<std::int64_t> best_at(outs, -1);
    for_each_pool_term(pc, [&](std::int64_t oi, std::int64_t xi, std::int64_t plane) {
      if (xi >= 0 && xv[xi] > best[oi]) {  // first maximum in row-major window order
        best[oi] = xv[xi];
        best_at[oi] = xi - plane * pc.h * pc.w;
      }
    });
    for (std::size_t o = 0; o < outs; ++o) {
      std::int64_t plane = static_cast<std::int64_t>(o) / (pc.out_h() * pc.out_w());
      gx_want[plane * pc.h * pc.w + best_at[o]] += gv[o];
    }
    Tensor x = make_tensor<T>(xv, pc.x_shape());
    px::ops::MaxPoolResult r = px::ops::max_pool2d(x, pc.p);
    REQUIRE(r.out.shape() == pc.out_shape());
    check_close(values_of<T>(r.out), best, 0.0, "max_pool2d " + pc.str());
    CHECK(r.indices.to_vector<std::int64_t>() == best_at);
    Tensor g = make_tensor<T>(gv, pc.out_shape());
    auto gx = values_of<T>(px::ops::max_pool2d_backward(g, r.indices, pc.x_shape(), pc.p));
    check_close(gx, gx_want, tolerance<T>(), "max_pool2d_backward " + pc.str());
    // Adjoint: out = x[indices] is linear in x for fixed indices.
    double lhs = dot(values_of<T>(r.out), gv);
    CHECK(std::abs(dot(xv, gx) - lhs) <= tolerance<T>() * (1 + std::abs(lhs)) * 10);
  }
}

TEST_CASE_TEMPLATE("avg_pool2d and its backward match direct loops (PyTorch divisor rule)", T, float, double) {
  unsigned seed = 500;
  for (const PoolCase& pc : pool_cases()) {
    CAPTURE(pc.str());
    auto xv = random_values_as<T>(px::shape_numel(pc.x_shape()), seed++);
    auto gv = random_values_as<T>(px::shape_numel(pc.out_shape()), seed++);
    const std::size_t outs = gv.size();
    std::vector<double> sum(outs, 0.0), padded(outs, 0.0), inside(outs, 0.0);
    for_each_pool_term(pc, [&](std::int64_t oi, std::int64_t xi, std::int64_t) {
      padded[oi] += 1;
      if (xi >= 0) {
        sum[oi] += xv[xi];
        inside[oi] += 1;
      }
    });
    std::vector<double> want(outs), gx_want(xv.size(), 0.0);
    for (std::size_t o = 0; o < outs; ++o) want[o] = sum[o] / (pc.p.count_include_pad ? padded[o] : inside[o]);
    for_each_pool_term(pc, [&](std::int64_t oi, std::int64_t xi, std::int64_t) {
      if (xi >= 0) gx_want[xi] += gv[oi] / (pc.p.count_include_pad ? padded[oi] : inside[oi]);
    });
    Tensor x = make_tensor<T>(xv, pc.x_shape());
    Tensor out = px::ops::avg_pool2d(x, pc.p);
    REQUIRE(out.shape() == pc.out_shape());
    check_close(values_of<T>(out), want, tolerance<T>(), "avg_pool2d " + pc.str());
    Tensor g = make_tensor<T>(gv, pc.out_shape());
    auto gx = values_of<T>(px::ops::avg_pool2d_backward(g, pc.x_shape(), pc.p));
    check_close(gx, gx_want, tolerance<T>(), "avg_pool2d_backward " + pc.str());
    double lhs = dot(values_of<T>(out), gv);
    CHECK(std::abs(dot(xv, gx) - lhs) <= tolerance<T>() * (1 + std::abs(lhs)) * 10);
  }
}

TEST_CASE("max_pool2d treats padding as -inf and propagates NaN") {
  // All-negative input with padding: the max must come from the input, never the padding's 0.
  Pool2dParams p{3, 3, 1, 1, 1, 1, false, true};
  std::vector<double> xv(16);
  for (std::size_t i = 0; i < xv.size(); ++i) xv[i] = -1.0 - static_cast<double>(i);
  auto r = px::ops::max_pool2d(make_tensor<double>(xv, {1, 1, 4, 4}), p);
  auto out = values_of<double>(r.out);
  CHECK(out[0] == -1.0);   // window rows/cols {0,1}: max at (0,0)
  CHECK(out[15] == -11.0); // window rows/cols {2,3}: max at (2,2) = -(1+10)
  xv[5] = NAN;
  auto rn = px::ops::max_pool2d(make_tensor<double>(xv, {1, 1, 4, 4}), p);
  auto outn = values_of<double>(rn.out);
  CHECK(std::isnan(outn[0]));
  CHECK(rn.indices.to_vector<std::int64_t>()[0] == 5);
  CHECK(!std::isnan(outn[15]));
}
