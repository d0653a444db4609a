// Direct tests of the CPU backend: dtype casts in copy, strided copies, random draws, big sums.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "proxima/core/backend.h"
#include "proxima/core/ops.h"
#include "proxima/core/philox.h"

namespace {

using px::DType;
using px::Tensor;

// The C-cast reference of the backend's copy, with float -> uint8 through int64.
template <class To>
To reference_cast(double v) {
  if constexpr (std::is_same_v<To, std::uint8_t>) {
    return static_cast<std::uint8_t>(static_cast<std::int64_t>(v));
  } else {
    return static_cast<To>(v);
  }
}

template <class To>
void check_cast_from(const std::vector<double>& values, DType from) {
  Tensor src = px::ops::to_dtype(px::from_vector(values, {static_cast<std::int64_t>(values.size())}), from);
  Tensor dst = px::empty(src.shape(), {.dtype = px::dtype_of<To>()});
  px::cpu_backend().copy(src, dst);
  std::vector<To> got = dst.to_vector<To>();
  // What src holds after its own conversion from double, read back as double.
  Tensor src_as_double = px::empty(src.shape(), {.dtype = DType::float64});
  px::cpu_backend().copy(src, src_as_double);
  std::vector<double> held = src_as_double.to_vector<double>();
  for (std::size_t i = 0; i < values.size(); ++i) {
    CAPTURE(i);
    CAPTURE(held[i]);
    CHECK(got[i] == reference_cast<To>(held[i]));
  }
}

}  // namespace

TEST_CASE("cpu copy converts between all four dtypes like a C cast") {
  // Values representable in every dtype after truncation, plus fractions and negatives.
  std::vector<double> values = {0.0, 1.0, 2.75, -2.75, 127.5, 200.0, -1.0, 255.0, 3.999, -0.5};
  for (DType from : {DType::float32, DType::float64, DType::int64, DType::uint8}) {
    CAPTURE(from);
    check_cast_from<float>(values, from);
    check_cast_from<double>(values, from);
    check_cast_from<std::int64_t>(values, from);
    check_cast_from<std::uint8_t>(values, from);
  }
  // Spot values fixed by the C rules: truncation toward zero, uint8 wrapping.
  Tensor f = px::from_vector(std::vector<float>{-2.75f, 2.75f, -1.0f, 300.0f}, {4});
  Tensor i = px::empty({4}, {.dtype = DType::int64});
  Tensor u = px::empty({4}, {.dtype = DType::uint8});
  px::cpu_backend().copy(f, i);
  px::cpu_backend().copy(f, u);
  CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{-2, 2, -1, 300});
  CHECK(u.to_vector<std::uint8_t>() == std::vector<std::uint8_t>{254, 2, 255, 44});
}

