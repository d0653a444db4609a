// The fused batch_norm_relu op: float64 gradchecks, one recorded node, and agreement (values,
// gradients, running statistics) with relu(batch_norm(...)), on the fused and the fallback paths.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "grad_helpers.h"

using namespace px;
using namespace px::test;

namespace {

struct Run {
  Tensor y, gx, gw, gb, rm, rv;
};

// relu(batch_norm(...)) (fused = false) or batch_norm_relu(...), then backward with gy.
// param_dtype != x's dtype sends batch_norm_relu down the fallback (composite) path.
Run run(bool fused, const Tensor& x0, const Tensor& w0, const Tensor& b0, const Tensor& rm0, const Tensor& rv0,
        const Tensor& gy, bool training) {
  Run r;
  Tensor x = x0.clone().set_requires_grad();
  Tensor w = w0.defined() ? w0.clone().set_requires_grad() : Tensor();
  Tensor b = b0.defined() ? b0.clone().set_requires_grad() : Tensor();
  r.rm = rm0.clone();
  r.rv = rv0.clone();
  r.y = fused ? batch_norm_relu(x, w, b, r.rm, r.rv, training, 0.2, 1e-5)
              : relu(batch_norm(x, w, b, r.rm, r.rv, training, 0.2, 1e-5));
  backward(r.y, gy);
  r.gx = x.grad();
  r.gw = w.defined() ? w.grad() : Tensor();
  r.gb = b.defined() ? b.grad() : Tensor();
  return r;
}

void check_runs(const Run& got, const Run& want, double tol, const std::string& what) {
  check_close(got.y, want.y, tol, what + ": y");
  check_close(got.gx, want.gx, tol, what + ": grad_x");
  check_close(got.gw, want.gw, tol, what + ": grad_weight");
  check_close(got.gb, want.gb, tol, what + ": grad_bias");
  check_close(got.rm, want.rm, tol, what + ": running_mean");
  check_close(got.rv, want.rv, tol, what + ": running_var");
}

}  // namespace

TEST_CASE("gradcheck: fused batch_norm_relu, 2-D and 4-D, training and eval, affine or not") {
  for (const Shape& shape : {Shape{6, 3}, Shape{3, 2, 3, 2}, Shape{2, 3, 1, 1}}) {
    const std::int64_t c = shape[1];
    Tensor x = randn64(shape, 140), w = randn64({c}, 141), b = randn64({c}, 142);
    for (bool training : {true, false}) {
      auto bn = [training](bool affine) {
        return [training, affine](const Ts& t) {
          const std::int64_t ch = t[0].size(1);
          Tensor rm = full({ch}, 0.3, {.dtype = DType::float64}), rv = full({ch}, 1.7, {.dtype = DType::float64});
          Tensor y = batch_norm_relu(t[0], affine ? t[1] : Tensor(), affine ? t[2] : Tensor(), rm, rv, training,
                                     0.1, 1e-5);
          if (y.requires_grad()) CHECK(y.autograd_meta()->grad_fn->name == "batch_norm_relu");
          return y;
        };
      };
      const std::string what = shape_str(shape) + (training ? " training" : " eval");
      check_gradients((what + " affine").c_str(), bn(true), {x, w, b});
      check_gradients((what + " plain").c_str(), bn(false), {x});
    }
  }
}

TEST_CASE("batch_norm_relu equals relu(batch_norm(...)): values, gradients, running stats, both dtypes") {
  std::uint64_t seed = 160;
  for (DType dtype : {DType::float32, DType::float64}) {
    for (const Shape& shape : {Shape{17, 6}, Shape{8, 5, 6, 7}, Shape{3, 4, 1, 1}}) {
      for (bool training : {true, false}) {
        for (bool affine : {true, false}) {
          const std::int64_t c = shape[1];
          Generator gen(++seed);
          const TensorOptions opt{.dtype = dtype};
          Tensor x0 = ops::add(randn(shape, opt, &gen), 0.5);
          Tensor w0 = affine ? ops::add(rand({c}, opt, &gen), 0.5) : Tensor();
          Tensor b0 = affine ? randn({c}, opt, &gen) : Tensor();
          Tensor gy = randn(shape, opt, &gen);
          Tensor rm0 = randn({c}, opt, &gen), rv0 = ops::add(rand({c}, opt, &gen), 0.5);
          const Run fused = run(true, x0, w0, b0, rm0, rv0, gy, training);
          const Run plain = run(false, x0, w0, b0, rm0, rv0, gy, training);
          // Same arithmetic in the same order: equal up to compiler contraction choices.
          const double tol = dtype == DType::float32 ? 1e-6 : 1e-12;
          const std::string what = shape_str(shape) + " " + std::string(dtype_name(dtype)) +
                                   (training ? " training" : " eval") + (affine ? " affine" : "");
          check_runs(fused, plain, tol, what);
          std::int64_t zeros = 0;
          for (double v : values(fused.y)) zeros += v == 0.0;
          CHECK_MESSAGE(zeros > 0, what);  // the relu clipped something
        }
      }
    }
  }
}

TEST_CASE("batch_norm_relu: fallback path (parameters of another dtype) and partial requires_grad") {
  const Shape shape{6, 3, 4, 4};
  Tensor x0 = randn64(shape, 180), gy = randn64(shape, 181);
  Tensor w32 = ops::to_dtype(ops::add(ops::abs(randn64({3}, 182)), 0.5), DType::float32);
  Tensor b32 = ops::to_dtype(randn64({3}, 183), DType::float32);
  Tensor rm0 = zeros({3}, {.dtype = DType::float64}), rv0 = ones({3}, {.dtype = DType::float64});
  for (bool training : {true, false}) {
    const Run fused = run(true, x0, w32, b32, rm0, rv0, gy, training);
    const Run plain = run(false, x0, w32, b32, rm0, rv0, gy, training);
    check_runs(fused, plain, 1e-12, training ? "fallback training" : "fallback eval");
  }
  // Only x requires grad: weight and bias get none.
  Tensor x = x0.clone().set_requires_grad(), w = randn64({3}, 184), b = randn64({3}, 185);
  Tensor y = batch_norm_relu(x, w, b, {}, {}, true);
  backward(px::sum(y));
  CHECK(x.grad().defined());
  CHECK_FALSE(w.grad().defined());
  CHECK_FALSE(b.grad().defined());
}
