// CpuBackend::batch_norm_forward / batch_norm_backward against plain double loops: training and
// eval, with and without weight/bias, [N, C] and [N, C, H, W], float32 and float64.
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

struct Dims {
  std::int64_t n, c, l;
};

Dims dims_of(const Shape& shape) {
  std::int64_t l = 1;
  for (std::size_t k = 2; k < shape.size(); ++k) l *= shape[k];
  return {shape[0], shape[1], l};
}

std::size_t at(const Dims& d, std::int64_t i, std::int64_t c, std::int64_t k) {
  return static_cast<std::size_t>((i * d.c + c) * d.l + k);
}

// Batch mean and 1 / sqrt(biased var + eps) per channel, two passes in double.
void reference_stats(const std::vector<double>& x, const Dims& d, double eps, std::vector<double>& mean,
                     std::vector<double>& invstd) {
  mean.assign(d.c, 0.0);
  invstd.assign(d.c, 0.0);
  const double count = static_cast<double>(d.n * d.l);
  for (std::int64_t c = 0; c < d.c; ++c) {
    double sum = 0, dev2 = 0;
    for (std::int64_t i = 0; i < d.n; ++i)
      for (std::int64_t k = 0; k < d.l; ++k) sum += x[at(d, i, c, k)];
    mean[c] = sum / count;
    for (std::int64_t i = 0; i < d.n; ++i)
      for (std::int64_t k = 0; k < d.l; ++k) dev2 += (x[at(d, i, c, k)] - mean[c]) * (x[at(d, i, c, k)] - mean[c]);
    invstd[c] = 1.0 / std::sqrt(dev2 / count + eps);
  }
}

void check_near(const std::vector<double>& got, const std::vector<double>& want, double tol, const std::string& what) {
  INFO(what);
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::abs(got[i] - want[i]) > tol * (1.0 + std::abs(want[i]))) {
      FAIL_CHECK("element " << i << ": got " << got[i] << ", want " << want[i]);
      return;
    }
  }
}

Tensor from_doubles(const std::vector<double>& v, const Shape& shape, DType dtype) {
  return px::ops::to_dtype(px::from_vector(v, shape), dtype);
}

// float32 results are rounded to float at a few steps: relative 1e-5 of O(1) values; float64
// results differ from the reference loops only by summation order.
double tolerance(DType dtype) { return dtype == DType::float32 ? 2e-5 : 1e-11; }

const std::vector<Shape> kShapes = {{7, 5}, {300, 70}, {2, 3}, {3, 4, 5, 7}, {2, 3, 1, 1}, {33, 3, 7, 5}, {16, 8, 9, 9}};

}  // namespace

TEST_CASE("cpu batch_norm_forward matches plain loops (training and eval, affine or not, both dtypes)") {
  px::Backend& cpu = px::cpu_backend();
  std::uint32_t seed = 100;
  for (DType dtype : {DType::float32, DType::float64}) {
    for (const Shape& shape : kShapes) {
      for (bool training : {true, false}) {
        for (bool affine : {true, false}) {
          const Dims d = dims_of(shape);
          // Values centred away from 0, so the mean matters for the variance's accuracy.
          Tensor x = ref::random_tensor(shape, dtype, ++seed, 3.0, 7.0);
          Tensor w = affine ? ref::random_tensor({d.c}, dtype, ++seed, 0.5, 2.0) : Tensor();
          Tensor b = affine ? ref::random_tensor({d.c}, dtype, ++seed) : Tensor();
          std::vector<double> xs = ref::values(x), mean, invstd;
          if (training) {
            reference_stats(xs, d, 1e-5, mean, invstd);
          } else {  // arbitrary running statistics
            mean = ref::values(ref::random_tensor({d.c}, DType::float64, ++seed, 3.0, 7.0));
            invstd = ref::values(ref::random_tensor({d.c}, DType::float64, ++seed, 0.5, 2.0));
          }
          Tensor mean_t = training ? px::empty({d.c}, {.dtype = dtype}) : from_doubles(mean, {d.c}, dtype);
          Tensor invstd_t = training ? px::empty({d.c}, {.dtype = dtype}) : from_doubles(invstd, {d.c}, dtype);
          Tensor y = px::empty(shape, {.dtype = dtype});
          cpu.batch_norm_forward(x, w, b, mean_t, invstd_t, y, 1e-5, training);
          // The reference normalises with the statistics as stored (rounded to dtype).
          const std::vector<double> m = ref::values(mean_t), s = ref::values(invstd_t);
          std::vector<double> want(xs.size());
          const std::vector<double> ws = affine ? ref::values(w) : std::vector<double>(d.c, 1.0);
          const std::vector<double> bs = affine ? ref::values(b) : std::vector<double>(d.c, 0.0);
          for (std::int64_t i = 0; i < d.n; ++i)
            for (std::int64_t c = 0; c < d.c; ++c)
              for (std::int64_t k = 0; k < d.l; ++k)
                want[at(d, i, c, k)] = (xs[at(d, i, c, k)] - m[c]) * s[c] * ws[c] + bs[c];
          const std::string what = px::shape_str(shape) + " " + std::string(px::dtype_name(dtype)) +
                                   (training ? " training" : " eval") + (affine ? " affine" : "");
          if (training) {
            check_near(m, mean, tolerance(dtype), what + ": mean");
            check_near(s, invstd, tolerance(dtype), what + ": invstd");
          }
          // (x - mean) * invstd is O(1): the absolute error of y is the relative tolerance.
          check_near(ref::values(y), want, tolerance(dtype), what + ": y");
        }
      }
    }
  }
}

