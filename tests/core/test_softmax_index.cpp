// softmax / log_softmax, index_select, index_add_, cat, stack and pad against naive loops.
#include <doctest/doctest.h>

#include <cmath>

#include "core/reference.h"

using namespace px;
using ref::Index;

TEST_CASE("softmax and log_softmax along every dim") {
  for (DType dt : {DType::float32, DType::float64}) {
    Tensor x = ref::random_tensor({3, 4, 5}, dt, 61, -5, 5);
    std::vector<double> v = ref::values(x);
    for (std::int64_t d : {0, 1, 2, -1}) {
      std::int64_t dd = normalize_dim(d, 3);
      std::vector<double> soft, logsoft;
      ref::for_each_index(x.shape(), [&](const Index& i) {
        double mx = -INFINITY, z = 0;
        for (std::int64_t j = 0; j < x.shape()[dd]; ++j) { Index k = i; k[dd] = j; mx = std::max(mx, ref::at(v, x.shape(), k)); }
        for (std::int64_t j = 0; j < x.shape()[dd]; ++j) { Index k = i; k[dd] = j; z += std::exp(ref::at(v, x.shape(), k) - mx); }
        double xi = ref::at(v, x.shape(), i);
        soft.push_back(std::exp(xi - mx) / z);
        logsoft.push_back(xi - mx - std::log(z));
      });
      for (const Tensor& in : ref::layouts(x)) {
        ref::check_close(ops::softmax(in, d), x.shape(), soft, 10 * ref::tolerance(dt));
        ref::check_close(ops::log_softmax(in, d), x.shape(), logsoft, 10 * ref::tolerance(dt));
      }
    }
  }
  // Large inputs stay finite (the max is subtracted).
  Tensor big = from_vector(std::vector<float>{1000, 1001, 1002}, {3});
  for (double p : ref::values(ops::softmax(big, 0))) CHECK(std::isfinite(p));
  CHECK(ops::softmax(scalar_tensor(3.0), 0).item() == 1.0);
  CHECK_THROWS_AS(ops::softmax(arange(3), 0), DTypeError);
  CHECK_THROWS_AS(ops::softmax(zeros({2, 3}), 2), IndexError);
}

TEST_CASE("index_select and index_add_") {
  for (DType dt : {DType::float32, DType::float64, DType::int64}) {
    Tensor x = ref::random_tensor({4, 5, 3}, dt, 62, -9, 9);
    std::vector<double> v = ref::values(x);
    Tensor index = from_vector(std::vector<std::int64_t>{2, 0, 2, 1}, {4});
    std::vector<std::int64_t> iv = index.to_vector<std::int64_t>();
    for (std::int64_t d : {0, 1, 2}) {
      Shape shape = x.shape();
      shape[d] = 4;
      std::vector<double> expected;
      ref::for_each_index(shape, [&](const Index& i) { Index k = i; k[d] = iv[i[d]]; expected.push_back(ref::at(v, x.shape(), k)); });
      for (const Tensor& in : ref::layouts(x)) ref::check_close(ops::index_select(in, d, index), shape, expected, 0);
      // index_add_: dst[.., index[i], ..] += src[.., i, ..], repeated indices accumulate.
      Tensor src = ref::random_tensor(shape, dt, 63, -9, 9);
      std::vector<double> sv = ref::values(src), added = v;
      ref::for_each_index(shape, [&](const Index& i) {
        Index k = i; k[d] = iv[i[d]];
        added[ref::flat_index(x.shape(), k)] += ref::at(sv, shape, i);
      });
      for (bool strided : {false, true}) {
        Tensor dst = strided ? ref::non_contiguous(x) : x.clone();
        Tensor r = ops::index_add_(dst, d, index, ref::non_contiguous(src, false));
        CHECK(r.is_same(dst));
        ref::check_close(dst, x.shape(), added, ref::tolerance(dt));
      }
    }
  }
  Tensor x = zeros({3, 2});
  CHECK_THROWS_AS(ops::index_select(x, 0, zeros({2})), DTypeError);
  CHECK_THROWS_AS(ops::index_select(x, 0, zeros({2, 1}, {.dtype = DType::int64})), ShapeError);
  CHECK_THROWS_AS(ops::index_add_(x, 0, arange(2), zeros({3, 2})), ShapeError);
  CHECK(ops::index_select(x, 0, zeros({0}, {.dtype = DType::int64})).shape() == Shape{0, 2});
}

