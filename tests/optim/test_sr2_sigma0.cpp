// top_hessian_eigenvalue (optim/prox/sr2_sigma0.h): power iteration with finite-difference
// Hessian-vector products on quadratics with known eigenvalues.
#include <doctest/doctest.h>

#include <cstring>

#include "prox_test_util.h"
#include "proxima/optim/prox/sr2_sigma0.h"
#include "sr2_test_util.h"

namespace px::test {

using optim::prox::PowerIterationOptions;
using optim::prox::top_hessian_eigenvalue;

TEST_CASE("sr2 sigma0: power iteration finds the eigenvalue of largest magnitude of a quadratic's Hessian") {
  struct Case {
    std::vector<double> eig;
    double expected;
  };
  std::vector<double> pos(16), neg(16);
  for (std::size_t i = 0; i < 16; ++i) {
    pos[i] = 0.1 + 0.3 * static_cast<double>(i);  // top 4.6, next 4.3
    neg[i] = static_cast<double>(i) - 8.0;          // -8 dominates 7
  }
  pos[7] = 9.0;
  for (const Case& c : std::vector<Case>{{pos, 9.0}, {neg, -8.0}}) {
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      CAPTURE(c.expected); CAPTURE(seed);
      SR2Quadratic q = make_quadratic(c.eig, seed);
      const std::vector<double> x0 = q.x();
      q(true);
      const std::vector<double> g0 = q.params[1].grad().to_vector<double>();
      const auto r = top_hessian_eigenvalue(q.params, [&] { q(true); },
                                            {.iterations = 500, .tolerance = 1e-10, .fd_step = 1e-3, .seed = seed});
      CHECK(r.eigenvalue == doctest::Approx(c.expected).epsilon(1e-6));
      CHECK(r.converged);
      CHECK(q.x() == x0);                                     // restored bit-exactly
      CHECK(q.params[1].grad().to_vector<double>() == g0);    // gradients at x again
    }
  }
}

TEST_CASE("sr2 sigma0: float32 parameters and the default finite-difference step") {
  std::vector<double> eig(16, 1.0);
  eig[3] = 25.0;
  SR2Quadratic q = make_quadratic(eig, 9);
  std::vector<Tensor> p32;
  for (const Tensor& p : q.params) p32.push_back(p.to(DType::float32));
  const auto grad_fn = [&] {
    std::vector<double> x;
    for (const Tensor& p : p32)
      for (float v : p.to_vector<float>()) x.push_back(v);
    const std::vector<double> g = q.gradient(x);
    std::size_t at = 0;
    for (Tensor& p : p32) {
      std::vector<float> part;
      for (std::int64_t i = 0; i < p.numel(); ++i) part.push_back(static_cast<float>(g[at++]));
      p.set_grad(from_vector(part, p.shape()));
    }
  };
  const auto r = top_hessian_eigenvalue(p32, grad_fn, {.iterations = 100, .tolerance = 1e-6});
  CHECK(r.eigenvalue == doctest::Approx(25.0).epsilon(1e-2));
}

TEST_CASE("sr2 sigma0: bad options and no gradient are errors") {
  std::vector<Tensor> params = {from_vector(std::vector<double>{1, 2}, {2})};
  check_value_error([&] { top_hessian_eigenvalue(params, [] {}); }, "no parameter has a gradient");
  check_value_error([&] { top_hessian_eigenvalue(params, [] {}, {.iterations = 0}); }, "iterations");
  check_value_error([&] { top_hessian_eigenvalue(params, {}); }, "grad_fn");
}

}  // namespace px::test
