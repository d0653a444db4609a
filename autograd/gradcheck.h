// A generic gradient checker: analytic gradients from backward() against central differences.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "proxima/core/tensor.h"

namespace px::autograd {

struct GradcheckOptions {
  double eps = 1e-6;   // central-difference step
  double atol = 1e-5;  // |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 1e-3;
  std::uint64_t seed = 1234;  // of the random seed gradient
};

struct GradcheckResult {
  bool ok = true;
  double worst_excess = 0.0;  // max over elements of |a - n| - (atol + rtol |n|) (<= 0 when ok)
  std::string message;        // the worst element: input, index, analytic and numeric values
};

using GradcheckFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Checks every float64 input of `inputs` (cpu tensors; others are passed through unchecked):
// y = f(inputs), v random of y's shape, analytic d<v, y>/dx from backward(y, v) against
// (<v, f(x + eps e_i)> - <v, f(x - eps e_i)>) / (2 eps) for every element i. The inputs are
// copied; the caller's tensors are not modified.
GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace px::autograd