TEST_CASE("cpu batch_norm_backward matches plain loops (training and eval, each gradient optional)") {
  px::Backend& cpu = px::cpu_backend();
  std::uint32_t seed = 500;
  for (DType dtype : {DType::float32, DType::float64}) {
    for (const Shape& shape : kShapes) {
      for (bool training : {true, false}) {
        for (int wanted = 0; wanted < 3; ++wanted) {  // 0: all, 1: grad_x only, 2: weight and bias only
          const Dims d = dims_of(shape);
          const bool affine = wanted != 1;
          Tensor x = ref::random_tensor(shape, dtype, ++seed, -1.0, 3.0);
          Tensor gy = ref::random_tensor(shape, dtype, ++seed);
          Tensor w = affine ? ref::random_tensor({d.c}, dtype, ++seed, 0.5, 2.0) : Tensor();
          std::vector<double> xs = ref::values(x), g = ref::values(gy), mean, invstd;
          reference_stats(xs, d, 1e-5, mean, invstd);
          Tensor mean_t = from_doubles(mean, {d.c}, dtype), invstd_t = from_doubles(invstd, {d.c}, dtype);
          const std::vector<double> m = ref::values(mean_t), s = ref::values(invstd_t);
          const std::vector<double> ws = affine ? ref::values(w) : std::vector<double>(d.c, 1.0);
          Tensor gx = wanted != 2 ? px::empty(shape, {.dtype = dtype}) : Tensor();
          Tensor gw = wanted != 1 ? px::empty({d.c}, {.dtype = dtype}) : Tensor();
          Tensor gb = wanted != 1 ? px::empty({d.c}, {.dtype = dtype}) : Tensor();
          cpu.batch_norm_backward(gy, x, w, mean_t, invstd_t, gx, gw, gb, training);

          std::vector<double> want_gw(d.c, 0.0), want_gb(d.c, 0.0), want_gx(xs.size());
          const double count = static_cast<double>(d.n * d.l);
          for (std::int64_t c = 0; c < d.c; ++c) {
            for (std::int64_t i = 0; i < d.n; ++i)
              for (std::int64_t k = 0; k < d.l; ++k) {
                want_gb[c] += g[at(d, i, c, k)];
                want_gw[c] += g[at(d, i, c, k)] * (xs[at(d, i, c, k)] - m[c]) * s[c];
              }
            for (std::int64_t i = 0; i < d.n; ++i)
              for (std::int64_t k = 0; k < d.l; ++k) {
                const double xhat = (xs[at(d, i, c, k)] - m[c]) * s[c];
                const double centred = training ? (want_gb[c] + xhat * want_gw[c]) / count : 0.0;
                want_gx[at(d, i, c, k)] = ws[c] * s[c] * (g[at(d, i, c, k)] - centred);
              }
          }
          const std::string what = px::shape_str(shape) + " " + std::string(px::dtype_name(dtype)) +
                                   (training ? " training" : " eval") + " wanted " + std::to_string(wanted);
          // Sums of count O(1) terms: relative error grows with sqrt(count) at worst.
          const double sum_tol = tolerance(dtype) * std::sqrt(count);
          if (gx.defined()) check_near(ref::values(gx), want_gx, tolerance(dtype) * 4, what + ": grad_x");
          if (gw.defined()) check_near(ref::values(gw), want_gw, sum_tol, what + ": grad_weight");
          if (gb.defined()) check_near(ref::values(gb), want_gb, sum_tol, what + ": grad_bias");
        }
      }
    }
  }
}