TEST_CASE("cpu copy and fill follow arbitrary strides, including broadcast and transposes") {
  std::vector<double> v(3 * 4 * 5);
  for (std::size_t k = 0; k < v.size(); ++k) v[k] = static_cast<double>(k);
  Tensor x = px::from_vector(v, {3, 4, 5});
  Tensor xt = px::ops::permute(x, {2, 0, 1});  // [5, 3, 4], non-contiguous
  Tensor dst = px::empty({5, 3, 4}, {.dtype = DType::float32});
  px::cpu_backend().copy(xt, dst);
  std::vector<float> got = dst.to_vector<float>();
  for (std::int64_t a = 0; a < 5; ++a)
    for (std::int64_t b = 0; b < 3; ++b)
      for (std::int64_t c = 0; c < 4; ++c) CHECK(got[(a * 3 + b) * 4 + c] == static_cast<float>(v[(b * 4 + c) * 5 + a]));
  // Broadcast source (stride 0) into a strided destination (every other column).
  Tensor row = px::from_vector(std::vector<double>{1, 2, 3}, {1, 3});
  Tensor big = px::zeros({4, 6}, {.dtype = DType::int64});
  Tensor cols = px::ops::slice(big, 1, 0, 6, 2);  // [4, 3], stride 2 in the last dim
  px::cpu_backend().copy(px::ops::expand(row, {4, 3}), cols);
  std::vector<std::int64_t> b = big.to_vector<std::int64_t>();
  for (std::int64_t r = 0; r < 4; ++r)
    for (std::int64_t c = 0; c < 6; ++c) CHECK(b[r * 6 + c] == (c % 2 == 0 ? c / 2 + 1 : 0));
  px::cpu_backend().fill(px::ops::slice(big, 1, 1, 6, 2), 7.0);
  b = big.to_vector<std::int64_t>();
  for (std::int64_t r = 0; r < 4; ++r)
    for (std::int64_t c = 0; c < 6; ++c) CHECK(b[r * 6 + c] == (c % 2 == 0 ? c / 2 + 1 : 7));
  // A large strided copy exercises the threaded path.
  Tensor big_src = px::ops::transpose(px::arange(0.0, 600.0 * 300.0, 1.0, {.dtype = DType::float64}).contiguous(), 0, 0);
  Tensor m = px::ops::view(big_src, {600, 300});
  Tensor mt = px::empty({300, 600}, {.dtype = DType::float64});
  px::cpu_backend().copy(px::ops::transpose(m, 0, 1), mt);
  std::vector<double> mv = mt.to_vector<double>();
  bool ok = true;
  for (std::int64_t r = 0; r < 300 && ok; ++r)
    for (std::int64_t c = 0; c < 600 && ok; ++c) ok = mv[r * 600 + c] == static_cast<double>(c * 300 + r);
  CHECK(ok);
}

