// Shared helpers of the autograd tests: seeded random float64 inputs, a gradcheck assertion and an
// elementwise tensor comparison.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "proxima/autograd/autograd.h"
#include "proxima/autograd/functions.h"
#include "proxima/autograd/gradcheck.h"
#include "proxima/core/factory.h"
#include "proxima/core/ops.h"

namespace px::test {

// Standard-normal float64 values from a fixed seed.
inline Tensor randn64(const Shape& shape, std::uint64_t seed) {
  Generator gen(seed);
  return randn(shape, {.dtype = DType::float64}, &gen);
}

// Uniform float64 values in [lo, hi) from a fixed seed (for functions defined on x > 0).
inline Tensor uniform64(const Shape& shape, double lo, double hi, std::uint64_t seed) {
  Generator gen(seed);
  return ops::uniform(shape, lo, hi, {.dtype = DType::float64}, &gen);
}

inline std::vector<double> values(const Tensor& t) {
  return ops::to_dtype(ops::contiguous(t), DType::float64).to_vector<double>();
}

// got and want both undefined, or |got - want| <= tol * (1 + |want|) elementwise; reports the
// first mismatch.
inline void check_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  INFO(what);
  REQUIRE(got.defined() == want.defined());
  if (!got.defined()) return;
  const std::vector<double> g = values(got), w = values(want);
  REQUIRE(g.size() == w.size());
  for (std::size_t i = 0; i < g.size(); ++i) {
    if (std::abs(g[i] - w[i]) > tol * (1.0 + std::abs(w[i]))) {
      FAIL_CHECK("element " << i << ": got " << g[i] << ", want " << w[i]);
      return;
    }
  }
}

using Ts = std::vector<Tensor>;

// Gradchecks f on inputs (see autograd/gradcheck.h) and reports the worst element on failure.
inline void check_gradients(const char* what, const autograd::GradcheckFn& f, const Ts& inputs,
                            const autograd::GradcheckOptions& options = {}) {
  const autograd::GradcheckResult result = autograd::gradcheck(f, inputs, options);
  INFO(std::string(what), ": ", result.message);
  CHECK(result.ok);
}

}  // namespace px::test
