// Reductions against naive loops over every subset of dims, on contiguous and strided inputs.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/reference.h"

using namespace px;
using ref::Index;

namespace {

struct Reduced {
  Shape shape;                               // keepdim=false shape
  std::vector<std::vector<double>> groups;   // the values reduced into each output element
  std::vector<std::vector<std::int64_t>> positions;  // their index along the reduced (flattened) dims
};

// Groups x's values by output element for reduced dims `dims` (empty = all).
Reduced group(const Tensor& x, std::vector<std::int64_t> dims) {
  if (dims.empty()) for (std::int64_t k = 0; k < x.dim(); ++k) dims.push_back(k);
  for (auto& d : dims) d = normalize_dim(d, x.dim());
  Reduced r;
  Shape kept_shape, red_shape;
  for (std::int64_t k = 0; k < x.dim(); ++k) {
    bool red = std::find(dims.begin(), dims.end(), k) != dims.end();
    (red ? red_shape : kept_shape).push_back(x.shape()[k]);
  }
  r.shape = kept_shape;
  r.groups.resize(shape_numel(kept_shape));
  r.positions.resize(shape_numel(kept_shape));
  std::vector<double> v = ref::values(x);
  ref::for_each_index(x.shape(), [&](const Index& i) {
    Index kept, red;
    for (std::int64_t k = 0; k < x.dim(); ++k)
      (std::find(dims.begin(), dims.end(), k) != dims.end() ? red : kept).push_back(i[k]);
    std::int64_t o = ref::flat_index(kept_shape, kept);
    r.groups[o].push_back(ref::at(v, x.shape(), i));
    r.positions[o].push_back(ref::flat_index(red_shape, red));
  });
  return r;
}

Shape keepdim_shape(const Tensor& x, std::vector<std::int64_t> dims) {
  if (dims.empty()) for (std::int64_t k = 0; k < x.dim(); ++k) dims.push_back(k);
  Shape s = x.shape();
  for (auto d : dims) s[normalize_dim(d, x.dim())] = 1;
  return s;
}

std::vector<double> per_group(const Reduced& r, const std::function<double(const std::vector<double>&)>& f) {
  std::vector<double> out;
  for (const auto& g : r.groups) out.push_back(f(g));
  return out;
}

double total(const std::vector<double>& g) { double s = 0; for (double v : g) s += v; return s; }
double average(const std::vector<double>& g) { return total(g) / g.size(); }

const std::vector<std::vector<std::int64_t>> kDimSets = {{}, {0}, {1}, {2}, {-1}, {0, 1}, {1, 2}, {0, 2}, {2, 0}, {0, 1, 2}};

}  // namespace

TEST_CASE("sum, mean, amax, amin over dim subsets and layouts") {
  for (DType dt : {DType::float32, DType::float64}) {
    Tensor x = ref::random_tensor({3, 4, 5}, dt, 41, -3, 3);
    for (const Tensor& in : ref::layouts(x)) {
      for (const auto& dims : kDimSets) {
        CAPTURE(dims.size());
        Reduced r = group(x, dims);
        double tol = 10 * ref::tolerance(dt);
        ref::check_close(ops::sum(in, dims), r.shape, per_group(r, total), tol);
        ref::check_close(ops::sum(in, dims, true), keepdim_shape(x, dims), per_group(r, total), tol);
        ref::check_close(ops::mean(in, dims), r.shape, per_group(r, average), tol);
        ref::check_close(ops::amax(in, dims), r.shape,
                         per_group(r, [](const auto& g) { return *std::max_element(g.begin(), g.end()); }), 0);
        ref::check_close(ops::amin(in, dims, true), keepdim_shape(x, dims),
                         per_group(r, [](const auto& g) { return *std::min_element(g.begin(), g.end()); }), 0);
      }
    }
  }
}

TEST_CASE("integer reductions") {
  Tensor x = ref::random_tensor({4, 6}, DType::int64, 42, -50, 50);
  for (const auto& dims : std::vector<std::vector<std::int64_t>>{{}, {0}, {1}}) {
    Reduced r = group(x, dims);
    Tensor s = ops::sum(ref::non_contiguous(x), dims);
    CHECK(s.dtype() == DType::int64);
    ref::check_close(s, r.shape, per_group(r, total), 0);
    ref::check_close(ops::amax(x, dims), r.shape, per_group(r, [](const auto& g) { return *std::max_element(g.begin(), g.end()); }), 0);
  }
  // uint8 masks sum to int64 counts without wrapping.
  Tensor mask = ones({300}, {.dtype = DType::uint8});
  Tensor c = ops::sum(mask);
  CHECK(c.dtype() == DType::int64);
  CHECK(c.item() == 300);
  CHECK(ops::amax(mask).dtype() == DType::uint8);
  CHECK_THROWS_AS(ops::mean(x), DTypeError);
}

