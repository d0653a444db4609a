// Gradient checks of matmul (every shape case), conv2d (stride, padding, dilation, groups, bias),
// max/avg pooling and (log-)softmax.
#include "grad_helpers.h"

using namespace px;
using px::test::check_gradients;
using px::test::randn64;
using px::test::Ts;

namespace {
Tensor matmul_of(const Ts& t) { return matmul(t[0], t[1]); }
}  // namespace

TEST_CASE("gradcheck: matmul of vectors and matrices") {
  check_gradients("1-D . 1-D", matmul_of, {randn64({4}, 1), randn64({4}, 2)});
  check_gradients("2-D @ 1-D", matmul_of, {randn64({3, 4}, 3), randn64({4}, 4)});
  check_gradients("1-D @ 2-D", matmul_of, {randn64({4}, 5), randn64({4, 5}, 6)});
  check_gradients("2-D @ 2-D", matmul_of, {randn64({3, 4}, 7), randn64({4, 5}, 8)});
  check_gradients("transposed operands",
                  [](const Ts& t) { return matmul(transpose(t[0], 0, 1), transpose(t[1], 0, 1)); },
                  {randn64({4, 3}, 9), randn64({5, 4}, 10)});
}

TEST_CASE("gradcheck: batched matmul with broadcast batch dims") {
  check_gradients("3-D @ 3-D", matmul_of, {randn64({2, 3, 4}, 11), randn64({2, 4, 2}, 12)});
  check_gradients("3-D @ 2-D", matmul_of, {randn64({2, 3, 4}, 13), randn64({4, 2}, 14)});
  check_gradients("2-D @ 3-D", matmul_of, {randn64({3, 4}, 15), randn64({2, 4, 2}, 16)});
  check_gradients("broadcast batch [2,1] x [3]", matmul_of, {randn64({2, 1, 3, 4}, 17), randn64({3, 4, 2}, 18)});
  check_gradients("3-D @ 1-D", matmul_of, {randn64({2, 3, 4}, 19), randn64({4}, 20)});
  check_gradients("1-D @ 3-D", matmul_of, {randn64({3}, 21), randn64({2, 3, 4}, 22)});
}

TEST_CASE("gradcheck: conv2d") {
  struct Case {
    const char* name;
    Shape x, w;
    Conv2dParams p;
    bool bias;
  };
  const Case cases[] = {
      {"plain 3x3", {2, 3, 5, 5}, {4, 3, 3, 3}, {}, false},
      {"bias and padding 1", {2, 3, 5, 5}, {4, 3, 3, 3}, {.pad_h = 1, .pad_w = 1}, true},
      {"stride 2, asymmetric padding",
       {1, 2, 6, 7},
       {3, 2, 3, 2},
       {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 0},
       true},
      {"dilation 2",
       {1, 2, 7, 7},
       {2, 2, 3, 3},
       {.pad_h = 2, .pad_w = 1, .dilation_h = 2, .dilation_w = 2},
       false},
      {"groups 2", {2, 4, 5, 5}, {6, 2, 3, 3}, {.pad_h = 1, .pad_w = 1, .groups = 2}, true},
      {"depthwise, stride 2",
       {1, 3, 6, 6},
       {3, 1, 3, 3},
       {.stride_h = 2, .stride_w = 1, .pad_h = 1, .pad_w = 1, .groups = 3},
       true},
      {"1x1", {2, 3, 4, 4}, {5, 3, 1, 1}, {}, true},
  };
  std::uint64_t seed = 100;
  for (const Case& c : cases) {
    Conv2dParams p = c.p;
    Ts inputs = {randn64(c.x, seed++), randn64(c.w, seed++)};
    if (c.bias) inputs.push_back(randn64({c.w[0]}, seed++));
    check_gradients(
        c.name, [p](const Ts& t) { return conv2d(t[0], t[1], t.size() > 2 ? t[2] : Tensor(), p); }, inputs);
  }
  check_gradients("conv2d of a permuted input",
                  [](const Ts& t) {
                    return conv2d(permute(t[0], {0, 3, 1, 2}), t[1], t[2], {.pad_h = 1, .pad_w = 1});
                  },
                  {randn64({1, 5, 5, 2}, 200), randn64({3, 2, 3, 3}, 201), randn64({3}, 202)});
}

TEST_CASE("conv2d rejects a bias of the wrong shape") {
  CHECK_THROWS_AS(conv2d(randn64({1, 2, 4, 4}, 1), randn64({3, 2, 3, 3}, 2), randn64({2}, 3)), ShapeError);
}

TEST_CASE("gradcheck: max_pool2d") {
  Tensor x = randn64({2, 3, 6, 6}, 30);
  check_gradients("2x2 stride 2", [](const Ts& t) { return max_pool2d(t[0], {}); }, {x});
  check_gradients(
      "3x3 stride 2 pad 1",
      [](const Ts& t) { return max_pool2d(t[0], {.kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1}); }, {x});
  check_gradients(
      "overlapping 3x2 stride 1",
      [](const Ts& t) { return max_pool2d(t[0], {.kernel_h = 3, .kernel_w = 2, .stride_h = 1, .stride_w = 1}); },
      {x});
  check_gradients("ceil_mode",
                  [](const Ts& t) {
                    return max_pool2d(
                        t[0], {.kernel_h = 2, .kernel_w = 2, .stride_h = 2, .stride_w = 2, .ceil_mode = true});
                  },
                  {randn64({1, 2, 5, 5}, 31)});
}

TEST_CASE("gradcheck: avg_pool2d") {
  Tensor x = randn64({2, 2, 6, 6}, 40);
  check_gradients("2x2 stride 2", [](const Ts& t) { return avg_pool2d(t[0], {}); }, {x});
  check_gradients(
      "3x3 pad 1 count_include_pad",
      [](const Ts& t) { return avg_pool2d(t[0], {.kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1}); }, {x});
  check_gradients("3x3 pad 1 without pad",
                  [](const Ts& t) {
                    return avg_pool2d(
                        t[0], {.kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1, .count_include_pad = false});
                  },
                  {x});
  check_gradients("ceil_mode",
                  [](const Ts& t) {
                    return avg_pool2d(
                        t[0], {.kernel_h = 2, .kernel_w = 2, .stride_h = 2, .stride_w = 2, .ceil_mode = true});
                  },
                  {randn64({1, 2, 5, 5}, 41)});
}

TEST_CASE("gradcheck: softmax and log_softmax") {
  Tensor x = randn64({3, 4, 5}, 50);
  for (std::int64_t dim : {0, 1, -1}) {
    check_gradients("softmax", [dim](const Ts& t) { return softmax(t[0], dim); }, {x});
    check_gradients("log_softmax", [dim](const Ts& t) { return log_softmax(t[0], dim); }, {x});
  }
  check_gradients("softmax of a transposed input", [](const Ts& t) { return softmax(transpose(t[0], 0, 2), 1); },
                  {x});
}