TEST_CASE("cat and stack") {
  for (DType dt : {DType::float32, DType::float64, DType::int64}) {
    Tensor a = ref::random_tensor({2, 3, 4}, dt, 64, -9, 9), b = ref::random_tensor({2, 1, 4}, dt, 65, -9, 9);
    Tensor c = ref::random_tensor({2, 0, 4}, dt, 66);
    std::vector<double> av = ref::values(a), bv = ref::values(b);
    Tensor r = ops::cat({ref::non_contiguous(a), b, c}, 1);
    std::vector<double> expected;
    ref::for_each_index({2, 4, 4}, [&](const Index& i) {
      expected.push_back(i[1] < 3 ? ref::at(av, a.shape(), i) : ref::at(bv, b.shape(), {i[0], i[1] - 3, i[2]}));
    });
    ref::check_close(r, {2, 4, 4}, expected, 0);
    Tensor s = ops::stack({a, ref::non_contiguous(a, false), a}, -1);  // [2, 3, 4, 3]
    expected.clear();
    ref::for_each_index({2, 3, 4, 3}, [&](const Index& i) { expected.push_back(ref::at(av, a.shape(), {i[0], i[1], i[2]})); });
    ref::check_close(s, {2, 3, 4, 3}, expected, 0);
    CHECK(ops::stack({a, a}, 0).shape() == Shape{2, 2, 3, 4});
  }
  CHECK(ops::cat({arange(2), ones({2})}).dtype() == DType::float32);
  CHECK_THROWS_AS(ops::cat({}), ValueError);
  CHECK_THROWS_AS(ops::cat({zeros({2, 3}), zeros({3, 3})}, 1), ShapeError);
  CHECK_THROWS_AS(ops::cat({zeros({2, 3}), zeros({2})}), ShapeError);
  CHECK_THROWS_AS(ops::stack({zeros({2}), zeros({3})}), ShapeError);
}

TEST_CASE("pad: positive, negative (crop) and several dims") {
  struct Case { Shape shape; std::vector<std::int64_t> pads; };
  for (const Case& c : {Case{{3, 4}, {1, 2}}, Case{{3, 4}, {1, 0, 0, 2}}, Case{{2, 3, 4}, {-1, 2, 1, -1}},
                        Case{{2, 3, 4}, {0, 0, 0, 0, 1, 1}}, Case{{5}, {-2, -2}}, Case{{2, 3}, {-3, 1}},
                        Case{{2, 3, 4}, {1, 2, 2, 1, 1, 1}}}) {
    for (DType dt : {DType::float32, DType::int64}) {
      Tensor x = ref::random_tensor(c.shape, dt, 67, -9, 9);
      std::vector<double> v = ref::values(x);
      Shape out_shape = c.shape;
      std::size_t n = c.shape.size();
      for (std::size_t j = 0; j < c.pads.size() / 2; ++j) out_shape[n - 1 - j] += c.pads[2 * j] + c.pads[2 * j + 1];
      std::vector<double> expected;
      ref::for_each_index(out_shape, [&](const Index& i) {
        Index k = i;
        bool inside = true;
        for (std::size_t j = 0; j < c.pads.size() / 2; ++j) {
          std::size_t d = n - 1 - j;
          k[d] = i[d] - c.pads[2 * j];
          inside = inside && k[d] >= 0 && k[d] < c.shape[d];
        }
        expected.push_back(inside ? ref::at(v, c.shape, k) : 5.0);
      });
      ref::check_close(ops::pad(ref::non_contiguous(x), c.pads, 5.0), out_shape, expected, 0);
    }
  }
  CHECK_THROWS_AS(ops::pad(zeros({3}), {1}), ValueError);
  CHECK_THROWS_AS(ops::pad(zeros({3}), {1, 1, 1, 1}), ValueError);
  CHECK_THROWS_AS(ops::pad(zeros({3}), {-2, -2}), ShapeError);
}
