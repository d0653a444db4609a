// probe_conv_algorithms: every cuDNN algorithm of one convolution, run several times on the same
// inputs: which ones repeat bit for bit (a debugging aid for bench/gpu_determinism); and
// conv_algorithm, the algorithm a call uses (for tests).
// Defined in cuda/conv_select.cpp: CUDA builds only (no stub without CUDA). Includes no CUDA header.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "proxima/core/backend.h"
#include "proxima/core/tensor.h"

namespace px::cuda {

struct ConvAlgoProbe {
  int algo = 0;                       // a value of the direction's cudnnConvolution*Algo_t
  bool flagged_deterministic = false;  // cuDNN's heuristics (cudnnGet*Algorithm_v7) report it so
  bool documented_nondeterministic = false;  // listed as non-deterministic in cuDNN's documentation
  bool ran = false;                   // supported for this call (shape, math type, workspace bound)
  bool repeatable = false;            // all runs gave bitwise identical outputs
  std::size_t workspace = 0;          // bytes
  std::string failure;                // why it did not run
};

// direction: 0 forward (writes y), 1 backward_input (writes x), 2 backward_weight (writes w); for
// the backward directions y holds the output gradient. x, w, y are CUDA tensors of one dtype with
// the shapes of conv2d(x, w, p) = y; the output tensor is not modified (each run writes a fresh
// one). Math as a real call: FMA only for float32 with TF32 off. runs >= 2.
std::vector<ConvAlgoProbe> probe_conv_algorithms(int direction, const Tensor& x, const Tensor& w, const Tensor& y,
                                                 const Conv2dParams& p, int runs = 3);

// The algorithm (a cudnnConvolution*Algo_t value) that conv2d and its backward passes use for this
// call under the current TF32 and determinism switches: the cached choice, made and cached now if
// there is none; fresh = true makes a new choice without reading or writing the cache (a timed
// search, when not deterministic, overwrites the output tensor).
int conv_algorithm(int direction, const Tensor& x, const Tensor& w, const Tensor& y, const Conv2dParams& p,
                   bool fresh = false);

}  // namespace px::cuda
