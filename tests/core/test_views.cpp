// View ops against naive index arithmetic: they share storage and read the right elements.
#include <doctest/doctest.h>

#include <algorithm>

#include "core/reference.h"

using namespace px;
using ref::Index;

namespace {

// Checks view(idx) == x(map(idx)) for every index of the view.
void check_view(const Tensor& view, const Tensor& x, const std::function<Index(const Index&)>& map) {
  std::vector<double> vv = ref::values(view), xv = ref::values(x);
  ref::for_each_index(view.shape(), [&](const Index& idx) {
    CHECK(ref::at(vv, view.shape(), idx) == ref::at(xv, x.shape(), map(idx)));
  });
}

}  // namespace

TEST_CASE("view and reshape share storage when possible") {
  Tensor x = ref::random_tensor({2, 3, 4}, DType::float32, 11);
  Tensor v = ops::view(x, {6, -1});
  CHECK(v.shape() == Shape{6, 4});
  CHECK(v.storage() == x.storage());
  CHECK(v.to_vector<float>() == x.to_vector<float>());
  CHECK(ops::view(x, {24}).is_contiguous());
  CHECK_THROWS_AS(ops::view(x, {}), ShapeError);
  CHECK_THROWS_AS(ops::view(x, {5, -1}), ShapeError);
  CHECK_THROWS_AS(ops::view(x, {-1, -1}), ShapeError);
  // A transposed tensor can be viewed only where its dims stay contiguous chunks.
  Tensor t = ops::transpose(x, 1, 2);  // [2, 4, 3]
  CHECK_THROWS_AS(ops::view(t, {2, 12}), ShapeError);
  Tensor split = ops::view(t, {2, 2, 2, 3});  // splitting a dim is always a view
  CHECK(split.storage() == x.storage());
  check_view(split, t, [](const Index& i) { return Index{i[0], i[1] * 2 + i[2], i[3]}; });
  Tensor merged = ops::view(ops::permute(x, {1, 2, 0}), {12, 2});  // dims 1, 2 stay one chunk
  CHECK(merged.storage() == x.storage());
  check_view(merged, x, [](const Index& i) { return Index{i[1], i[0] / 4, i[0] % 4}; });
  // reshape copies when a view is impossible.
  Tensor r = ops::reshape(t, {2, 12});
  CHECK(r.storage() != x.storage());
  check_view(r, t, [](const Index& i) { return Index{i[0], i[1] / 3, i[1] % 3}; });
  CHECK(ops::reshape(x, {4, 6}).storage() == x.storage());
  // Size-1 dims and 0-d tensors.
  Tensor s = ops::reshape(ops::narrow(x, 1, 1, 1), {2, 1, 1, 4});
  check_view(s, x, [](const Index& i) { return Index{i[0], 1, i[3]}; });
  CHECK(ops::reshape(scalar_tensor(3.0), {1, 1}).item() == 3.0);
  CHECK(ops::reshape(zeros({0, 3}), {3, 0, 5}).numel() == 0);
}

TEST_CASE("flatten, squeeze, unsqueeze") {
  Tensor x = ref::random_tensor({2, 1, 3, 1}, DType::float64, 12);
  CHECK(ops::flatten(x).shape() == Shape{6});
  CHECK(ops::flatten(x, 1, 2).shape() == Shape{2, 3, 1});
  CHECK(ops::flatten(scalar_tensor(1.0)).shape() == Shape{1});
  CHECK(ops::squeeze(x).shape() == Shape{2, 3});
  CHECK(ops::squeeze(x, 1).shape() == Shape{2, 3, 1});
  CHECK(ops::squeeze(x, 0).shape() == x.shape());
  CHECK(ops::squeeze(x, -1).shape() == Shape{2, 1, 3});
  Tensor u = ops::unsqueeze(ops::squeeze(x), 2);
  CHECK(u.shape() == Shape{2, 3, 1});
  CHECK(ops::unsqueeze(ops::squeeze(x), 0).shape() == Shape{1, 2, 3});
  CHECK(ops::unsqueeze(ops::squeeze(x), -1).shape() == Shape{2, 3, 1});
  CHECK(u.storage() == x.storage());
  CHECK(u.to_vector<double>() == x.to_vector<double>());
  // unsqueeze on a strided view keeps the elements.
  Tensor p = ops::transpose(ops::squeeze(x), 0, 1);
  check_view(ops::unsqueeze(p, 1), p, [](const Index& i) { return Index{i[0], i[2]}; });
}

TEST_CASE("permute and transpose match index arithmetic") {
  for (DType dt : {DType::float32, DType::float64, DType::int64}) {
    Tensor x = ref::random_tensor({2, 3, 4, 5}, dt, 13, -9, 9);
    Tensor p = ops::permute(x, {2, 0, 3, 1});
    CHECK(p.shape() == Shape{4, 2, 5, 3});
    CHECK(p.storage() == x.storage());
    check_view(p, x, [](const Index& i) { return Index{i[1], i[3], i[0], i[2]}; });
    Tensor t = ops::transpose(x, 1, -1);
    check_view(t, x, [](const Index& i) { return Index{i[0], i[3], i[2], i[1]}; });
    // Views of views.
    Tensor pp = ops::permute(ops::transpose(p, 0, 1), {1, 0, 2, 3});
    check_view(pp, p, [](const Index& i) { return i; });
  }
  Tensor x = zeros({2, 3});
  CHECK_THROWS_AS(ops::permute(x, {0}), ShapeError);
  CHECK_THROWS_AS(ops::permute(x, {0, 0}), IndexError);
  CHECK_THROWS_AS(ops::permute(x, {0, 2}), IndexError);
}

