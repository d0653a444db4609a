// GPU suite: reductions, matmul (and the TF32 switch), softmax and indexing against the CPU.
#include <cmath>
#include <string>
#include <vector>

#include "gpu_util.h"
#include "proxima/cuda/cuda.h"

using namespace px;
using px::gpu_test::check_close;
using px::gpu_test::check_equal;
using px::gpu_test::gpu;
using px::gpu_test::random_cpu;

namespace {
std::string name(const char* op, DType dtype, const Shape& shape) {
  return std::string(op) + " " + std::string(dtype_name(dtype)) + " " + shape_str(shape);
}

// Largest |a - b| / (1 + |b|) over all elements (host tensors converted to float64).
double max_rel_error(const Tensor& a, const Tensor& b) {
  std::vector<double> x = a.to(Device::cpu()).to(DType::float64).to_vector<double>();
  std::vector<double> y = b.to(Device::cpu()).to(DType::float64).to_vector<double>();
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]) / (1 + std::abs(y[i])));
  return worst;
}
}  // namespace

TEST_CASE("cuda: sum/amax/amin/argmax/argmin match the CPU over every reduction layout") {
  struct Case {
    Shape shape;
    std::vector<std::int64_t> dims;
  };
  const Case cases[] = {{{1000}, {}},        {{37, 129}, {1}},    {{37, 129}, {0}}, {{4, 300, 3}, {1}},
                        {{2, 3, 4, 5}, {0, 2}}, {{1, 1 << 18}, {1}}, {{3, 100000}, {1}}, {{5000, 2}, {0}}, {{3, 1, 2}, {1}}};
  Generator gen(21);
  for (DType dtype : {DType::float32, DType::float64, DType::int64}) {
    for (const Case& c : cases) {
      Tensor x = random_cpu(c.shape, dtype, gen);
      Tensor xg = x.to(gpu());
      std::string what = name("reduce", dtype, c.shape) + " dims " + shape_str(c.dims);
      double n = static_cast<double>(x.numel());
      // float32 sums: GPU tree in float vs CPU in double.
      double sum_atol = dtype == DType::float32 ? 1e-6 * std::sqrt(n) * 4 : 1e-12 * std::sqrt(n);
      check_close(ops::sum(x, c.dims), ops::sum(xg, c.dims), gpu_test::rtol_for(dtype), sum_atol, what + " sum");
      check_equal(ops::amax(x, c.dims, true), ops::amax(xg, c.dims, true), what + " amax");
      check_equal(ops::amin(x, c.dims), ops::amin(xg, c.dims), what + " amin");
      std::int64_t d = c.dims.empty() ? 0 : c.dims[0];
      std::optional<std::int64_t> dim = c.dims.empty() ? std::nullopt : std::optional<std::int64_t>(d);
      check_equal(ops::argmax(x, dim), ops::argmax(xg, dim), what + " argmax");
      check_equal(ops::argmin(x, dim, true), ops::argmin(xg, dim, true), what + " argmin");
    }
  }
}

TEST_CASE("cuda: argmax/argmin return the first index on ties and NaN wins like on the CPU") {
  Generator gen(22);
  Tensor x = randint(0, 3, {64, 700}, {.dtype = DType::int64}, &gen).to(DType::float32);  // many ties
  for (std::int64_t dim : {0, 1}) {
    check_equal(ops::argmax(x, dim), ops::argmax(x.to(gpu()), dim), "argmax ties");
    check_equal(ops::argmin(x, dim), ops::argmin(x.to(gpu()), dim), "argmin ties");
  }
  Tensor with_nan = ops::where(ops::eq(x, 2.0), full({64, 700}, NAN), x);
  check_equal(ops::argmax(with_nan, 1), ops::argmax(with_nan.to(gpu()), 1), "argmax with NaN");
  check_equal(ops::amax(with_nan, {1}), ops::amax(with_nan.to(gpu()), {1}), "amax with NaN");
}

TEST_CASE("cuda: matmul matches the CPU for 2-D, batched and transposed operands") {
  bool tf32 = cuda::allow_tf32();
  cuda::set_allow_tf32(false);
  Generator gen(31);
  struct Dims {
    std::int64_t m, k, n;
  };
  for (DType dtype : {DType::float32, DType::float64}) {
    for (Dims s : {Dims{1, 1, 1}, Dims{17, 33, 9}, Dims{64, 128, 32}, Dims{5, 0, 3}}) {
      Tensor a = random_cpu({s.m, s.k}, dtype, gen), b = random_cpu({s.k, s.n}, dtype, gen);
      double atol = (dtype == DType::float32 ? 1e-5 : 1e-12) * std::sqrt(static_cast<double>(s.k) + 1);
      std::string what = name("matmul", dtype, {s.m, s.k, s.n});
      check_close(ops::matmul(a, b), ops::matmul(a.to(gpu()), b.to(gpu())), gpu_test::rtol_for(dtype), atol, what);
      for (bool ta : {false, true}) {
        for (bool tb : {false, true}) {
          Shape sa = ta ? Shape{3, s.k, s.m} : Shape{3, s.m, s.k};
          Shape sb = tb ? Shape{3, s.n, s.k} : Shape{3, s.k, s.n};
          Tensor x = random_cpu(sa, dtype, gen), y = random_cpu(sb, dtype, gen);
          check_close(ops::bmm(x, y, ta, tb), ops::bmm(x.to(gpu()), y.to(gpu()), ta, tb),
                      gpu_test::rtol_for(dtype), atol, what + " bmm ta=" + std::to_string(ta) + " tb=" + std::to_string(tb));
        }
      }
    }
  }
  cuda::set_allow_tf32(tf32);
}

