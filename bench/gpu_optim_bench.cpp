// gpu_optim_bench: times ONE optimizer step on CUDA float32 parameters (Adam and ProxGen-Adam with
// l1, l0, l12, l23; the fused multi-tensor kernels of optim/device_loop.h) against a
// device-to-device copy moving the same bytes, measured in the same run.
//
// Two parameter sets: one tensor of --size coordinates (default 10M), and the parameter shapes of
// ResNet-20 (~0.27M in 65 tensors; conv/linear weights regularised, BatchNorm and the fc bias
// not, so two param groups: two launches per step).
// Bytes per step: an Adam-type step reads p, g, m, v and writes p, m, v: 7 * 4 bytes per float32
// parameter. The copy row copies a tensor of 3.5 n floats (reads and writes 7 * 4 n bytes).
// Timing: the device is synchronised, --reps steps run back to back, the device is synchronised
// again; ms = wall time / reps (launch overhead included, as a training loop sees it). Each row
// reports the median of --trials such batches. GB/s = bytes / ms.
// Gradients N(0, 0.01^2), parameters N(0, 0.05^2), lr 1e-3, lambda 1e-4 (as bench_prox_step).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "proxima/proxima.h"
#include "proxima/optim/adam.h"
#include "proxima/optim/prox/proxgen.h"
#include "optim_step_bench.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace px_bench;  // optim_step_bench.h
const px::Device kGpu = px::Device::cuda(0);

std::vector<Row> make_rows(const ParamSet& set, std::int64_t n, px::Generator& gen) {
  std::vector<Row> rows;
  Row adam{.name = "adam"};
  adam.params = make_params(set, gen, kGpu);
  adam.opt = std::make_unique<px::optim::Adam>(split_groups(adam.params), px::optim::AdamOptions{.lr = 1e-3});
  rows.push_back(std::move(adam));
  for (const char* reg : {"l1", "l0", "l12", "l23"}) {
    Row r{.name = std::string("proxgen-adam ") + reg};
    r.params = make_params(set, gen, kGpu);
    auto groups = split_groups(r.params);
    groups[0].options["regularizer"] = std::string(reg);  // the ndim-2/4 weights
    r.opt = std::make_unique<px::optim::prox::ProxGen>(std::move(groups),
                                                       px::optim::prox::ProxGenOptions{.lr = 1e-3, .lambda = 1e-4});
    rows.push_back(std::move(r));
  }
  Row copy{.name = "d2d copy, same bytes"};
  copy.copy_src = px::randn({n * 7 / 2}, {.device = kGpu}, &gen);
  copy.copy_dst = px::zeros({n * 7 / 2}, {.device = kGpu});
  rows.push_back(std::move(copy));
  return rows;
}

void run_set(const ParamSet& set, int reps, int trials) {
  const std::int64_t n = numel(set);
  px::Generator gen(1);
  std::vector<Row> rows = make_rows(set, n, gen);
  px::Backend& backend = px::backend_for(kGpu);
  for (auto& r : rows) r.step();  // warm-up (state allocation, caching allocator)
  for (int t = 0; t < trials; ++t)
    for (auto& r : rows) {
      backend.synchronize(kGpu);
      const auto start = Clock::now();
      for (int i = 0; i < reps; ++i) r.step();
      backend.synchronize(kGpu);
      r.times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count() / reps);
    }
  std::printf("\n%s: %lld float32 parameters in %zu tensors; bytes/step %.1f MB\n%-24s %10s %10s %8s %8s\n",
              set.name.c_str(), static_cast<long long>(n), set.shapes.size(), 28.0 * double(n) / 1e6, "row",
              "median ms", "min ms", "GB/s", "/copy");
  double copy_ms = 0;
  for (auto& r : rows) std::sort(r.times.begin(), r.times.end());
  copy_ms = rows.back().times[rows.back().times.size() / 2];
  for (const auto& r : rows) {
    const double med = r.times[r.times.size() / 2];
    std::printf("%-24s %10.4f %10.4f %8.1f %8.2f\n", r.name.c_str(), med, r.times.front(), 28.0 * double(n) / med / 1e6,
                med / copy_ms);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 20, trials = 7;
  std::int64_t size = 10'000'000;
  CLI::App app{"proxima: one Adam / ProxGen-Adam step on CUDA vs a device copy of the same bytes (float32)"};
  app.add_option("--reps", reps, "steps per timed batch")->check(CLI::Range(1, 100000));
  app.add_option("--trials", trials, "timed batches per row (median reported)")->check(CLI::Range(1, 1000));
  app.add_option("--size", size, "coordinates of the single-tensor set")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 34));
  CLI11_PARSE(app, argc, argv);
  try {
    if (!px::cuda_available()) {
      std::printf("gpu_optim_bench: no CUDA device\n");
      return 77;
    }
    std::printf("proxima gpu_optim_bench: float32 on %s; ms per step = batch of %d steps / %d (median of %d); "
                "GB/s counts 7*4 bytes/param (read p,g,m,v; write p,m,v)\n",
                kGpu.str().c_str(), reps, reps, trials);
    run_set({"one tensor", {{size}}}, reps, trials);
    run_set(resnet20_shapes(), reps, trials);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gpu_optim_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
