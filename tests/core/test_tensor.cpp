// Tensor metadata, factories, conversions, printing, generator determinism and autograd slot.
#include <cstdio>
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "core/reference.h"
#include "proxima/core/ops.h"
#include "proxima/core/philox.h"

using namespace px;

TEST_CASE("shape helpers: numel, strides, broadcast, normalize_dim") {
  CHECK(shape_numel({2, 3, 4}) == 24);
  CHECK(shape_numel({}) == 1);
  CHECK(shape_numel({3, 0}) == 0);
  CHECK(contiguous_strides({2, 3, 4}) == Shape{12, 4, 1});
  CHECK(shape_str({2, 3}) == "[2, 3]");
  CHECK(broadcast_shapes({3, 1, 5}, {4, 1}) == Shape{3, 4, 5});
  CHECK(broadcast_shapes({}, {2}) == Shape{2});
  CHECK_THROWS_AS(broadcast_shapes({3}, {4}), ShapeError);
  CHECK(normalize_dim(-1, 3) == 2);
  CHECK_THROWS_AS(normalize_dim(3, 3), IndexError);
}

TEST_CASE("device parse and print") {
  CHECK(Device::parse("cpu") == Device::cpu());
  CHECK(Device::parse("cuda") == Device::cuda(0));
  CHECK(Device::parse("cuda:3") == Device::cuda(3));
  CHECK(Device::cuda(2).str() == "cuda:2");
  CHECK(Device::cpu().str() == "cpu");
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda:-1", "cuda:1a", ""})
    CHECK_THROWS_AS(Device::parse(bad), ValueError);
}

TEST_CASE("tensor metadata") {
  Tensor t = zeros({2, 3, 4});
  CHECK(t.defined());
  CHECK(t.dim() == 3);
  CHECK(t.size(-1) == 4);
  CHECK(t.stride(0) == 12);
  CHECK(t.numel() == 24);
  CHECK(t.dtype() == DType::float32);
  CHECK(t.device() == Device::cpu());
  CHECK(t.is_contiguous());
  CHECK(!ops::transpose(t, 0, 2).is_contiguous());
  CHECK_THROWS_AS(t.size(3), IndexError);
  CHECK_THROWS_AS(t.data<double>(), DTypeError);
  Tensor undefined;
  CHECK(!undefined.defined());
  CHECK_THROWS_AS(undefined.shape(), ValueError);
  Tensor copy = t;
  CHECK(copy.is_same(t));
  CHECK(static_cast<char*>(ops::narrow(t, 2, 1, 2).data_ptr()) == static_cast<char*>(t.data_ptr()) + 4);
}

TEST_CASE("factories fill the expected values") {
  for (DType dt : {DType::float32, DType::float64, DType::int64, DType::uint8}) {
    CAPTURE(dt);
    Tensor z = zeros({3, 2}, {.dtype = dt});
    Tensor o = ones({3, 2}, {.dtype = dt});
    Tensor f = full({4}, 7.0, {.dtype = dt});
    CHECK(z.dtype() == dt);
    for (double v : ref::values(z)) CHECK(v == 0.0);
    for (double v : ref::values(o)) CHECK(v == 1.0);
    for (double v : ref::values(f)) CHECK(v == 7.0);
  }
  CHECK(empty({0, 3}).numel() == 0);
  CHECK_THROWS_AS(empty({2, -1}), ValueError);
  Tensor s = scalar_tensor(2.5);
  CHECK(s.dim() == 0);
  CHECK(s.item() == 2.5);
  Tensor l = tensor({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(l.shape() == Shape{2, 3});
  CHECK(l.to_vector<float>() == std::vector<float>{1, 2, 3, 4, 5, 6});
  Tensor like = full_like(ones({2, 2}, {.dtype = DType::float64}), 3.0);
  CHECK(like.dtype() == DType::float64);
  CHECK(ref::values(like) == std::vector<double>(4, 3.0));
  CHECK(zeros_like(l).shape() == l.shape());
  CHECK(ones_like(l).to_vector<float>() == std::vector<float>(6, 1.0f));
  CHECK(empty_like(l).dtype() == DType::float32);
}

TEST_CASE("arange with float and int dtypes") {
  for (auto [start, end, step] : {std::tuple{0.0, 5.0, 1.0}, {1.0, 2.0, 0.25}, {5.0, -1.0, -2.0}, {3.0, 3.0, 1.0}}) {
    Tensor t = arange(start, end, step, {.dtype = DType::float64});
    std::vector<double> expected;
    for (double v = start; step > 0 ? v < end : v > end; v += step) expected.push_back(v);
    CHECK(t.to_vector<double>() == expected);
  }
  Tensor i = arange(5);
  CHECK(i.dtype() == DType::int64);
  CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 1, 2, 3, 4});
  Tensor f = arange(0.0, 1.0, 0.5);
  CHECK(f.to_vector<float>() == std::vector<float>{0.0f, 0.5f});
  CHECK_THROWS_AS(arange(0.0, 1.0, 0.0), ValueError);
}

