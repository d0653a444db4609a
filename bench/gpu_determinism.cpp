// gpu_determinism: which CUDA op is not bit-reproducible? Runs each op (and a ResNet-20
// forward/backward) twice on the same inputs with deterministic cuDNN algorithms and TF32 off,
// and prints, per op or parameter, whether the two results are bitwise equal (and the largest
// difference when not). Before each run the allocator's free blocks are filled with NaN, so that
// reads of memory a kernel never wrote show up. A diagnostic for tests/cuda/test_train_cuda.cpp's
// determinism checks (written in session 5 when the GPU time ran out: not yet run).
// Usage: gpu_determinism
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "proxima/cuda/cuda.h"
#include "proxima/proxima.h"

namespace {

px::Device gpu() { return px::Device::cuda(0); }

double max_diff(const px::Tensor& a, const px::Tensor& b) {
  const auto x = a.to(px::Device::cpu()).to(px::DType::float64).to_vector<double>();
  const auto y = b.to(px::Device::cpu()).to(px::DType::float64).to_vector<double>();
  double d = 0;
  for (std::size_t i = 0; i < x.size(); ++i) d = std::max(d, std::abs(x[i] - y[i]));
  return d;
}

int report(const std::string& what, const px::Tensor& a, const px::Tensor& b) {
  const double d = max_diff(a, b);
  std::printf("%-40s %s (max |diff| %.3g)\n", what.c_str(), d == 0 ? "equal" : "DIFFERENT", d);
  return d == 0 ? 0 : 1;
}

// Fills the caching allocator's free blocks with NaN: a kernel that reads memory it did not
// write (an output it only partly writes, a scratch buffer) then gives NaN or a different result
// on the second run, which is how allocator history would make a run non-repeatable.
void poison() {
  std::vector<px::Tensor> junk;
  for (std::int64_t n = 64; n <= (std::int64_t{1} << 24); n *= 2)
    for (int copies = 0; copies < 3; ++copies) junk.push_back(px::full({n}, NAN, {.device = gpu()}));
}

int twice(const std::string& what, const std::function<px::Tensor()>& f) {
  poison();
  px::Tensor first = f();
  poison();
  return report(what, first, f());
}

}  // namespace

int main() {
  if (!px::cuda_available()) { std::printf("gpu_determinism: no CUDA device\n"); return 77; }
  px::cuda::set_allow_tf32(false);
  px::cuda::set_deterministic_algorithms(true);
  px::Generator gen(1);
  int different = 0;
  px::Tensor x = px::randn({16, 16, 32, 32}, {.device = gpu()}, &gen);
  px::Tensor w = px::randn({16, 16, 3, 3}, {.device = gpu()}, &gen);
  px::Tensor gy = px::randn({16, 16, 32, 32}, {.device = gpu()}, &gen);
  const px::Conv2dParams p{.pad_h = 1, .pad_w = 1};
  different += twice("conv2d", [&] { return px::ops::conv2d(x, w, p); });
  different += twice("conv2d_backward_input", [&] { return px::ops::conv2d_backward_input(gy, w, x.shape(), p); });
  different += twice("conv2d_backward_weight", [&] { return px::ops::conv2d_backward_weight(gy, x, w.shape(), p); });
  different += twice("sum over 0,2,3", [&] { return px::ops::sum(gy, {0, 2, 3}); });
  different += twice("mean over 2,3", [&] { return px::ops::mean(gy, {2, 3}); });
  px::Tensor gamma = px::randn({16}, {.device = gpu()}, &gen), beta = px::randn({16}, {.device = gpu()}, &gen);
  px::Tensor mean = px::empty({16}, {.device = gpu()}), invstd = px::empty({16}, {.device = gpu()});
  different += twice("batch_norm_forward", [&] {
    px::Tensor y = px::empty(x.shape(), {.device = gpu()});
    px::cuda_backend().batch_norm_forward(x, gamma, beta, mean, invstd, y, 1e-5, true);
    return y;
  });
  different += twice("batch_norm_backward grad_weight", [&] {
    px::Tensor gx = px::empty(x.shape(), {.device = gpu()}), gw = px::empty({16}, {.device = gpu()}),
               gb = px::empty({16}, {.device = gpu()});
    px::cuda_backend().batch_norm_backward(gy, x, gamma, mean, invstd, gx, gw, gb, true);
    return gw;
  });
  different += twice("batch_norm_backward grad_x", [&] {
    px::Tensor gx = px::empty(x.shape(), {.device = gpu()}), gw = px::empty({16}, {.device = gpu()}),
               gb = px::empty({16}, {.device = gpu()});
    px::cuda_backend().batch_norm_backward(gy, x, gamma, mean, invstd, gx, gw, gb, true);
    return gx;
  });
  px::Tensor logits = px::randn({64, 10}, {.device = gpu()}, &gen);
  std::vector<std::int64_t> labels(64);
  for (int i = 0; i < 64; ++i) labels[i] = i % 10;
  px::Tensor y = px::from_vector(labels, {64}, gpu());
  different += twice("cross_entropy", [&] { return px::cross_entropy(logits, y); });
  px::Tensor a = px::randn({64, 64}, {.device = gpu()}, &gen), b = px::randn({64, 10}, {.device = gpu()}, &gen);
  different += twice("matmul", [&] { return px::ops::matmul(a, b); });

  // ResNet-20 forward + backward twice from the same weights: which gradients differ?
  auto net = px::nn::make_model("resnet20", {.in_channels = 3, .image_size = 32, .num_classes = 10}, gen);
  net->to(gpu());
  net->train();
  px::Tensor xb = px::randn({16, 3, 32, 32}, {.device = gpu()}, &gen);
  px::Tensor yb = px::from_vector(std::vector<std::int64_t>(labels.begin(), labels.begin() + 16), {16}, gpu());
  std::vector<std::vector<px::Tensor>> grads(2);
  std::vector<px::Tensor> losses;
  for (int r = 0; r < 2; ++r) {
    poison();
    for (auto& q : net->parameters()) q.zero_grad();
    px::Tensor loss = px::cross_entropy((*net)(xb), yb);
    px::backward(loss);
    losses.push_back(loss.detach());
    for (auto& q : net->parameters()) grads[r].push_back(q.grad().clone());
  }
  different += report("resnet20 loss", losses[0], losses[1]);
  const auto named = net->named_parameters();
  int shown = 0;
  for (std::size_t i = 0; i < named.size(); ++i) {
    const double d = max_diff(grads[0][i], grads[1][i]);
    if (d != 0 && shown++ < 12) std::printf("  grad %-34s DIFFERENT (max |diff| %.3g)\n", named[i].first.c_str(), d);
    different += d != 0;
  }
  std::printf("gpu_determinism: %d results differ\n", different);
  return different == 0 ? 0 : 1;
}