TEST_CASE("expand is a broadcast view with stride 0") {
  Tensor x = ref::random_tensor({3, 1}, DType::float32, 14);
  Tensor e = ops::expand(x, {2, 3, 4});
  CHECK(e.shape() == Shape{2, 3, 4});
  CHECK(e.stride(0) == 0);
  CHECK(e.stride(2) == 0);
  check_view(e, x, [](const Index& i) { return Index{i[1], 0}; });
  CHECK(ops::expand(x, {-1, 5}).shape() == Shape{3, 5});
  CHECK_THROWS_AS(ops::expand(x, {4, 4}), ShapeError);
  CHECK_THROWS_AS(ops::expand(x, {1}), ShapeError);
  // Materialising an expanded view copies.
  Tensor c = ops::contiguous(e);
  CHECK(c.is_contiguous());
  check_view(c, x, [](const Index& i) { return Index{i[1], 0}; });
}

TEST_CASE("narrow and slice with Python semantics and steps") {
  Tensor x = ref::random_tensor({5, 7}, DType::float64, 15);
  Tensor n = ops::narrow(x, 1, 2, 3);
  CHECK(n.shape() == Shape{5, 3});
  CHECK(n.storage() == x.storage());
  check_view(n, x, [](const Index& i) { return Index{i[0], i[1] + 2}; });
  CHECK_THROWS_AS(ops::narrow(x, 1, 5, 3), IndexError);
  struct Case { std::int64_t start, end, step; };
  for (Case c : {Case{0, 7, 1}, {1, 6, 2}, {-3, 100, 1}, {-100, -1, 3}, {5, 2, 1}, {0, 7, 7}, {2, 7, 4}}) {
    CAPTURE(c.start);
    CAPTURE(c.end);
    CAPTURE(c.step);
    Tensor s = ops::slice(x, 1, c.start, c.end, c.step);
    // Reference: Python's range over the clamped bounds.
    auto wrap = [](std::int64_t i) { return std::clamp<std::int64_t>(i < 0 ? i + 7 : i, 0, 7); };
    std::vector<std::int64_t> picked;
    for (std::int64_t i = wrap(c.start); i < wrap(c.end); i += c.step) picked.push_back(i);
    REQUIRE(s.shape() == Shape{5, static_cast<std::int64_t>(picked.size())});
    check_view(s, x, [&](const Index& i) { return Index{i[0], picked[i[1]]}; });
  }
  // Slicing a transposed view, then a slice of that slice.
  Tensor t = ops::slice(ops::transpose(x, 0, 1), 0, 1, 7, 2);  // [3, 5]
  Tensor tt = ops::slice(t, 1, 1, 5, 3);                       // [3, 2]
  check_view(tt, x, [](const Index& i) { return Index{1 + 3 * i[1], 1 + 2 * i[0]}; });
  CHECK_THROWS_AS(ops::slice(x, 0, 0, 3, 0), ValueError);
  CHECK_THROWS_AS(ops::slice(x, 2, 0, 3), IndexError);
}

TEST_CASE("as_strided checks storage bounds") {
  Tensor x = arange(0.0, 12.0, 1.0, {.dtype = DType::float64});
  Tensor w = ops::as_strided(x, {3, 3}, {3, 1}, 2);  // sliding windows
  check_view(w, x, [](const Index& i) { return Index{2 + 3 * i[0] + i[1]}; });
  CHECK_THROWS_AS(ops::as_strided(x, {4, 4}, {4, 1}, 0), ShapeError);
  CHECK_THROWS_AS(ops::as_strided(x, {2}, {1, 1}, 0), ShapeError);
}

TEST_CASE("copy_ and fill_ write through views") {
  Tensor x = zeros({4, 6}, {.dtype = DType::float64});
  Tensor part = ops::slice(x, 1, 0, 6, 2);  // [4, 3]
  Tensor row = from_vector(std::vector<double>{1, 2, 3}, {3});
  ops::copy_(part, row);
  ops::fill_(ops::narrow(x, 0, 3, 1), -1.0);
  std::vector<double> v = x.to_vector<double>();
  ref::for_each_index({4, 6}, [&](const Index& i) {
    double expected = i[0] == 3 ? -1.0 : (i[1] % 2 == 0 ? 1.0 + i[1] / 2 : 0.0);
    CHECK(ref::at(v, {4, 6}, i) == expected);
  });
  CHECK_THROWS_AS(ops::copy_(part, zeros({2})), ShapeError);
  // Overlapping copies are safe: shift a row right by one.
  Tensor y = arange(0.0, 5.0, 1.0, {.dtype = DType::float64});
  ops::copy_(ops::narrow(y, 0, 1, 4), ops::narrow(y, 0, 0, 4));
  CHECK(y.to_vector<double>() == std::vector<double>{0, 0, 1, 2, 3});
  // dtype conversion on copy.
  Tensor i = zeros({3}, {.dtype = DType::int64});
  ops::copy_(i, from_vector(std::vector<float>{1.9f, -1.9f, 0.5f}, {3}));
  CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, -1, 0});
}
