// Elementwise ops against scalar reference loops, with broadcasting and strided inputs.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/reference.h"

using namespace px;
using ref::Index;

namespace {

const std::vector<std::pair<Shape, Shape>> kBroadcastCases = {
    {{3, 4}, {3, 4}}, {{2, 3, 4}, {4}}, {{3, 1}, {1, 5}}, {{}, {2, 3}}, {{2, 1, 4}, {3, 1}}, {{0, 3}, {1, 3}}};

// Reference binary op on broadcast values.
std::vector<double> reference_binary(const Tensor& a, const Tensor& b, const std::function<double(double, double)>& f) {
  Shape out = broadcast_shapes(a.shape(), b.shape());
  std::vector<double> av = ref::values(a), bv = ref::values(b), r;
  ref::for_each_index(out, [&](const Index& i) {
    r.push_back(f(ref::at(av, a.shape(), ref::broadcast_source(i, a.shape())),
                  ref::at(bv, b.shape(), ref::broadcast_source(i, b.shape()))));
  });
  return r;
}

}  // namespace

TEST_CASE("unary ops match std:: functions on every layout") {
  struct Case { UnaryOp op; double (*f)(double); double lo, hi; };
  std::vector<Case> cases = {
      {UnaryOp::neg, [](double x) { return -x; }, -3, 3},
      {UnaryOp::abs, [](double x) { return std::abs(x); }, -3, 3},
      {UnaryOp::sign, [](double x) { return double((x > 0) - (x < 0)); }, -3, 3},
      {UnaryOp::exp, [](double x) { return std::exp(x); }, -3, 3},
      {UnaryOp::log, [](double x) { return std::log(x); }, 0.1, 5},
      {UnaryOp::sqrt, [](double x) { return std::sqrt(x); }, 0, 5},
      {UnaryOp::rsqrt, [](double x) { return 1 / std::sqrt(x); }, 0.1, 5},
      {UnaryOp::relu, [](double x) { return x > 0 ? x : 0; }, -3, 3},
      {UnaryOp::sigmoid, [](double x) { return 1 / (1 + std::exp(-x)); }, -6, 6},
      {UnaryOp::tanh, [](double x) { return std::tanh(x); }, -3, 3}};
  for (DType dt : {DType::float32, DType::float64}) {
    for (const Case& c : cases) {
      for (Shape shape : {Shape{7}, Shape{3, 4}, Shape{2, 3, 5}, Shape{}}) {
        Tensor x = ref::random_tensor(shape, dt, 21, c.lo, c.hi);
        std::vector<double> expected;
        for (double v : ref::values(x)) expected.push_back(c.f(v));
        for (const Tensor& in : ref::layouts(x)) {
          CAPTURE(static_cast<int>(c.op));
          Tensor out = ops::unary(c.op, in);
          CHECK(out.dtype() == dt);
          ref::check_close(out, shape, expected, 4 * ref::tolerance(dt));
        }
      }
    }
  }
  // Integer support: neg/abs/sign on int64, float-only ops reject ints.
  Tensor i = ref::random_tensor({10}, DType::int64, 22, -5, 5);
  std::vector<double> iv = ref::values(i), expected;
  for (double v : iv) expected.push_back(std::abs(v));
  ref::check_close(ops::abs(i), {10}, expected, 0);
  CHECK(ops::neg(i).dtype() == DType::int64);
  CHECK_THROWS_AS(ops::exp(i), DTypeError);
  CHECK_THROWS_AS(ops::relu(i), DTypeError);
  CHECK(ops::exp(zeros({0, 4})).shape() == Shape{0, 4});
}

