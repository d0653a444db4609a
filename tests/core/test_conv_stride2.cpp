// Tests of the CPU convolution's stride-2 im2col / col2im rows (cpu_stride2.h) on their own and through
// conv2d (forward, backward-input, backward-weight) against the direct sum, float32 and float64.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "proxima/core/backend.h"
#include "proxima/core/cpu/cpu_stride2.h"
#include "proxima/core/ops.h"
#include "core/conv_test_util.h"

namespace {

using px::Shape;
using px::Tensor;
using px::test::check_close;
using px::test::ConvCase;
using px::test::random_values;
using px::test::values_of;

using px::test::make;
using px::test::ThreadsGuard;

constexpr px::Conv2dParams kS2P1 = {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1};
constexpr px::Conv2dParams kS2 = {.stride_h = 2, .stride_w = 2};

// Odd and even planes; output rows of 1 to 35 columns (several vectors and a tail per row), 3x3
// with and without padding, 1x1 (the projection shortcut), 5x5, stride (1,2) and (2,1), dilation
// and groups; batches large enough that two threads each take a range of images.
const ConvCase kCases[] = {
    {5, 16, 32, 32, 32, 3, 3, kS2P1},  // ResNet's first stride-2 layer, batch 5
    {3, 32, 16, 16, 64, 3, 3, kS2P1},
    {4, 3, 7, 9, 5, 3, 3, kS2P1},
    {3, 4, 9, 70, 6, 3, 3, kS2P1},  // 35 output columns: 2 whole vectors and a tail
    {2, 5, 8, 33, 4, 3, 3, kS2},
    {6, 16, 32, 32, 32, 1, 1, kS2},  // projection shortcut
    {3, 7, 15, 17, 9, 1, 1, kS2},
    {2, 3, 11, 12, 4, 5, 5, {.stride_h = 2, .stride_w = 2, .pad_h = 2, .pad_w = 2}},
    {2, 3, 10, 13, 4, 3, 3, {.stride_h = 1, .stride_w = 2, .pad_h = 1, .pad_w = 0}},
    {2, 3, 10, 13, 4, 3, 3, {.stride_h = 2, .stride_w = 1, .pad_h = 0, .pad_w = 1}},
    {3, 4, 13, 19, 6, 3, 3, {.stride_h = 2, .stride_w = 2, .pad_h = 2, .pad_w = 2, .dilation_h = 2, .dilation_w = 2}},
    {3, 8, 9, 9, 8, 3, 3, {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .groups = 4}},
    {1, 2, 1, 2, 3, 1, 1, kS2},  // one output pixel
};

}  // namespace

TEST_CASE_TEMPLATE("gather_stride2 and scatter_add_stride2 touch exactly the elements they should", T, float,
                   double) {
  for (std::int64_t count = 0; count <= 41; ++count) {
    INFO("count " << count);
    const std::int64_t pad = 40, span = 2 * count;  // the source / destination room with guards around
    auto src = random_values(pad + span + pad, static_cast<unsigned>(count) + 1);
    std::vector<T> s(src.begin(), src.end()), gathered(pad + count + pad, T(-7));
    px::cpu::gather_stride2(s.data() + pad, gathered.data() + pad, count);
    for (std::int64_t i = 0; i < pad + count + pad; ++i) {
      const bool inside = i >= pad && i < pad + count;
      const T want = inside ? s[pad + 2 * (i - pad)] : T(-7);
      if (gathered[i] != want) FAIL_CHECK("gather: element " << i << " is " << gathered[i] << ", expected " << want);
    }
    // Scatter: the last source element read is 2 * count - 2 from the start; the rest must stay.
    std::vector<T> dst(s), add(count + 1, T(0));
    for (std::int64_t i = 0; i < count; ++i) add[i] = static_cast<T>(0.5 + 0.25 * static_cast<double>(i));
    add[count] = T(1000);  // must not be read
    px::cpu::scatter_add_stride2(add.data(), dst.data() + pad, count);
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(dst.size()); ++i) {
      const std::int64_t j = i - pad;
      const bool hit = j >= 0 && j < span && j % 2 == 0;
      const T want = hit ? static_cast<T>(s[i] + add[j / 2]) : s[i];
      if (dst[i] != want) FAIL_CHECK("scatter: element " << i << " is " << dst[i] << ", expected " << want);
    }
  }
}

TEST_CASE_TEMPLATE("conv2d with stride 2 matches the direct sum (forward, backward-input, backward-weight)", T, float,
                   double) {
  const double tol = std::is_same_v<T, float> ? 2e-4 : 1e-12;
  unsigned seed = 900;
  for (int threads : {1, 2}) {
    ThreadsGuard guard(threads);
    for (const ConvCase& cc : kCases) {
      INFO(cc.str() << ", " << threads << " threads");
      px::test::check_conv_against_direct_sum<T>(cc, seed, tol);
    }
  }
}
