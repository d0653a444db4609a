// GPU parity of matmul/linear, conv2d, pooling, batch_norm and dropout: values and gradients.
#include <string>
#include <vector>

#include "parity_util.h"

TEST_CASE("cuda parity: matmul of 1-D, 2-D and broadcast batched operands, and linear") {
  NoTf32 exact;
  Generator gen(401);
  const std::pair<Shape, Shape> shapes[] = {{{7}, {7}},          {{7}, {7, 3}},          {{4, 7}, {7}},
                                            {{5, 33}, {33, 17}}, {{2, 3, 4, 6}, {6, 5}}, {{3, 1, 4, 6}, {2, 6, 5}},
                                            {{1, 1}, {1, 1}},    {{64, 128}, {128, 65}}};
  for (DType dtype : kFloats) {
    for (const auto& [sa, sb] : shapes) {
      Tensor a = random_cpu(sa, dtype, gen), b = random_cpu(sb, dtype, gen);
      check_parity(label("matmul " + shape_str(sa) + " @ " + shape_str(sb), dtype),
                   [](const Ts& in) { return px::matmul(in[0], in[1]); }, {a, b}, tol_for(dtype));
    }
    for (bool bias : {false, true}) {
      Tensor x = random_cpu({6, 4, 20}, dtype, gen), w = random_cpu({9, 20}, dtype, gen);
      Tensor b = bias ? random_cpu({9}, dtype, gen) : Tensor();
      check_parity(label(std::string("linear") + (bias ? " with bias" : ""), dtype),
                   [](const Ts& in) { return px::linear(in[0], in[1], in[2]); }, {x, w, b}, tol_for(dtype));
    }
  }
}

TEST_CASE("cuda parity: conv2d forward and both gradients over strides, padding, dilation and groups") {
  NoTf32 exact;
  struct Case {
    Shape x, w;
    Conv2dParams p;
    bool bias;
  };
  const Case cases[] = {
      {{2, 3, 8, 8}, {4, 3, 3, 3}, {.pad_h = 1, .pad_w = 1}, false},                        // ResNet 3x3
      {{3, 4, 9, 7}, {6, 4, 3, 3}, {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}, true},  // odd sizes
      {{2, 6, 5, 5}, {6, 6, 1, 1}, {.stride_h = 2, .stride_w = 2}, false},                  // 1x1 projection
      {{1, 2, 10, 11}, {3, 2, 3, 2}, {.stride_h = 1, .stride_w = 3, .pad_h = 2, .pad_w = 0}, true},
      {{2, 3, 9, 9}, {2, 3, 3, 3}, {.pad_h = 2, .pad_w = 2, .dilation_h = 2, .dilation_w = 2}, false},
      {{2, 6, 6, 6}, {4, 3, 3, 3}, {.pad_h = 1, .pad_w = 1, .groups = 2}, true},           // groups
      {{2, 4, 5, 5}, {4, 1, 3, 3}, {.pad_h = 1, .pad_w = 1, .groups = 4}, false},          // depthwise
      {{8, 16, 16, 16}, {32, 16, 3, 3}, {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}, false},
  };
  Generator gen(402);
  for (DType dtype : kFloats) {
    for (const Case& c : cases) {
      Tensor x = random_cpu(c.x, dtype, gen), w = random_cpu(c.w, dtype, gen);
      Tensor b = c.bias ? random_cpu({c.w[0]}, dtype, gen) : Tensor();
      Conv2dParams p = c.p;
      std::string what = "conv2d x " + shape_str(c.x) + " w " + shape_str(c.w) + " stride " +
                         std::to_string(p.stride_h) + "," + std::to_string(p.stride_w) + " pad " +
                         std::to_string(p.pad_h) + "," + std::to_string(p.pad_w) + " dilation " +
                         std::to_string(p.dilation_h) + " groups " + std::to_string(p.groups);
      check_parity(label(what, dtype), [p](const Ts& in) { return px::conv2d(in[0], in[1], in[2], p); }, {x, w, b},
                   tol_for(dtype));
    }
  }
}

