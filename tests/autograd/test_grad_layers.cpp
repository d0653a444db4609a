// Composites: linear, adaptive_avg_pool2d, batch_norm, dropout. Values against plain loops and
// gradient checks.
#include <cmath>

#include "grad_helpers.h"

using namespace px;
using px::test::check_gradients;
using px::test::randn64;
using px::test::Ts;
using px::test::uniform64;
using px::test::values;

TEST_CASE("linear matches a reference loop and passes gradcheck") {
  Tensor x = randn64({3, 4}, 1), w = randn64({2, 4}, 2), b = randn64({2}, 3);
  const auto xv = values(x), wv = values(w), bv = values(b), yv = values(linear(x, w, b));
  for (int n = 0; n < 3; ++n) {
    for (int o = 0; o < 2; ++o) {
      double want = bv[o];
      for (int i = 0; i < 4; ++i) want += xv[n * 4 + i] * wv[o * 4 + i];
      CHECK(yv[n * 2 + o] == doctest::Approx(want).epsilon(1e-12));
    }
  }
  check_gradients("linear", [](const Ts& t) { return linear(t[0], t[1], t[2]); }, {x, w, b});
  check_gradients("linear without bias", [](const Ts& t) { return linear(t[0], t[1]); }, {x, w});
  check_gradients("linear on 3-D input", [](const Ts& t) { return linear(t[0], t[1], t[2]); },
                  {randn64({2, 3, 4}, 4), w, b});
  CHECK_THROWS_AS(linear(x, randn64({2, 5}, 5)), ShapeError);
}

TEST_CASE("adaptive_avg_pool2d(1) averages each plane and rejects other sizes") {
  Tensor x = randn64({2, 3, 4, 5}, 6);
  Tensor y = adaptive_avg_pool2d(x, 1);
  REQUIRE(y.shape() == Shape{2, 3, 1, 1});
  const auto xv = values(x), yv = values(y);
  for (int plane = 0; plane < 6; ++plane) {
    double total = 0;
    for (int i = 0; i < 20; ++i) total += xv[plane * 20 + i];
    CHECK(yv[plane] == doctest::Approx(total / 20).epsilon(1e-12));
  }
  check_gradients("adaptive_avg_pool2d", [](const Ts& t) { return adaptive_avg_pool2d(t[0], 1); }, {x});
  CHECK_THROWS_AS(adaptive_avg_pool2d(x, 2), ValueError);
}

namespace {

// Reference batch norm on x [N, C, S] (S = H*W, 1 for 2-D input): returns y, and updates rm/rv.
std::vector<double> batch_norm_reference(const std::vector<double>& x, int n, int c, int s,
                                         const std::vector<double>& w, const std::vector<double>& b,
                                         std::vector<double>& rm, std::vector<double>& rv, bool training,
                                         double momentum, double eps) {
  std::vector<double> y(x.size());
  for (int ch = 0; ch < c; ++ch) {
    auto at = [&](int i, int k) { return static_cast<std::size_t>((i * c + ch) * s + k); };
    double mu = rm[ch], var = rv[ch];
    if (training) {
      double total = 0, squares = 0;
      for (int i = 0; i < n; ++i)
        for (int k = 0; k < s; ++k) total += x[at(i, k)];
      const double count = static_cast<double>(n * s);
      mu = total / count;
      for (int i = 0; i < n; ++i)
        for (int k = 0; k < s; ++k) squares += (x[at(i, k)] - mu) * (x[at(i, k)] - mu);
      var = squares / count;
      rm[ch] = (1 - momentum) * rm[ch] + momentum * mu;
      rv[ch] = (1 - momentum) * rv[ch] + momentum * squares / (count - 1);
    }
    for (int i = 0; i < n; ++i)
      for (int k = 0; k < s; ++k) y[at(i, k)] = (x[at(i, k)] - mu) / std::sqrt(var + eps) * w[ch] + b[ch];
  }
  return y;
}

void check_values(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("element ", i);
    CHECK(got[i] == doctest::Approx(want[i]).epsilon(tol));
  }
}

}  // namespace