TEST_CASE("binary arithmetic broadcasts and promotes") {
  struct Case { BinaryOp op; double (*f)(double, double); };
  std::vector<Case> cases = {{BinaryOp::add, [](double a, double b) { return a + b; }},
                             {BinaryOp::sub, [](double a, double b) { return a - b; }},
                             {BinaryOp::mul, [](double a, double b) { return a * b; }},
                             {BinaryOp::div, [](double a, double b) { return a / b; }},
                             {BinaryOp::minimum, [](double a, double b) { return std::min(a, b); }},
                             {BinaryOp::maximum, [](double a, double b) { return std::max(a, b); }}};
  for (DType dt : {DType::float32, DType::float64, DType::int64}) {
    for (const Case& c : cases) {
      if (dt == DType::int64 && c.op == BinaryOp::div) continue;
      for (auto [sa, sb] : kBroadcastCases) {
        Tensor a = ref::random_tensor(sa, dt, 23, -4, 4);
        Tensor b = ref::random_tensor(sb, dt, 24, 0.5, 4);
        std::vector<double> expected = reference_binary(a, b, c.f);
        Shape out_shape = broadcast_shapes(sa, sb);
        for (const Tensor& la : ref::layouts(a))
          for (const Tensor& lb : ref::layouts(b)) {
            Tensor out = ops::binary(c.op, la, lb);
            CHECK(out.dtype() == dt);
            ref::check_close(out, out_shape, expected, ref::tolerance(dt));
            ref::check_close(ops::binary(c.op, lb, la), out_shape, reference_binary(b, a, c.f), ref::tolerance(dt));
          }
      }
    }
  }
  // pow (float only).
  Tensor base = ref::random_tensor({3, 4}, DType::float64, 25, 0.1, 3);
  Tensor expo = ref::random_tensor({4}, DType::float64, 26, -2, 2);
  ref::check_close(ops::pow(base, expo), {3, 4}, reference_binary(base, expo, [](double a, double b) { return std::pow(a, b); }), 1e-12);
  std::vector<double> cubes;
  for (double v : ref::values(base)) cubes.push_back(v * v * v);
  ref::check_close(ops::pow(base, 3.0), {3, 4}, cubes, 1e-12);
  CHECK_THROWS_AS(ops::pow(arange(3), 2.0), DTypeError);
  // Promotion: int64 + float32 -> float32, float32 + float64 -> float64, uint8 + uint8 stays uint8.
  Tensor i = arange(4), f = ones({4}), d = ones({4}, {.dtype = DType::float64});
  CHECK(ops::add(i, f).dtype() == DType::float32);
  CHECK(ops::add(f, d).dtype() == DType::float64);
  ref::check_close(ops::add(i, f), {4}, {1, 2, 3, 4}, 0);
  Tensor u = full({2}, 200.0, {.dtype = DType::uint8});
  Tensor uu = ops::add(u, u);
  CHECK(uu.dtype() == DType::uint8);
  CHECK(uu.to_vector<std::uint8_t>() == std::vector<std::uint8_t>{144, 144});  // wraps like PyTorch
}

TEST_CASE("scalar overloads take the tensor's dtype") {
  for (DType dt : {DType::float32, DType::float64}) {
    Tensor x = ref::non_contiguous(ref::random_tensor({3, 5}, dt, 27, 0.5, 3));
    std::vector<double> v = ref::values(x);
    auto check = [&](const Tensor& out, const std::function<double(double)>& f) {
      CHECK(out.dtype() == dt);
      std::vector<double> expected;
      for (double a : v) expected.push_back(f(a));
      ref::check_close(out, {3, 5}, expected, ref::tolerance(dt));
    };
    check(ops::add(x, 1.5), [](double a) { return a + 1.5; });
    check(ops::sub(x, 1.5), [](double a) { return a - 1.5; });
    check(ops::sub(1.5, x), [](double a) { return 1.5 - a; });
    check(ops::mul(x, -2.0), [](double a) { return a * -2.0; });
    check(ops::div(x, 4.0), [](double a) { return a / 4.0; });
    check(ops::div(2.0, x), [](double a) { return 2.0 / a; });
    check(ops::clamp(x, 1.0, 2.0), [](double a) { return std::clamp(a, 1.0, 2.0); });
    check(ops::clamp(x, std::nullopt, 2.0), [](double a) { return std::min(a, 2.0); });
    check(ops::clamp(x, 1.0, std::nullopt), [](double a) { return std::max(a, 1.0); });
    check(ops::clamp(x, std::nullopt, std::nullopt), [](double a) { return a; });
  }
  // An int tensor plus 1.7 adds 1 (the scalar is converted to int64 first).
  Tensor i = arange(3);
  Tensor r = ops::add(i, 1.7);
  CHECK(r.dtype() == DType::int64);
  CHECK(r.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 2, 3});
}

