// GPU suite: cuDNN convolutions (three directions, algorithm cache, gradcheck) and pooling against the CPU.
#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "gpu_util.h"
#include "proxima/autograd/functions.h"
#include "proxima/autograd/gradcheck.h"
#include "proxima/cuda/cuda.h"

using namespace px;
using px::gpu_test::check_close;
using px::gpu_test::check_equal;
using px::gpu_test::gpu;
using px::gpu_test::random_cpu;

namespace {

// Sets the TF32 switch for one scope and restores it, even when a REQUIRE fails.
struct Tf32Scope {
  bool before = cuda::allow_tf32();
  explicit Tf32Scope(bool allow) { cuda::set_allow_tf32(allow); }
  ~Tf32Scope() { cuda::set_allow_tf32(before); }
};

struct ConvCase {
  const char* name;
  Shape x, w;
  Conv2dParams p;
};

// ResNet-20 and VGG layers, stride 2, padding, 1x1, groups (incl. depthwise), dilation,
// odd and non-square sizes, batch 1.
const std::vector<ConvCase>& conv_cases() {
  static const std::vector<ConvCase> cases = {
      {"resnet 3x3", {4, 16, 32, 32}, {16, 16, 3, 3}, {.pad_h = 1, .pad_w = 1}},
      {"resnet 3x3 stride 2", {4, 16, 32, 32}, {32, 16, 3, 3}, {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}},
      {"resnet 1x1 shortcut", {4, 32, 16, 16}, {64, 32, 1, 1}, {.stride_h = 2, .stride_w = 2}},
      {"resnet 3x3 deep", {2, 64, 8, 8}, {64, 64, 3, 3}, {.pad_h = 1, .pad_w = 1}},
      {"vgg first layer", {2, 3, 32, 32}, {64, 3, 3, 3}, {.pad_h = 1, .pad_w = 1}},
      {"vgg wide", {2, 128, 8, 8}, {128, 128, 3, 3}, {.pad_h = 1, .pad_w = 1}},
      {"groups 2", {2, 8, 9, 9}, {12, 4, 3, 3}, {.groups = 2}},
      {"depthwise", {2, 6, 7, 7}, {6, 1, 3, 3}, {.pad_h = 1, .pad_w = 1, .groups = 6}},
      {"dilation", {2, 3, 11, 13}, {5, 3, 3, 3}, {.pad_h = 2, .pad_w = 1, .dilation_h = 2, .dilation_w = 3}},
      {"odd sizes", {3, 5, 7, 9}, {4, 5, 2, 4}, {.stride_h = 2, .stride_w = 3, .pad_h = 1, .pad_w = 2}},
      {"batch 1 full kernel", {1, 3, 5, 5}, {2, 3, 5, 5}, {}},
      {"groups + dilation + stride", {1, 6, 12, 10}, {9, 2, 3, 2},
       {.stride_h = 2, .stride_w = 1, .pad_h = 2, .pad_w = 0, .dilation_h = 2, .dilation_w = 1, .groups = 3}},
  };
  return cases;
}

// Root mean square of a CPU tensor: the typical magnitude of a result. Errors of a sum of
// K terms scale like eps * sqrt(K) * (term size), and so does this RMS, so "rtol * rms" is
// an absolute tolerance that does not depend on the reduction length.
double rms(const Tensor& t) {
  std::vector<double> v = t.to(DType::float64).to_vector<double>();
  double s = 0;
  for (double e : v) s += e * e;
  return v.empty() ? 0.0 : std::sqrt(s / static_cast<double>(v.size()));
}

void check_conv_case(const ConvCase& c, DType dtype, double tol, std::uint64_t seed) {
  Generator gen(seed);
  Tensor x = random_cpu(c.x, dtype, gen), w = random_cpu(c.w, dtype, gen);
  Tensor y = ops::conv2d(x, w, c.p);
  Tensor gy = random_cpu(y.shape(), dtype, gen);
  Tensor xg = x.to(gpu()), wg = w.to(gpu()), gyg = gy.to(gpu());
  std::string what = std::string(c.name) + " " + std::string(dtype_name(dtype));
  check_close(y, ops::conv2d(xg, wg, c.p), tol, tol * rms(y), what + " forward");
  Tensor gx = ops::conv2d_backward_input(gy, w, c.x, c.p);
  check_close(gx, ops::conv2d_backward_input(gyg, wg, c.x, c.p), tol, tol * rms(gx), what + " backward_input");
  Tensor gw = ops::conv2d_backward_weight(gy, x, c.w, c.p);
  check_close(gw, ops::conv2d_backward_weight(gyg, xg, c.w, c.p), tol, tol * rms(gw), what + " backward_weight");
}

}  // namespace

