// Tests of the CPU small-operand GEMM (core/cpu/cpu_gemm_small.h) against plain double loops: row and
// column tails, strided and transposed A, padded B / C rows, overwrite and accumulate, threads.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "proxima/core/backend.h"
#include "proxima/core/cpu/cpu_gemm_small.h"
#include "core/gemm_test_util.h"

namespace {

namespace gemm_test = px::gemm_test;

struct GemmCase {
  std::int64_t m, n, k;
  bool trans_a, accumulate;
  std::int64_t b_pad = 0, c_pad = 0;  // extra elements at the end of each row of B and C
};

// Runs gemm_small on one case and checks every element of C (the padding included, which must be
// untouched) against a double loop, within float rounding of the sum of |a| |b|.
template <class T>
void check_case(const GemmCase& g, std::uint32_t seed) {
  std::mt19937 rng(seed);
  const std::int64_t ldb = g.n + g.b_pad, ldc = g.n + g.c_pad;
  const std::vector<T> a = gemm_test::random_vector<T>(static_cast<std::size_t>(g.m * g.k), rng);
  const std::vector<T> b = gemm_test::random_vector<T>(static_cast<std::size_t>(g.k * ldb), rng);
  const std::vector<T> c0 = gemm_test::random_vector<T>(static_cast<std::size_t>(g.m * ldc), rng);
  std::vector<T> c = c0;
  // A stored [m, k], or [k, m] and read through its transpose.
  const px::cpu::StridedMatrix<T> view = g.trans_a ? px::cpu::StridedMatrix<T>{a.data(), 1, g.m}
                                                   : px::cpu::StridedMatrix<T>{a.data(), g.k, 1};
  px::cpu::gemm_small<T>(view, b.data(), ldb, c.data(), ldc, g.m, g.n, g.k, g.accumulate);
  gemm_test::check_against_loops(
      c0, c, g.m, ldc, g.n, g.k, g.accumulate,
      [&](std::int64_t i, std::int64_t j, std::int64_t p) {
        return double(g.trans_a ? a[p * g.m + i] : a[i * g.k + p]) * double(b[p * ldb + j]);
      },
      "m=" + std::to_string(g.m) + " n=" + std::to_string(g.n) + " k=" + std::to_string(g.k) +
          " trans_a=" + std::to_string(g.trans_a) + " acc=" + std::to_string(g.accumulate));
}

}  // namespace

TEST_CASE_TEMPLATE("gemm_small matches double loops for M = 1..17 and odd N = 1..99", T, float, double) {
  const std::int64_t ks[] = {1, 2, 7, 16, 27, 64, 145};
  std::uint32_t seed = 1;
  for (std::int64_t m = 1; m <= 17; ++m)
    for (std::int64_t n = 1; n < 100; n += 2, ++seed) {
      const GemmCase g{m, n, ks[seed % 7], seed % 3 == 0, seed % 2 == 0, (seed % 5) == 1 ? 3 : 0, seed % 4 == 2 ? 5 : 0};
      check_case<T>(g, seed);
    }
}

TEST_CASE_TEMPLATE("gemm_small matches double loops for convolution-sized and deep-K products", T, float, double) {
  const GemmCase cases[] = {
      {16, 1024, 144, false, false},  // ResNet-20 stage 1 forward
      {32, 256, 288, false, true},    // stage 2 forward, accumulating
      {64, 64, 576, false, false},    // stage 3 forward
      {576, 64, 64, true, false},     // stage 3 backward-input (A = W^T)
      {27, 1024, 16, true, false},    // first layer backward-input: M tail
      {9, 37, 600, false, true, 11, 7},
      {1, 100, 599, true, false, 1, 0},
      {17, 1, 600, false, false},
      {5, 200, 0, false, false},  // K = 0: C = 0
      {5, 200, 0, false, true},   // K = 0 accumulating: C unchanged
  };
  std::uint32_t seed = 100;
  for (const GemmCase& g : cases) check_case<T>(g, seed++);
}

TEST_CASE("gemm_small is correct when large products are split across 1, 2 and 3 threads") {
  const int saved = px::get_num_threads();
  for (int threads : {1, 2, 3}) {
    px::set_num_threads(threads);
    check_case<float>({16, 1000, 144, false, false, 0, 3}, 7);
    check_case<float>({40, 333, 300, true, true, 2, 0}, 8);
    check_case<double>({24, 2000, 64, false, true}, 9);
  }
  px::set_num_threads(saved);
}
