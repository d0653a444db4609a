// gpu_overhead: where the host time of one small CUDA op goes (issue 7: proxima's tiny ops cost
// ~26 us against PyTorch's ~11 us, which makes VGG-16's step slower than PyTorch's). Each row is
// the host time per call, in microseconds: the median over --reps batches of --calls calls, with
// one device synchronisation after each batch (so it includes waiting only when the GPU is
// slower than the host). The rows peel the layers apart:
//   cuda runtime: cudaGetDevice, cudaSetDevice (proxima calls it in every context() lookup),
//                 cudaMemsetAsync of 64 bytes (a launch through the runtime, no kernel of ours);
//   allocator:    px::empty of 16 floats (the caching allocator and a Tensor, no launch);
//   proxima ops:  fill_ (dispatch + one launch), add into a new tensor (+ allocation),
//                 mul by a double (+ the 0-d scalar operand), relu, copy_;
//   large:        add of 1M floats (launch cost amortised; bandwidth-bound);
//   cpu:          the same tiny ops on the CPU backend (the shared dispatch floor).
// bench/gpu_overhead.py runs this and the same rows in PyTorch and prints the ratios.
// Output: one JSON line per row. Exit status 77 without a CUDA device.
// Usage: gpu_overhead [--reps 7] [--calls 2000] [--cpu: the CPU rows only, on any machine]
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "proxima/proxima.h"

namespace {

int g_reps = 7, g_calls = 2000;

double time_us(px::Device device, const std::function<void()>& f) {
  auto sync = [&] {
    if (device.is_cuda()) px::cuda_backend().synchronize(device);
  };
  for (int i = 0; i < 50; ++i) f();
  sync();
  std::vector<double> us;
  for (int r = 0; r < g_reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < g_calls; ++i) f();
    sync();
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / g_calls);
  }
  std::sort(us.begin(), us.end());
  return us[us.size() / 2];
}

void row(const char* group, const char* name, double us) {
  std::printf("{\"impl\": \"proxima\", \"group\": \"%s\", \"row\": \"%s\", \"us\": %.3f}\n", group, name, us);
  std::fflush(stdout);
}

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "gpu_overhead: %s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

void ops_rows(const char* group, px::Device d) {
  const px::TensorOptions o{.device = d};
  px::Tensor a = px::ones({16}, o), b = px::ones({16}, o), out = px::zeros({16}, o);
  row(group, "empty 16 floats", time_us(d, [&] { px::Tensor t = px::empty({16}, o); }));
  row(group, "fill_ 16 floats", time_us(d, [&] { px::ops::fill_(out, 1.0); }));
  row(group, "add 16 floats (new tensor)", time_us(d, [&] { px::Tensor t = px::ops::add(a, b); }));
  row(group, "mul 16 floats by a double", time_us(d, [&] { px::Tensor t = px::ops::mul(a, 0.5); }));
  row(group, "relu 16 floats", time_us(d, [&] { px::Tensor t = px::ops::relu(a); }));
  row(group, "copy_ 16 floats", time_us(d, [&] { px::ops::copy_(out, a); }));
}

}  // namespace

int main(int argc, char** argv) {
  bool cpu_only = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--cpu") == 0) cpu_only = true;
    else if (i + 1 < argc && std::strcmp(argv[i], "--reps") == 0) g_reps = std::max(1, std::atoi(argv[++i]));
    else if (i + 1 < argc && std::strcmp(argv[i], "--calls") == 0) g_calls = std::max(1, std::atoi(argv[++i]));
    else {
      std::fprintf(stderr, "usage: gpu_overhead [--reps N] [--calls N] [--cpu (the CPU rows only)]\n");
      return 2;
    }
  }
  if (cpu_only) {
    ops_rows("proxima cpu", px::Device::cpu());
    return 0;
  }
  if (!px::cuda_available()) {
    std::printf("gpu_overhead: no CUDA device\n");
    return 77;
  }
  const px::Device gpu = px::Device::cuda(0);
  px::Tensor warm = px::ones({16}, {.device = gpu});  // creates the context, stream and handles
  px::cuda_backend().synchronize(gpu);

  int dev = -1;
  row("cuda runtime", "cudaGetDevice", time_us(gpu, [&] { check(cudaGetDevice(&dev), "cudaGetDevice"); }));
  row("cuda runtime", "cudaSetDevice", time_us(gpu, [&] { check(cudaSetDevice(0), "cudaSetDevice"); }));
  void* p = nullptr;
  check(cudaMalloc(&p, 64), "cudaMalloc");
  row("cuda runtime", "cudaMemsetAsync 64 bytes",
      time_us(gpu, [&] { check(cudaMemsetAsync(p, 0, 64, nullptr), "cudaMemsetAsync"); }));
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  check(cudaFree(p), "cudaFree");

  ops_rows("proxima cuda", gpu);
  {
    const px::TensorOptions o{.device = gpu};
    px::Tensor a = px::ones({1 << 20}, o), b = px::ones({1 << 20}, o);
    row("proxima cuda", "add 1M floats (new tensor)", time_us(gpu, [&] { px::Tensor t = px::ops::add(a, b); }));
  }
  ops_rows("proxima cpu", px::Device::cpu());
  return 0;
}
