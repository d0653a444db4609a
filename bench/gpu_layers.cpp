// gpu_layers: where a training step's GPU time goes, layer by layer (the PyTorch side is
// bench/torch_gpu_layers.py with the same output). For each 3x3 convolution of a model at a
// batch size: ms of forward, backward-data and backward-weight (cuDNN, after its algorithm
// search); then the whole model's forward (no grad), forward + backward, and the full step with
// an SGD-momentum update. One JSON line per row; all times are medians of --reps timed batches
// of 10 calls between device synchronisations.
// Usage: gpu_layers [--model vgg16|resnet20] [--batch 128] [--reps 5] [--tf32 1]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "proxima/cuda/cuda.h"
#include "proxima/proxima.h"

namespace {

px::Device gpu() { return px::Device::cuda(0); }

// Median over `reps` of (10 calls of f) / 10, in ms, with 3 untimed calls first.
double time_ms(int reps, const std::function<void()>& f) {
  for (int i = 0; i < 3; ++i) f();
  px::cuda_backend().synchronize(gpu());
  std::vector<double> ms;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 10; ++i) f();
    px::cuda_backend().synchronize(gpu());
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / 10);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

struct ConvShape {
  std::int64_t cin, cout, size;
};

std::vector<ConvShape> conv_shapes(const std::string& model) {
  std::vector<ConvShape> shapes;
  if (model == "vgg16") {
    const int cfg[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0};
    std::int64_t c = 3, s = 32;
    for (int v : cfg) {
      if (v == 0) { s /= 2; continue; }
      shapes.push_back({c, v, s});
      c = v;
    }
  } else {  // resnet20: the distinct 3x3 stride-1 shapes of its three stages
    shapes = {{3, 16, 32}, {16, 16, 32}, {32, 32, 16}, {64, 64, 8}};
  }
  return shapes;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model = "vgg16";
  std::int64_t batch = 128;
  int reps = 5;
  bool tf32 = true;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--model") model = value;
    else if (flag == "--batch") batch = std::atoll(value.c_str());
    else if (flag == "--reps") reps = std::atoi(value.c_str());
    else if (flag == "--tf32") tf32 = value != "0";
    else { std::fprintf(stderr, "gpu_layers: unknown flag %s\n", flag.c_str()); return 2; }
  }
  if (!px::cuda_available()) { std::printf("gpu_layers: no CUDA device\n"); return 77; }
  px::cuda::set_allow_tf32(tf32);
  px::Generator gen(0);
  const px::Conv2dParams p{.pad_h = 1, .pad_w = 1};
  double conv_total = 0;
  for (const ConvShape& c : conv_shapes(model)) {
    const px::Shape xs{batch, c.cin, c.size, c.size}, ws{c.cout, c.cin, 3, 3};
    px::Tensor x = px::randn(xs, {.device = gpu()}, &gen), w = px::randn(ws, {.device = gpu()}, &gen);
    px::Tensor gy = px::randn({batch, c.cout, c.size, c.size}, {.device = gpu()}, &gen);
    double f = time_ms(reps, [&] { px::ops::conv2d(x, w, p); });
    double bd = time_ms(reps, [&] { px::ops::conv2d_backward_input(gy, w, xs, p); });
    double bw = time_ms(reps, [&] { px::ops::conv2d_backward_weight(gy, x, ws, p); });
    conv_total += f + bd + bw;
    std::printf("{\"impl\": \"proxima\", \"row\": \"conv %lldx%lld %lld\", \"fwd_ms\": %.4f, \"bwd_data_ms\": %.4f, "
                "\"bwd_weight_ms\": %.4f}\n",
                static_cast<long long>(c.cin), static_cast<long long>(c.cout), static_cast<long long>(c.size), f, bd, bw);
  }
  std::printf("{\"impl\": \"proxima\", \"row\": \"conv total\", \"ms\": %.4f}\n", conv_total);
  {  // the host cost of one call: a convolution too small for the GPU time to matter
    px::Tensor x = px::randn({1, 16, 8, 8}, {.device = gpu()}, &gen), w = px::randn({16, 16, 3, 3}, {.device = gpu()}, &gen);
    px::Tensor gy = px::randn({1, 16, 8, 8}, {.device = gpu()}, &gen);
    double f = time_ms(reps, [&] { for (int i = 0; i < 10; ++i) px::ops::conv2d(x, w, p); }) / 10;
    double bd = time_ms(reps, [&] { for (int i = 0; i < 10; ++i) px::ops::conv2d_backward_input(gy, w, x.shape(), p); }) / 10;
    double bw = time_ms(reps, [&] { for (int i = 0; i < 10; ++i) px::ops::conv2d_backward_weight(gy, x, w.shape(), p); }) / 10;
    double add = time_ms(reps, [&] { for (int i = 0; i < 10; ++i) px::ops::add(gy, gy); }) / 10;
    std::printf("{\"impl\": \"proxima\", \"row\": \"per-call floor (1x16x8x8 conv)\", \"fwd_ms\": %.4f, "
                "\"bwd_data_ms\": %.4f, \"bwd_weight_ms\": %.4f, \"add_ms\": %.4f}\n", f, bd, bw, add);
  }

  auto net = px::nn::make_model(model, {.in_channels = 3, .image_size = 32, .num_classes = 10}, gen);
  net->to(gpu());
  net->train();
  px::Tensor x = px::randn({batch, 3, 32, 32}, {.device = gpu()}, &gen);
  std::vector<std::int64_t> labels(static_cast<std::size_t>(batch));
  for (std::int64_t i = 0; i < batch; ++i) labels[static_cast<std::size_t>(i)] = i % 10;
  px::Tensor y = px::from_vector(labels, {batch}, gpu());
  px::optim::SGD sgd(net->parameters(), px::optim::SgdOptions{.lr = 0.01, .momentum = 0.9, .weight_decay = 5e-4});
  double fwd = time_ms(reps, [&] {
    px::NoGradGuard no_grad;
    px::cross_entropy((*net)(x), y);
  });
  double fwd_bwd = time_ms(reps, [&] {
    sgd.zero_grad();
    px::backward(px::cross_entropy((*net)(x), y));
  });
  double step = time_ms(reps, [&] {
    sgd.zero_grad();
    px::backward(px::cross_entropy((*net)(x), y));
    sgd.step();
  });
  std::printf("{\"impl\": \"proxima\", \"row\": \"model %s:%lld\", \"forward_ms\": %.4f, \"forward_backward_ms\": %.4f, "
              "\"step_ms\": %.4f}\n",
              model.c_str(), static_cast<long long>(batch), fwd, fwd_bwd, step);
  return 0;
}