TEST_CASE("cuda: the TF32 switch trades float32 matmul precision for speed") {
  Generator gen(32);
  Tensor a = random_cpu({256, 1024}, DType::float32, gen), b = random_cpu({1024, 256}, DType::float32, gen);
  Tensor exact = ops::matmul(a.to(DType::float64), b.to(DType::float64));
  bool before = cuda::allow_tf32();
  CHECK(before);  // on by default
  cuda::set_allow_tf32(false);
  double err_fp32 = max_rel_error(ops::matmul(a.to(gpu()), b.to(gpu())), exact);
  cuda::set_allow_tf32(true);
  double err_tf32 = max_rel_error(ops::matmul(a.to(gpu()), b.to(gpu())), exact);
  cuda::set_allow_tf32(before);
  INFO("max relative error fp32 " << err_fp32 << ", tf32 " << err_tf32);
  CHECK(err_fp32 < 1e-4);
  CHECK(err_tf32 < 0.1);              // still within TF32's ~1e-3 per product
  CHECK(err_tf32 > 4 * err_fp32);     // and visibly less precise
}

TEST_CASE("cuda: softmax and log_softmax match the CPU (warp and block paths)") {
  Generator gen(41);
  struct Case {
    Shape shape;
    std::int64_t dim;
  };
  for (DType dtype : {DType::float32, DType::float64}) {
    for (const Case& c : {Case{{5, 10}, 1}, Case{{3, 2000}, -1}, Case{{4, 7, 3}, 1}, Case{{1, 1}, 0}, Case{{600, 33}, 1}}) {
      Tensor x = random_cpu(c.shape, dtype, gen, 4.0);
      std::string what = name("softmax", dtype, c.shape) + " dim " + std::to_string(c.dim);
      check_close(ops::softmax(x, c.dim), ops::softmax(x.to(gpu()), c.dim), gpu_test::rtol_for(dtype) * 5, 1e-7, what);
      check_close(ops::log_softmax(x, c.dim), ops::log_softmax(x.to(gpu()), c.dim), gpu_test::rtol_for(dtype) * 5,
                  1e-6, "log_" + what);
    }
  }
  Tensor big = ops::mul(ones({2, 50}), 1000.0);  // stable: no overflow
  check_close(ops::softmax(big, 1), ops::softmax(big.to(gpu()), 1), 1e-6, 1e-7, "softmax of large values");
}

TEST_CASE("cuda: index_select and index_add_ match the CPU, repeated indices included") {
  Generator gen(51);
  for (DType dtype : {DType::float32, DType::float64, DType::int64}) {
    Tensor x = random_cpu({5, 6, 7}, dtype, gen);
    for (std::int64_t dim : {0, 1, 2}) {
      Tensor index = randint(0, x.size(dim), {9}, {.dtype = DType::int64}, &gen);  // repeats likely
      std::string what = name("index", dtype, x.shape()) + " dim " + std::to_string(dim);
      check_equal(ops::index_select(x, dim, index), ops::index_select(x.to(gpu()), dim, index.to(gpu())),
                  what + " select");
      Shape src_shape = x.shape();
      src_shape[static_cast<std::size_t>(dim)] = 9;
      Tensor src = random_cpu(src_shape, dtype, gen);
      Tensor dst_cpu = x.clone(), dst_gpu = x.to(gpu());
      ops::index_add_(dst_cpu, dim, index, src);
      ops::index_add_(dst_gpu, dim, index.to(gpu()), src.to(gpu()));
      check_close(dst_cpu, dst_gpu, gpu_test::rtol_for(dtype), 1e-6, what + " add");
    }
  }
}

TEST_CASE("cuda: an out-of-range index on the GPU raises IndexError by the next sync") {
  Tensor x = ones({4, 3}, {.device = gpu()});
  Tensor bad = from_vector<std::int64_t>({0, 9}, {2}, gpu());
  CHECK_THROWS_AS(
      {
        Tensor y = ops::index_select(x, 0, bad);
        cuda_backend().synchronize(gpu());
      },
      IndexError);
  CHECK(ops::sum(x).item() == 12.0);  // the error was reported once; the device still works
}
