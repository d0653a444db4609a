// GPU parity of the differentiable elementwise functions: values and gradients against the CPU.
#include <optional>
#include <string>
#include <vector>

#include "parity_util.h"

namespace {
const Shape kShapes[] = {Shape{}, Shape{7}, Shape{3, 5, 4}, Shape{1031}};

// Strictly positive inputs for log, sqrt, rsqrt, pow and division: |x| + 0.3.
Tensor positive(const Shape& shape, DType dtype, Generator& gen) { return positive_cpu(shape, dtype, gen, 0.3); }
}  // namespace

TEST_CASE("cuda parity: unary functions and their gradients") {
  struct Unary {
    const char* name;
    Tensor (*f)(const Tensor&);
    bool positive_only;
  };
  const Unary fns[] = {{"neg", px::neg, false},    {"abs", px::abs, false},         {"exp", px::exp, false},
                       {"log", px::log, true},     {"sqrt", px::sqrt, true},        {"rsqrt", px::rsqrt, true},
                       {"relu", px::relu, false},  {"sigmoid", px::sigmoid, false}, {"tanh", px::tanh, false}};
  Generator gen(101);
  for (DType dtype : kFloats) {
    for (const Unary& u : fns) {
      for (const Shape& shape : kShapes) {
        Tensor x = u.positive_only ? positive(shape, dtype, gen) : random_cpu(shape, dtype, gen, 2.0);
        std::string what = label(std::string(u.name) + " " + shape_str(shape), dtype);
        check_parity(what, [&](const Ts& in) { return u.f(in[0]); }, {x}, tol_for(dtype));
        if (shape.size() == 3) {  // a permuted (non-contiguous) input
          check_parity(what + " permuted", [&](const Ts& in) { return u.f(permute(in[0], {2, 0, 1})); }, {x},
                       tol_for(dtype));
        }
      }
    }
  }
}

TEST_CASE("cuda parity: binary functions with broadcasting, and their reduced gradients") {
  struct Binary {
    const char* name;
    Tensor (*f)(const Tensor&, const Tensor&);
    bool positive_b;  // div and pow: b (or a for pow) kept away from zero
  };
  const Binary fns[] = {{"add", px::add, false}, {"sub", px::sub, false},         {"mul", px::mul, false},
                        {"div", px::div, true},  {"minimum", px::minimum, false}, {"maximum", px::maximum, false}};
  const std::pair<Shape, Shape> shapes[] = {
      {{4, 5}, {4, 5}}, {{3, 1, 5}, {4, 5}}, {{1}, {6, 2}}, {{2, 3}, {}}, {{257, 3}, {257, 1}}};
  Generator gen(102);
  for (DType dtype : kFloats) {
    for (const Binary& op : fns) {
      for (const auto& [sa, sb] : shapes) {
        Tensor a = random_cpu(sa, dtype, gen, 2.0);
        Tensor b = op.positive_b ? positive(sb, dtype, gen) : random_cpu(sb, dtype, gen, 2.0);
        std::string what = label(std::string(op.name) + " " + shape_str(sa) + " with " + shape_str(sb), dtype);
        check_parity(what, [&](const Ts& in) { return op.f(in[0], in[1]); }, {a, b}, tol_for(dtype));
      }
    }
    // pow with a tensor exponent: base > 0, broadcast exponent.
    Tensor base = positive({5, 6}, dtype, gen), exponent = random_cpu({6}, dtype, gen);
    check_parity(label("pow(tensor, tensor)", dtype), [](const Ts& in) { return px::pow(in[0], in[1]); },
                 {base, exponent}, tol_for(dtype));
  }
}

TEST_CASE("cuda parity: minimum and maximum split the gradient on ties like the CPU") {
  Generator gen(103);
  for (DType dtype : kFloats) {
    // Small integers: about a third of the pairs tie.
    Tensor a = randint(-1, 2, {40, 9}, {.dtype = DType::int64}, &gen).to(dtype);
    Tensor b = randint(-1, 2, {9}, {.dtype = DType::int64}, &gen).to(dtype);
    check_parity(label("minimum ties", dtype), [](const Ts& in) { return px::minimum(in[0], in[1]); }, {a, b},
                 tol_for(dtype));
    check_parity(label("maximum ties", dtype), [](const Ts& in) { return px::maximum(in[0], in[1]); }, {a, b},
                 tol_for(dtype));
  }
}

