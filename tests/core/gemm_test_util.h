// Shared by the GEMM kernel tests (test_gemm_small.cpp, test_gemm_dot.cpp): random operands and the
// element-by-element check of C against a double loop.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace px::gemm_test {

template <class T>
std::vector<T> random_vector(std::size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<double> d(-1.0, 1.0);
  std::vector<T> v(n);
  for (T& x : v) x = static_cast<T>(d(rng));
  return v;
}

// Checks every element of C (rows x ldc, the padding after `cols` included, which must be
// untouched): C[i][j] = (accumulate ? c0[i][j] : 0) + sum_{p < depth} term(i, j, p), within float
// rounding of the sum of |terms|. Reports the first three mismatches, prefixed by `what`.
template <class T, class Term>
void check_against_loops(const std::vector<T>& c0, const std::vector<T>& c, std::int64_t rows, std::int64_t ldc,
                         std::int64_t cols, std::int64_t depth, bool accumulate, Term term, const std::string& what) {
  const double eps = sizeof(T) == 4 ? 1e-6 : 1e-14;
  int bad = 0;
  for (std::int64_t i = 0; i < rows; ++i) {
    for (std::int64_t j = 0; j < ldc; ++j) {
      const double got = c[i * ldc + j];
      double want = c0[i * ldc + j], scale = std::abs(want);
      if (j < cols) {
        if (!accumulate) want = scale = 0.0;
        for (std::int64_t p = 0; p < depth; ++p) {
          const double v = term(i, j, p);
          want += v;
          scale += std::abs(v);
        }
      }
      if (std::abs(got - want) > 4 * eps * (scale + 1.0) && ++bad <= 3)
        FAIL_CHECK(what, " at (", i, ",", j, "): got ", got, " want ", want);
    }
  }
  CHECK(bad == 0);
}

}  // namespace px::gemm_test
