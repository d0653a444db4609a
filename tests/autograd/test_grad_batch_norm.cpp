// The fused batch_norm op: float64 gradchecks, one recorded node, and agreement (values,
// gradients, running statistics) with the same normalisation composed from differentiable ops.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "grad_helpers.h"

using namespace px;
using namespace px::test;

namespace {

// The oracle: batch norm written with mean/var/sub/mul/rsqrt (each with its own gradient rule).
Tensor composed_batch_norm(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& rm, const Tensor& rv,
                           bool training, double eps) {
  const std::int64_t c = x.size(1);
  const Shape per_channel = x.dim() == 2 ? Shape{1, c} : Shape{1, c, 1, 1};
  const std::vector<std::int64_t> dims = x.dim() == 2 ? std::vector<std::int64_t>{0} : std::vector<std::int64_t>{0, 2, 3};
  Tensor mu = training ? mean(x, dims, true) : reshape(rm, per_channel);
  Tensor sigma2 = training ? var(x, dims, 0, true) : reshape(rv, per_channel);
  Tensor y = mul(sub(x, mu), rsqrt(add(sigma2, eps)));
  if (w.defined()) y = mul(y, reshape(w, per_channel));
  if (b.defined()) y = add(y, reshape(b, per_channel));
  return y;
}

}  // namespace

TEST_CASE("gradcheck: fused batch_norm, 2-D and 4-D, training and eval, affine or not") {
  for (const Shape& shape : {Shape{6, 3}, Shape{3, 2, 3, 2}, Shape{2, 3, 1, 1}}) {
    const std::int64_t c = shape[1];
    Tensor x = randn64(shape, 40), w = randn64({c}, 41), b = randn64({c}, 42);
    for (bool training : {true, false}) {
      auto bn = [training](bool affine) {
        return [training, affine](const Ts& t) {
          const std::int64_t ch = t[0].size(1);
          Tensor rm = full({ch}, 0.3, {.dtype = DType::float64}), rv = full({ch}, 1.7, {.dtype = DType::float64});
          return batch_norm(t[0], affine ? t[1] : Tensor(), affine ? t[2] : Tensor(), rm, rv, training, 0.1, 1e-5);
        };
      };
      const std::string what = shape_str(shape) + (training ? " training" : " eval");
      check_gradients((what + " affine").c_str(), bn(true), {x, w, b});
      check_gradients((what + " plain").c_str(), bn(false), {x});
    }
  }
}

TEST_CASE("fused batch_norm is one recorded node and agrees with the composed ops (float32 and float64)") {
  std::uint64_t seed = 60;
  for (DType dtype : {DType::float32, DType::float64}) {
    for (const Shape& shape : {Shape{17, 6}, Shape{8, 5, 6, 7}}) {
      for (bool training : {true, false}) {
        const std::int64_t c = shape[1];
        Generator gen(++seed);
        const TensorOptions opt{.dtype = dtype};
        Tensor x0 = ops::add(ops::mul(randn(shape, opt, &gen), 2.0), 1.5);
        Tensor w0 = rand({c}, opt, &gen), b0 = randn({c}, opt, &gen), gy = randn(shape, opt, &gen);
        Tensor rm0 = randn({c}, opt, &gen), rv0 = ops::add(rand({c}, opt, &gen), 0.5);
        auto run = [&](bool fused, Tensor& gx, Tensor& gw, Tensor& gb, Tensor& rm, Tensor& rv) {
          Tensor x = x0.clone().set_requires_grad(), w = w0.clone().set_requires_grad();
          Tensor b = b0.clone().set_requires_grad();
          rm = rm0.clone();
          rv = rv0.clone();
          Tensor y = fused ? batch_norm(x, w, b, rm, rv, training, 0.2, 1e-5)
                           : composed_batch_norm(x, w, b, rm, rv, training, 1e-5);
          if (fused) CHECK(y.autograd_meta()->grad_fn->name == "batch_norm");
          backward(y, gy);
          gx = x.grad();
          gw = w.grad();
          gb = b.grad();
          return y;
        };
        Tensor gx1, gw1, gb1, rm1, rv1, gx2, gw2, gb2, rm2, rv2;
        Tensor y1 = run(true, gx1, gw1, gb1, rm1, rv1);
        Tensor y2 = run(false, gx2, gw2, gb2, rm2, rv2);
        if (training) {  // the composed oracle does not update running statistics: do it here
          const std::vector<std::int64_t> dims = shape.size() == 2 ? std::vector<std::int64_t>{0}
                                                                    : std::vector<std::int64_t>{0, 2, 3};
          rm2 = ops::add(ops::mul(rm0, 0.8), ops::mul(ops::mean(x0, dims), 0.2));
          rv2 = ops::add(ops::mul(rv0, 0.8), ops::mul(ops::var(x0, dims, 1), 0.2));
        }
        // float32: both sides round at several steps; sums over up to 8*6*7 = 336 values.
        const double tol = dtype == DType::float32 ? 1e-4 : 1e-10;
        const std::string what = shape_str(shape) + " " + std::string(dtype_name(dtype)) + (training ? " training" : " eval");
        check_close(y1, y2, tol, what + ": y");
        check_close(gx1, gx2, tol, what + ": grad_x");
        check_close(gw1, gw2, tol, what + ": grad_weight");
        check_close(gb1, gb2, tol, what + ": grad_bias");
        check_close(rm1, rm2, tol, what + ": running_mean");
        check_close(rv1, rv2, tol, what + ": running_var");
      }
    }
  }
}

TEST_CASE("fused batch_norm: only the inputs that require grad get one, non-contiguous x") {
  Tensor x = randn64({4, 3, 2, 5}, 70), w = randn64({3}, 71), b = randn64({3}, 72);
  x.set_requires_grad();
  Tensor y = batch_norm(x, w, b, {}, {}, true);
  backward(px::sum(y));
  CHECK(x.grad().defined());
  CHECK_FALSE(w.grad().defined());
  // A permuted (non-contiguous) input gives the same result as its contiguous copy.
  Tensor base = randn64({5, 2, 3, 4}, 73);
  Tensor nc = ops::permute(ops::contiguous(ops::permute(base, {1, 0, 2, 3})), {1, 0, 2, 3});
  REQUIRE_FALSE(nc.is_contiguous());
  check_close(batch_norm(nc, {}, {}, {}, {}, true), batch_norm(base, {}, {}, {}, {}, true), 1e-12, "non-contiguous");
}
