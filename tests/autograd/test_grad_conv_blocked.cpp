// Float64 gradient checks of conv2d on shapes that put several images in one GEMM (the CPU
// backend's blocked paths: per-thread image ranges, partial last blocks, whole-batch blocks).
#include "core/conv_test_util.h"
#include "grad_helpers.h"
#include "proxima/core/cpu/cpu_conv_plan.h"

using namespace px;
using px::test::check_gradients;
using px::test::randn64;
using px::test::Ts;

using px::test::ThreadsGuard;

TEST_CASE("gradcheck: conv2d in blocks of several images") {
  struct Case {
    const char* name;
    Shape x, w;
    Conv2dParams p;
    int threads;
    bool per_thread;  // the plan must split the batch over threads (else: blocks one after another)
  };
  const Case cases[] = {
      {"2x2 outputs, whole batch of 5 in one block",
       {5, 3, 4, 4}, {8, 3, 3, 3}, {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}, 2, false},
      {"4x4 outputs, 35 images on 2 threads (blocks of 9, partial ones)",
       {35, 2, 4, 4}, {20, 2, 3, 3}, {.pad_h = 1, .pad_w = 1}, 2, true},
      {"2x2 outputs, 1x1 kernel, groups 2, 70 images in two blocks",
       {70, 2, 2, 2}, {12, 1, 1, 1}, {.groups = 2}, 1, false},
      {"50 images on 3 threads, dilation 2, groups 2",
       {50, 2, 4, 4}, {40, 1, 3, 3}, {.pad_h = 2, .pad_w = 2, .dilation_h = 2, .dilation_w = 2, .groups = 2}, 3, true},
  };
  std::uint64_t seed = 700;
  for (const Case& c : cases) {
    ThreadsGuard guard(c.threads);
    const Conv2dParams p = c.p;
    const Shape out = {c.x[0], c.w[0], (c.x[2] + 2 * p.pad_h - p.dilation_h * (c.w[2] - 1) - 1) / p.stride_h + 1,
                       (c.x[3] + 2 * p.pad_w - p.dilation_w * (c.w[3] - 1) - 1) / p.stride_w + 1};
    const cpu::ConvPlan plan = cpu::plan_conv(cpu::conv_geometry(c.x, c.w, out, p.groups), sizeof(double));
    INFO(std::string(c.name));
    CHECK(plan.images > 1);
    CHECK((plan.threads > 1) == c.per_thread);
    check_gradients(
        c.name, [p](const Ts& t) { return conv2d(t[0], t[1], t[2], p); },
        {randn64(c.x, seed++), randn64(c.w, seed++), randn64({c.w[0]}, seed++)});
  }
}
