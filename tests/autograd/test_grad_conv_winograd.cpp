// Float64 gradient checks of conv2d on shapes the CPU backend runs with Winograd F(2x2,3x3) (3x3, stride 1, padding 1).
#include "core/conv_test_util.h"
#include "grad_helpers.h"
#include "proxima/core/cpu/cpu_winograd.h"

using namespace px;
using px::test::check_gradients;
using px::test::randn64;
using px::test::Ts;

using px::test::ThreadsGuard;

TEST_CASE("gradcheck: conv2d on Winograd shapes (odd and even planes, one and two threads)") {
  struct Case {
    const char* name;
    Shape x, w;
    int threads;
  };
  const Case cases[] = {
      {"3 images 16 -> 16 channels, 5x6 planes, 2 threads", {3, 16, 5, 6}, {16, 16, 3, 3}, 2},
      {"1 image 16 -> 24 channels, 4x7 planes, 1 thread", {1, 16, 4, 7}, {24, 16, 3, 3}, 1},
  };
  const Conv2dParams p = {.pad_h = 1, .pad_w = 1};
  std::uint64_t seed = 950;
  for (const Case& c : cases) {
    ThreadsGuard guard(c.threads);
    const Shape out = {c.x[0], c.w[0], c.x[2], c.x[3]};
    INFO(std::string(c.name));
    CHECK(cpu::winograd_applies(cpu::conv_geometry(c.x, c.w, out, 1), p));
    check_gradients(
        c.name, [p](const Ts& t) { return conv2d(t[0], t[1], t[2], p); },
        {randn64(c.x, seed++), randn64(c.w, seed++), randn64({c.w[0]}, seed++)});
  }
}
