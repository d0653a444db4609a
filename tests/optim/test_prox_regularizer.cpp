// Regularizer objects: tensor-level prox against the scalar functions, value() against direct
// sums, subgradients, group lasso against its formula per grouping (Moreau identity, metric
// prox stationarity), and make_regularizer's errors.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "prox_oracle.h"
#include "proxima/core/factory.h"
#include "proxima/optim/prox/regularizer.h"

using namespace px;
using namespace px::optim::prox;

namespace {

const RegularizerParams kParams = {{"lambda", 0.5}};

RegularizerParams params_for(const std::string& spec) {
  return spec == "mcp" || spec == "scad" ? kParams : RegularizerParams{};
}

std::vector<std::string> separable_specs() {
  return {"l1", "l0", "l12", "l23", "lq:0.3", "l2", "mcp", "scad", "bin-l1", "bin-l12", "bin-l23", "bin-l0"};
}

template <class T>
std::vector<T> random_values(std::size_t n, unsigned seed, double lo, double hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = T(u(rng));
  return v;
}

template <class T>
void check_tensor_prox(const std::string& spec) {
  INFO(spec);
  auto reg = make_regularizer(spec, params_for(spec));
  const auto& s = dynamic_cast<const SeparableRegularizer&>(*reg).scalar();
  for (const Shape& shape : {Shape{7}, Shape{3, 5}, Shape{4, 3, 2, 2}, Shape{70000}}) {
    const auto n = static_cast<std::size_t>(shape_numel(shape));
    const auto z = random_values<T>(n, 1, -3, 3), t = random_values<T>(n, 2, 0, 1.5);
    const Tensor out = reg->prox(from_vector(z, shape), from_vector(t, shape));
    const auto got = out.to_vector<T>();
    const Tensor out_uniform = reg->prox(from_vector(z, shape), 0.7);
    const auto got_uniform = out_uniform.to_vector<T>();
    double value = 0;
    for (std::size_t i = 0; i < n; ++i) {
      // same formulas; the library and the test may contract multiply-adds differently
      const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-10;  // scad divides by a - 1 - eta
      const double want = s.apply(z[i], t[i]), want_uniform = s.apply(z[i], T(0.7));
      REQUIRE(std::fabs(got[i] - want) <= tol * std::max(1.0, std::fabs(want)));
      REQUIRE(std::fabs(got_uniform[i] - want_uniform) <= tol * std::max(1.0, std::fabs(want_uniform)));
      value += s.value(double(z[i]));
    }
    CHECK(reg->value(from_vector(z, shape)) == doctest::Approx(value).epsilon(1e-12));
  }
}

}  // namespace

TEST_CASE("regularizer tensor prox equals the scalar prox per coordinate, float32 and float64") {
  for (const auto& spec : separable_specs()) {
    check_tensor_prox<float>(spec);
    check_tensor_prox<double>(spec);
  }
}

TEST_CASE("regularizer value equals the direct sum of the written-out penalties") {
  const auto x = random_values<double>(50, 3, -2, 2);
  const Tensor tx = from_vector(x, {5, 10});
  auto sum = [&](auto pen) { double s = 0; for (double v : x) s += pen(v); return s; };
  CHECK(make_regularizer("l1")->value(tx) == doctest::Approx(sum([](double v) { return std::fabs(v); })));
  CHECK(make_regularizer("l0")->value(tx) == doctest::Approx(50.0));
  CHECK(make_regularizer("l12")->value(tx) == doctest::Approx(sum([](double v) { return px::test::pen_power(v, 0.5); })));
  CHECK(make_regularizer("lq:0.3")->value(tx) == doctest::Approx(sum([](double v) { return px::test::pen_power(v, 0.3); })));
  CHECK(make_regularizer("l2")->value(tx) == doctest::Approx(sum([](double v) { return 0.5 * v * v; })));
  CHECK(make_regularizer("mcp", kParams)->value(tx) ==
        doctest::Approx(sum([](double v) { return px::test::pen_mcp(v, 0.5, 3.0) / 0.5; })));
  CHECK(make_regularizer("scad", kParams)->value(tx) ==
        doctest::Approx(sum([](double v) { return px::test::pen_scad(v, 0.5, 3.7) / 0.5; })));
  CHECK(make_regularizer("bin-l23")->value(tx) ==
        doctest::Approx(sum([](double v) { return px::test::pen_binary(v, 2.0 / 3.0); })));
}

TEST_CASE("regularizer subgradients match finite differences away from kinks") {
  const auto x = random_values<double>(40, 4, -2, 2);
  for (const auto& spec : separable_specs()) {
    auto reg = make_regularizer(spec, params_for(spec));
    if (!reg->has_subgradient()) {
      CHECK_THROWS_AS(reg->subgradient(from_vector(x, {40})), ValueError);
      continue;
    }
    const auto g = reg->subgradient(from_vector(x, {40})).to_vector<double>();
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double h = 1e-6;
      const double fd = (reg->value(from_vector(std::vector<double>{x[i] + h}, {1})) -
                         reg->value(from_vector(std::vector<double>{x[i] - h}, {1}))) / (2 * h);
      CHECK_MESSAGE(std::fabs(g[i] - fd) <= 1e-4 * std::max(1.0, std::fabs(fd)), spec, " x=", x[i]);
    }
  }
  CHECK(make_regularizer("l1")->subgradient(from_vector(std::vector<double>{0.0}, {1})).item() == 0.0);
}

