// Gradient checks of elementwise functions: binary with broadcasting, scalars, operators, unary, clamp, where.
#include <algorithm>
#include <cmath>

#include "grad_helpers.h"

using namespace px;
using px::test::check_gradients;
using px::test::randn64;
using px::test::Ts;
using px::test::uniform64;
using px::test::values;

TEST_CASE("gradcheck: binary ops with equal, broadcast and non-contiguous shapes") {
  Tensor a = randn64({2, 3}, 1), b = randn64({2, 3}, 2);
  Tensor row = randn64({3}, 3), col = randn64({2, 1}, 4);
  Tensor positive = uniform64({2, 3}, 0.5, 2.0, 5);
  check_gradients("add", [](const Ts& t) { return add(t[0], t[1]); }, {a, b});
  check_gradients("sub", [](const Ts& t) { return sub(t[0], t[1]); }, {a, b});
  check_gradients("mul", [](const Ts& t) { return mul(t[0], t[1]); }, {a, b});
  check_gradients("div", [](const Ts& t) { return div(t[0], t[1]); }, {a, positive});
  check_gradients("add broadcast row", [](const Ts& t) { return add(t[0], t[1]); }, {a, row});
  check_gradients("sub broadcast col", [](const Ts& t) { return sub(t[1], t[0]); }, {a, col});
  check_gradients("mul row x col (outer broadcast)", [](const Ts& t) { return mul(t[0], t[1]); }, {row, col});
  check_gradients("div by broadcast col", [](const Ts& t) { return div(t[0], t[1]); },
                  {a, uniform64({2, 1}, 1, 2, 6)});
  Tensor c = randn64({3, 2}, 7);
  check_gradients("mul with a transposed input", [](const Ts& t) { return mul(t[0], transpose(t[1], 0, 1)); },
                  {a, c});
  check_gradients("broadcast 3-D against 2-D", [](const Ts& t) { return mul(t[0], t[1]); },
                  {randn64({4, 1, 3}, 8), randn64({2, 3}, 9)});
}

TEST_CASE("gradcheck: scalar overloads and operators") {
  Tensor a = randn64({2, 3}, 10), b = randn64({2, 3}, 11);
  Tensor positive = uniform64({2, 3}, 0.5, 2.0, 12);
  check_gradients("tensor + scalar", [](const Ts& t) { return add(t[0], 1.5); }, {a});
  check_gradients("tensor - scalar", [](const Ts& t) { return sub(t[0], 1.5); }, {a});
  check_gradients("scalar - tensor", [](const Ts& t) { return sub(1.5, t[0]); }, {a});
  check_gradients("tensor * scalar", [](const Ts& t) { return mul(t[0], -2.5); }, {a});
  check_gradients("tensor / scalar", [](const Ts& t) { return div(t[0], 4.0); }, {a});
  check_gradients("scalar / tensor", [](const Ts& t) { return div(3.0, t[0]); }, {positive});
  check_gradients("operators", [](const Ts& t) { return (t[0] + t[1]) * t[0] - t[1] / t[2] + 2.0 * t[0] - 1.0; },
                  {a, b, positive});
  check_gradients("scalar operators",
                  [](const Ts& t) { return 1.0 + t[0] * 3.0 - 2.0 / t[1] + t[0] / 2.0 - -t[0]; }, {a, positive});
}

TEST_CASE("gradcheck: unary functions") {
  Tensor x = randn64({3, 4}, 13);
  Tensor positive = uniform64({3, 4}, 0.3, 3.0, 14);
  check_gradients("neg", [](const Ts& t) { return neg(t[0]); }, {x});
  check_gradients("abs", [](const Ts& t) { return abs(t[0]); }, {x});
  check_gradients("exp", [](const Ts& t) { return exp(t[0]); }, {x});
  check_gradients("log", [](const Ts& t) { return log(t[0]); }, {positive});
  check_gradients("sqrt", [](const Ts& t) { return sqrt(t[0]); }, {positive});
  check_gradients("rsqrt", [](const Ts& t) { return rsqrt(t[0]); }, {positive});
  check_gradients("relu", [](const Ts& t) { return relu(t[0]); }, {x});
  check_gradients("sigmoid", [](const Ts& t) { return sigmoid(t[0]); }, {x});
  check_gradients("tanh", [](const Ts& t) { return tanh(t[0]); }, {x});
  check_gradients("exp of a permuted input", [](const Ts& t) { return exp(transpose(t[0], 0, 1)); }, {x});
}

