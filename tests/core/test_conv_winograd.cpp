// Tests of the CPU Winograd F(2x2,3x3) convolution: its three directions against the direct sum, and its rule.
#include <doctest/doctest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "proxima/core/backend.h"
#include "proxima/core/cpu/cpu_winograd.h"
#include "proxima/core/ops.h"
#include "core/conv_test_util.h"

namespace {

using px::Shape;
using px::Tensor;
using px::test::ConvCase;
using px::test::random_values;

using px::test::ThreadsGuard;

constexpr px::Conv2dParams kSame = {.pad_h = 1, .pad_w = 1};

// {n, c, h, w, k}: odd and even planes from 1x1 (smaller than a tile) to 17x17 and one of 31x32
// (square tile grids of 1 to 16 tiles a side take fixed-width loops, the others run-time ones),
// C and K in {1, 3, 16, 17, 64}, batches 1..5, and 9 and 13 (several blocks per thread, partial
// last blocks).
const std::int64_t kShapes[][5] = {
    {1, 1, 1, 1, 1},     {2, 3, 1, 5, 3},      {1, 3, 2, 3, 16},   {3, 16, 3, 3, 17},  {5, 17, 4, 7, 3},
    {2, 64, 8, 8, 64},   {4, 16, 17, 16, 64},  {1, 64, 5, 17, 16}, {3, 17, 6, 2, 1},   {2, 3, 16, 16, 17},
    {5, 1, 9, 11, 16},   {1, 16, 12, 13, 64},  {9, 3, 16, 16, 17}, {4, 17, 2, 1, 17},  {2, 64, 15, 15, 3},
    {2, 16, 31, 32, 17}, {13, 3, 6, 6, 16},
};

// The direct sums out, grad_x, grad_w of one case and, per element, the sum of the magnitudes of its
// terms: the scale of the rounding error of any order of summation (and of Winograd's transforms).
struct Reference {
  std::vector<double> out, gx, gw, out_abs, gx_abs, gw_abs;
};

Reference direct_sums(const ConvCase& cc, const std::vector<double>& x, const std::vector<double>& w,
                      const std::vector<double>& gy) {
  Reference r;
  for (auto* v : {&r.out, &r.out_abs}) v->assign(gy.size(), 0.0);
  for (auto* v : {&r.gx, &r.gx_abs}) v->assign(x.size(), 0.0);
  for (auto* v : {&r.gw, &r.gw_abs}) v->assign(w.size(), 0.0);
  px::test::for_each_conv_term(cc, [&](std::int64_t xi, std::int64_t wi, std::int64_t oi) {
    r.out[oi] += x[xi] * w[wi];
    r.out_abs[oi] += std::abs(x[xi] * w[wi]);
    r.gx[xi] += gy[oi] * w[wi];
    r.gx_abs[xi] += std::abs(gy[oi] * w[wi]);
    r.gw[wi] += gy[oi] * x[xi];
    r.gw_abs[wi] += std::abs(gy[oi] * x[xi]);
  });
  return r;
}

// |got - want| <= tol * (1 + scale) elementwise; reports the first mismatch.
template <class T>
void check_scaled(const std::vector<T>& got, const std::vector<double>& want, const std::vector<double>& scale,
                  double tol, const std::string& what) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::abs(static_cast<double>(got[i]) - want[i]) > tol * (1 + scale[i])) {
      FAIL_CHECK(what << ": element " << i << " is " << got[i] << ", expected " << want[i]);
      return;
    }
  }
}

template <class T>
std::vector<T> rounded(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

}  // namespace

// Tolerance, relative to 1 + the sum of the magnitudes of the terms of each element: float32 rounds
// each transform (sums of 2-4 values, halves) and each product's C (or N * tiles) long sum, so the
// error grows with the terms summed. The worst seen across these shapes is 2.4 float ulps of that
// scale (float64: 2.4 double ulps); 16 ulps (1.9e-6) leaves a margin of 6, while one wrong or
// missing term (|x w| ~ 0.25) is above 1e-3 of the scale for every shape here.
TEST_CASE_TEMPLATE("winograd F(2x2,3x3) matches the direct sum: forward, backward-input, backward-weight", T, float,
                   double) {
  const double tol = std::is_same_v<T, float> ? 16 * double{FLT_EPSILON} : 1e-12;
  unsigned seed = 900;
  for (const auto& s : kShapes) {
    const ConvCase cc{s[0], s[1], s[2], s[3], s[4], 3, 3, kSame};
    const auto geometry = px::cpu::conv_geometry(cc.x_shape(), cc.w_shape(), cc.out_shape(), 1);
    auto xd = random_values(px::shape_numel(cc.x_shape()), seed++);
    auto wd = random_values(px::shape_numel(cc.w_shape()), seed++);
    auto gd = random_values(px::shape_numel(cc.out_shape()), seed++);
    for (auto* v : {&xd, &wd, &gd})
      for (double& e : *v) e = static_cast<double>(static_cast<T>(e));
    const Reference ref = direct_sums(cc, xd, wd, gd);
    const std::vector<T> x = rounded<T>(xd), w = rounded<T>(wd), gy = rounded<T>(gd);
    for (int threads : {1, 2, 3}) {
      INFO(cc.str(), ", ", threads, " threads");
      ThreadsGuard guard(threads);
      std::vector<T> out(gy.size(), T(7)), gx(x.size(), T(7)), gw(w.size(), T(7));  // no zeros assumed
      px::cpu::winograd_forward(x.data(), w.data(), out.data(), geometry);
      px::cpu::winograd_backward_input(gy.data(), w.data(), gx.data(), geometry);
      px::cpu::winograd_backward_weight(gy.data(), x.data(), gw.data(), geometry);
      check_scaled(out, ref.out, ref.out_abs, tol, "forward");
      check_scaled(gx, ref.gx, ref.gx_abs, tol, "backward-input");
      check_scaled(gw, ref.gw, ref.gw_abs, tol, "backward-weight");
    }
  }
}

