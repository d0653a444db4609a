// CpuBackend::batch_norm_relu_forward / batch_norm_relu_backward against the composition they
// fuse (batch_norm_forward then relu; gradient masked by y > 0 then batch_norm_backward), and
// Backend's default (composed) implementations against the same oracle.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "proxima/core/backend.h"
#include "reference.h"

namespace {

using px::DType;
using px::Shape;
using px::Tensor;

std::int64_t channels_of(const Shape& shape) { return shape[1]; }

// Tight: the fused kernels do the same arithmetic as the composition; only contraction or
// summation-order choices of the compiler may differ.
double tight(DType dtype) { return dtype == DType::float32 ? 1e-6 : 1e-13; }

// Compares element by element (relative to 1 + |want|); also requires the zero pattern to
// agree wherever the value is not within tolerance of 0.
void check_same(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  INFO(what);
  const std::vector<double> g = ref::values(got), w = ref::values(want);
  REQUIRE(g.size() == w.size());
  for (std::size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(g[i]) || std::abs(g[i] - w[i]) > tol * (1.0 + std::abs(w[i]))) {
      FAIL_CHECK("element " << i << ": got " << g[i] << ", want " << w[i]);
      return;
    }
  }
}

// x with, in eval mode, some values set exactly to their channel's mean (so the pre-activation
// is exactly 0 when there is no bias): the relu's boundary.
Tensor make_input(const Shape& shape, DType dtype, std::uint32_t seed, const Tensor& mean, bool exact_zeros) {
  Tensor x = ref::random_tensor(shape, dtype, seed, -1.0, 3.0);
  if (!exact_zeros) return x;
  std::vector<double> xs = ref::values(x);
  const std::vector<double> m = ref::values(mean);
  const std::int64_t c = channels_of(shape), l = static_cast<std::int64_t>(xs.size()) / (shape[0] * c);
  for (std::size_t i = 0; i < xs.size(); i += 3) xs[i] = m[(static_cast<std::int64_t>(i) / l) % c];
  return px::ops::to_dtype(px::from_vector(xs, shape), dtype);
}

const std::vector<Shape> kShapes = {{7, 5}, {300, 70}, {2, 3}, {3, 4, 5, 7}, {2, 3, 1, 1}, {33, 3, 7, 5}, {16, 8, 9, 9}};

}  // namespace

TEST_CASE("cpu batch_norm_relu_forward equals batch_norm_forward then relu (and the default composition)") {
  px::Backend& cpu = px::cpu_backend();
  std::uint32_t seed = 900;
  for (DType dtype : {DType::float32, DType::float64}) {
    for (const Shape& shape : kShapes) {
      for (bool training : {true, false}) {
        for (bool affine : {true, false}) {
          const std::int64_t c = channels_of(shape);
          const px::TensorOptions opt{.dtype = dtype};
          Tensor run_mean = ref::random_tensor({c}, dtype, ++seed, 0.0, 2.0);
          Tensor run_invstd = ref::random_tensor({c}, dtype, ++seed, 0.5, 2.0);
          Tensor x = make_input(shape, dtype, ++seed, run_mean, !training);
          Tensor w = affine ? ref::random_tensor({c}, dtype, ++seed, 0.5, 2.0) : Tensor();
          Tensor b = affine ? ref::random_tensor({c}, dtype, ++seed) : Tensor();
          auto stats = [&](Tensor& m, Tensor& s) {
            m = training ? px::empty({c}, opt) : run_mean.clone();
            s = training ? px::empty({c}, opt) : run_invstd.clone();
          };
          Tensor m0, s0, m1, s1, m2, s2;
          stats(m0, s0);
          stats(m1, s1);
          stats(m2, s2);
          Tensor pre = px::empty(shape, opt), want = px::empty(shape, opt);
          cpu.batch_norm_forward(x, w, b, m0, s0, pre, 1e-5, training);
          cpu.unary(px::UnaryOp::relu, pre, want);
          Tensor fused = px::empty(shape, opt), composed = px::empty(shape, opt);
          cpu.batch_norm_relu_forward(x, w, b, m1, s1, fused, 1e-5, training);
          cpu.px::Backend::batch_norm_relu_forward(x, w, b, m2, s2, composed, 1e-5, training);
          const std::string what = px::shape_str(shape) + " " + std::string(px::dtype_name(dtype)) +
                                   (training ? " training" : " eval") + (affine ? " affine" : "");
          check_same(fused, want, tight(dtype), what + ": fused y");
          check_same(composed, want, tight(dtype), what + ": default y");
          check_same(m1, m0, tight(dtype), what + ": mean");
          check_same(s1, s0, tight(dtype), what + ": invstd");
          // The relu happened: no negative outputs, and some exact zeros.
          const std::vector<double> ys = ref::values(fused);
          std::int64_t zeros = 0, negatives = 0;
          for (double v : ys) zeros += v == 0.0, negatives += v < 0.0;
          CHECK_MESSAGE(negatives == 0, what);
          if (ys.size() >= 20) CHECK_MESSAGE(zeros > 0, what);
        }
      }
    }
  }
}

