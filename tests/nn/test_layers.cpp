// Layers against plain reference loops, gradient checks through modules in float64, init statistics.
#include <doctest/doctest.h>

#include <cmath>

#include "nn_helpers.h"
#include "proxima/nn/init.h"
#include "proxima/nn/layers.h"
#include "proxima/nn/layers_simple.h"
#include "proxima/nn/sequential.h"

using namespace px;
using namespace px::nn;
using nnt::host;
using nnt::max_diff;
using nnt::random;

namespace {

// y[n, o] = sum_i x[n, i] w[o, i] + b[o].
std::vector<double> linear_ref(const Tensor& x, const Tensor& w, const Tensor& b) {
  const auto xh = host(x), wh = host(w);
  const auto bh = b.defined() ? host(b) : std::vector<double>(w.size(0), 0.0);
  const std::int64_t n = x.size(0), in = w.size(1), out = w.size(0);
  std::vector<double> y(n * out);
  for (std::int64_t r = 0; r < n; ++r)
    for (std::int64_t o = 0; o < out; ++o) {
      double s = bh[o];
      for (std::int64_t i = 0; i < in; ++i) s += xh[r * in + i] * wh[o * in + i];
      y[r * out + o] = s;
    }
  return y;
}

// Direct convolution with stride, padding, dilation and groups (square).
std::vector<double> conv_ref(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dOptions& o) {
  const auto xh = host(x), wh = host(w);
  const std::int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), K = w.size(0), k = o.kernel_size;
  const std::int64_t cg = C / o.groups, kg = K / o.groups;
  const std::int64_t OH = (H + 2 * o.padding - o.dilation * (k - 1) - 1) / o.stride + 1;
  const std::int64_t OW = (W + 2 * o.padding - o.dilation * (k - 1) - 1) / o.stride + 1;
  std::vector<double> y(N * K * OH * OW);
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t kk = 0; kk < K; ++kk)
      for (std::int64_t oh = 0; oh < OH; ++oh)
        for (std::int64_t ow = 0; ow < OW; ++ow) {
          double s = b.defined() ? host(b)[kk] : 0.0;
          const std::int64_t g = kk / kg;
          for (std::int64_t c = 0; c < cg; ++c)
            for (std::int64_t r = 0; r < k; ++r)
              for (std::int64_t q = 0; q < k; ++q) {
                const std::int64_t ih = oh * o.stride - o.padding + r * o.dilation;
                const std::int64_t iw = ow * o.stride - o.padding + q * o.dilation;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                s += xh[((n * C + g * cg + c) * H + ih) * W + iw] * wh[((kk * cg + c) * k + r) * k + q];
              }
          y[((n * K + kk) * OH + oh) * OW + ow] = s;
        }
  return y;
}

// Max or average pooling without padding (kernel k, stride s).
std::vector<double> pool_ref(const Tensor& x, std::int64_t k, std::int64_t s, bool is_max) {
  const auto xh = host(x);
  const std::int64_t NC = x.size(0) * x.size(1), H = x.size(2), W = x.size(3);
  const std::int64_t OH = (H - k) / s + 1, OW = (W - k) / s + 1;
  std::vector<double> y;
  for (std::int64_t p = 0; p < NC; ++p)
    for (std::int64_t oh = 0; oh < OH; ++oh)
      for (std::int64_t ow = 0; ow < OW; ++ow) {
        double acc = is_max ? -INFINITY : 0.0;
        for (std::int64_t r = 0; r < k; ++r)
          for (std::int64_t q = 0; q < k; ++q) {
            const double v = xh[(p * H + oh * s + r) * W + ow * s + q];
            acc = is_max ? std::max(acc, v) : acc + v / static_cast<double>(k * k);
          }
        y.push_back(acc);
      }
  return y;
}

void check_close(const Tensor& y, const std::vector<double>& expected, double tol) {
  const auto got = host(y);
  REQUIRE(got.size() == expected.size());
  double worst = 0.0;
  for (std::size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - expected[i]));
  CHECK(worst <= tol);
}