namespace {

// A pooling case of the max_pool2d and avg_pool2d tests, named in messages by describe().
struct PoolCase {
  Shape x;
  Pool2dParams p;
};

std::string describe(const std::string& op, const PoolCase& c) {
  const Pool2dParams& p = c.p;
  return op + " " + shape_str(c.x) + " k" + std::to_string(p.kernel_h) + "x" + std::to_string(p.kernel_w) + " s" +
         std::to_string(p.stride_h) + "," + std::to_string(p.stride_w) + " pad " + std::to_string(p.pad_h) + "," +
         std::to_string(p.pad_w) + (p.ceil_mode ? " ceil" : "") + (p.count_include_pad ? "" : " exclude pad");
}

}  // namespace

TEST_CASE("cuda parity: max_pool2d values, indices and gradients") {
  const PoolCase cases[] = {
      {{2, 3, 8, 8}, {}},                                                                        // 2x2 / 2
      {{2, 3, 9, 7}, {.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}},
      {{1, 2, 7, 7}, {.kernel_h = 2, .kernel_w = 2, .stride_h = 2, .stride_w = 2, .ceil_mode = true}},
      {{2, 2, 6, 9}, {.kernel_h = 3, .kernel_w = 2, .stride_h = 1, .stride_w = 2}},          // overlapping
      {{128, 64, 4, 4}, {}},
  };
  Generator gen(403);
  for (DType dtype : kFloats) {
    for (const PoolCase& c : cases) {
      Tensor x = random_cpu(c.x, dtype, gen);
      Pool2dParams p = c.p;
      std::string what = describe("max_pool2d", c);
      check_parity(label(what, dtype), [p](const Ts& in) { return px::max_pool2d(in[0], p); }, {x}, tol_for(dtype));
      ops::MaxPoolResult want = ops::max_pool2d(x, p), got = ops::max_pool2d(x.to(gpu()), p);
      check_equal(want.indices, got.indices, label(what + " indices", dtype));
    }
  }
}

TEST_CASE("cuda parity: avg_pool2d with padding, ceil mode and count_include_pad") {
  const PoolCase cases[] = {
      {{2, 3, 8, 8}, {}},
      {{2, 3, 9, 7}, {.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}},
      {{2, 3, 9, 7},
       {.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .count_include_pad = false}},
      {{1, 2, 7, 7}, {.kernel_h = 2, .kernel_w = 2, .stride_h = 2, .stride_w = 2, .ceil_mode = true}},
      {{4, 5, 8, 8}, {.kernel_h = 8, .kernel_w = 8, .stride_h = 8, .stride_w = 8}},  // ResNet-20 global pool
      {{3, 4, 5, 5}, {.kernel_h = 1, .kernel_w = 1, .stride_h = 1, .stride_w = 1}},  // VGG's AvgPool2d(1, 1)
  };
  Generator gen(404);
  for (DType dtype : kFloats) {
    for (const PoolCase& c : cases) {
      Tensor x = random_cpu(c.x, dtype, gen);
      Pool2dParams p = c.p;
      std::string what = describe("avg_pool2d", c);
      check_parity(label(what, dtype), [p](const Ts& in) { return px::avg_pool2d(in[0], p); }, {x}, tol_for(dtype));
    }
    Tensor x = random_cpu({3, 4, 6, 5}, dtype, gen);
    check_parity(label("adaptive_avg_pool2d", dtype), [](const Ts& in) { return px::adaptive_avg_pool2d(in[0], 1); },
                 {x}, tol_for(dtype));
  }
}

TEST_CASE("cuda parity: batch_norm training updates the running statistics and back-propagates") {
  Generator gen(405);
  for (DType dtype : kFloats) {
    for (const Shape& shape : {Shape{8, 5}, Shape{4, 3, 5, 7}, Shape{32, 16, 8, 8}, Shape{2, 1, 3, 3}}) {
      const std::int64_t c = shape[1];
      Tensor x = ops::add(random_cpu(shape, dtype, gen, 2.0), 0.5);
      Tensor weight = random_cpu({c}, dtype, gen), bias = random_cpu({c}, dtype, gen);
      for (bool affine : {true, false}) {
        Tensor rm_cpu = random_cpu({c}, dtype, gen), rv_cpu = positive_cpu({c}, dtype, gen);
        Tensor rm_gpu = rm_cpu.to(gpu()), rv_gpu = rv_cpu.to(gpu());
        std::string what = label("batch_norm train " + shape_str(shape) + (affine ? " affine" : ""), dtype);
        bool on_gpu = false;  // f runs on the CPU first, then on the GPU
        check_parity(
            what,
            [&](const Ts& in) {
              Tensor rm = on_gpu ? rm_gpu : rm_cpu, rv = on_gpu ? rv_gpu : rv_cpu;
              on_gpu = true;
              return px::batch_norm(in[0], in[1], in[2], rm, rv, true, 0.1, 1e-5);
            },
            {x, affine ? weight : Tensor(), affine ? bias : Tensor()}, tol_for(dtype));
        check_close(rm_cpu, rm_gpu, tol_for(dtype).rtol, tol_for(dtype).atol, what + ": running_mean");
        check_close(rv_cpu, rv_gpu, tol_for(dtype).rtol, tol_for(dtype).atol, what + ": running_var");
      }
    }
  }
}