TEST_CASE("batch_norm matches a reference loop in training and eval, 2-D and 4-D") {
  for (bool four_d : {false, true}) {
    for (bool training : {true, false}) {
      const Shape shape = four_d ? Shape{3, 2, 2, 3} : Shape{5, 3};
      const int n = static_cast<int>(shape[0]), c = static_cast<int>(shape[1]), s = four_d ? 6 : 1;
      Tensor x = randn64(shape, 7), w = randn64({c}, 8), b = randn64({c}, 9);
      Tensor rm = randn64({c}, 10), rv = uniform64({c}, 0.5, 2.0, 11);
      std::vector<double> rm_ref = values(rm), rv_ref = values(rv);
      const auto want =
          batch_norm_reference(values(x), n, c, s, values(w), values(b), rm_ref, rv_ref, training, 0.2, 1e-5);
      Tensor y = batch_norm(x, w, b, rm, rv, training, 0.2, 1e-5);
      INFO((four_d ? "4-D" : "2-D"), (training ? " training" : " eval"));
      check_values(values(y), want, 1e-10);
      check_values(values(rm), rm_ref, 1e-12);
      check_values(values(rv), rv_ref, 1e-12);
      CHECK_FALSE(rm.requires_grad());
    }
  }
}

TEST_CASE("gradcheck: batch_norm training and eval") {
  Tensor x4 = randn64({3, 2, 2, 3}, 12), x2 = randn64({5, 3}, 13);
  Tensor w2 = randn64({2}, 14), b2 = randn64({2}, 15), w3 = randn64({3}, 16), b3 = randn64({3}, 17);
  // Fresh running stats per call, so every evaluation sees the same state.
  auto bn = [](bool training) {
    return [training](const Ts& t) {
      const std::int64_t c = t[0].size(1);
      Tensor rm = zeros({c}, {.dtype = DType::float64}), rv = full({c}, 1.5, {.dtype = DType::float64});
      return batch_norm(t[0], t[1], t[2], rm, rv, training, 0.1, 1e-5);
    };
  };
  check_gradients("4-D training", bn(true), {x4, w2, b2});
  check_gradients("2-D training", bn(true), {x2, w3, b3});
  check_gradients("4-D eval", bn(false), {x4, w2, b2});
  check_gradients("2-D eval", bn(false), {x2, w3, b3});
  check_gradients("4-D training without affine",
                  [](const Ts& t) { return batch_norm(t[0], {}, {}, {}, {}, true); }, {x4});
  CHECK_THROWS_AS(batch_norm(x4, {}, {}, {}, {}, false), ValueError);
  CHECK_THROWS_AS(batch_norm(x4, w3, {}, {}, {}, true), ShapeError);
  CHECK_THROWS_AS(batch_norm(randn64({1, 3}, 18), {}, {}, {}, {}, true), ValueError);
}

TEST_CASE("dropout zeroes about p of the elements and scales the rest by 1/(1-p)") {
  Tensor x = uniform64({100, 100}, 1.0, 2.0, 19);
  Generator gen(20);
  const double p = 0.3;
  const auto xv = values(x), yv = values(dropout(x, p, true, &gen));
  int dropped = 0;
  for (std::size_t i = 0; i < xv.size(); ++i) {
    if (yv[i] == 0.0) {
      ++dropped;
    } else {
      CHECK(yv[i] == doctest::Approx(xv[i] / (1 - p)).epsilon(1e-12));
    }
  }
  CHECK(std::abs(dropped / 10000.0 - p) < 0.03);
  CHECK(values(dropout(x, p, false)) == xv);
  CHECK(values(dropout(x, 0.0, true)) == xv);
  CHECK_THROWS_AS(dropout(x, 1.0, true), ValueError);
  CHECK_THROWS_AS(dropout(x, -0.1, true), ValueError);
  check_gradients("dropout (fixed generator)",
                  [](const Ts& t) {
                    Generator g(21);
                    return dropout(t[0], 0.4, true, &g);
                  },
                  {randn64({4, 5}, 22)});
}
