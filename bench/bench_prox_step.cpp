// bench_prox_step: times ONE optimizer step of ProxGen-Adam (l1, l0, l12, l23, mcp, scad, group,
// bin-l1, bin-l12, bin-l23, bin-l0; lq:0.3 on request with --regularizers)
// against plain Adam and a copy of the same size, on float32 CPU parameters.
//
// Two parameter sets: one tensor of --size coordinates (default 10M; shaped [size / 1000, 1000] when
// 1000 divides it, so the group lasso has 10,000 groups of 1000), and the parameter shapes of
// ResNet-20 (CIFAR, ~0.27M; conv/linear weights regularised, BatchNorm and the fc bias not).
// All optimizers of a set are built first, then the steps are interleaved (rep r times row 1,
// row 2, ..., so load drift hits every row alike); each row reports the median over --reps
// timed steps after --warmup untimed ones.
// Bytes per step: an Adam-type step reads p, g, m, v and writes p, m, v: 7 * 4 bytes per float32
// parameter; the copy reads and writes one tensor: 2 * 4 bytes. GB/s = bytes / median / 1e9.
// ns/param = median / parameters: with --size 32768 --threads 1 the data stay in L2 and it is the
// compute cost per coordinate (plus a few microseconds of fixed cost per step).
// Gradients are fixed N(0, 0.01^2) tensors, parameters start N(0, 0.05^2); lr 1e-3 and
// lambda 1e-4 give thresholds t = lr lambda / d ~ 1e-5, so most coordinates survive every prox
// (the expensive branch of l12/l23); the final exact-zero fraction of each row is printed.
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

std::vector<Row> make_rows(const ParamSet& set, px::Generator& gen, const std::vector<std::string>& regs,
                           bool with_copy) {
  std::vector<Row> rows;
  {
    Row r{.name = "adam"};
    r.params = make_params(set, gen, px::Device::cpu());
    r.opt = std::make_unique<px::optim::Adam>(r.params, px::optim::AdamOptions{.lr = 1e-3});
    rows.push_back(std::move(r));
  }
  for (const auto& reg : regs) {
    Row r{.name = "proxgen-adam " + reg};
    r.params = make_params(set, gen, px::Device::cpu());
    auto groups = split_groups(r.params);
    groups[0].options["regularizer"] = reg;  // the first group holds the ndim-2/4 weights
    px::optim::prox::ProxGenOptions o;
    o.lr = 1e-3;
    o.lambda = 1e-4;
    r.opt = std::make_unique<px::optim::prox::ProxGen>(std::move(groups), o);
    rows.push_back(std::move(r));
  }
  if (with_copy) {
    const std::int64_t n = numel(set);
    Row r{.name = "copy (px::ops::copy_)", .bytes_per_param = 8};
    r.copy_src = px::randn({n}, {}, &gen);
    r.copy_dst = px::zeros({n});
    rows.push_back(std::move(r));
  }
  return rows;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double zero_fraction(const Row& r) {
  std::int64_t zeros = 0, total = 0;
  for (const auto& p : r.params) {
    for (float x : p.to_vector<float>()) zeros += x == 0.0f;
    total += p.numel();
  }
  return total ? double(zeros) / double(total) : 0.0;
}

struct RunOptions {
  int warmup = 3, reps = 21;
  std::vector<std::string> regularizers = {"l1",     "l0",     "l12",     "l23",     "mcp",   "scad",
                                           "group",  "bin-l1", "bin-l12", "bin-l23", "bin-l0"};
  bool copy = true, markdown = false;
};

void run_set(const ParamSet& set, const RunOptions& ro) {
  const int warmup = ro.warmup, reps = ro.reps;
  const bool markdown = ro.markdown;
  px::Generator gen(1);
  std::vector<Row> rows = make_rows(set, gen, ro.regularizers, ro.copy);
  const std::int64_t n = numel(set);
  for (int i = 0; i < warmup; ++i)
    for (auto& r : rows) r.step();
  for (int i = 0; i < reps; ++i)
    for (auto& r : rows) {
      const auto start = Clock::now();
      r.step();
      r.times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    }
  const double adam = median(rows[0].times);
  const double adam_min = *std::min_element(rows[0].times.begin(), rows[0].times.end());
  if (markdown) {
    std::printf("\n%s: %lld float32 parameters in %zu tensors\n\n", set.name.c_str(), static_cast<long long>(n),
                set.shapes.size());
    std::printf("| row | median ms | min ms | / Adam (median) | / Adam (min) | GB/s (median) | ns/param "
                "| zeros after |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
  } else {
    std::printf("\n%s: %lld float32 parameters in %zu tensors\n%-26s %10s %10s %8s %8s %8s %8s %8s\n", set.name.c_str(),
                static_cast<long long>(n), set.shapes.size(), "row", "median ms", "min ms", "/Adam", "min/Adam", "GB/s",
                "ns/param", "zeros");
  }
  for (const auto& r : rows) {
    const double med = median(r.times);
    const double lo = *std::min_element(r.times.begin(), r.times.end());
    const double gbs = double(n) * double(r.bytes_per_param) / med / 1e9;
    const double ns = med * 1e9 / double(n);
    const std::string zeros = r.opt ? std::to_string(zero_fraction(r) * 100.0).substr(0, 5) + "%" : "-";
    if (markdown)
      std::printf("| %s | %.3f | %.3f | %.2f | %.2f | %.1f | %.3f | %s |\n", r.name.c_str(), med * 1e3, lo * 1e3,
                  med / adam, lo / adam_min, gbs, ns, zeros.c_str());
    else
      std::printf("%-26s %10.3f %10.3f %8.2f %8.2f %8.1f %8.3f %8s\n", r.name.c_str(), med * 1e3, lo * 1e3, med / adam,
                  lo / adam_min, gbs, ns, zeros.c_str());
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  RunOptions ro;
  int threads = 0;
  std::int64_t size = 10'000'000;
  bool skip_resnet = false, skip_copy = false;
  CLI::App app{"proxima: one ProxGen-Adam step vs Adam vs a copy (float32, CPU)"};
  app.add_option("--reps", ro.reps, "timed steps per row (median reported), >= 11")->check(CLI::Range(11, 100000));
  app.add_option("--warmup", ro.warmup, "untimed steps per row before timing")->check(CLI::Range(0, 100000));
  app.add_option("--threads", threads, "CPU threads (0 = proxima's default)")->check(CLI::Range(0, 4096));
  app.add_option("--size", size, "coordinates of the single-tensor set")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 40));
  app.add_option("--regularizers", ro.regularizers, "ProxGen-Adam rows (Adam always runs)")->delimiter(',');
  app.add_flag("--no-copy", skip_copy, "skip the copy row");
  app.add_flag("--markdown", ro.markdown, "print markdown tables");
  app.add_flag("--no-resnet", skip_resnet, "skip the ResNet-20 shapes set");
  CLI11_PARSE(app, argc, argv);
  try {
    if (threads > 0) px::set_num_threads(threads);
    ro.copy = !skip_copy;
    std::printf("proxima bench_prox_step: float32, CPU, %d threads, median of %d interleaved steps after %d "
                "warm-up; GB/s counts 7*4 bytes/param (read p,g,m,v; write p,m,v), copy 2*4\n",
                px::get_num_threads(), ro.reps, ro.warmup);
    const px::Shape one = size % 1000 == 0 ? px::Shape{size / 1000, 1000} : px::Shape{size};
    run_set({"one tensor", {one}}, ro);
    if (!skip_resnet) run_set(resnet20_shapes(), ro);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_prox_step: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