TEST_CASE("group lasso prox equals the block formula for each grouping") {
  const Shape shape = {3, 4, 2, 2};
  const auto z = random_values<double>(48, 5, -1, 1);
  for (const char* name : {"whole", "rows", "columns", "filters", "channels"}) {
    auto reg = make_regularizer("group", {{"grouping", std::string(name)}});
    const int dim = std::string(name) == "whole" ? -1 : (std::string(name) == "rows" || std::string(name) == "filters") ? 0 : 1;
    for (double t : {0.0, 0.3, 1.0, 10.0}) {
      const auto got = reg->prox(from_vector(z, shape), t).to_vector<double>();
      // reference: group id of flat index i
      auto group_of = [&](std::size_t i) { return dim < 0 ? 0 : dim == 0 ? int(i / 16) : int(i / 4 % 4); };
      std::vector<double> norm2(4, 0.0);
      for (std::size_t i = 0; i < z.size(); ++i) norm2[group_of(i)] += z[i] * z[i];
      double value = 0;
      for (double n2 : norm2) value += std::sqrt(n2);
      CHECK(reg->value(from_vector(z, shape)) == doctest::Approx(value).epsilon(1e-12));
      for (std::size_t i = 0; i < z.size(); ++i) {
        const double n = std::sqrt(norm2[group_of(i)]);
        const double want = n > t ? z[i] * (1 - t / n) : 0.0;
        CHECK(std::fabs(got[i] - want) <= 1e-14);
        // Moreau identity: prox(v) + t * proj_ball(v / t) = v
        if (t > 0) CHECK(std::fabs(got[i] + t * (z[i] / t) / std::max(1.0, n / t) - z[i]) <= 1e-14);
      }
    }
  }
  CHECK(make_regularizer("group", {{"grouping", std::string("rows")}})
            ->prox(from_vector(std::vector<double>{3, -4}, {1, 2}), 1.0).to_vector<double>() ==
        std::vector<double>{2.4000000000000004, -3.2});
  CHECK_THROWS_AS(make_regularizer("group")->prox(from_vector(std::vector<double>{1, 2}, {2}), 1.0), ShapeError);
}

TEST_CASE("group lasso metric prox with per-coordinate t is stationary and reduces to the formula") {
  const auto z = random_values<double>(12, 6, -2, 2);
  auto t = random_values<double>(12, 7, 0.05, 0.6);
  auto reg = make_regularizer("group", {{"grouping", std::string("rows")}});
  const auto x = reg->prox(from_vector(z, {3, 4}), from_vector(t, {3, 4})).to_vector<double>();
  for (int g = 0; g < 3; ++g) {
    double nx = 0, nzt = 0;
    for (int j = 0; j < 4; ++j) nx += x[4 * g + j] * x[4 * g + j], nzt += std::pow(z[4 * g + j] / t[4 * g + j], 2);
    nx = std::sqrt(nx);
    if (nx == 0) { CHECK(nzt <= 1 + 1e-12); continue; }
    for (int j = 0; j < 4; ++j) {  // (x_i - z_i) / t_i + x_i / ||x|| = 0
      const int i = 4 * g + j;
      CHECK(std::fabs((x[i] - z[i]) / t[i] + x[i] / nx) <= 1e-9);
    }
  }
  std::fill(t.begin(), t.end(), 0.4);  // uniform t: the closed form
  const auto xu = reg->prox(from_vector(z, {3, 4}), from_vector(t, {3, 4})).to_vector<double>();
  const auto xr = reg->prox(from_vector(z, {3, 4}), 0.4).to_vector<double>();
  CHECK(xu == xr);
}

TEST_CASE("make_regularizer errors name the spec, the key and the known values") {
  auto message = [](auto f) { try { f(); } catch (const ValueError& e) { return std::string(e.what()); } return std::string(); };
  const std::string unknown = message([] { make_regularizer("l3"); });
  CHECK(unknown.find("\"l3\"") != std::string::npos);
  for (const auto& n : regularizer_names()) CHECK(unknown.find(n) != std::string::npos);
  CHECK(message([] { make_regularizer("mcp"); }).find("lambda") != std::string::npos);
  CHECK(message([] { make_regularizer("l1", {{"gamma", 3.0}}); }).find("gamma") != std::string::npos);
  CHECK(message([] { make_regularizer("scad", {{"lambda", 1.0}, {"a", 1.5}}); }).find("a must be") != std::string::npos);
  CHECK(message([] { make_regularizer("mcp", {{"lambda", std::string("x")}}); }).find("number") != std::string::npos);
  CHECK_THROWS_AS(make_regularizer("lq:1.5"), ValueError);
  CHECK_THROWS_AS(make_regularizer("lq:"), ValueError);
  CHECK_THROWS_AS(make_regularizer("lq:0.3x"), ValueError);
  CHECK_THROWS_AS(make_regularizer("group", {{"grouping", std::string("diagonal")}}), ValueError);
  CHECK_THROWS_AS(make_regularizer("bin-l1", {{"binary_zero", std::string("minus_one")}}), ValueError);
  CHECK(make_regularizer("lq:0.25")->name() == "lq:0.25");
  CHECK(make_regularizer("bin-l0", {{"binary_zero", std::string("keep_zero")}, {"keep_at_tie", true}})->name() == "bin-l0");
  auto reg = make_regularizer("l1");
  CHECK_THROWS_AS(reg->prox_(from_vector(std::vector<double>{1, 2}, {2}), -1.0), ValueError);
  CHECK_THROWS_AS(reg->prox(from_vector(std::vector<double>{1, 2}, {2}), from_vector(std::vector<float>{1, 2}, {2})),
                  ValueError);
  CHECK_THROWS_AS(reg->value(from_vector(std::vector<std::int64_t>{1, 2}, {2})), DTypeError);
}