TEST_CASE("argmax and argmin: first index on ties, flattened without dim") {
  for (DType dt : {DType::float32, DType::float64, DType::int64}) {
    Tensor x = ref::random_tensor({3, 4, 5}, dt, 43, -3, 3);  // ints: many ties
    for (const Tensor& in : ref::layouts(x)) {
      for (std::int64_t d : {0, 1, 2, -1}) {
        Reduced r = group(x, {d});
        auto first_best = [&](bool max) {
          std::vector<double> out;
          for (std::size_t o = 0; o < r.groups.size(); ++o) {
            const auto& g = r.groups[o];
            auto it = max ? std::max_element(g.begin(), g.end()) : std::min_element(g.begin(), g.end());
            out.push_back(static_cast<double>(r.positions[o][it - g.begin()]));
          }
          return out;
        };
        Tensor am = ops::argmax(in, d);
        CHECK(am.dtype() == DType::int64);
        ref::check_close(am, r.shape, first_best(true), 0);
        ref::check_close(ops::argmin(in, d, true), keepdim_shape(x, {d}), first_best(false), 0);
      }
      std::vector<double> v = ref::values(x);
      CHECK(ops::argmax(in).item() == std::max_element(v.begin(), v.end()) - v.begin());
      CHECK(ops::argmin(in).item() == std::min_element(v.begin(), v.end()) - v.begin());
      CHECK(ops::argmax(in, std::nullopt, true).shape() == Shape{1, 1, 1});
    }
  }
}

TEST_CASE("var, norms and count_nonzero") {
  for (DType dt : {DType::float32, DType::float64}) {
    Tensor x = ref::random_tensor({4, 5, 3}, dt, 44, -2, 2);
    ops::fill_(ops::narrow(x, 1, 2, 1), 0.0);
    for (const auto& dims : kDimSets) {
      Reduced r = group(x, dims);
      double tol = 20 * ref::tolerance(dt);
      for (std::int64_t correction : {0, 1}) {
        ref::check_close(ops::var(ref::non_contiguous(x), dims, correction), r.shape, per_group(r, [&](const auto& g) {
          double m = average(g), s = 0;
          for (double v : g) s += (v - m) * (v - m);
          return s / (g.size() - correction);
        }), tol);
      }
      ref::check_close(ops::norm_l1(x, dims), r.shape, per_group(r, [](const auto& g) {
        double s = 0; for (double v : g) s += std::abs(v); return s; }), tol);
      ref::check_close(ops::norm_l2(x, dims, true), keepdim_shape(x, dims), per_group(r, [](const auto& g) {
        double s = 0; for (double v : g) s += v * v; return std::sqrt(s); }), tol);
      Tensor c = ops::count_nonzero(x, dims);
      CHECK(c.dtype() == DType::int64);
      ref::check_close(c, r.shape, per_group(r, [](const auto& g) {
        return double(std::count_if(g.begin(), g.end(), [](double v) { return v != 0; })); }), 0);
    }
  }
  CHECK_THROWS_AS(ops::var(arange(4)), DTypeError);
  CHECK_THROWS_AS(ops::norm_l2(arange(4)), DTypeError);
}

TEST_CASE("empty and 0-d reductions") {
  Tensor e = zeros({0, 3});
  CHECK(ops::sum(e).item() == 0.0);
  ref::check_close(ops::sum(e, {0}), {3}, {0, 0, 0}, 0);
  CHECK(ops::sum(e, {1}).shape() == Shape{0});
  CHECK_THROWS_AS(ops::amax(e), ValueError);
  CHECK_THROWS_AS(ops::argmax(e), ValueError);
  CHECK(ops::amax(e, {1}).shape() == Shape{0});
  CHECK(std::isnan(ops::mean(e).item()));
  Tensor s = scalar_tensor(4.0);
  CHECK(ops::sum(s).item() == 4.0);
  CHECK(ops::amax(s, {0}).item() == 4.0);
  CHECK(ops::argmax(s).item() == 0.0);
  CHECK_THROWS_AS(ops::sum(zeros({2, 3}), {0, 0}), IndexError);
  CHECK_THROWS_AS(ops::sum(zeros({2, 3}), {2}), IndexError);
  CHECK_THROWS_AS(ops::sum(zeros({2, 3}), {0, -2}), IndexError);
}