void check_grad(Module& m, const Tensor& x) {
  const auto r = nnt::module_gradcheck(m, x);
  INFO(m.name() << ": " << r.message);
  CHECK(r.ok);
}

}  // namespace

TEST_CASE("Linear forward matches the reference loop, with and without bias") {
  for (bool bias : {true, false})
    for (auto [n, in, out] : {std::tuple{1, 3, 2}, std::tuple{5, 7, 4}, std::tuple{3, 16, 9}}) {
      Generator gen(n * 100 + in);
      Linear fc({.in_features = in, .out_features = out, .bias = bias}, gen);
      CHECK(fc.bias.defined() == bias);
      CHECK(fc.named_parameters().size() == (bias ? 2u : 1u));
      const Tensor x = random({n, in}, 7 + out);
      check_close(fc(x), linear_ref(x, fc.weight, fc.bias), 1e-5);
    }
}

TEST_CASE("Conv2d forward matches the direct convolution loop") {
  const std::vector<Conv2dOptions> cases = {
      {.in_channels = 3, .out_channels = 4, .kernel_size = 3, .padding = 1},
      {.in_channels = 2, .out_channels = 5, .kernel_size = 3, .stride = 2, .bias = false},
      {.in_channels = 4, .out_channels = 6, .kernel_size = 1, .stride = 2},
      {.in_channels = 4, .out_channels = 4, .kernel_size = 3, .padding = 2, .dilation = 2, .groups = 2},
      {.in_channels = 1, .out_channels = 6, .kernel_size = 5, .padding = 2}};
  std::uint64_t seed = 1;
  for (const auto& o : cases) {
    Generator gen(seed++);
    Conv2d conv(o, gen);
    CHECK(conv.weight.shape() == Shape{o.out_channels, o.in_channels / o.groups, o.kernel_size, o.kernel_size});
    const Tensor x = random({2, o.in_channels, 7, 6}, seed++);
    check_close(conv(x), conv_ref(x, conv.weight, conv.bias, o), 1e-4);
  }
  CHECK_THROWS_AS(Conv2d({.in_channels = 3, .out_channels = 4, .groups = 2}), ValueError);
  CHECK_THROWS_AS(Linear({.in_features = 0, .out_features = 4}), ValueError);
}

TEST_CASE("Linear and Conv2d default init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias") {
  Generator gen(5);
  Conv2d conv({.in_channels = 8, .out_channels = 64, .kernel_size = 3}, gen);
  Linear fc({.in_features = 50, .out_features = 300}, gen);
  for (auto [w, b, fan_in] : {std::tuple{conv.weight, conv.bias, 72.0}, std::tuple{fc.weight, fc.bias, 50.0}}) {
    const double bound = 1.0 / std::sqrt(fan_in);
    for (const Tensor& t : {w, b}) {
      const auto v = host(t);
      double mean = 0.0, sq = 0.0, lo = INFINITY, hi = -INFINITY;
      for (double x : v) mean += x, sq += x * x, lo = std::min(lo, x), hi = std::max(hi, x);
      mean /= v.size();
      sq /= v.size();
      CHECK(lo >= -bound);
      CHECK(hi <= bound);
      if (v.size() > 1000) {  // statistics of U(-b, b): mean 0, variance b^2/3
        CHECK(std::abs(mean) < 0.05 * bound);
        CHECK(sq == doctest::Approx(bound * bound / 3).epsilon(0.05));
        CHECK(lo < -0.95 * bound);
        CHECK(hi > 0.95 * bound);
      }
    }
  }
  // Same generator seed, same weights; different seed, different weights.
  Generator a(11), b(11), c(12);
  CHECK(max_diff(Linear({.in_features = 4, .out_features = 3}, a).weight,
                 Linear({.in_features = 4, .out_features = 3}, b).weight) == 0.0);
  CHECK(max_diff(Linear({.in_features = 4, .out_features = 3}, a).weight,
                 Linear({.in_features = 4, .out_features = 3}, c).weight) > 0.0);
}

