// Helpers shared by the convolution and pooling tests: a tensor's values as doubles and an
// elementwise comparison that reports the first mismatch.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "proxima/core/tensor.h"

namespace px::test {

// n values uniform in [-1, 1) from std::mt19937(seed).
inline std::vector<double> random_values(std::int64_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<double> v(static_cast<std::size_t>(n));
  for (double& x : v) x = dist(gen);
  return v;
}

template <class T>
std::vector<double> values_of(const Tensor& t) {
  std::vector<T> v = t.contiguous().to_vector<T>();
  return std::vector<double>(v.begin(), v.end());
}

// |got - want| <= tol * (1 + |want|) elementwise; reports the first mismatch.
inline void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol,
                        const std::string& what) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::abs(got[i] - want[i]) > tol * (1 + std::abs(want[i]))) {
      FAIL_CHECK(what << ": element " << i << " is " << got[i] << ", expected " << want[i]);
      return;
    }
  }
}

}  // namespace px::test
