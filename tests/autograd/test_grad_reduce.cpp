// Gradient checks of reductions over all dims, one dim and several dims, with and without keepdim.
#include <cmath>
#include <string>

#include "grad_helpers.h"

using namespace px;
using px::test::check_gradients;
using px::test::randn64;
using px::test::Ts;
using px::test::values;

namespace {

using Dims = std::vector<std::int64_t>;
using Reduction = Tensor (*)(const Tensor&, const Dims&, bool);

// Gradchecks `reduce` on a [2, 3, 4] input over several dim lists, keepdim on and off, and
// on a permuted (non-contiguous) view.
void check_reduction(const char* name, Reduction reduce) {
  const Tensor x = randn64({2, 3, 4}, 1);
  const std::vector<Dims> dim_lists = {{}, {1}, {-1}, {0, 2}, {2, 0}, {0, 1, 2}};
  for (const Dims& dims : dim_lists) {
    for (bool keepdim : {false, true}) {
      const std::string what = std::string(name) + " dims " + shape_str(dims) + (keepdim ? " keepdim" : "");
      check_gradients(what.c_str(), [&](const Ts& t) { return reduce(t[0], dims, keepdim); }, {x});
    }
  }
  check_gradients(name, [&](const Ts& t) { return reduce(permute(t[0], {2, 0, 1}), {1, 2}, false); }, {x});
}

Tensor var_unbiased(const Tensor& x, const Dims& dims, bool keepdim) { return var(x, dims, 1, keepdim); }
Tensor var_biased(const Tensor& x, const Dims& dims, bool keepdim) { return var(x, dims, 0, keepdim); }

}  // namespace

TEST_CASE("gradcheck: sum") {
  check_reduction("sum", [](const Tensor& x, const Dims& d, bool k) { return sum(x, d, k); });
}
TEST_CASE("gradcheck: mean") {
  check_reduction("mean", [](const Tensor& x, const Dims& d, bool k) { return mean(x, d, k); });
}
TEST_CASE("gradcheck: amax") {
  check_reduction("amax", [](const Tensor& x, const Dims& d, bool k) { return amax(x, d, k); });
}
TEST_CASE("gradcheck: amin") {
  check_reduction("amin", [](const Tensor& x, const Dims& d, bool k) { return amin(x, d, k); });
}
TEST_CASE("gradcheck: var") {
  check_reduction("var", var_unbiased);
  check_reduction("var correction 0", var_biased);
}
TEST_CASE("gradcheck: norm_l1") {
  check_reduction("norm_l1", [](const Tensor& x, const Dims& d, bool k) { return norm_l1(x, d, k); });
}
TEST_CASE("gradcheck: norm_l2") {
  check_reduction("norm_l2", [](const Tensor& x, const Dims& d, bool k) { return norm_l2(x, d, k); });
}

TEST_CASE("amax and amin share the gradient evenly among ties") {
  // rows: [3, 1, 3, 2] has two maxima, [0, 0, 0, 0] four, [5, -1, 2, -1] one max and two minima
  Tensor x = from_vector<double>({3, 1, 3, 2, 0, 0, 0, 0, 5, -1, 2, -1}, {3, 4}).set_requires_grad(true);
  backward(sum(amax(x, {1})));
  CHECK(values(x.grad()) == std::vector<double>{0.5, 0, 0.5, 0, 0.25, 0.25, 0.25, 0.25, 1, 0, 0, 0});
  x.zero_grad();
  backward(sum(amin(x, {1})));
  CHECK(values(x.grad()) == std::vector<double>{0, 1, 0, 0, 0.25, 0.25, 0.25, 0.25, 0, 0.5, 0, 0.5});
  x.zero_grad();
  backward(amax(x));  // over everything: the single 5
  CHECK(values(x.grad()) == std::vector<double>{0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0});
}

TEST_CASE("norm_l2 has a zero gradient at zero") {
  Tensor x = zeros({2, 3}, {.dtype = DType::float64}).set_requires_grad(true);
  backward(sum(norm_l2(x, {1})));
  for (double g : values(x.grad())) CHECK(g == 0.0);
}