TEST_CASE("cuda: conv2d and both backward passes match the CPU in float64") {
  // float64 on both sides: only the summation order differs (~1e-16 * sqrt(K) relative).
  std::uint64_t seed = 100;
  for (const ConvCase& c : conv_cases()) check_conv_case(c, DType::float64, 1e-10, seed++);
}

TEST_CASE("cuda: conv2d and both backward passes match the CPU in float32 with TF32 off") {
  // FMA-only kernels; Winograd algorithms add transform error (max ~6e-5 of the RMS
  // measured on an H100 for a 128-channel 3x3 layer against a float64 result).
  Tf32Scope strict(false);
  std::uint64_t seed = 200;
  for (const ConvCase& c : conv_cases()) check_conv_case(c, DType::float32, 1e-4, seed++);
}

TEST_CASE("cuda: conv2d and both backward passes are close to the CPU in float32 with TF32 on") {
  // Loose: TF32 rounds both factors to 10 mantissa bits (relative error up to 2^-11 ~ 5e-4
  // each), so a result carries ~5e-4 of its RMS as error, several times that at the worst
  // element of a large tensor.
  Tf32Scope fast(true);
  std::uint64_t seed = 300;
  for (const ConvCase& c : conv_cases()) check_conv_case(c, DType::float32, 1e-2, seed++);
}

namespace {

// max |got - want| / rms(want), both brought to the host in float64.
double error_over_rms(const Tensor& got, const Tensor& want) {
  std::vector<double> g = got.to(Device::cpu()).to(DType::float64).to_vector<double>();
  std::vector<double> w = want.to(Device::cpu()).to(DType::float64).to_vector<double>();
  double worst = 0, sum_sq = 0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    worst = std::max(worst, std::abs(g[i] - w[i]));
    sum_sq += w[i] * w[i];
  }
  return worst / std::sqrt(sum_sq / static_cast<double>(w.size()));
}

// Milliseconds per call of f, averaged over `reps` calls after one warm-up call.
template <class F>
double milliseconds_per_call(F&& f, int reps) {
  f();
  cuda_backend().synchronize(gpu());
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) f();
  cuda_backend().synchronize(gpu());
  std::chrono::duration<double, std::milli> elapsed = std::chrono::steady_clock::now() - start;
  return elapsed.count() / reps;
}

}  // namespace

TEST_CASE("cuda: the TF32 switch trades float32 convolution precision for speed") {
  // A 1x1 convolution is a plain GEMM (no Winograd or FFT shortcut): with TF32 allowed the
  // search picks a tensor-core kernel, many times faster than FMA at this size. (For 3x3
  // layers an FMA Winograd kernel may win the search even with TF32 allowed.)
  Generator gen(900);
  const Shape xs{32, 256, 32, 32}, ws{256, 256, 1, 1};
  const Conv2dParams p{};
  Tensor x64 = random_cpu(xs, DType::float64, gen).to(gpu()), w64 = random_cpu(ws, DType::float64, gen).to(gpu());
  Tensor exact = ops::conv2d(x64, w64, p);  // float64 (checked against the CPU above)
  Tensor x = x64.to(DType::float32), w = w64.to(DType::float32);
  double err_fp32 = 0, err_tf32 = 0, ms_fp32 = 0, ms_tf32 = 0;
  {
    Tf32Scope strict(false);
    err_fp32 = error_over_rms(ops::conv2d(x, w, p), exact);
    ms_fp32 = milliseconds_per_call([&] { ops::conv2d(x, w, p); }, 20);
  }
  {
    Tf32Scope fast(true);
    err_tf32 = error_over_rms(ops::conv2d(x, w, p), exact);
    ms_tf32 = milliseconds_per_call([&] { ops::conv2d(x, w, p); }, 20);
  }
  MESSAGE("conv2d " << shape_str(xs) << " * " << shape_str(ws) << ": max error / rms: fp32 " << err_fp32
                    << ", tf32 " << err_tf32 << "; ms per call: fp32 " << ms_fp32 << ", tf32 " << ms_tf32);
  CHECK(err_fp32 < 1e-5);           // full float32 products, no transform error
  CHECK(err_tf32 < 1e-2);           // TF32: ~5e-4 per product
  CHECK(err_tf32 > 4 * err_fp32);   // and visibly less precise: tensor cores were used
}