TEST_CASE("cpu random draws are reproducible functions of (seed, offset, index)") {
  const std::int64_t n = 100000;
  for (DType dt : {DType::float32, DType::float64}) {
    CAPTURE(dt);
    Tensor a = px::empty({n}, {.dtype = dt}), b = px::empty({n}, {.dtype = dt});
    px::cpu_backend().random(a, px::RandomKind::uniform, 0.0, 1.0, 42, 8);
    px::cpu_backend().random(b, px::RandomKind::uniform, 0.0, 1.0, 42, 8);
    std::vector<double> av = px::ops::to_dtype(a, DType::float64).to_vector<double>();
    CHECK(av == px::ops::to_dtype(b, DType::float64).to_vector<double>());
    double mean = 0, lo = 1, hi = 0;
    for (double v : av) {
      mean += v / n;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    CHECK(mean == doctest::Approx(0.5).epsilon(0.01));
    CHECK(lo >= 0.0);
    CHECK(hi < 1.0);
    // Element i is uniform_at(seed, offset, i) mapped to [a, b).
    Tensor c = px::empty({n}, {.dtype = dt});
    px::cpu_backend().random(c, px::RandomKind::uniform, -3.0, 5.0, 42, 8);
    std::vector<double> cv = px::ops::to_dtype(c, DType::float64).to_vector<double>();
    for (std::int64_t i : {0, 1, 2, 3, 4, 777, 99999})
      CHECK(cv[i] == doctest::Approx(-3.0 + 8.0 * px::philox::uniform_at(42, 8, i)).epsilon(1e-6));
    // Offset shifts the stream; another seed changes it.
    Tensor d = px::empty({n}, {.dtype = dt});
    px::cpu_backend().random(d, px::RandomKind::uniform, 0.0, 1.0, 42, 0);
    std::vector<double> dv = px::ops::to_dtype(d, DType::float64).to_vector<double>();
    CHECK(dv[8] == av[0]);
    CHECK(dv[100] == av[92]);
    px::cpu_backend().random(d, px::RandomKind::uniform, 0.0, 1.0, 43, 8);
    CHECK(px::ops::to_dtype(d, DType::float64).to_vector<double>() != av);
    // Normal draws: mean ~ a, std ~ b.
    Tensor z = px::empty({n}, {.dtype = dt});
    px::cpu_backend().random(z, px::RandomKind::normal, 0.0, 1.0, 7, 0);
    std::vector<double> zv = px::ops::to_dtype(z, DType::float64).to_vector<double>();
    double zmean = 0, zsq = 0;
    for (double v : zv) {
      zmean += v / n;
      zsq += v * v / n;
    }
    CHECK(std::abs(zmean) < 0.02);
    CHECK(std::sqrt(zsq - zmean * zmean) == doctest::Approx(1.0).epsilon(0.02));
    px::cpu_backend().random(z, px::RandomKind::normal, 2.0, 0.5, 7, 0);
    std::vector<double> zv2 = px::ops::to_dtype(z, DType::float64).to_vector<double>();
    for (std::int64_t i : {0, 5, 12345}) CHECK(zv2[i] == doctest::Approx(2.0 + 0.5 * zv[i]).epsilon(1e-6));
  }
}

TEST_CASE("cpu sum of a million float32 values is accurate and max/argmax follow PyTorch") {
  const std::int64_t n = 1000000;
  std::vector<float> v(n);
  double exact = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    v[i] = 0.1f + static_cast<float>(i % 7) * 0.01f;
    exact += static_cast<double>(v[i]);
  }
  Tensor x = px::from_vector(v, {n});
  Tensor s = px::empty({1, 1}, {.dtype = DType::float32});
  px::cpu_backend().reduce(px::ReduceOp::sum, x, s, 1, n, 1);
  CHECK(s.to_vector<float>()[0] == doctest::Approx(exact).epsilon(1e-6));
  // [outer=2, n=3, inner=2] with ties and a NaN.
  std::vector<double> t = {1, 5, 3, 5, 3, 2, /* second block */ 0, 4, NAN, 4, 0, 9};
  Tensor tx = px::from_vector(t, {2, 3, 2});
  Tensor mx = px::empty({2, 2}, {.dtype = DType::float64}), am = px::empty({2, 2}, {.dtype = DType::int64});
  px::cpu_backend().reduce(px::ReduceOp::max, tx, mx, 2, 3, 2);
  px::cpu_backend().reduce(px::ReduceOp::argmax, tx, am, 2, 3, 2);
  std::vector<double> mv = mx.to_vector<double>();
  CHECK(mv[0] == 3);
  CHECK(mv[1] == 5);
  CHECK(std::isnan(mv[2]));
  CHECK(mv[3] == 9);
  CHECK(am.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0, 1, 2});
  px::cpu_backend().reduce(px::ReduceOp::argmin, tx, am, 2, 3, 2);
  CHECK(am.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 2, 1, 0});
}

