// Tape semantics: accumulation, zero_grad, retain_graph, errors, no-grad mode, shared inputs, lifetime.
#include <cmath>
#include <string>

#include "grad_helpers.h"

using namespace px;
using px::test::randn64;
using px::test::values;

namespace {

Tensor leaf(const Shape& shape, std::uint64_t seed) { return randn64(shape, seed).set_requires_grad(true); }

// Runs fn and returns the message of the AutogradError it throws ("" when it does not throw).
template <class Fn>
std::string autograd_error_of(Fn fn) {
  try {
    fn();
  } catch (const AutogradError& e) {
    return e.what();
  }
  return "";
}

void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol = 1e-12) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("element ", i);
    CHECK(std::abs(got[i] - want[i]) <= tol * (1.0 + std::abs(want[i])));
  }
}

}  // namespace

TEST_CASE("gradients accumulate across backward calls until zero_grad") {
  Tensor x = leaf({5}, 1);
  const std::vector<double> xv = values(x);
  std::vector<double> twice(5), four(5);
  for (std::size_t i = 0; i < 5; ++i) {
    twice[i] = 2 * xv[i];
    four[i] = 4 * xv[i];
  }
  backward(sum(x * x));
  check_close(values(x.grad()), twice);
  backward(sum(x * x));
  check_close(values(x.grad()), four);
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
  backward(sum(x * x));
  check_close(values(x.grad()), twice);
}

TEST_CASE("a held reference to .grad() sees later accumulation (in-place +=)") {
  Tensor x = leaf({3}, 2);
  backward(sum(x * 3.0));
  Tensor held = x.grad();
  backward(sum(x * 2.0));
  check_close(values(held), {5, 5, 5});
}

TEST_CASE("retain_graph allows a second backward, and without it the graph is freed") {
  Tensor x = leaf({4}, 3);
  Tensor y = sum(exp(x));
  backward(y, {}, /*retain_graph=*/true);
  backward(y);
  std::vector<double> want;
  for (double v : values(x)) want.push_back(2 * std::exp(v));
  check_close(values(x.grad()), want);
  const std::string message = autograd_error_of([&] { backward(y); });
  CHECK(message.find("freed") != std::string::npos);
  CHECK(message.find("retain_graph") != std::string::npos);
  check_close(values(x.grad()), want);  // the failed call added nothing
}

TEST_CASE("a second backward through a freed graph throws AutogradError") {
  Tensor x = leaf({2, 3}, 4);
  Tensor h = tanh(x);
  Tensor a = sum(h);
  Tensor b = sum(h * 2.0);
  backward(a);  // frees tanh's node, which b also goes through
  CHECK(autograd_error_of([&] { backward(b); }).find("graph was freed") != std::string::npos);
}

TEST_CASE("backward on a non-scalar needs a seed of the root's shape") {
  Tensor x = leaf({2, 3}, 5);
  Tensor y = x * 2.0;
  CHECK(autograd_error_of([&] { backward(y); }).find("seed") != std::string::npos);
  CHECK(autograd_error_of([&] {
          backward(y, ones({3, 2}, {.dtype = DType::float64}));
        }).find("[3, 2]") != std::string::npos);
  Tensor seed = randn64({2, 3}, 6);
  backward(y, seed);
  std::vector<double> want;
  for (double v : values(seed)) want.push_back(2 * v);
  check_close(values(x.grad()), want);
}

TEST_CASE("backward on a root that does not require grad throws") {
  Tensor x = randn64({3}, 7);
  CHECK(autograd_error_of([&] { backward(sum(x)); }).find("does not require grad") != std::string::npos);
  Tensor undefined;
  CHECK_THROWS_AS(backward(undefined), AutogradError);
}

TEST_CASE("backward from a leaf adds the seed to its gradient") {
  Tensor x = leaf({3}, 8);
  Tensor seed = randn64({3}, 9);
  backward(x, seed);
  check_close(values(x.grad()), values(seed));
}

TEST_CASE("NoGradGuard records nothing and restores the previous mode") {
  Tensor x = leaf({3}, 10);
  CHECK(is_grad_enabled());
  const auto nodes_before = autograd::live_node_count();
  {
    NoGradGuard outer;
    CHECK_FALSE(is_grad_enabled());
    Tensor y = exp(x) * 2.0 + x;
    CHECK_FALSE(y.requires_grad());
    CHECK(y.is_leaf());
    CHECK(autograd::live_node_count() == nodes_before);
    {
      NoGradGuard inner;
      CHECK_FALSE(is_grad_enabled());
    }
    CHECK_FALSE(is_grad_enabled());
  }
  CHECK(is_grad_enabled());
  CHECK(exp(x).requires_grad());
}