TEST_CASE("cpu batch_norm_relu_backward equals the masked gradient through batch_norm_backward") {
  px::Backend& cpu = px::cpu_backend();
  std::uint32_t seed = 1900;
  for (DType dtype : {DType::float32, DType::float64}) {
    for (const Shape& shape : kShapes) {
      for (bool training : {true, false}) {
        for (int wanted = 0; wanted < 4; ++wanted) {  // 0 all, 1 grad_x only, 2 weight+bias only, 3 x+bias
          const std::int64_t c = channels_of(shape);
          const px::TensorOptions opt{.dtype = dtype};
          const bool affine = wanted != 1;
          Tensor x = ref::random_tensor(shape, dtype, ++seed, -1.0, 3.0);
          Tensor w = affine ? ref::random_tensor({c}, dtype, ++seed, 0.5, 2.0) : Tensor();
          Tensor b = affine ? ref::random_tensor({c}, dtype, ++seed) : Tensor();
          Tensor gy = ref::random_tensor(shape, dtype, ++seed);
          Tensor mean = px::empty({c}, opt), invstd = px::empty({c}, opt), y = px::empty(shape, opt);
          cpu.batch_norm_relu_forward(x, w, b, mean, invstd, y, 1e-5, /*training=*/true);
          // The oracle's mask, by a plain loop: gy where y > 0, else 0.
          std::vector<double> g = ref::values(gy);
          const std::vector<double> ys = ref::values(y);
          for (std::size_t i = 0; i < g.size(); ++i) g[i] = ys[i] > 0 ? g[i] : 0.0;
          Tensor masked = px::ops::to_dtype(px::from_vector(g, shape), dtype);
          auto grads = [&](Tensor& gx, Tensor& gw, Tensor& gb) {
            gx = wanted != 2 ? px::empty(shape, opt) : Tensor();
            gw = wanted != 1 && wanted != 3 ? px::empty({c}, opt) : Tensor();
            gb = wanted != 1 ? px::empty({c}, opt) : Tensor();
          };
          Tensor gx0, gw0, gb0, gx1, gw1, gb1, gx2, gw2, gb2;
          grads(gx0, gw0, gb0);
          grads(gx1, gw1, gb1);
          grads(gx2, gw2, gb2);
          cpu.batch_norm_backward(masked, x, w, mean, invstd, gx0, gw0, gb0, training);
          cpu.batch_norm_relu_backward(gy, x, y, w, mean, invstd, gx1, gw1, gb1, training);
          cpu.px::Backend::batch_norm_relu_backward(gy, x, y, w, mean, invstd, gx2, gw2, gb2, training);
          const std::string what = px::shape_str(shape) + " " + std::string(px::dtype_name(dtype)) +
                                   (training ? " training" : " eval") + " wanted " + std::to_string(wanted);
          for (auto [got, name] : {std::pair{gx1, "fused grad_x"}, {gw1, "fused grad_weight"}, {gb1, "fused grad_bias"},
                                   {gx2, "default grad_x"}, {gw2, "default grad_weight"}, {gb2, "default grad_bias"}}) {
            const std::string n = name;
            const Tensor& want = n.ends_with("grad_x") ? gx0 : n.ends_with("grad_weight") ? gw0 : gb0;
            REQUIRE(got.defined() == want.defined());
            if (got.defined()) check_same(got, want, tight(dtype), what + ": " + n);
          }
        }
      }
    }
  }
}