TEST_CASE("comparisons give uint8 masks, where selects") {
  for (DType dt : {DType::float32, DType::float64, DType::int64}) {
    Tensor a = ref::random_tensor({4, 5}, dt, 28, -3, 3);
    Tensor b = ref::random_tensor({5}, dt, 29, -3, 3);
    struct Case { Tensor (*op)(const Tensor&, const Tensor&); bool (*f)(double, double); };
    std::vector<Case> cases = {{ops::eq, [](double x, double y) { return x == y; }},
                               {ops::ne, [](double x, double y) { return x != y; }},
                               {ops::lt, [](double x, double y) { return x < y; }},
                               {ops::le, [](double x, double y) { return x <= y; }},
                               {ops::gt, [](double x, double y) { return x > y; }},
                               {ops::ge, [](double x, double y) { return x >= y; }}};
    for (const Case& c : cases) {
      Tensor m = c.op(ref::non_contiguous(a), b);
      CHECK(m.dtype() == DType::uint8);
      ref::check_close(m, {4, 5}, reference_binary(a, b, [&](double x, double y) { return double(c.f(x, y)); }), 0);
    }
    Tensor m = ops::gt(a, 0.0);
    std::vector<double> expected;
    for (double v : ref::values(a)) expected.push_back(v > 0);
    ref::check_close(m, {4, 5}, expected, 0);
    ref::check_close(ops::le(a, 1.0), {4, 5}, reference_binary(a, full({}, 1.0), [](double x, double y) { return double(x <= y); }), 0);
    ref::check_close(ops::eq(a, 1.0), {4, 5}, reference_binary(a, full({}, 1.0), [](double x, double y) { return double(x == y); }), 0);
    ref::check_close(ops::ne(a, 1.0), {4, 5}, reference_binary(a, full({}, 1.0), [](double x, double y) { return double(x != y); }), 0);
    ref::check_close(ops::lt(a, 1.0), {4, 5}, reference_binary(a, full({}, 1.0), [](double x, double y) { return double(x < y); }), 0);
    ref::check_close(ops::ge(a, 1.0), {4, 5}, reference_binary(a, full({}, 1.0), [](double x, double y) { return double(x >= y); }), 0);
  }
  // where with a float condition (non-zero = a), broadcasting all three.
  Tensor cond = ref::random_tensor({3, 1}, DType::float32, 30, -1, 1);
  ops::fill_(ops::narrow(cond, 0, 1, 1), 0.0);
  Tensor a = ref::random_tensor({3, 4}, DType::float64, 31), b = ref::random_tensor({4}, DType::float32, 32);
  Tensor w = ops::where(cond, ops::transpose(ops::transpose(a, 0, 1), 0, 1), b);
  CHECK(w.dtype() == DType::float64);
  std::vector<double> cv = ref::values(cond), av = ref::values(a), bv = ref::values(b), expected;
  ref::for_each_index({3, 4}, [&](const Index& i) {
    expected.push_back(cv[i[0]] != 0 ? ref::at(av, {3, 4}, i) : bv[i[1]]);
  });
  ref::check_close(w, {3, 4}, expected, 1e-7);
  ref::check_close(ops::where(ops::gt(a, 0.0), a, zeros({}, {.dtype = DType::float64})), {3, 4},
                   [&] { std::vector<double> r; for (double v : av) r.push_back(v > 0 ? v : 0); return r; }(), 0);
}

TEST_CASE("empty tensors flow through elementwise ops") {
  Tensor e = zeros({0, 3});
  CHECK(ops::add(e, ones({3})).shape() == Shape{0, 3});
  CHECK(ops::gt(e, 0.0).dtype() == DType::uint8);
  CHECK(ops::where(ops::gt(e, 0.0), e, e).numel() == 0);
  CHECK(ops::relu(e).numel() == 0);
}

TEST_CASE_TEMPLATE("relu keeps NaN, -0 and inf, on contiguous runs and strided views", T, float, double) {
  const T inf = std::numeric_limits<T>::infinity(), nan = std::numeric_limits<T>::quiet_NaN();
  std::vector<T> in;
  for (int rep = 0; rep < 9; ++rep) {  // long enough for the vectorised runs and their tails
    for (T v : {T(-2), T(3), nan, T(-0.0), T(0), -inf, inf, T(1e-30), T(-1e-30)}) in.push_back(v);
  }
  const Tensor x = from_vector<T>(in, {static_cast<std::int64_t>(in.size())});
  for (const Tensor& view : {x, ops::transpose(ops::view(x, {9, 9}), 0, 1)}) {
    const std::vector<T> src = ops::contiguous(view).template to_vector<T>();
    const std::vector<T> out = ops::contiguous(ops::relu(view)).template to_vector<T>();
    for (std::size_t i = 0; i < src.size(); ++i) {
      const T v = src[i];
      if (std::isnan(v)) {
        CHECK(std::isnan(out[i]));
      } else {
        CHECK(out[i] == (v < T(0) ? T(0) : v));
        CHECK(std::signbit(out[i]) == (v == T(0) && std::signbit(v)));
      }
    }
  }
}
