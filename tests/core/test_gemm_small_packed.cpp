// Tests of SmallGemmA (core/cpu/cpu_gemm_small.h): A packed once, multiplied by several B against double
// loops, and bit-identical to gemm_small, for plain and transposed A, tails, overwrite and accumulate.
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "proxima/core/backend.h"
#include "proxima/core/cpu/cpu_gemm_small.h"
#include "core/gemm_test_util.h"

namespace {

namespace gemm_test = px::gemm_test;

struct PackedCase {
  std::int64_t m, n, k;
  bool trans_a, accumulate;
};

template <class T>
void check_packed(const PackedCase& g, std::uint32_t seed) {
  std::mt19937 rng(seed);
  const std::vector<T> a = gemm_test::random_vector<T>(static_cast<std::size_t>(g.m * g.k), rng);
  const px::cpu::StridedMatrix<T> view = g.trans_a ? px::cpu::StridedMatrix<T>{a.data(), 1, g.m}
                                                   : px::cpu::StridedMatrix<T>{a.data(), g.k, 1};
  const px::cpu::SmallGemmA<T> packed(view, g.m, g.k);
  for (int round = 0; round < 3; ++round) {  // the same packed A against three different B
    const std::vector<T> b = gemm_test::random_vector<T>(static_cast<std::size_t>(g.k * g.n), rng);
    const std::vector<T> c0 = gemm_test::random_vector<T>(static_cast<std::size_t>(g.m * g.n), rng);
    std::vector<T> c = c0, c_plain = c0;
    packed.multiply(b.data(), g.n, c.data(), g.n, g.n, g.accumulate);
    const std::string what = "m=" + std::to_string(g.m) + " n=" + std::to_string(g.n) + " k=" + std::to_string(g.k) +
                             " trans_a=" + std::to_string(g.trans_a) + " round " + std::to_string(round);
    gemm_test::check_against_loops(
        c0, c, g.m, g.n, g.n, g.k, g.accumulate,
        [&](std::int64_t i, std::int64_t j, std::int64_t p) {
          return double(g.trans_a ? a[p * g.m + i] : a[i * g.k + p]) * double(b[p * g.n + j]);
        },
        what);
    px::cpu::gemm_small<T>(view, b.data(), g.n, c_plain.data(), g.n, g.m, g.n, g.k, g.accumulate);
    CHECK_MESSAGE(c == c_plain, what << ": packed and unpacked results differ");
  }
}

}  // namespace

TEST_CASE_TEMPLATE("SmallGemmA packs A once and matches double loops and gemm_small for every B", T, float, double) {
  const PackedCase cases[] = {
      {32, 256, 144, false, false},  // ResNet-20 16->32 stride-2 forward
      {64, 64, 288, false, true},    // 32->64 stride-2 forward, accumulating
      {288, 64, 64, true, false},    // 32->64 stride-2 backward-input (A = W^T)
      {27, 1024, 16, true, false},   // first layer backward-input: M tail
      {13, 37, 9, false, false},     // row and column tails
      {1, 5, 1, true, true},
      {5, 20, 0, false, false},  // K = 0: C = 0
      {5, 20, 0, false, true},   // K = 0 accumulating: C unchanged
  };
  std::uint32_t seed = 300;
  for (const PackedCase& g : cases) check_packed<T>(g, seed++);
}

TEST_CASE("SmallGemmA splits large products across 2 threads with the same result") {
  const int saved = px::get_num_threads();
  px::set_num_threads(2);
  check_packed<float>({16, 1000, 144, false, false}, 11);
  check_packed<double>({40, 333, 300, true, true}, 12);
  px::set_num_threads(saved);
}