TEST_CASE("winograd_applies: 3x3, stride 1, padding 1, dilation 1, one group, and the rule on channels and plane") {
  auto applies = [](std::int64_t c, std::int64_t k, std::int64_t hw, std::int64_t r, px::Conv2dParams p) {
    const ConvCase cc{2, c, hw, hw, k, r, r, p};
    return px::cpu::winograd_applies(px::cpu::conv_geometry(cc.x_shape(), cc.w_shape(), cc.out_shape(), p.groups), p);
  };
  CHECK(applies(16, 16, 32, 3, kSame));  // ResNet-20's stages
  CHECK(applies(32, 32, 16, 3, kSame));
  CHECK(applies(64, 64, 8, 3, kSame));
  CHECK_FALSE(applies(16, 16, 32, 3, {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}));
  CHECK_FALSE(applies(16, 16, 32, 3, {.stride_h = 1, .stride_w = 2, .pad_h = 1, .pad_w = 1}));
  CHECK_FALSE(applies(16, 16, 32, 3, {}));
  CHECK_FALSE(applies(16, 16, 32, 3, {.pad_h = 1, .pad_w = 2}));
  CHECK_FALSE(applies(16, 16, 32, 3, {.pad_h = 2, .pad_w = 2, .dilation_h = 2, .dilation_w = 2}));
  CHECK_FALSE(applies(16, 16, 32, 3, {.pad_h = 1, .pad_w = 1, .groups = 2}));
  CHECK_FALSE(applies(16, 16, 32, 1, {}));
  CHECK_FALSE(applies(16, 16, 32, 5, {.pad_h = 1, .pad_w = 1}));
  CHECK_FALSE(applies(3, 16, 32, 3, kSame));  // the first layer: 3 input channels
  CHECK_FALSE(applies(16, 8, 32, 3, kSame));
  CHECK(applies(512, 512, 4, 3, kSame));
  CHECK_FALSE(applies(512, 512, 2, 3, kSame));  // 2x2 planes: no reliable gain
}

namespace {

// x [n, c, h, w] -> [n, c, h + 2, w + 2] with a border of zeros.
std::vector<double> pad_planes(const std::vector<double>& x, std::int64_t planes, std::int64_t h, std::int64_t w) {
  std::vector<double> out(planes * (h + 2) * (w + 2), 0.0);
  for (std::int64_t p = 0; p < planes; ++p)
    for (std::int64_t i = 0; i < h; ++i)
      std::copy_n(x.begin() + (p * h + i) * w, w, out.begin() + (p * (h + 2) + i + 1) * (w + 2) + 1);
  return out;
}

}  // namespace

// The same convolution on the explicitly padded input (padding 0: the im2col path) as the reference.
TEST_CASE("conv2d takes the Winograd path where the rule applies and agrees with the im2col path") {
  ThreadsGuard guard(2);
  const ConvCase cc{6, 16, 8, 10, 32, 3, 3, kSame};
  const ConvCase padded{6, 16, 10, 12, 32, 3, 3, {}};
  auto shape_of = [](const ConvCase& c) {
    return px::cpu::conv_geometry(c.x_shape(), c.w_shape(), c.out_shape(), 1);
  };
  REQUIRE(px::cpu::winograd_applies(shape_of(cc), cc.p));
  REQUIRE_FALSE(px::cpu::winograd_applies(shape_of(padded), padded.p));
  const auto xv = random_values(px::shape_numel(cc.x_shape()), 41), wv = random_values(9 * 16 * 32, 42);
  const auto gv = random_values(px::shape_numel(cc.out_shape()), 43);
  const Tensor x = px::from_vector(xv, cc.x_shape()), w = px::from_vector(wv, cc.w_shape());
  const Tensor gy = px::from_vector(gv, cc.out_shape());
  const Tensor xp = px::from_vector(pad_planes(xv, 6 * 16, 8, 10), padded.x_shape());
  auto values = [](const Tensor& t) { return t.contiguous().to_vector<double>(); };
  px::test::check_close(values(px::ops::conv2d(x, w, cc.p)), values(px::ops::conv2d(xp, w, padded.p)), 1e-12,
                        "forward");
  const std::vector<double> gxp = values(px::ops::conv2d_backward_input(gy, w, padded.x_shape(), padded.p));
  std::vector<double> interior;
  for (std::int64_t p = 0; p < 6 * 16; ++p)
    for (std::int64_t i = 1; i <= 8; ++i)
      for (std::int64_t j = 1; j <= 10; ++j) interior.push_back(gxp[(p * 10 + i) * 12 + j]);
  px::test::check_close(values(px::ops::conv2d_backward_input(gy, w, cc.x_shape(), cc.p)), interior, 1e-12,
                        "backward-input");
  px::test::check_close(values(px::ops::conv2d_backward_weight(gy, x, cc.w_shape(), cc.p)),
                        values(px::ops::conv2d_backward_weight(gy, xp, padded.w_shape(), padded.p)), 1e-12,
                        "backward-weight");
}