TEST_CASE("init: kaiming_normal_ std, kaiming_uniform_ bound, fan modes, constants") {
  Generator gen(3);
  Tensor w = empty({128, 32, 3, 3});
  CHECK(init::fan(w, init::FanMode::fan_in) == 288);
  CHECK(init::fan(w, init::FanMode::fan_out) == 1152);
  init::kaiming_normal_(w, gen, 0.0, init::FanMode::fan_in, "relu");
  auto v = host(w);
  double mean = 0, sq = 0;
  for (double x : v) mean += x, sq += x * x;
  mean /= v.size();
  sq /= v.size();
  CHECK(std::abs(mean) < 0.01);
  CHECK(std::sqrt(sq) == doctest::Approx(std::sqrt(2.0 / 288)).epsilon(0.03));
  init::kaiming_uniform_(w, gen, 0.0, init::FanMode::fan_out, "relu");
  const double bound = std::sqrt(2.0) * std::sqrt(3.0 / 1152);
  v = host(w);
  CHECK(*std::max_element(v.begin(), v.end()) <= bound);
  CHECK(*std::max_element(v.begin(), v.end()) > 0.98 * bound);
  CHECK(init::calculate_gain("tanh") == doctest::Approx(5.0 / 3.0));
  CHECK(init::calculate_gain("leaky_relu", std::sqrt(5.0)) == doctest::Approx(std::sqrt(1.0 / 3.0)));
  CHECK_THROWS_AS(init::calculate_gain("swish"), ValueError);
  init::ones_(w);
  CHECK(host(w)[17] == 1.0);
  init::zeros_(w);
  CHECK(host(w)[17] == 0.0);
  CHECK_THROWS_AS(init::fan(empty({5}), init::FanMode::fan_in), ShapeError);
}