TEST_CASE("diamond: one tensor feeding two ops receives the sum of both paths") {
  Tensor x = leaf({4}, 11);
  Tensor a = x * 2.0;  // shared intermediate
  Tensor y = sum(a * 3.0 + exp(a));
  backward(y);
  std::vector<double> want;
  for (double v : values(x)) want.push_back(2.0 * (3.0 + std::exp(2.0 * v)));
  check_close(values(x.grad()), want);
}

TEST_CASE("a tensor used twice in one op gets both contributions") {
  Tensor x = leaf({3}, 12);
  backward(sum(x * x));
  std::vector<double> want;
  for (double v : values(x)) want.push_back(2 * v);
  check_close(values(x.grad()), want);
  x.zero_grad();
  backward(sum(add(x, x)));
  check_close(values(x.grad()), {2, 2, 2});
  x.zero_grad();
  Tensor h = exp(x);  // a non-leaf used twice
  backward(sum(h * h));
  want.clear();
  for (double v : values(x)) want.push_back(2 * std::exp(2 * v));
  check_close(values(x.grad()), want);
}

TEST_CASE("broadcast inputs receive gradients of their own shape and dtype") {
  Tensor a = leaf({3, 1}, 13);
  Tensor b = ops::to_dtype(randn64({1, 4}, 14), DType::float32).set_requires_grad(true);
  backward(sum(a * b));
  CHECK(a.grad().shape() == Shape{3, 1});
  CHECK(b.grad().shape() == Shape{1, 4});
  CHECK(b.grad().dtype() == DType::float32);
  const auto av = values(a), bv = values(b);
  double a_total = 0, b_total = 0;
  for (double v : av) a_total += v;
  for (double v : bv) b_total += v;
  for (double g : values(a.grad())) CHECK(g == doctest::Approx(b_total).epsilon(1e-6));
  for (double g : values(b.grad())) CHECK(g == doctest::Approx(a_total).epsilon(1e-6));
}

TEST_CASE("inputs that do not require grad get no gradient, and int outputs never require grad") {
  Tensor x = leaf({2, 3}, 15);
  Tensor c = randn64({2, 3}, 16);
  backward(sum(x * c));
  CHECK_FALSE(c.grad().defined());
  CHECK_FALSE(argmax(x, 1).requires_grad());
  CHECK_FALSE(gt(x, 0.0).requires_grad());
  CHECK_FALSE(sign(x).requires_grad());
  Tensor ints = arange(4);
  CHECK_THROWS_AS(ints.set_requires_grad(true), Error);
  CHECK_THROWS_AS(exp(x).set_requires_grad(false), AutogradError);
}

TEST_CASE("an op returning its input unchanged still records a node (no self-cycle)") {
  Tensor x = leaf({2, 2}, 17);
  Tensor y = contiguous(x);  // x is already contiguous
  CHECK_FALSE(y.is_same(x));
  CHECK_FALSE(y.is_leaf());
  CHECK(x.is_leaf());
  backward(sum(y * 3.0));
  check_close(values(x.grad()), {3, 3, 3, 3});
}

TEST_CASE("graphs are freed when their tensors die, even very deep ones, and backward does not recurse") {
  const auto nodes_before = autograd::live_node_count();
  {
    Tensor x = leaf({1}, 18);
    Tensor y = x;
    constexpr int depth = 100000;
    for (int i = 0; i < depth; ++i) y = y * 1.0;
    CHECK(autograd::live_node_count() - nodes_before == depth);
    backward(sum(y));
    check_close(values(x.grad()), {1.0});
  }
  CHECK(autograd::live_node_count() == nodes_before);
}

TEST_CASE("a multi-output node gets zeros for the outputs that received no gradient") {
  Tensor x = leaf({3}, 19);
  autograd::TensorList outs = autograd::record(
      "twice_and_thrice", {x}, {ops::mul(x, 2.0), ops::mul(x, 3.0)},
      [](const autograd::TensorList& grads, const autograd::Needs&) -> autograd::TensorList {
        REQUIRE(grads.size() == 2);
        REQUIRE(grads[1].defined());  // filled with zeros by the engine
        return {ops::add(ops::mul(grads[0], 2.0), ops::mul(grads[1], 3.0))};
      });
  REQUIRE(outs.size() == 2);
  CHECK(outs[1].autograd_meta()->output_index == 1);
  CHECK(outs[0].autograd_meta()->grad_fn == outs[1].autograd_meta()->grad_fn);
  backward(sum(outs[1] * 5.0));
  check_close(values(x.grad()), {15, 15, 15});
  CHECK(outs[0].autograd_meta()->grad_fn->released);
  CHECK_FALSE(outs[0].autograd_meta()->grad_fn->backward);  // saved state freed
}