TEST_CASE("cuda: conv2d's algorithm cache is filled once per shape and gives the same result again") {
  Generator gen(400);
  const Shape xs{3, 7, 13, 11}, ws{5, 7, 3, 3};  // a shape no other test uses
  const Conv2dParams p{.stride_h = 2, .pad_w = 1};
  Tensor x = random_cpu(xs, DType::float32, gen).to(gpu()), w = random_cpu(ws, DType::float32, gen).to(gpu());
  Tf32Scope strict(false);
  struct DeterministicScope {  // restores the switch even when a REQUIRE fails
    bool before = cuda::deterministic_algorithms();
    DeterministicScope() { cuda::set_deterministic_algorithms(true); }
    ~DeterministicScope() { cuda::set_deterministic_algorithms(before); }
  } deterministic;
  const std::size_t before = cuda::conv_algorithm_cache_size();
  Tensor y1 = ops::conv2d(x, w, p);
  Tensor gy = ops::mul(y1, 0.5);
  Tensor gx1 = ops::conv2d_backward_input(gy, w, xs, p), gw1 = ops::conv2d_backward_weight(gy, x, ws, p);
  CHECK(cuda::conv_algorithm_cache_size() == before + 3);  // one entry per direction
  Tensor y2 = ops::conv2d(x, w, p);
  Tensor gx2 = ops::conv2d_backward_input(gy, w, xs, p), gw2 = ops::conv2d_backward_weight(gy, x, ws, p);
  CHECK(cuda::conv_algorithm_cache_size() == before + 3);  // served from the cache
  // Deterministic algorithms were asked for: bit-identical results.
  check_equal(y1.to(Device::cpu()), y2, "forward twice");
  check_equal(gx1.to(Device::cpu()), gx2, "backward_input twice");
  check_equal(gw1.to(Device::cpu()), gw2, "backward_weight twice");
  cuda::set_allow_tf32(true);  // the TF32 switch is part of the key
  ops::conv2d(x, w, p);
  CHECK(cuda::conv_algorithm_cache_size() == before + 4);
  cuda::set_deterministic_algorithms(false);  // and so is the determinism switch
  ops::conv2d(x, w, p);
  CHECK(cuda::conv_algorithm_cache_size() == before + 5);
}

TEST_CASE("cuda: conv2d works with no workspace allowed") {
  struct LimitScope {  // restores the limit even when a REQUIRE fails
    std::size_t before = cuda::conv_workspace_limit();
    ~LimitScope() { cuda::set_conv_workspace_limit(before); }
  } scope;
  cuda::set_conv_workspace_limit(0);
  ConvCase c{"no workspace", {2, 9, 10, 10}, {7, 9, 3, 3}, {.pad_h = 1, .pad_w = 1}};
  check_conv_case(c, DType::float64, 1e-10, 500);
  check_conv_case(c, DType::float32, 1e-2, 501);  // TF32 as currently set: loose
}

TEST_CASE("cuda: conv2d with bias passes gradcheck through autograd on the GPU (float64)") {
  Generator gen(600);
  Tensor x = random_cpu({2, 4, 5, 6}, DType::float64, gen);
  Tensor w = random_cpu({6, 2, 3, 3}, DType::float64, gen);
  Tensor b = random_cpu({6}, DType::float64, gen);
  const Conv2dParams p{.stride_h = 2, .stride_w = 1, .pad_h = 1, .pad_w = 1, .dilation_w = 2, .groups = 2};
  // Inputs stay on the CPU (gradcheck perturbs them there); f moves them to the GPU, so the
  // convolution, its backward passes and the bias reduction all run on the device.
  auto f = [&](const std::vector<Tensor>& in) {
    return px::conv2d(to_device(in[0], gpu()), to_device(in[1], gpu()), to_device(in[2], gpu()), p);
  };
  autograd::GradcheckResult r = autograd::gradcheck(f, {x, w, b});
  INFO(r.message);
  CHECK(r.ok);
}

// ---- pooling ----