TEST_CASE("from_vector / from_blob / to_vector round trip") {
  std::vector<std::int64_t> v{3, -1, 4, 1, -5, 9};
  Tensor t = from_vector(v, {3, 2});
  CHECK(t.dtype() == DType::int64);
  CHECK(t.to_vector<std::int64_t>() == v);
  CHECK_THROWS_AS(from_vector(v, {4, 2}), ShapeError);
  CHECK_THROWS_AS(t.to_vector<float>(), DTypeError);
  // A non-contiguous view reads back in row-major order of the view.
  Tensor tt = ops::transpose(t, 0, 1);
  CHECK(tt.to_vector<std::int64_t>() == std::vector<std::int64_t>{3, 4, -5, -1, 1, 9});
  std::vector<std::uint8_t> bytes{1, 2, 255};
  CHECK(from_blob(bytes.data(), {3}, DType::uint8).to_vector<std::uint8_t>() == bytes);
}

TEST_CASE("to(dtype) converts like a C cast, to(device) and item") {
  Tensor t = from_vector(std::vector<double>{1.75, -2.5, 3.0}, {3});
  CHECK(t.to(DType::float64).is_same(t));
  CHECK(t.to(DType::int64).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, -2, 3});
  CHECK(t.to(DType::float32).to_vector<float>() == std::vector<float>{1.75f, -2.5f, 3.0f});
  CHECK(t.to(Device::cpu()).is_same(t));
  CHECK(ops::narrow(t, 0, 1, 1).item() == -2.5);
  CHECK_THROWS_AS(t.item(), ValueError);
  try {
    t.item();
  } catch (const ValueError& e) {
    CHECK(std::string(e.what()).find("[3]") != std::string::npos);
  }
}

TEST_CASE("contiguous and clone") {
  Tensor t = ref::random_tensor({3, 4}, DType::float32, 1);
  CHECK(t.contiguous().is_same(t));
  Tensor c = t.clone();
  CHECK(!c.is_same(t));
  CHECK(c.storage() != t.storage());
  CHECK(c.to_vector<float>() == t.to_vector<float>());
  Tensor tr = ops::transpose(t, 0, 1);
  Tensor tc = tr.contiguous();
  CHECK(tc.is_contiguous());
  CHECK(tc.to_vector<float>() == tr.to_vector<float>());
}

TEST_CASE("printing shows header and nested values") {
  Tensor t = from_vector(std::vector<std::int64_t>{1, 2, 3, 4, 5, 6}, {2, 3});
  std::string s = t.str();
  CHECK(s.find("tensor(shape=[2, 3], dtype=int64, device=cpu)") == 0);
  CHECK(s.find("[[1, 2, 3],\n [4, 5, 6]]") != std::string::npos);
  std::ostringstream out;
  out << t;
  CHECK(out.str() == s);
  std::string big = zeros({30, 30}).str();
  CHECK(big.find("...") != std::string::npos);
  CHECK(std::count(big.begin(), big.end(), '0') <= 110);
  CHECK(scalar_tensor(1.5).str().find("1.5") != std::string::npos);
  CHECK(Tensor().str() == "tensor(undefined)");
}

TEST_CASE("generator: same seed same draws, different seeds differ") {
  Generator g1(42), g2(42), g3(43);
  Tensor a = rand({1000}, {}, &g1), b = rand({1000}, {}, &g2), c = rand({1000}, {}, &g3);
  CHECK(a.to_vector<float>() == b.to_vector<float>());
  CHECK(a.to_vector<float>() != c.to_vector<float>());
  // Successive draws differ, and the offset advances by the count rounded up to 4.
  Tensor a2 = rand({1000}, {}, &g1);
  CHECK(a.to_vector<float>() != a2.to_vector<float>());
  CHECK(g1.offset() == 2000);
  rand({5}, {}, &g1);
  CHECK(g1.offset() == 2008);
  // Element i is philox::uniform_at(seed, offset, i).
  Generator g4(7);
  g4.set_offset(12);
  std::vector<double> u = rand({9}, {.dtype = DType::float64}, &g4).to_vector<double>();
  for (std::size_t i = 0; i < u.size(); ++i) CHECK(u[i] == doctest::Approx(philox::uniform_at(7, 12, i)));
  // The default generator follows manual_seed.
  manual_seed(5);
  Tensor d1 = randn({64});
  manual_seed(5);
  Tensor d2 = randn({64});
  CHECK(d1.to_vector<float>() == d2.to_vector<float>());
}

