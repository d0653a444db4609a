// Helpers of the GPU optimizer tests: one optimizer on CPU tensors and the same on CUDA copies,
// stepped with identical gradients, compared parameter by parameter and state entry by entry.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gpu_util.h"
#include "proxima/optim/optimizer.h"
#include "proxima/optim/prox/proxgen.h"

namespace px::gpu_test {

using OptimizerFactory = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor>)>;

// Odd sizes, several blocks of the multi-tensor loop (4096 coordinates per block), 1-element.
inline std::vector<Shape> optim_shapes() { return {{7}, {33, 5}, {3, 4, 5, 7}, {4099}, {1}, {70001}}; }

// Tolerances. float64: the same rule in the same order; nvcc contracts a * b + c into an fma
// where GCC rounds twice, and libm vs CUDA's sqrt/pow/cbrt/acos differ by an ulp or so, so the
// results agree to ~1e-15 relative per step (1e-12 over 20 steps) of the OPERANDS: a momentum
// buffer that cancels to ~1e-4 from terms of size ~5 (unit gradients) keeps their ~1e-15
// absolute error, hence the absolute 1e-13 (20 steps of ulps of unit-scale gradients). float32: one step from
// identical inputs agrees to a few float ulps (relative 6e-8 each) of the operands, and the
// update p - lr m / d cancels, so the bound is absolute in units of the parameters' scale.
struct Tolerance {
  double rtol, atol;
};
inline Tolerance optim_tolerance(DType dtype, double scale) {
  return dtype == DType::float64 ? Tolerance{1e-12, 1e-13} : Tolerance{2e-5, 2e-6 * scale};
}

// Compares a CPU tensor and a CUDA tensor. Zeros: a coordinate zero on one side only is counted
// in `zero_mismatches` (not compared further); with exact_zeros every one fails the check.
inline void compare_tensor(const Tensor& want_cpu, const Tensor& got_gpu, Tolerance tol, bool exact_zeros,
                           std::int64_t& zero_mismatches, const std::string& what) {
  INFO(what);
  REQUIRE(got_gpu.device() == gpu());
  REQUIRE(got_gpu.dtype() == want_cpu.dtype());
  const std::vector<double> want = want_cpu.to(DType::float64).to_vector<double>();
  const std::vector<double> got = got_gpu.to(Device::cpu()).to(DType::float64).to_vector<double>();
  REQUIRE(want.size() == got.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    if ((want[i] == 0) != (got[i] == 0)) {
      ++zero_mismatches;
      if (exact_zeros) {
        FAIL_CHECK("element " << i << ": zero on one side only: gpu " << got[i] << " vs cpu " << want[i]);
        return;
      }
      continue;
    }
    const bool ok = want[i] == got[i] || (std::isnan(want[i]) && std::isnan(got[i])) ||
                    std::abs(got[i] - want[i]) <= tol.atol + tol.rtol * std::abs(want[i]);
    if (!ok) {
      FAIL_CHECK("element " << i << ": gpu " << got[i] << " vs cpu " << want[i]);
      return;
    }
  }
}

// A CPU/CUDA pair of parameter lists and optimizers built by `make`.
struct OptimizerPair {
  std::vector<Tensor> cpu, gpu;
  std::unique_ptr<optim::Optimizer> on_cpu, on_gpu;

  OptimizerPair(const OptimizerFactory& make, DType dtype, Generator& gen, double scale,
                const std::vector<Shape>& shapes = optim_shapes()) {
    for (const Shape& s : shapes) {
      cpu.push_back(random_cpu(s, dtype, gen, scale));
      gpu.push_back(cpu.back().to(gpu_test::gpu()));
    }
    on_cpu = make(cpu);
    on_gpu = make(gpu);
  }

  // Identical random gradients on both sides, then one step of each.
  void step(Generator& gen, double grad_scale = 1.0) {
    for (std::size_t k = 0; k < cpu.size(); ++k) {
      const Tensor g = random_cpu(cpu[k].shape(), cpu[k].dtype(), gen, grad_scale);
      cpu[k].set_grad(g);
      gpu[k].set_grad(g.to(gpu_test::gpu()));
    }
    on_cpu->step();
    on_gpu->step();
  }

