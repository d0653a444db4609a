// Gradient checks of data movement, views and shape ops (float64, central differences).
#include "grad_helpers.h"

using namespace px;
using px::test::check_gradients;
using px::test::randn64;
using px::test::Ts;
using px::test::values;

TEST_CASE("gradcheck: view, reshape, flatten, squeeze, unsqueeze") {
  Tensor x = randn64({2, 3, 4}, 1);
  check_gradients("view", [](const Ts& t) { return view(t[0], {6, -1}); }, {x});
  check_gradients("reshape of a permuted (non-contiguous) input",
                  [](const Ts& t) {
                    return reshape(permute(t[0], {2, 0, 1}), {4, 6});
                  },
                  {x});
  check_gradients("flatten(1)", [](const Ts& t) { return flatten(t[0], 1); }, {x});
  check_gradients("flatten all", [](const Ts& t) { return flatten(t[0]); }, {x});
  Tensor y = randn64({3, 1, 4, 1}, 2);
  check_gradients("squeeze", [](const Ts& t) { return squeeze(t[0]) * 2.0; }, {y});
  check_gradients("squeeze(dim)", [](const Ts& t) { return squeeze(t[0], -1); }, {y});
  check_gradients("unsqueeze", [](const Ts& t) { return unsqueeze(t[0], 1); }, {x});
}

TEST_CASE("gradcheck: permute, transpose, expand") {
  Tensor x = randn64({2, 3, 4}, 3);
  check_gradients("permute", [](const Ts& t) { return exp(permute(t[0], {1, 2, 0})); }, {x});
  check_gradients("permute with negative dims", [](const Ts& t) { return permute(t[0], {-1, 0, 1}); }, {x});
  check_gradients("transpose", [](const Ts& t) { return tanh(transpose(t[0], 0, 2)); }, {x});
  Tensor c = randn64({3, 1}, 4);
  check_gradients("expand", [](const Ts& t) { return expand(t[0], {2, 3, 5}); }, {c});
  check_gradients("expand -1", [](const Ts& t) { return expand(t[0], {-1, 4}) * 3.0; }, {c});
}

TEST_CASE("gradcheck: narrow, slice, index_select") {
  Tensor x = randn64({4, 6}, 5);
  check_gradients("narrow", [](const Ts& t) { return narrow(t[0], 1, 2, 3); }, {x});
  check_gradients("slice step 2", [](const Ts& t) { return slice(t[0], 1, 1, 6, 2); }, {x});
  check_gradients("slice negative bounds", [](const Ts& t) { return slice(t[0], 0, -3, -1); }, {x});
  check_gradients("slice of a transposed input",
                  [](const Ts& t) { return slice(transpose(t[0], 0, 1), 0, 0, 4, 3); }, {x});
  Tensor index = from_vector<std::int64_t>({3, 0, 3, 1}, {4});  // repeated index accumulates
  check_gradients("index_select dim 0", [index](const Ts& t) { return index_select(t[0], 0, index); }, {x});
  check_gradients("index_select dim 1", [index](const Ts& t) { return index_select(t[0], 1, index) * 2.0; }, {x});
}

TEST_CASE("gradcheck: cat, stack, pad") {
  Tensor a = randn64({2, 3}, 6), b = randn64({2, 1}, 7), c = randn64({2, 2}, 8);
  check_gradients("cat dim 1", [](const Ts& t) { return cat({t[0], t[1], t[2]}, 1); }, {a, b, c});
  check_gradients("cat dim 0 with a non-contiguous input",
                  [](const Ts& t) {
                    return cat({t[0], transpose(t[1], 0, 1)}, 0);
                  },
                  {a, randn64({3, 2}, 9)});
  Tensor d = randn64({2, 3}, 10);
  check_gradients("stack dim 0", [](const Ts& t) { return stack({t[0], t[1]}); }, {a, d});
  check_gradients("stack dim -1", [](const Ts& t) { return stack({t[0], t[1], t[0]}, -1); }, {a, d});
  Tensor x = randn64({2, 3, 4}, 11);
  check_gradients("pad last two dims", [](const Ts& t) { return pad(t[0], {1, 2, 0, 1}, 0.5); }, {x});
  check_gradients("pad with cropping", [](const Ts& t) { return pad(t[0], {-1, 2, 1, -1}); }, {x});
}

TEST_CASE("gradcheck: contiguous, clone, to_dtype, to_device") {
  Tensor x = randn64({3, 4}, 12);
  check_gradients("contiguous of a transpose", [](const Ts& t) { return contiguous(transpose(t[0], 0, 1)); }, {x});
  check_gradients("clone", [](const Ts& t) { return clone(t[0]) * t[0]; }, {x});
  check_gradients("to_dtype float64 -> float64", [](const Ts& t) { return to_dtype(t[0], DType::float64); }, {x});
  check_gradients("to_device cpu", [](const Ts& t) { return to_device(t[0], Device::cpu()); }, {x});
}

TEST_CASE("to_dtype sends a float64 gradient back as float32") {
  Tensor x = ops::to_dtype(randn64({5}, 13), DType::float32).set_requires_grad(true);
  Tensor seed = randn64({5}, 14);
  backward(to_dtype(x, DType::float64) * 3.0, seed);
  REQUIRE(x.grad().dtype() == DType::float32);
  const auto got = values(x.grad()), s = values(seed);
  for (std::size_t i = 0; i < s.size(); ++i) CHECK(got[i] == doctest::Approx(3.0 * s[i]).epsilon(1e-6));
}
