// bench_ops: times GEMM and the ResNet-20 (CIFAR, batch 128) convolutions through px::ops.
//
// Each workload runs `--warmup` times, then `--reps` timed times; the row reports the median.
// FLOPs count a multiply-add as 2: GEMM 2*M*N*K, every convolution direction 2*N*K*P*Q*C*R*S.
// bench/compare_cpu.sh runs this next to bench/torch_ops.py (same workloads in PyTorch).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "proxima/proxima.h"

namespace {

struct Workload {
  std::string name;
  double flops;
  std::function<px::Tensor()> run;  // returns its result so the work cannot be skipped
};

struct ConvShape {
  std::int64_t c, k, hw, stride;  // in channels, out channels, input height = width, stride
};

// The distinct 3x3, padding-1, bias-free convolutions of ResNet-20 on 32x32 CIFAR images.
const std::vector<ConvShape> kResnet20Convs = {
    {3, 16, 32, 1}, {16, 16, 32, 1}, {16, 32, 32, 2}, {32, 32, 16, 1}, {32, 64, 16, 2}, {64, 64, 8, 1},
};

std::vector<Workload> make_workloads(std::int64_t batch, px::Generator& gen) {
  std::vector<Workload> out;
  const std::int64_t n = 1024;
  const px::Tensor a = px::randn({1, n, n}, {}, &gen), b = px::randn({1, n, n}, {}, &gen);
  out.push_back({"gemm 1024x1024x1024", 2.0 * n * n * n, [a, b] { return px::ops::bmm(a, b); }});

  for (const ConvShape& s : kResnet20Convs) {
    px::Conv2dParams p;
    p.stride_h = p.stride_w = s.stride;
    p.pad_h = p.pad_w = 1;
    const std::int64_t out_hw = (s.hw + 2 - 3) / s.stride + 1;
    const px::Shape x_shape{batch, s.c, s.hw, s.hw}, w_shape{s.k, s.c, 3, 3};
    const px::Tensor x = px::randn(x_shape, {}, &gen), w = px::randn(w_shape, {}, &gen);
    const px::Tensor dy = px::randn({batch, s.k, out_hw, out_hw}, {}, &gen);
    const double flops = 2.0 * batch * s.k * out_hw * out_hw * s.c * 9;
    const std::string name = "conv " + std::to_string(s.c) + "->" + std::to_string(s.k) + " " +
                             std::to_string(s.hw) + "x" + std::to_string(s.hw) + " s" +
                             std::to_string(s.stride);
    out.push_back({name + " fwd", flops, [=] { return px::ops::conv2d(x, w, p); }});
    out.push_back({name + " bwd-data", flops,
                   [=] { return px::ops::conv2d_backward_input(dy, w, x_shape, p); }});
    out.push_back({name + " bwd-weight", flops,
                   [=] { return px::ops::conv2d_backward_weight(dy, x, w_shape, p); }});
  }
  return out;
}

double median_seconds(const Workload& w, int warmup, int reps) {
  for (int i = 0; i < warmup; ++i) w.run();
  std::vector<double> times;
  for (int i = 0; i < reps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const px::Tensor result = w.run();
    const auto stop = std::chrono::steady_clock::now();
    times.push_back(std::chrono::duration<double>(stop - start).count());
  }
  std::sort(times.begin(), times.end());
  return reps % 2 ? times[reps / 2] : 0.5 * (times[reps / 2 - 1] + times[reps / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 10, warmup = 2, threads = 0;
  std::int64_t batch = 128;
  bool json = false;
  std::string filter;
  CLI::App app{"proxima CPU op benchmark: GEMM and ResNet-20 convolutions (float32)"};
  app.add_option("--reps", reps, "timed repetitions per workload (median reported)")->check(CLI::Range(1, 100000));
  app.add_option("--warmup", warmup, "untimed runs before timing")->check(CLI::Range(0, 100000));
  app.add_option("--threads", threads, "CPU threads (0 = proxima's default)")->check(CLI::Range(0, 4096));
  app.add_option("--batch", batch, "convolution batch size")->check(CLI::Range(1, 65536));
  app.add_option("--filter", filter, "only workloads whose name contains this text");
  app.add_flag("--json", json, "print one JSON object per workload instead of a table");
  CLI11_PARSE(app, argc, argv);

  try {
    if (threads > 0) px::set_num_threads(threads);
    px::Generator gen(0);
    const std::vector<Workload> workloads = make_workloads(batch, gen);
    if (!json)
      std::printf("proxima bench_ops: float32, CPU, %d threads, median of %d after %d warm-up\n"
                  "%-36s %10s %10s\n", px::get_num_threads(), reps, warmup, "workload", "ms", "GFLOP/s");
    for (const Workload& w : workloads) {
      if (!filter.empty() && w.name.find(filter) == std::string::npos) continue;
      const double seconds = median_seconds(w, warmup, reps);
      const double gflops = w.flops / seconds / 1e9;
      if (json)
        std::printf("{\"impl\": \"proxima\", \"workload\": \"%s\", \"threads\": %d, \"ms\": %.4f, "
                    "\"gflops\": %.3f}\n", w.name.c_str(), px::get_num_threads(), seconds * 1e3, gflops);
      else
        std::printf("%-36s %10.3f %10.2f\n", w.name.c_str(), seconds * 1e3, gflops);
      std::fflush(stdout);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_ops: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
