// Tests of the CPU convolution's blocked GEMM paths (several images per GEMM, per-thread image ranges,
// partial last blocks, grouped and 1x1 blocks) against direct loops, in float32 and float64.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "proxima/core/backend.h"
#include "proxima/core/cpu/cpu_conv_plan.h"
#include "proxima/core/ops.h"
#include "core/conv_test_util.h"

namespace {

using px::test::check_close;
using px::test::random_values;
using px::test::values_of;

using px::Shape;
using px::Tensor;

// One convolution, the thread count it runs with, and the kind of plan it must trigger.
struct BlockedCase : px::test::ConvCase {
  const char* name;
  int threads;
  bool per_thread;    // expect plan.threads > 1 (each thread its own range of images)
  bool partial_last;  // expect unequal thread ranges or a block shorter than plan.images
};

// Blocks need more output channels per group than output pixels (see plan_conv).
const BlockedCase kCases[] = {
    {{35, 3, 4, 4, 32, 3, 3, {.pad_h = 1, .pad_w = 1}},
     "per-thread ranges of 9-image blocks, 35 images on 2 threads", 2, true, true},
    {{50, 3, 4, 4, 32, 3, 3, {.pad_h = 1, .pad_w = 1}}, "per-thread blocks, 50 images on 3 threads", 3, true, true},
    {{33, 4, 6, 8, 48, 3, 3,
      {.stride_h = 1, .stride_w = 2, .pad_h = 2, .pad_w = 1, .dilation_h = 2, .dilation_w = 2, .groups = 2}},
     "per-thread blocks, groups 2, stride (1,2), dilation 2", 2, true, true},
    {{7, 16, 4, 4, 32, 3, 3, {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}},
     "whole batch in one block at 2x2, GEMM split across threads", 2, false, false},
    {{130, 2, 4, 4, 8, 3, 3, {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}},
     "three sequential blocks at 2x2, 130 images", 1, false, true},
    {{71, 4, 2, 2, 12, 1, 1, {.groups = 2}}, "1x1 convolution in blocks (gathered planes), groups 2", 1, false, true},
    {{3, 16, 16, 16, 16, 1, 1, {}}, "1x1 convolution, one image per GEMM on the input planes", 2, true, true},
    {{10, 16, 8, 8, 16, 3, 3, {.pad_h = 1, .pad_w = 1, .groups = 16}}, "depthwise, one image per GEMM", 2, true, false},
};

using px::test::make;
using px::test::ThreadsGuard;

}  // namespace

TEST_CASE("conv2d blocked cases trigger the plans they are meant to cover") {
  for (const BlockedCase& cc : kCases) {
    INFO(std::string(cc.name));
    ThreadsGuard guard(cc.threads);
    const Shape x = cc.x_shape(), w = cc.w_shape(), out = cc.out_shape();
    const auto geometry = px::cpu::conv_geometry(x, w, out, cc.p.groups);
    const px::cpu::ConvPlan plan = px::cpu::plan_conv(geometry, sizeof(float));
    CHECK((plan.threads > 1) == cc.per_thread);
    const std::int64_t range = cc.per_thread ? (cc.n + plan.threads - 1) / plan.threads : cc.n;
    const bool partial = range % plan.images != 0 || (cc.per_thread && cc.n % plan.threads != 0);
    CHECK(partial == cc.partial_last);
    const bool one_image = std::string(cc.name).find("one image") != std::string::npos;
    CHECK((plan.images == 1) == one_image);
  }
}

TEST_CASE_TEMPLATE("conv2d blocked paths match the direct loops (forward, backward-input, backward-weight)", T, float,
                   double) {
  const double tol = std::is_same_v<T, float> ? 2e-4 : 1e-12;
  unsigned seed = 500;
  for (const BlockedCase& cc : kCases) {
    INFO(std::string(cc.name));
    ThreadsGuard guard(cc.threads);
    px::test::check_conv_against_direct_sum<T>(cc, seed, tol);
  }
}

TEST_CASE("conv2d blocked paths agree across thread counts (1, 2, 3)") {
  const BlockedCase& cc = kCases[0];
  const Tensor x = make<double>(random_values(px::shape_numel(cc.x_shape()), 1), cc.x_shape());
  const Tensor w = make<double>(random_values(px::shape_numel(cc.w_shape()), 2), cc.w_shape());
  const Tensor g = make<double>(random_values(px::shape_numel(cc.out_shape()), 3), cc.out_shape());
  std::vector<std::vector<double>> results;
  for (int threads : {1, 2, 3}) {
    ThreadsGuard guard(threads);
    std::vector<double> all = values_of<double>(px::ops::conv2d(x, w, cc.p));
    for (double v : values_of<double>(px::ops::conv2d_backward_input(g, w, cc.x_shape(), cc.p))) all.push_back(v);
    for (double v : values_of<double>(px::ops::conv2d_backward_weight(g, x, cc.w_shape(), cc.p))) all.push_back(v);
    results.push_back(all);
  }
  check_close(results[1], results[0], 1e-12, "2 threads against 1");
  check_close(results[2], results[0], 1e-12, "3 threads against 1");
}
