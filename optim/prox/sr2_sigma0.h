// top_hessian_eigenvalue: power iteration with finite-difference Hessian-vector products, SR2's
// initial sigma (ALGORITHMS.md §7.4: the top Hessian eigenvalue on the first minibatch).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "proxima/core/tensor.h"

namespace px::optim::prox {

struct PowerIterationOptions {
  int iterations = 20;      // >= 1: at most this many Hessian-vector products
  double tolerance = 1e-3;  // stop when |lambda_k - lambda_{k-1}| <= tolerance * |lambda_k|
  double fd_step = 0;       // > 0: the step eps of the differences; 0: sqrt(machine eps) * (1 + ||x||)
  std::uint64_t seed = 0;   // the start vector (standard normal, then normalised)
};

struct PowerIterationResult {
  double eigenvalue = 0;  // the Rayleigh quotient v'Hv of the last unit vector v
  int iterations = 0;
  bool converged = false;
};

// The eigenvalue of largest magnitude of the Hessian of the loss at the current `params`, by power
// iteration with Hv ~ (g(x + eps v) - g(x)) / eps. `grad_fn` must zero the gradients, evaluate the
// loss at the current parameters and back-propagate (the SR2 closure with true); parameters whose
// gradient is undefined at x are left out. Afterwards the parameters are restored bit-exactly and
// hold their gradients at x. The result can be negative (a dominant negative curvature); SR2 takes
// its magnitude. CPU, float32/float64; ValueError when no parameter has a gradient.
PowerIterationResult top_hessian_eigenvalue(const std::vector<Tensor>& params, const std::function<void()>& grad_fn,
                                            const PowerIterationOptions& options = {});

}  // namespace px::optim::prox
