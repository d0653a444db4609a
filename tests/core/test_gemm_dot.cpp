// Tests of the CPU inner-product GEMM (core/cpu/cpu_gemm_dot.h) against plain double loops: M and K
// tails, N tails, padded rows, overwrite and accumulate, float and double, threads.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "proxima/core/backend.h"
#include "proxima/core/cpu/cpu_gemm_dot.h"
#include "core/gemm_test_util.h"

namespace {

namespace gemm_test = px::gemm_test;

struct DotCase {
  std::int64_t m, k, n;
  bool accumulate;
  std::int64_t pad = 0;  // extra elements at the end of each row of A, B and C
};

// Runs gemm_dot on one case and checks every element of C (the padding included, which must be
// untouched) against a double loop, within float rounding of the sum of |a| |b|.
template <class T>
void check_case(const DotCase& g, std::uint32_t seed) {
  std::mt19937 rng(seed);
  const std::int64_t lda = g.n + g.pad, ldb = g.n + 2 * g.pad, ldc = g.k + g.pad;
  const std::vector<T> a = gemm_test::random_vector<T>(static_cast<std::size_t>(g.m * lda), rng);
  const std::vector<T> b = gemm_test::random_vector<T>(static_cast<std::size_t>(g.k * ldb), rng);
  const std::vector<T> c0 = gemm_test::random_vector<T>(static_cast<std::size_t>(g.m * ldc), rng);
  std::vector<T> c = c0;
  px::cpu::gemm_dot<T>(a.data(), lda, b.data(), ldb, c.data(), ldc, g.m, g.k, g.n, g.accumulate);
  gemm_test::check_against_loops(
      c0, c, g.m, ldc, g.k, g.n, g.accumulate,
      [&](std::int64_t i, std::int64_t j, std::int64_t p) { return double(a[i * lda + p]) * double(b[j * ldb + p]); },
      "m=" + std::to_string(g.m) + " k=" + std::to_string(g.k) + " n=" + std::to_string(g.n) +
          " acc=" + std::to_string(g.accumulate) + " pad=" + std::to_string(g.pad));
}

}  // namespace

TEST_CASE_TEMPLATE("gemm_dot matches double loops for M = 1..17, many K and odd N", T, float, double) {
  const std::int64_t ks[] = {1, 2, 3, 4, 5, 7, 9, 16, 27, 30};
  const std::int64_t ns[] = {1, 3, 15, 17, 31, 33, 63, 65, 99, 129};
  std::uint32_t seed = 1;
  for (std::int64_t m = 1; m <= 17; ++m)
    for (std::int64_t k : ks)
      for (int t = 0; t < 3; ++t, ++seed) {
        const DotCase g{m, k, ns[(seed * 7) % 10], seed % 2 == 0, seed % 5 == 1 ? 3 : 0};
        check_case<T>(g, seed);
      }
}

TEST_CASE_TEMPLATE("gemm_dot matches double loops for convolution backward-weight shapes", T, float, double) {
  const DotCase cases[] = {
      {16, 27, 1024, true},   // ResNet-20 first layer
      {16, 144, 1024, true},  // stage 1
      {32, 144, 256, false},  // stage 2, stride 2
      {32, 288, 256, true},   // stage 2
      {64, 576, 64, true},    // stage 3
      {64, 576, 64, false, 5},
      {10, 600, 48, false},   // N below one AVX-512 float vector step multiple
      {13, 31, 1000, true, 1},
      {5, 7, 0, false},  // N = 0: C = 0
      {5, 7, 0, true},   // N = 0 accumulating: C unchanged
  };
  std::uint32_t seed = 100;
  for (const DotCase& g : cases) check_case<T>(g, seed++);
}

TEST_CASE("gemm_dot is correct when large products are split across 1, 2 and 3 threads") {
  const int saved = px::get_num_threads();
  for (int threads : {1, 2, 3}) {
    px::set_num_threads(threads);
    check_case<float>({16, 145, 1024, false, 3}, 7);
    check_case<float>({33, 290, 300, true}, 8);
    check_case<double>({24, 62, 2000, true, 1}, 9);
  }
  px::set_num_threads(saved);
}