TEST_CASE("cuda parity: scalar operands, operators and pow with a scalar exponent") {
  Generator gen(104);
  for (DType dtype : kFloats) {
    for (const Shape& shape : {Shape{6, 7}, Shape{513}}) {
      Tensor x = random_cpu(shape, dtype, gen, 2.0), p = positive(shape, dtype, gen);
      auto run = [&](const char* name, const gpu_test::ParityFn& f, const Tensor& in) {
        check_parity(label(std::string(name) + " " + shape_str(shape), dtype), f, {in}, tol_for(dtype));
      };
      run("x + 1.5", [](const Ts& in) { return in[0] + 1.5; }, x);
      run("2.5 - x", [](const Ts& in) { return 2.5 - in[0]; }, x);
      run("x * -3", [](const Ts& in) { return in[0] * -3.0; }, x);
      run("x / 4", [](const Ts& in) { return in[0] / 4.0; }, x);
      run("2 / p", [](const Ts& in) { return 2.0 / in[0]; }, p);
      run("-x", [](const Ts& in) { return -in[0]; }, x);
      run("x * x - x / 2", [](const Ts& in) { return in[0] * in[0] - in[0] / 2.0; }, x);
      run("pow(p, 2.5)", [](const Ts& in) { return px::pow(in[0], 2.5); }, p);
      run("pow(x, 3)", [](const Ts& in) { return px::pow(in[0], 3.0); }, x);
      run("pow(p, -0.5)", [](const Ts& in) { return px::pow(in[0], -0.5); }, p);
    }
  }
}

TEST_CASE("cuda parity: clamp with one or both bounds") {
  Generator gen(105);
  for (DType dtype : kFloats) {
    Tensor x = random_cpu({9, 33}, dtype, gen, 2.0);
    const std::pair<std::optional<double>, std::optional<double>> bounds[] = {
        {-0.5, 0.7}, {std::nullopt, 0.2}, {-1.0, std::nullopt}};
    for (const auto& [lo, hi] : bounds) {
      std::string what = label("clamp " + std::to_string(lo.value_or(-99)) + " " + std::to_string(hi.value_or(99)), dtype);
      check_parity(what, [lo = lo, hi = hi](const Ts& in) { return px::clamp(in[0], lo, hi); }, {x}, tol_for(dtype));
    }
  }
}

TEST_CASE("cuda parity: where with a broadcast condition routes the gradient") {
  Generator gen(106);
  for (DType dtype : kFloats) {
    Tensor cond = random_cpu({4, 1, 6}, DType::uint8, gen);
    Tensor a = random_cpu({3, 6}, dtype, gen), b = random_cpu({4, 3, 1}, dtype, gen);
    check_parity(label("where", dtype), [](const Ts& in) { return px::where(in[0], in[1], in[2]); }, {cond, a, b},
                 tol_for(dtype));
    // A float condition (non-zero selects a).
    Tensor fcond = ops::to_dtype(random_cpu({3, 6}, DType::uint8, gen), dtype);
    check_parity(label("where float cond", dtype), [](const Ts& in) { return px::where(in[0], in[1], in[2]); },
                 {fcond, a, b}, tol_for(dtype), {0});
  }
}

TEST_CASE("cuda parity: mixed float32/float64 operands promote and cast gradients back") {
  Generator gen(107);
  Tensor a = random_cpu({5, 4}, DType::float32, gen), b = random_cpu({4}, DType::float64, gen);
  Tensor out = check_parity("mul float32 x float64", [](const Ts& in) { return in[0] * in[1]; }, {a, b},
                            tol_for(DType::float32));
  CHECK(out.dtype() == DType::float64);
  check_parity("float32 -> float64 -> float32 chain",
               [](const Ts& in) { return px::to_dtype(px::exp(px::to_dtype(in[0], DType::float64)), DType::float32); },
               {a}, tol_for(DType::float32));
}

TEST_CASE("cuda parity: sign and comparisons (not differentiable) match and record nothing") {
  Generator gen(108);
  for (DType dtype : kFloats) {
    Tensor a = randint(-2, 3, {6, 7}, {.dtype = DType::int64}, &gen).to(dtype);  // ties and zeros
    Tensor b = randint(-2, 3, {7}, {.dtype = DType::int64}, &gen).to(dtype);
    Tensor ga = a.to(gpu()), gb = b.to(gpu());
    std::string d = std::string(dtype_name(dtype));
    check_equal(px::sign(a), px::sign(ga), "sign " + d);
    check_equal(px::eq(a, b), px::eq(ga, gb), "eq " + d);
    check_equal(px::ne(a, b), px::ne(ga, gb), "ne " + d);
    check_equal(px::lt(a, b), px::lt(ga, gb), "lt " + d);
    check_equal(px::le(a, b), px::le(ga, gb), "le " + d);
    check_equal(px::gt(a, b), px::gt(ga, gb), "gt " + d);
    check_equal(px::ge(a, b), px::ge(ga, gb), "ge " + d);
    check_equal(px::eq(a, 1.0), px::eq(ga, 1.0), "eq scalar " + d);
    check_equal(px::ne(a, 1.0), px::ne(ga, 1.0), "ne scalar " + d);
    check_equal(px::lt(a, 0.5), px::lt(ga, 0.5), "lt scalar " + d);
    check_equal(px::le(a, 0.0), px::le(ga, 0.0), "le scalar " + d);
    check_equal(px::gt(a, -1.0), px::gt(ga, -1.0), "gt scalar " + d);
    check_equal(px::ge(a, 2.0), px::ge(ga, 2.0), "ge scalar " + d);
    ga.set_requires_grad();
    CHECK_FALSE(px::gt(ga, gb).requires_grad());
    CHECK_FALSE(px::sign(ga).requires_grad());
  }
}