TEST_CASE("cpu unary ops agree on contiguous (vectorised) and strided (scalar) inputs") {
  // Values over a wide range, including extremes where exp/sigmoid/tanh saturate.
  std::vector<double> v;
  for (int i = 0; i < 2000; ++i) v.push_back(-90.0 + 180.0 * i / 1999.0);
  for (double e : {0.0, 1e-30, -1e-30, 1e-3, -1e-3, 0.5, -0.5, 20.0, -20.0}) v.push_back(e);
  const std::int64_t n = static_cast<std::int64_t>(v.size());
  using px::UnaryOp;
  for (DType dt : {DType::float32, DType::float64}) {
    const double tol = dt == DType::float32 ? 4e-6 : 1e-13;
    Tensor x = px::ops::to_dtype(px::from_vector(v, {n}), dt);
    std::vector<double> held = px::ops::to_dtype(x, DType::float64).to_vector<double>();
    Tensor wide = px::zeros({2 * n}, {.dtype = dt});
    Tensor strided = px::ops::slice(wide, 0, 0, 2 * n, 2);  // stride 2: the scalar path
    px::cpu_backend().copy(x, strided);
    for (UnaryOp op : {UnaryOp::exp, UnaryOp::log, UnaryOp::sqrt, UnaryOp::rsqrt, UnaryOp::sigmoid,
                       UnaryOp::tanh, UnaryOp::relu, UnaryOp::abs, UnaryOp::neg, UnaryOp::sign}) {
      CAPTURE(dt);
      CAPTURE(static_cast<int>(op));
      Tensor a = px::empty({n}, {.dtype = dt}), b = px::empty({n}, {.dtype = dt});
      px::cpu_backend().unary(op, x, a);
      px::cpu_backend().unary(op, strided, b);
      std::vector<double> av = px::ops::to_dtype(a, DType::float64).to_vector<double>();
      std::vector<double> bv = px::ops::to_dtype(b, DType::float64).to_vector<double>();
      for (std::int64_t i = 0; i < n; ++i) {
        const double t = held[i];
        double want = 0;
        switch (op) {
          case UnaryOp::exp: want = std::exp(t); break;
          case UnaryOp::log: want = std::log(t); break;
          case UnaryOp::sqrt: want = std::sqrt(t); break;
          case UnaryOp::rsqrt: want = 1.0 / std::sqrt(t); break;
          case UnaryOp::sigmoid: want = 1.0 / (1.0 + std::exp(-t)); break;
          case UnaryOp::tanh: want = std::tanh(t); break;
          case UnaryOp::relu: want = t < 0 ? 0.0 : t; break;
          case UnaryOp::abs: want = std::abs(t); break;
          case UnaryOp::neg: want = -t; break;
          case UnaryOp::sign: want = (t > 0) - (t < 0); break;
        }
        // float32 results overflow to inf where double does not: compare in the tensor's type.
        if (dt == DType::float32) want = static_cast<double>(static_cast<float>(want));
        for (double got : {av[i], bv[i]}) {
          bool ok = (std::isnan(want) && std::isnan(got)) || got == want ||
                    std::abs(got - want) <= tol * std::abs(want) + (dt == DType::float32 ? 1e-37 : 1e-300);
          if (!ok) {
            FAIL_CHECK("x = " << t << ": got " << got << ", expected " << want);
            break;
          }
        }
      }
    }
  }
}

TEST_CASE("cpu reductions over [outer, n, inner] match direct loops for wide inner dims") {
  for (auto [outer, n, inner] : {std::array<std::int64_t, 3>{3, 50, 130}, {1, 7, 64}, {2, 1, 65}, {4, 300, 1}}) {
    CAPTURE(outer);
    CAPTURE(n);
    CAPTURE(inner);
    std::vector<double> v(static_cast<std::size_t>(outer * n * inner));
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::round(std::sin(0.37 * i + 1) * 8) / 4;  // many ties
    Tensor x = px::from_vector(v, {outer, n, inner});
    for (px::ReduceOp op : {px::ReduceOp::sum, px::ReduceOp::max, px::ReduceOp::min, px::ReduceOp::argmax,
                            px::ReduceOp::argmin}) {
      CAPTURE(static_cast<int>(op));
      bool index = op == px::ReduceOp::argmax || op == px::ReduceOp::argmin;
      Tensor out = px::empty({outer, inner}, {.dtype = index ? DType::int64 : DType::float64});
      px::cpu_backend().reduce(op, x, out, outer, n, inner);
      std::vector<double> got = px::ops::to_dtype(out, DType::float64).to_vector<double>();
      for (std::int64_t o = 0; o < outer; ++o)
        for (std::int64_t j = 0; j < inner; ++j) {
          double sum = 0, best = v[o * n * inner + j];
          std::int64_t best_k = 0;
          bool is_max = op == px::ReduceOp::max || op == px::ReduceOp::argmax;
          for (std::int64_t k = 0; k < n; ++k) {
            double e = v[(o * n + k) * inner + j];
            sum += e;
            if (is_max ? e > best : e < best) {
              best = e;
              best_k = k;
            }
          }
          double want = op == px::ReduceOp::sum ? sum : index ? static_cast<double>(best_k) : best;
          CHECK(got[o * inner + j] == doctest::Approx(want).epsilon(1e-12));
        }
    }
  }
}