TEST_CASE("random factories: ranges and moments") {
  Generator g(3);
  std::vector<double> u = rand({20000}, {.dtype = DType::float64}, &g).to_vector<double>();
  double mean = 0;
  for (double v : u) { CHECK((v >= 0.0 && v < 1.0)); mean += v / u.size(); }
  CHECK(mean == doctest::Approx(0.5).epsilon(0.02));
  std::vector<double> n = randn({20000}, {.dtype = DType::float64}, &g).to_vector<double>();
  double m = 0, sq = 0;
  for (double v : n) { m += v / n.size(); sq += v * v / n.size(); }
  CHECK(std::abs(m) < 0.03);
  CHECK(sq == doctest::Approx(1.0).epsilon(0.05));
  Tensor k = randint(-3, 4, {5000}, {.dtype = DType::int64}, &g);
  std::set<std::int64_t> seen;
  for (std::int64_t v : k.to_vector<std::int64_t>()) { CHECK((v >= -3 && v < 4)); seen.insert(v); }
  CHECK(seen.size() == 7);
  CHECK_THROWS_AS(rand({2}, {.dtype = DType::int64}), DTypeError);
  CHECK_THROWS_AS(randint(3, 3, {2}), ValueError);
  Tensor r = rand_like(zeros({2, 2}, {.dtype = DType::float64}), &g);
  CHECK(r.dtype() == DType::float64);
  CHECK(randn_like(r, &g).shape() == Shape{2, 2});
}

TEST_CASE("autograd slot basics") {
  Tensor w = zeros({2, 3});
  CHECK(!w.requires_grad());
  CHECK(w.is_leaf());
  CHECK(w.autograd_meta() == nullptr);
  w.set_requires_grad();
  CHECK(w.requires_grad());
  CHECK(!w.grad().defined());
  w.set_grad(ones({2, 3}));
  CHECK(w.grad().defined());
  CHECK_THROWS_AS(w.set_grad(ones({3, 2})), ShapeError);
  CHECK_THROWS_AS(w.set_grad(ones({2, 3}, {.dtype = DType::float64})), DTypeError);
  w.zero_grad();
  CHECK(!w.grad().defined());
  Tensor d = w.detach();
  CHECK(!d.requires_grad());
  CHECK(d.storage() == w.storage());
  CHECK_THROWS_AS(zeros({2}, {.dtype = DType::int64}).set_requires_grad(), AutogradError);
  // A non-leaf (one with a grad_fn) cannot change requires_grad.
  Tensor n = zeros({2});
  n.ensure_autograd_meta().grad_fn = std::shared_ptr<autograd::Node>(reinterpret_cast<autograd::Node*>(8), [](auto*) {});
  CHECK(!n.is_leaf());
  CHECK_THROWS_AS(n.set_requires_grad(), AutogradError);
  w.set_requires_grad(false);
  CHECK(!w.requires_grad());
}

TEST_CASE("cuda device without a GPU: a named error, never a crash") {
  if (cuda_available()) {  // reported as skipped by CTest; the gpu suite covers machines with a GPU
    std::printf("SKIPPED: a CUDA device is present\n");
    return;
  }
  CHECK(cuda_device_count() == 0);
  const bool stub = cuda_backend().name() == "cuda (unavailable)";  // a build without CUDA
  CHECK_THROWS_AS(zeros({2}, {.device = Device::cuda(0)}), DeviceError);
  if (stub) CHECK_THROWS_AS(zeros({2}, {.device = Device::cuda(0)}), CudaUnavailableError);
  try {
    zeros({2}).to(Device::cuda(1));
    CHECK(false);
  } catch (const DeviceError& e) {
    const std::string message = e.what();
    CHECK(message.find("cuda:1") != std::string::npos);
    if (stub) CHECK(message.find("without CUDA") != std::string::npos);
    else CHECK(message.find("no CUDA device is available") != std::string::npos);
  }
  CHECK(backend_for(Device::cpu()).name() == cpu_backend().name());
}
