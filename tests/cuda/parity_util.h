// Forward-and-gradient parity of a differentiable function on the GPU against the CPU backend.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "gpu_util.h"
#include "proxima/autograd/autograd.h"
#include "proxima/autograd/functions.h"
#include "proxima/cuda/cuda.h"

namespace px::gpu_test {

using Ts = std::vector<Tensor>;
// The dtypes every parity test runs.
inline constexpr DType kFloats[] = {DType::float32, DType::float64};
using ParityFn = std::function<Tensor(const Ts&)>;

// |gpu - cpu| <= atol + rtol * |cpu|, elementwise. The GPU computes in the same dtype but in a
// different order (tree reductions, cuBLAS/cuDNN blocking, CUDA's libm), so the bounds are a few
// hundred ulps of the values' scale: inputs are O(1), results of sums over n terms O(sqrt n).
struct Tol {
  double rtol, atol;
};
// float64: 1e-10 is ~5e5 ulps, far below any real bug (a wrong index or a missed term moves a
// value by O(1)); float32: 1e-4 relative allows the ~sqrt(n) * 6e-8 drift of sums of a few
// thousand terms, with the same atol for values that cancel to near zero.
inline Tol tol_for(DType dtype) { return dtype == DType::float32 ? Tol{1e-4, 1e-4} : Tol{1e-10, 1e-10}; }

// Turns TF32 off for the test's lifetime (float32 matmul/conv parity needs full precision).
class NoTf32 {
 public:
  NoTf32() : before_(cuda::allow_tf32()) { cuda::set_allow_tf32(false); }
  ~NoTf32() { cuda::set_allow_tf32(before_); }
  NoTf32(const NoTf32&) = delete;
  NoTf32& operator=(const NoTf32&) = delete;

 private:
  bool before_;
};

inline std::string label(const std::string& what, DType dtype) { return what + " " + std::string(dtype_name(dtype)); }

// Runs f on CPU copies and GPU copies of `inputs` (float inputs become leaves that require
// grad, unless `no_grad` lists their position), compares the outputs, back-propagates
// sum(out * w) with the same random w on both sides, and compares every input's gradient
// (which must be defined on both sides). Returns the CPU output for further checks.
inline Tensor check_parity(const std::string& what, const ParityFn& f, const Ts& inputs, Tol tol,
                           const std::vector<std::size_t>& no_grad = {}, std::uint64_t seed = 99) {
  Ts cpu_in, gpu_in;
  std::vector<bool> wants;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    bool skip = std::find(no_grad.begin(), no_grad.end(), i) != no_grad.end();
    bool grad = x.defined() && is_floating(x.dtype()) && !skip;
    wants.push_back(grad);
    Tensor c = x.defined() ? ops::clone(x.detach()) : Tensor();
    Tensor g = x.defined() ? ops::to_device(x.detach(), gpu()) : Tensor();
    if (grad) {
      c.set_requires_grad();
      g.set_requires_grad();
    }
    cpu_in.push_back(c);
    gpu_in.push_back(g);
  }
  Tensor out_cpu = f(cpu_in);
  Tensor out_gpu = f(gpu_in);
  check_close(out_cpu.detach(), out_gpu.detach(), tol.rtol, tol.atol, what + ": forward");
  if (!out_cpu.requires_grad()) return out_cpu;
  REQUIRE(out_gpu.requires_grad());
  Generator gen(seed);
  Tensor w = random_cpu(out_cpu.shape(), out_cpu.dtype(), gen);
  backward(out_cpu, w);
  backward(out_gpu, ops::to_device(w, gpu()));
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!wants[i]) continue;
    std::string which = what + ": gradient of input " + std::to_string(i);
    INFO(which);
    REQUIRE(cpu_in[i].grad().defined());  // every float input of these tests reaches the output
    REQUIRE(gpu_in[i].grad().defined());
    check_close(cpu_in[i].grad(), gpu_in[i].grad(), tol.rtol, tol.atol, which);
  }
  return out_cpu;
}

}  // namespace px::gpu_test

// The parity tests' shorthands (each test_parity_*.cpp is a translation unit of its own).
using namespace px;
using px::gpu_test::check_close;
using px::gpu_test::check_equal;
using px::gpu_test::check_parity;
using px::gpu_test::gpu;
using px::gpu_test::kFloats;
using px::gpu_test::label;
using px::gpu_test::maybe_to_gpu;
using px::gpu_test::NoTf32;
using px::gpu_test::positive_cpu;
using px::gpu_test::random_cpu;
using px::gpu_test::Tol;
using px::gpu_test::tol_for;
using px::gpu_test::Ts;
