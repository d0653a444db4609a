// index_select and index_add_ on the CPU paths the small cases miss: the column-split index_add
// (few outer rows, wide inner rows, several threads), large random index lists with repeats, and
// the IndexError of an out-of-range or negative index (nothing written).
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "conv_test_util.h"
#include "reference.h"

using namespace px;
using ref::Index;

namespace {

// count indices in [0, size) drawn with repeats from a fixed seed.
Tensor random_index(std::int64_t count, std::int64_t size, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::int64_t> d(0, size - 1);
  std::vector<std::int64_t> v(static_cast<std::size_t>(count));
  for (auto& i : v) i = d(rng);
  return from_vector(v, {count});
}

// out[.., i, ..] = x[.., index[i], ..] by a plain walk over out's indices.
std::vector<double> reference_select(const Tensor& x, std::int64_t dim, const std::vector<std::int64_t>& iv,
                                     const Shape& out_shape) {
  const std::vector<double> v = ref::values(x);
  std::vector<double> out;
  ref::for_each_index(out_shape, [&](const Index& i) {
    Index k = i;
    k[static_cast<std::size_t>(dim)] = iv[static_cast<std::size_t>(i[static_cast<std::size_t>(dim)])];
    out.push_back(ref::at(v, x.shape(), k));
  });
  return out;
}

// dst[.., index[i], ..] += src[.., i, ..] in index order.
std::vector<double> reference_add(const Tensor& dst, std::int64_t dim, const std::vector<std::int64_t>& iv,
                                  const Tensor& src) {
  std::vector<double> out = ref::values(dst);
  const std::vector<double> sv = ref::values(src);
  ref::for_each_index(src.shape(), [&](const Index& i) {
    Index k = i;
    k[static_cast<std::size_t>(dim)] = iv[static_cast<std::size_t>(i[static_cast<std::size_t>(dim)])];
    out[static_cast<std::size_t>(ref::flat_index(dst.shape(), k))] += ref::at(sv, src.shape(), i);
  });
  return out;
}

struct IndexCase {
  Shape shape;
  std::int64_t dim, count;
};

// outer = 1 or 2 (fewer than the threads) and outer * count * inner >= 32768: index_add splits
// the inner columns across threads; the last case has outer >= threads (rows split).
const IndexCase kCases[] = {{{6, 9000}, 0, 11}, {{2, 5, 4099}, 1, 9}, {{3, 7, 130}, 2, 5}, {{2, 4, 70, 65}, 1, 13},
                            {{8, 3, 2000}, 1, 6}};

}  // namespace

TEST_CASE("index_add_ matches plain loops on the column-split and row-split paths, with 1, 2 and 3 threads") {
  std::uint32_t seed = 500;
  for (int threads : {1, 2, 3}) {
    test::ThreadsGuard guard(threads);
    for (DType dt : {DType::float32, DType::float64, DType::int64}) {
      for (const IndexCase& c : kCases) {
        CAPTURE(threads);
        CAPTURE(px::shape_str(c.shape));
        Tensor dst = ref::random_tensor(c.shape, dt, ++seed, -9, 9);
        const Tensor index = random_index(c.count, c.shape[static_cast<std::size_t>(c.dim)], ++seed);
        Shape src_shape = c.shape;
        src_shape[static_cast<std::size_t>(c.dim)] = c.count;
        const Tensor src = ref::random_tensor(src_shape, dt, ++seed, -9, 9);
        const std::vector<double> want = reference_add(dst, c.dim, index.to_vector<std::int64_t>(), src);
        ops::index_add_(dst, c.dim, index, src);
        // Sums of a few O(1) terms in index order: exact for int64, a few ulps for floats.
        ref::check_close(dst, c.shape, want, 4 * ref::tolerance(dt));
      }
    }
  }
}

TEST_CASE("index_select matches plain loops on large rows and long index lists, with 1 and 3 threads") {
  std::uint32_t seed = 600;
  for (int threads : {1, 3}) {
    test::ThreadsGuard guard(threads);
    for (DType dt : {DType::float32, DType::float64, DType::int64, DType::uint8}) {
      for (const IndexCase& c : kCases) {
        CAPTURE(threads);
        CAPTURE(px::shape_str(c.shape));
        const Tensor x = ref::random_tensor(c.shape, dt, ++seed, 0, 9);
        const std::int64_t count = 3 * c.count + 1;
        const Tensor index = random_index(count, c.shape[static_cast<std::size_t>(c.dim)], ++seed);
        Shape out_shape = c.shape;
        out_shape[static_cast<std::size_t>(c.dim)] = count;
        const std::vector<double> want = reference_select(x, c.dim, index.to_vector<std::int64_t>(), out_shape);
        for (const Tensor& in : {x, ref::non_contiguous(x)})
          ref::check_close(ops::index_select(in, c.dim, index), out_shape, want, 0);
      }
    }
  }
}

TEST_CASE("index_select and index_add_ reject out-of-range and negative indices, naming them, and write nothing") {
  const Tensor x = ref::random_tensor({4, 5}, DType::float64, 700);
  for (std::int64_t bad : {5, 17, -1}) {
    const Tensor index = from_vector(std::vector<std::int64_t>{0, 4, bad, 2}, {4});
    const std::string value = std::to_string(bad);
    try {
      ops::index_select(x, 1, index);
      FAIL("index_select accepted index value " << bad);
    } catch (const IndexError& e) {
      const std::string msg = e.what();
      CHECK_MESSAGE(msg.find("index[2] = " + value) != std::string::npos, msg);
    }
    Tensor dst = x.clone();
    const Tensor src = ref::random_tensor({4, 4}, DType::float64, 701);
    CHECK_THROWS_AS(ops::index_add_(dst, 1, index, src), IndexError);
    ref::check_close(dst, x.shape(), ref::values(x), 0);  // checked before any write
  }
}