TEST_CASE("gradcheck: pow with scalar and tensor exponents") {
  Tensor x = randn64({2, 3}, 15);
  Tensor positive = uniform64({2, 3}, 0.5, 2.0, 16);
  check_gradients("pow(x, 2)", [](const Ts& t) { return pow(t[0], 2.0); }, {x});
  check_gradients("pow(x, 3)", [](const Ts& t) { return pow(t[0], 3.0); }, {x});
  check_gradients("pow(x, -1.5)", [](const Ts& t) { return pow(t[0], -1.5); }, {positive});
  check_gradients("pow(x, 0)", [](const Ts& t) { return pow(t[0], 0.0) * t[0]; }, {x});
  check_gradients("pow(x, e)", [](const Ts& t) { return pow(t[0], t[1]); }, {positive, x});
  check_gradients("pow(x, e) broadcast exponent", [](const Ts& t) { return pow(t[0], t[1]); },
                  {positive, randn64({3}, 17)});
}

TEST_CASE("gradcheck: clamp, minimum, maximum, where") {
  Tensor x = randn64({4, 5}, 18), y = randn64({4, 5}, 19);
  check_gradients("clamp both", [](const Ts& t) { return clamp(t[0], -0.5, 0.7); }, {x});
  check_gradients("clamp lo", [](const Ts& t) { return clamp(t[0], 0.1, std::nullopt); }, {x});
  check_gradients("clamp hi", [](const Ts& t) { return clamp(t[0], std::nullopt, -0.2); }, {x});
  check_gradients("minimum", [](const Ts& t) { return minimum(t[0], t[1]); }, {x, y});
  check_gradients("maximum", [](const Ts& t) { return maximum(t[0], t[1]); }, {x, y});
  check_gradients("maximum broadcast", [](const Ts& t) { return maximum(t[0], t[1]); }, {x, randn64({5}, 20)});
  Tensor cond = gt(randn64({4, 5}, 21), 0.0);
  check_gradients("where", [cond](const Ts& t) { return where(cond, t[0], t[1]); }, {x, y});
  check_gradients("where broadcast", [cond](const Ts& t) { return where(cond, t[0], t[1]); },
                  {randn64({5}, 22), y});
}

TEST_CASE("minimum and maximum split the gradient evenly on ties") {
  Tensor a = from_vector<double>({1, 2, 3}, {3}).set_requires_grad(true);
  Tensor b = from_vector<double>({1, 5, 0}, {3}).set_requires_grad(true);
  backward(sum(maximum(a, b)));
  CHECK(values(a.grad()) == std::vector<double>{0.5, 0, 1});
  CHECK(values(b.grad()) == std::vector<double>{0.5, 1, 0});
  a.zero_grad();
  b.zero_grad();
  backward(sum(minimum(a, b)));
  CHECK(values(a.grad()) == std::vector<double>{0.5, 1, 0});
  CHECK(values(b.grad()) == std::vector<double>{0.5, 0, 1});
}

TEST_CASE("passthroughs compute without recording") {
  Tensor x = randn64({3, 4}, 23).set_requires_grad(true);
  Tensor y = randn64({3, 4}, 24);
  const auto xv = values(x), yv = values(y);
  const auto lt_v = values(lt(x, y)), ge_v = values(ge(x, 0.0));
  for (std::size_t i = 0; i < xv.size(); ++i) {
    CHECK(lt_v[i] == (xv[i] < yv[i] ? 1.0 : 0.0));
    CHECK(ge_v[i] == (xv[i] >= 0.0 ? 1.0 : 0.0));
  }
  CHECK(count_nonzero(gt(x, 0.0)).item() ==
        static_cast<double>(std::count_if(xv.begin(), xv.end(), [](double v) { return v > 0; })));
}
