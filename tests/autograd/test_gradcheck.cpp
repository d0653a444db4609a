// The gradient checker itself: it must accept right gradients and catch a wrong one.
#include <string>

#include "grad_helpers.h"

using namespace px;
using px::test::randn64;
using px::test::Ts;

namespace {
// y = x^2 with a deliberately wrong backward (3x instead of 2x) for one element only.
Tensor square_with_bug(const Tensor& x) {
  Tensor y = ops::mul(x, x);
  return autograd::record("buggy_square", {x}, y,
                          [x = x.detach()](const Tensor& g, const autograd::Needs&) -> autograd::TensorList {
                            Tensor scale = full(x.shape(), 2.0, {.dtype = x.dtype()});
                            scale.data<double>()[3] = 3.0;
                            return {ops::mul(g, ops::mul(x, scale))};
                          });
}
}  // namespace

TEST_CASE("gradcheck accepts a correct gradient and pinpoints a wrong one") {
  Tensor x = randn64({2, 3}, 1);
  const auto good = autograd::gradcheck([](const Ts& t) { return t[0] * t[0]; }, {x});
  CHECK(good.ok);
  const auto bad = autograd::gradcheck([](const Ts& t) { return square_with_bug(t[0]); }, {x});
  CHECK_FALSE(bad.ok);
  CHECK(bad.message.find("input 0 element [1, 0] (flat 3)") != std::string::npos);
}

TEST_CASE("gradcheck catches a gradient that is missing entirely") {
  // The output depends on x, but the detach cuts the gradient.
  const auto r = autograd::gradcheck([](const Ts& t) { return t[0].detach() * 2.0 + t[1]; },
                                     {randn64({3}, 2), randn64({3}, 3)});
  CHECK_FALSE(r.ok);
  CHECK(r.message.find("input 0") != std::string::npos);
}

TEST_CASE("gradcheck passes non-float64 inputs through and leaves the caller's tensors alone") {
  Tensor x = randn64({4}, 4);
  const auto before = px::test::values(x);
  Tensor index = from_vector<std::int64_t>({1, 3}, {2});
  const auto r = autograd::gradcheck([](const Ts& t) { return index_select(t[0], 0, t[1]); }, {x, index});
  CHECK(r.ok);
  CHECK(px::test::values(x) == before);
  CHECK_FALSE(x.requires_grad());
  CHECK_THROWS_AS(autograd::gradcheck([](const Ts& t) { return t[0]; }, {index}), ValueError);
}