namespace {

struct PoolCase {
  Shape x;
  Pool2dParams p;
};

const std::vector<PoolCase>& pool_cases() {
  static const std::vector<PoolCase> cases = {
      {{2, 3, 8, 8}, {}},  // 2x2 stride 2
      {{2, 4, 9, 7}, {.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}},
      {{1, 2, 9, 10}, {.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .ceil_mode = true}},
      {{3, 2, 11, 6}, {.kernel_h = 3, .kernel_w = 2, .stride_h = 1, .stride_w = 2, .pad_h = 1, .pad_w = 0}},
      {{2, 2, 7, 7}, {.kernel_h = 2, .kernel_w = 2, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1,
                      .ceil_mode = true}},
      {{2, 3, 10, 9}, {.kernel_h = 4, .kernel_w = 3, .stride_h = 3, .stride_w = 1, .pad_h = 2, .pad_w = 1,
                       .ceil_mode = true}},
      {{4, 64, 32, 32}, {}},  // a VGG pooling layer
      {{1, 1, 5, 5}, {.kernel_h = 5, .kernel_w = 5, .stride_h = 1, .stride_w = 1}},
      {{2, 2, 10, 11}, {.kernel_h = 1, .kernel_w = 2, .stride_h = 2, .stride_w = 3}},  // gaps between windows
  };
  return cases;
}

std::string pool_name(const PoolCase& c, DType dtype) {
  return shape_str(c.x) + " k" + std::to_string(c.p.kernel_h) + "x" + std::to_string(c.p.kernel_w) + " s" +
         std::to_string(c.p.stride_h) + "x" + std::to_string(c.p.stride_w) + " pad" + std::to_string(c.p.pad_h) +
         "x" + std::to_string(c.p.pad_w) + (c.p.ceil_mode ? " ceil " : " ") + std::string(dtype_name(dtype));
}

// Inputs with many ties (integers 0..2) or continuous values; optional NaNs.
Tensor pool_input(const Shape& shape, DType dtype, Generator& gen, bool ties, bool nans) {
  Tensor x = ties ? randint(0, 3, shape, {.dtype = DType::int64}, &gen).to(dtype) : random_cpu(shape, dtype, gen);
  if (nans) {
    Tensor mask = ops::lt(rand(shape, {.dtype = dtype}, &gen), 0.05);
    x = ops::where(mask, full_like(x, std::numeric_limits<double>::quiet_NaN()), x);
  }
  return x;
}

}  // namespace

TEST_CASE("cuda: max_pool2d values, indices and gradients match the CPU (ties, NaN, padding, ceil_mode)") {
  Generator gen(700);
  for (DType dtype : {DType::float32, DType::float64}) {
    for (const PoolCase& c : pool_cases()) {
      for (int mode = 0; mode < 3; ++mode) {  // continuous, ties, ties with NaN
        std::string what = pool_name(c, dtype) + (mode == 0 ? " continuous" : mode == 1 ? " ties" : " NaN");
        Tensor x = pool_input(c.x, dtype, gen, mode > 0, mode == 2);
        ops::MaxPoolResult want = ops::max_pool2d(x, c.p);
        ops::MaxPoolResult got = ops::max_pool2d(x.to(gpu()), c.p);
        check_equal(want.out, got.out, what + " values");          // a selection: exact
        check_equal(want.indices, got.indices, what + " indices");  // first maximum in scan order
        Tensor gy = random_cpu(want.out.shape(), dtype, gen);
        Tensor gx = ops::max_pool2d_backward(gy, want.indices, c.x, c.p);
        // Overlapping windows add several gradients: same order as the CPU's loop.
        check_close(gx, ops::max_pool2d_backward(gy.to(gpu()), got.indices, c.x, c.p),
                    gpu_test::rtol_for(dtype), 0.0, what + " backward");
      }
    }
  }
}

TEST_CASE("cuda: max_pool2d_backward reports indices outside their window") {
  Generator gen(710);
  const Pool2dParams p{};
  Tensor x = random_cpu({1, 1, 4, 4}, DType::float32, gen).to(gpu());
  ops::MaxPoolResult r = ops::max_pool2d(x, p);
  Tensor bad = full_like(r.indices, 0.0);  // output (1, 1)'s window is rows 2-3, cols 2-3
  Tensor gx = ops::max_pool2d_backward(full_like(r.out, 1.0), bad, x.shape(), p);
  CHECK_THROWS_AS(gx.to(Device::cpu()), IndexError);
  // The error is consumed: the device works normally afterwards.
  Tensor ok = ops::max_pool2d_backward(full_like(r.out, 1.0), r.indices, x.shape(), p);
  CHECK(ops::sum(ok).to(Device::cpu()).item() == 4.0);
}

TEST_CASE("cuda: avg_pool2d and its backward match the CPU (padding, ceil_mode, count_include_pad)") {
  Generator gen(800);
  for (DType dtype : {DType::float32, DType::float64}) {
    for (const PoolCase& base : pool_cases()) {
      for (bool include_pad : {true, false}) {
        PoolCase c = base;
        c.p.count_include_pad = include_pad;
        std::string what = pool_name(c, dtype) + (include_pad ? " count_include_pad" : " exclude_pad");
        Tensor x = random_cpu(c.x, dtype, gen);
        Tensor y = ops::avg_pool2d(x, c.p);
        check_close(y, ops::avg_pool2d(x.to(gpu()), c.p), gpu_test::rtol_for(dtype),
                    gpu_test::rtol_for(dtype) * rms(y),
                    what + " forward");
        Tensor gy = random_cpu(y.shape(), dtype, gen);
        Tensor gx = ops::avg_pool2d_backward(gy, c.x, c.p);
        check_close(gx, ops::avg_pool2d_backward(gy.to(gpu()), c.x, c.p), gpu_test::rtol_for(dtype),
                    gpu_test::rtol_for(dtype) * rms(gx), what + " backward");
      }
    }
  }
}
