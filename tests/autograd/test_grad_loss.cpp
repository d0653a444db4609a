// Losses: cross_entropy (with label smoothing), nll_loss, mse_loss against plain loops, and gradient checks.
#include <cmath>

#include "grad_helpers.h"

using namespace px;
using px::test::check_gradients;
using px::test::randn64;
using px::test::Ts;
using px::test::values;

namespace {

// PyTorch's cross-entropy per sample: (1 - eps) * -log p[t] + eps / C * sum_c -log p[c].
std::vector<double> cross_entropy_reference(const std::vector<double>& logits,
                                            const std::vector<std::int64_t>& target, int n, int c, double eps) {
  std::vector<double> loss(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    double m = -INFINITY, z = 0;
    for (int k = 0; k < c; ++k) m = std::max(m, logits[i * c + k]);
    for (int k = 0; k < c; ++k) z += std::exp(logits[i * c + k] - m);
    auto neg_log_p = [&](int k) { return -(logits[i * c + k] - m - std::log(z)); };
    double smooth = 0;
    for (int k = 0; k < c; ++k) smooth += neg_log_p(k);
    loss[i] = (1 - eps) * neg_log_p(static_cast<int>(target[i])) + eps / c * smooth;
  }
  return loss;
}

double total(const std::vector<double>& v) {
  double t = 0;
  for (double x : v) t += x;
  return t;
}

}  // namespace

TEST_CASE("cross_entropy matches PyTorch's formula for every reduction and smoothing") {
  const int n = 6, c = 5;
  Tensor logits = randn64({n, c}, 1) * 2.0;
  const std::vector<std::int64_t> tv = {0, 4, 2, 2, 1, 3};
  Tensor target = from_vector(tv, {n});
  for (double eps : {0.0, 0.1, 1.0}) {
    INFO("label_smoothing ", eps);
    const auto want = cross_entropy_reference(values(logits), tv, n, c, eps);
    const auto none = values(cross_entropy(logits, target, Reduction::none, eps));
    REQUIRE(none.size() == want.size());
    for (int i = 0; i < n; ++i) CHECK(none[i] == doctest::Approx(want[i]).epsilon(1e-12));
    CHECK(cross_entropy(logits, target, Reduction::sum, eps).item() ==
          doctest::Approx(total(want)).epsilon(1e-12));
    CHECK(cross_entropy(logits, target, Reduction::mean, eps).item() ==
          doctest::Approx(total(want) / n).epsilon(1e-12));
  }
}

TEST_CASE("gradcheck: cross_entropy, nll_loss, mse_loss") {
  Tensor logits = randn64({4, 3}, 2);
  Tensor target = from_vector<std::int64_t>({2, 0, 1, 2}, {4});
  for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::none}) {
    check_gradients("cross_entropy", [&](const Ts& t) { return cross_entropy(t[0], target, r); }, {logits});
    check_gradients("cross_entropy smoothing 0.1",
                    [&](const Ts& t) { return cross_entropy(t[0], target, r, 0.1); }, {logits});
    check_gradients("nll_loss", [&](const Ts& t) { return nll_loss(log_softmax(t[0], 1), target, r); }, {logits});
    check_gradients("mse_loss", [&](const Ts& t) { return mse_loss(t[0], t[1], r); },
                    {logits, randn64({4, 3}, 3)});
  }
}

TEST_CASE("nll_loss and mse_loss match plain loops") {
  Tensor lp = randn64({3, 4}, 4), other = randn64({3, 4}, 5);
  const std::vector<std::int64_t> tv = {3, 0, 1};
  const auto lpv = values(lp), ov = values(other);
  double nll = 0, mse = 0;
  for (int i = 0; i < 3; ++i) nll -= lpv[i * 4 + tv[i]];
  for (std::size_t i = 0; i < lpv.size(); ++i) mse += (lpv[i] - ov[i]) * (lpv[i] - ov[i]);
  CHECK(nll_loss(lp, from_vector(tv, {3})).item() == doctest::Approx(nll / 3).epsilon(1e-12));
  CHECK(nll_loss(lp, from_vector(tv, {3}), Reduction::sum).item() == doctest::Approx(nll).epsilon(1e-12));
  CHECK(mse_loss(lp, other).item() == doctest::Approx(mse / 12).epsilon(1e-12));
}

TEST_CASE("loss arguments are validated") {
  Tensor logits = randn64({2, 3}, 6);
  CHECK_THROWS_AS(cross_entropy(logits, from_vector<std::int64_t>({0, 3}, {2})), IndexError);
  CHECK_THROWS_AS(cross_entropy(logits, from_vector<std::int64_t>({0, -1}, {2})), IndexError);
  CHECK_THROWS_AS(cross_entropy(logits, from_vector<std::int64_t>({0, 1, 2}, {3})), ShapeError);
  CHECK_THROWS_AS(cross_entropy(logits, from_vector<double>({0, 1}, {2})), DTypeError);
  CHECK_THROWS_AS(cross_entropy(logits, from_vector<std::int64_t>({0, 1}, {2}), Reduction::mean, 1.5), ValueError);
  CHECK_THROWS_AS(mse_loss(logits, randn64({3, 2}, 7)), ShapeError);
}