TEST_CASE("BatchNorm2d: batch statistics, running stats (unbiased, momentum 0.1), num_batches_tracked, eval") {
  BatchNorm2d bn({.num_features = 3});
  CHECK(bn.num_batches_tracked.dtype() == DType::int64);
  CHECK(bn.num_batches_tracked.dim() == 0);
  CHECK(host(bn.weight) == std::vector<double>{1, 1, 1});
  CHECK(host(bn.running_var) == std::vector<double>{1, 1, 1});
  std::vector<std::string> keys;
  for (auto& [k, t] : bn.state_dict()) keys.push_back(k);
  CHECK(keys == std::vector<std::string>{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"});
  init::uniform_(bn.weight, 0.5, 1.5, default_generator());
  init::uniform_(bn.bias, -0.5, 0.5, default_generator());
  std::vector<double> rm(3, 0.0), rv(3, 1.0);
  for (int step = 1; step <= 3; ++step) {
    const Tensor x = random({4, 3, 5, 2}, 40 + step, DType::float32, -2.0, 3.0);
    const Tensor y = bn(x);
    const auto xh = host(x), yh = host(y), w = host(bn.weight), b = host(bn.bias);
    double worst = 0.0;
    for (int c = 0; c < 3; ++c) {
      double mean = 0, var = 0;
      const int count = 4 * 10;
      for (int n = 0; n < 4; ++n)
        for (int i = 0; i < 10; ++i) mean += xh[(n * 3 + c) * 10 + i] / count;
      for (int n = 0; n < 4; ++n)
        for (int i = 0; i < 10; ++i) var += std::pow(xh[(n * 3 + c) * 10 + i] - mean, 2) / count;
      for (int n = 0; n < 4; ++n)
        for (int i = 0; i < 10; ++i) {
          const std::size_t at = (n * 3 + c) * 10 + i;
          worst = std::max(worst, std::abs(yh[at] - ((xh[at] - mean) / std::sqrt(var + 1e-5) * w[c] + b[c])));
        }
      rm[c] = 0.9 * rm[c] + 0.1 * mean;
      rv[c] = 0.9 * rv[c] + 0.1 * var * count / (count - 1);
    }
    CHECK(worst < 1e-4);
    CHECK(bn.num_batches_tracked.item() == step);
    for (int c = 0; c < 3; ++c) {
      CHECK(host(bn.running_mean)[c] == doctest::Approx(rm[c]).epsilon(1e-5));
      CHECK(host(bn.running_var)[c] == doctest::Approx(rv[c]).epsilon(1e-5));
    }
  }
  bn.eval();
  const Tensor x = random({2, 3, 2, 2}, 9);
  const auto xh = host(x), yh = host(bn(x)), w = host(bn.weight), b = host(bn.bias);
  for (std::size_t at = 0; at < xh.size(); ++at) {
    const int c = static_cast<int>(at / 4) % 3;
    CHECK(yh[at] == doctest::Approx((xh[at] - rm[c]) / std::sqrt(rv[c] + 1e-5) * w[c] + b[c]).epsilon(1e-4));
  }
  CHECK(bn.num_batches_tracked.item() == 3);  // eval does not count
  CHECK_THROWS_AS(bn(random({2, 4, 2, 2}, 1)), ShapeError);
}

TEST_CASE("BatchNorm1d takes [N, C] and [N, C, L] and normalises per channel") {
  BatchNorm1d bn({.num_features = 4});
  for (const Shape& shape : {Shape{6, 4}, Shape{3, 4, 5}}) {
    const Tensor y = bn(random(shape, shape.size(), DType::float32, -3, 3));
    CHECK(y.shape() == shape);
    const std::vector<std::int64_t> dims = shape.size() == 2 ? std::vector<std::int64_t>{0} : std::vector<std::int64_t>{0, 2};
    CHECK(nnt::max_diff(ops::mean(y, dims), zeros({4})) < 1e-5);
    CHECK(nnt::max_diff(ops::var(y, dims, 0), ones({4})) < 1e-3);
  }
  CHECK(bn.num_batches_tracked.item() == 2);
  CHECK_THROWS_AS(bn(random({2, 4, 3, 3}, 1)), ShapeError);
}

TEST_CASE("parameter-free layers match reference loops") {
  const Tensor x = random({2, 3, 8, 6}, 21, DType::float32, -2, 2);
  ReLU relu_layer;
  const auto xh = host(x), rh = host(relu_layer(x));
  for (std::size_t i = 0; i < xh.size(); ++i) CHECK(rh[i] == std::max(0.0, xh[i]));
  check_close(MaxPool2d({.kernel_size = 2})(x), pool_ref(x, 2, 2, true), 0.0);
  check_close(MaxPool2d({.kernel_size = 3, .stride = 1})(x), pool_ref(x, 3, 1, true), 0.0);
  check_close(AvgPool2d({.kernel_size = 2})(x), pool_ref(x, 2, 2, false), 1e-6);
  check_close(AvgPool2d({.kernel_size = 1, .stride = 1})(x), host(x), 0.0);
  const Tensor g = AdaptiveAvgPool2d(1)(x);
  CHECK(g.shape() == Shape{2, 3, 1, 1});
  std::vector<double> means(6, 0.0);
  for (std::size_t i = 0; i < xh.size(); ++i) means[i / 48] += xh[i] / 48.0;
  check_close(g, means, 1e-6);
  const Tensor f = Flatten()(x);
  CHECK(f.shape() == Shape{2, 144});
  CHECK(host(f) == xh);
  CHECK(Identity()(x).is_same(x));
  CHECK_THROWS_AS(AdaptiveAvgPool2d(2), ValueError);
}

TEST_CASE("Dropout: zero or x/(1-p) in training with rate about p, identity in eval, seeded") {
  const Tensor x = random({100, 100}, 8, DType::float32, 1.0, 2.0);
  Generator g1(77), g2(77);
  Dropout d1({.p = 0.3}, g1), d2({.p = 0.3}, g2);
  const Tensor y = d1(x);
  const auto xh = host(x), yh = host(y);
  int zeros_count = 0;
  for (std::size_t i = 0; i < xh.size(); ++i) {
    if (yh[i] == 0.0) {
      ++zeros_count;
    } else {
      CHECK(yh[i] == doctest::Approx(xh[i] / 0.7).epsilon(1e-6));
    }
  }
  CHECK(std::abs(zeros_count / 10000.0 - 0.3) < 0.03);
  CHECK(max_diff(y, d2(x)) == 0.0);   // same seed, same mask
  CHECK(max_diff(y, d1(x)) > 0.0);    // the generator advanced
  d1.eval();
  CHECK(max_diff(d1(x), x) == 0.0);
  CHECK_THROWS_AS(Dropout({.p = 1.0}), ValueError);
}

TEST_CASE("Sequential registers children 0, 1, ... and chains them") {
  Generator gen(4);
  Sequential seq;
  auto fc1 = seq.push_back(std::make_shared<Linear>(LinearOptions{.in_features = 5, .out_features = 7}, gen));
  seq.push_back(std::make_shared<ReLU>());
  auto fc2 = seq.push_back(std::make_shared<Linear>(LinearOptions{.in_features = 7, .out_features = 2}, gen));
  CHECK(seq.size() == 3);
  CHECK(seq.at(2) == fc2);
  CHECK_THROWS_AS(seq.at(3), IndexError);
  std::vector<std::string> names;
  for (auto& [k, t] : seq.named_parameters()) names.push_back(k);
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"});
  const Tensor x = random({3, 5}, 2);
  CHECK(max_diff(seq(x), (*fc2)(relu((*fc1)(x)))) == 0.0);
}

TEST_CASE("gradients through modules in float64 (input and every parameter)") {
  Generator gen(31);
  Linear fc({.in_features = 4, .out_features = 3}, gen);
  fc.to(DType::float64);
  check_grad(fc, random({2, 4}, 1, DType::float64));

  Conv2d conv({.in_channels = 2, .out_channels = 3, .kernel_size = 3, .stride = 2, .padding = 1}, gen);
  conv.to(DType::float64);
  check_grad(conv, random({2, 2, 5, 5}, 2, DType::float64));

  Conv2d grouped({.in_channels = 4, .out_channels = 2, .kernel_size = 2, .groups = 2, .bias = false}, gen);
  grouped.to(DType::float64);
  check_grad(grouped, random({1, 4, 3, 3}, 3, DType::float64));

  BatchNorm2d bn({.num_features = 3});
  bn.to(DType::float64);
  init::uniform_(bn.weight, 0.5, 1.5, gen);
  check_grad(bn, random({3, 3, 2, 2}, 4, DType::float64));  // training: batch statistics
  bn.eval();
  check_grad(bn, random({3, 3, 2, 2}, 5, DType::float64));

  BatchNorm1d bn1({.num_features = 2});
  bn1.to(DType::float64);
  check_grad(bn1, random({4, 2}, 6, DType::float64));

  Sequential net;
  net.push_back(std::make_shared<Conv2d>(Conv2dOptions{.in_channels = 1, .out_channels = 2, .kernel_size = 3, .padding = 1}, gen));
  net.push_back(std::make_shared<BatchNorm2d>(BatchNormOptions{.num_features = 2}));
  net.push_back(std::make_shared<ReLU>());
  net.push_back(std::make_shared<MaxPool2d>(Pool2dOptions{.kernel_size = 2}));
  net.push_back(std::make_shared<AvgPool2d>(Pool2dOptions{.kernel_size = 2}));
  net.push_back(std::make_shared<Flatten>());
  net.push_back(std::make_shared<Dropout>(DropoutOptions{.p = 0.5}, gen));
  net.push_back(std::make_shared<Linear>(LinearOptions{.in_features = 2, .out_features = 3}, gen));
  net.to(DType::float64);
  net.eval();  // deterministic dropout; BatchNorm on running stats
  check_grad(net, random({2, 1, 4, 4}, 7, DType::float64));
}

TEST_CASE("module_gradcheck itself fails on a wrong gradient (a parameter used through detach)") {
  class Leaky : public Module {
   public:
    Leaky() { w = register_parameter("w", ones({3}, {.dtype = DType::float64})); }
    Tensor forward(const Tensor& x) override { return x * w + x * w.detach(); }  // half of dw is lost
    std::string name() const override { return "Leaky"; }
    Tensor w;
  };
  Leaky m;
  const auto r = nnt::module_gradcheck(m, random({2, 3}, 1, DType::float64));
  CHECK(!r.ok);
  CHECK(r.message.find("w[") != std::string::npos);
}
