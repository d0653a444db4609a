// Float64 gradient checks of paths the other gradchecks do not reach: batch_norm and
// batch_norm_relu through their composite (running statistics that require grad in eval mode,
// parameters of another dtype), and conv2d with stride 2 over rows wider than one vector.
#include <string>

#include "core/conv_test_util.h"
#include "grad_helpers.h"

using namespace px;
using px::test::check_gradients;
using px::test::randn64;
using px::test::Ts;
using px::test::uniform64;

namespace {

// batch_norm or batch_norm_relu of (x, weight, bias, running_mean, running_var) in eval mode.
Tensor bn_eval(bool relu, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& rm, const Tensor& rv) {
  return relu ? batch_norm_relu(x, w, b, rm, rv, false, 0.1, 1e-5) : batch_norm(x, w, b, rm, rv, false, 0.1, 1e-5);
}

}  // namespace

TEST_CASE("gradcheck: batch_norm(_relu) in eval mode differentiates running statistics that require grad") {
  std::uint64_t seed = 3000;
  for (bool relu : {false, true}) {
    for (const Shape& shape : {Shape{6, 3}, Shape{3, 2, 3, 2}}) {
      const std::int64_t c = shape[1];
      Tensor x = randn64(shape, ++seed), w = randn64({c}, ++seed), b = randn64({c}, ++seed);
      Tensor rm = randn64({c}, ++seed), rv = uniform64({c}, 0.5, 2.0, ++seed);
      const std::string what = std::string(relu ? "batch_norm_relu " : "batch_norm ") + shape_str(shape);
      // The composite is taken (the fused op would leave running_var without a gradient).
      {
        Tensor rv_leaf = rv.clone().set_requires_grad();
        Tensor y = bn_eval(relu, x, w, b, rm, rv_leaf);
        REQUIRE(y.requires_grad());
        CHECK(y.autograd_meta()->grad_fn->name != (relu ? "batch_norm_relu" : "batch_norm"));
      }
      check_gradients((what + " affine").c_str(),
                      [relu](const Ts& t) { return bn_eval(relu, t[0], t[1], t[2], t[3], t[4]); }, {x, w, b, rm, rv});
      check_gradients((what + " plain").c_str(),
                      [relu](const Ts& t) { return bn_eval(relu, t[0], {}, {}, t[1], t[2]); }, {x, rm, rv});
    }
  }
}

TEST_CASE("gradcheck: batch_norm(_relu) with float32 parameters (the composite), training and eval") {
  std::uint64_t seed = 3100;
  for (bool relu : {false, true}) {
    for (bool training : {true, false}) {
      const Shape shape{4, 3, 2, 3};
      Tensor x = randn64(shape, ++seed);
      const Tensor w32 = ops::to_dtype(uniform64({3}, 0.5, 1.5, ++seed), DType::float32);
      const Tensor b32 = ops::to_dtype(randn64({3}, ++seed), DType::float32);
      auto f = [relu, training, w32, b32](const Ts& t) {
        // Fresh running statistics per call: every evaluation sees the same state.
        Tensor rm = full({3}, 0.2, {.dtype = DType::float64}), rv = full({3}, 1.3, {.dtype = DType::float64});
        return relu ? batch_norm_relu(t[0], w32, b32, rm, rv, training, 0.1, 1e-5)
                    : batch_norm(t[0], w32, b32, rm, rv, training, 0.1, 1e-5);
      };
      const std::string what =
          std::string(relu ? "batch_norm_relu" : "batch_norm") + (training ? " training" : " eval");
      check_gradients(what.c_str(), f, {x});
    }
  }
}

TEST_CASE("gradcheck: conv2d with stride 2 over rows wider than a vector (the stride-2 gather and scatter)") {
  struct Case {
    const char* name;
    Shape x, w;
    Conv2dParams p;
    int threads;
  };
  const Case cases[] = {
      {"3x3 stride 2 pad 1, 21 output columns", {2, 2, 5, 41}, {3, 2, 3, 3},
       {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}, 1},
      {"1x1 stride 2, 19 output columns, 2 threads", {3, 3, 4, 37}, {2, 3, 1, 1}, {.stride_h = 2, .stride_w = 2}, 2},
      {"3x2 stride (1, 2), 17 output columns", {1, 2, 4, 34}, {2, 2, 3, 2},
       {.stride_h = 1, .stride_w = 2, .pad_h = 1}, 1},
  };
  std::uint64_t seed = 3200;
  for (const Case& c : cases) {
    test::ThreadsGuard guard(c.threads);
    INFO(std::string(c.name));
    const Conv2dParams p = c.p;
    check_gradients(c.name, [p](const Ts& t) { return conv2d(t[0], t[1], t[2], p); },
                    {randn64(c.x, ++seed), randn64(c.w, ++seed), randn64({c.w[0]}, ++seed)});
  }
}