TEST_CASE("cuda parity: batch_norm in eval mode uses the running statistics") {
  Generator gen(406);
  for (DType dtype : kFloats) {
    for (const Shape& shape : {Shape{8, 5}, Shape{4, 3, 5, 7}}) {
      const std::int64_t c = shape[1];
      Tensor x = random_cpu(shape, dtype, gen, 2.0);
      Tensor weight = random_cpu({c}, dtype, gen), bias = random_cpu({c}, dtype, gen);
      Tensor rm = random_cpu({c}, dtype, gen), rv = positive_cpu({c}, dtype, gen);
      check_parity(label("batch_norm eval " + shape_str(shape), dtype),
                   [](const Ts& in) { return px::batch_norm(in[0], in[1], in[2], in[3], in[4], false, 0.1, 1e-3); },
                   {x, weight, bias, rm, rv}, tol_for(dtype), {3, 4});
    }
  }
}

TEST_CASE("cuda parity: a small conv-bn-relu-pool-linear network, end to end") {
  NoTf32 exact;
  Generator gen(407);
  for (DType dtype : kFloats) {
    Tensor x = random_cpu({6, 3, 8, 8}, dtype, gen), w1 = random_cpu({8, 3, 3, 3}, dtype, gen, 0.3);
    Tensor g1 = ops::add(random_cpu({8}, dtype, gen, 0.1), 1.0), b1 = random_cpu({8}, dtype, gen, 0.1);
    Tensor fc = random_cpu({10, 8 * 4 * 4}, dtype, gen, 0.1), fb = random_cpu({10}, dtype, gen, 0.1);
    Tensor target = randint(0, 10, {6}, {.dtype = DType::int64}, &gen);
    auto net = [](const Ts& in) {
      Conv2dParams same{.pad_h = 1, .pad_w = 1};
      Tensor h = px::conv2d(in[0], in[1], {}, same);
      h = px::relu(px::batch_norm(h, in[2], in[3], {}, {}, true));
      h = px::max_pool2d(h, {});
      return px::cross_entropy(px::linear(px::flatten(h, 1), in[4], in[5]), in[6], Reduction::mean, 0.1);
    };
    check_parity(label("conv-bn-relu-pool-linear loss", dtype), net, {x, w1, g1, b1, fc, fb, target},
                 tol_for(dtype));
  }
}

TEST_CASE("cuda parity: dropout draws the same mask as the CPU from the same generator state") {
  for (DType dtype : kFloats) {
    Generator cpu_gen(77), gpu_gen(77);
    Generator data_gen(408);
    Tensor x = random_cpu({33, 65}, dtype, data_gen);
    for (double p : {0.1, 0.5}) {
      Tensor cpu_x = x.clone(), gpu_x = x.clone().to(gpu());  // fresh leaves
      cpu_x.set_requires_grad();
      gpu_x.set_requires_grad();
      Tensor want = px::dropout(cpu_x, p, true, &cpu_gen), got = px::dropout(gpu_x, p, true, &gpu_gen);
      std::string what = label("dropout p " + std::to_string(p), dtype);
      check_close(want.detach(), got.detach(), tol_for(dtype).rtol, 0.0, what);
      CHECK(cpu_gen.offset() == gpu_gen.offset());
      Tensor w = random_cpu({33, 65}, dtype, data_gen);
      backward(want, w);
      backward(got, w.to(gpu()));
      check_close(cpu_x.grad(), gpu_x.grad(), tol_for(dtype).rtol, 0.0, what + ": gradient");
      check_equal(x.clone(), px::dropout(x.to(gpu()), p, false, &gpu_gen), what + " eval is the identity");
    }
  }
}
