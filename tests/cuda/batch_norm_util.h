// Shared by the GPU suite's batch-norm parity tests (test_batch_norm.cpp, test_parity_coverage.cpp):
// case labels and the tolerance of per-channel sums.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "gpu_util.h"

namespace px::gpu_test {

// "<what> <dtype> <shape> training|eval": the label of one batch-norm case.
inline std::string bn_case(const char* what, DType dtype, const Shape& shape, bool training) {
  return std::string(what) + " " + std::string(dtype_name(dtype)) + " " + shape_str(shape) +
         (training ? " training" : " eval");
}

// Both sides accumulate in double and round once to the dtype: per-channel sums of `count` O(1)
// terms (grad_weight, grad_bias) agree to a few ulps of their magnitude, sqrt(count) ulps of O(1).
inline double bn_sum_atol(DType dtype, std::int64_t count) {
  return (dtype == DType::float32 ? 1e-5 : 1e-12) * std::sqrt(static_cast<double>(count));
}

}  // namespace px::gpu_test