  // Parameters and every state entry; returns the zero mismatches of the parameters.
  std::int64_t compare(Tolerance tol, bool exact_zeros, const std::string& what) {
    std::int64_t mismatches = 0, state_mismatches = 0;
    for (std::size_t k = 0; k < cpu.size(); ++k)
      compare_tensor(cpu[k], gpu[k], tol, exact_zeros, mismatches, what + ": param " + std::to_string(k));
    const auto want = on_cpu->state_dict(), got = on_gpu->state_dict();
    REQUIRE(want.size() == got.size());
    for (std::size_t e = 0; e < want.size(); ++e) {
      REQUIRE(want[e].first == got[e].first);
      if (want[e].second.device() == got[e].second.device()) {  // counts and scalars stay on the CPU
        CHECK(want[e].second.device() == Device::cpu());
        CHECK(want[e].second.to(DType::float64).to_vector<double>() == got[e].second.to(DType::float64).to_vector<double>());
        continue;
      }
      // A coordinate zeroed on one side only steers its state apart: state is compared loosely then.
      compare_tensor(want[e].second, got[e].second, tol, false, state_mismatches, what + ": " + want[e].first);
    }
    return mismatches;
  }

  // Copies the CPU side's parameters and state onto the CUDA side (load_state_dict CPU -> CUDA).
  void resync() {
    for (std::size_t k = 0; k < cpu.size(); ++k) ops::copy_(gpu[k], cpu[k].to(gpu_test::gpu()));
    on_gpu->load_state_dict(on_cpu->state_dict());
  }
};

// 20 steps of `make` on CPU and CUDA. float64: free-running, compared after every step, zeros
// exactly in the same places. float32: every step starts from identical CPU values (resync), and
// coordinates zeroed on one side only (the threshold test rounding the other way) are counted and
// bounded by 1 per 1000 coordinates over the run. resync_float64: float64 also restarts each step
// from the CPU values, for rules whose per-coordinate map is ill-conditioned (the smoothed
// |x|^q subgradient, q < 1, has slope q (1 - q) (|x| + 1e-6)^(q - 2) ~ 1e10 near 0, so an ulp of
// pow on either side grows without bound over a free run).
inline void check_optimizer_parity(const OptimizerFactory& make, const std::string& what, double scale = 1.0,
                                   int steps = 20, bool resync_float64 = false,
                                   const std::vector<Shape>& shapes = optim_shapes()) {
  for (DType dtype : {DType::float64, DType::float32}) {
    Generator gen(1234);
    OptimizerPair pair(make, dtype, gen, scale, shapes);
    const Tolerance tol = optim_tolerance(dtype, scale);
    const bool exact = dtype == DType::float64;
    std::int64_t mismatches = 0, coordinates = 0;
    for (int s = 0; s < steps; ++s) {
      pair.step(gen);
      mismatches += pair.compare(tol, exact, what + " " + std::string(dtype_name(dtype)) + " step " + std::to_string(s + 1));
      for (const Tensor& p : pair.cpu) coordinates += p.numel();
      if (!exact || resync_float64) pair.resync();
    }
    INFO(what << " " << dtype_name(dtype) << ": " << mismatches << " zero mismatches in " << coordinates);
    CHECK(mismatches * 1000 <= coordinates);
  }
}


// `pair` holds ProxGen on both sides: records thresholds, steps once and checks that the records'
// count and sum and the penalty agree. Returns the (CPU, CUDA) optimizers for further checks.
inline std::pair<optim::prox::ProxGen&, optim::prox::ProxGen&> check_threshold_records(OptimizerPair& pair,
                                                                                      DType dtype, Generator& gen) {
  auto& on_cpu = dynamic_cast<optim::prox::ProxGen&>(*pair.on_cpu);
  auto& on_gpu = dynamic_cast<optim::prox::ProxGen&>(*pair.on_gpu);
  on_cpu.set_record_thresholds(true);
  on_gpu.set_record_thresholds(true);
  pair.step(gen);
  CHECK(on_gpu.thresholds().count == on_cpu.thresholds().count);
  CHECK(on_gpu.thresholds().sum == doctest::Approx(on_cpu.thresholds().sum).epsilon(1e-6));
  CHECK(on_gpu.penalty() == doctest::Approx(on_cpu.penalty()).epsilon(dtype == DType::float64 ? 1e-12 : 1e-5));
  return {on_cpu, on_gpu};
}

}  // namespace px::gpu_test
