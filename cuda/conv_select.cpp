// choose_algorithm (conv_plan.h): which cuDNN algorithm a convolution shape runs, by a timed
// search or, under set_deterministic_algorithms(true), by cuDNN's heuristics; and the debugging
// aid probe_conv_algorithms (conv_probe.h), which runs every algorithm of a call several times.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "proxima/core/factory.h"
#include "proxima/cuda/check.h"
#include "proxima/cuda/conv_plan.h"
#include "proxima/cuda/conv_probe.h"
#include "proxima/cuda/cuda.h"
#include "proxima/cuda/cuda_backend.h"

namespace px::cuda {

namespace {

// One result of a search or of the heuristics, whatever the direction.
struct Candidate {
  int algo = 0;
  cudnnStatus_t status = CUDNN_STATUS_SUCCESS;
  bool deterministic = false;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  float ms = -1;            // timed search only
  std::size_t memory = 0;   // workspace bytes
};

template <class Perf>
std::vector<Candidate> to_candidates(const Perf* results, int count) {
  std::vector<Candidate> out;
  for (int i = 0; i < count; ++i) {
    const Perf& r = results[i];
    out.push_back({static_cast<int>(r.algo), r.status, r.determinism == CUDNN_DETERMINISTIC, r.mathType, r.time,
                   r.memory});
  }
  return out;
}

// cudnnGet*WorkspaceSize of one algorithm, with the math type currently set on the descriptor.
cudnnStatus_t workspace_size(const ConvCall& c, int algo, std::size_t& bytes) {
  const ConvDescriptors& d = c.desc;
  switch (c.direction) {
    case ConvDirection::forward:
      return cudnnGetConvolutionForwardWorkspaceSize(c.ctx.cudnn, d.x, d.w, d.conv, d.y,
                                                     static_cast<cudnnConvolutionFwdAlgo_t>(algo), &bytes);
    case ConvDirection::backward_input:
      return cudnnGetConvolutionBackwardDataWorkspaceSize(c.ctx.cudnn, d.w, d.y, d.conv, d.x,
                                                          static_cast<cudnnConvolutionBwdDataAlgo_t>(algo), &bytes);
    case ConvDirection::backward_weight:
      return cudnnGetConvolutionBackwardFilterWorkspaceSize(
          c.ctx.cudnn, d.x, d.y, d.conv, d.w, static_cast<cudnnConvolutionBwdFilterAlgo_t>(algo), &bytes);
  }
  return CUDNN_STATUS_BAD_PARAM;
}

int algo_count(ConvDirection direction) {
  switch (direction) {
    case ConvDirection::forward: return CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
    case ConvDirection::backward_input: return CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
    case ConvDirection::backward_weight: return CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
  }
  return 0;
}

// The largest workspace any algorithm of this call asks for, among those within `bound`.
std::size_t largest_workspace(const ConvCall& c, std::size_t bound) {
  std::size_t largest = 0;
  for (int a = 0; a < algo_count(c.direction); ++a) {
    std::size_t bytes = 0;
    if (workspace_size(c, a, bytes) == CUDNN_STATUS_SUCCESS && bytes <= bound && bytes > largest) largest = bytes;
  }
  return largest;
}

bool is_tensor_op(cudnnMathType_t math) {
  return math == CUDNN_TENSOR_OP_MATH || math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

// cuDNN's documentation (Reproducibility) lists these as non-deterministic: they sum with
// atomic adds. cudnnFind has been reported to flag such algorithms CUDNN_DETERMINISTIC
// (apache/mxnet#13142), so under deterministic_algorithms() they are excluded whatever the flag.
bool documented_nondeterministic(ConvDirection direction, int algo) {
  if (direction == ConvDirection::backward_input) return algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_0;
  if (direction == ConvDirection::backward_weight)
    return algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 || algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3;
  return false;
}

// The first usable candidate, in the given order (a search's: fastest first; the heuristics':
// cuDNN's preference). Under `deterministic` only deterministic ones, with no fallback: the
// session-5 code fell back to the fastest non-deterministic algorithm when no deterministic one
// was found, silently breaking --deterministic. Strict float32 skips tensor-op results and runs
// with FMA math.
std::optional<ConvAlgo> pick(const std::vector<Candidate>& cs, ConvDirection direction, bool deterministic,
                             bool strict_fp32, std::size_t bound) {
  for (const Candidate& r : cs) {
    if (r.status != CUDNN_STATUS_SUCCESS || r.memory > bound) continue;
    if (deterministic && (!r.deterministic || documented_nondeterministic(direction, r.algo))) continue;
    if (strict_fp32 && is_tensor_op(r.math)) continue;
    return ConvAlgo{r.algo, r.memory, strict_fp32 ? CUDNN_FMA_MATH : r.math};
  }
  return std::nullopt;
}

// cuDNN's timed search (cudnnFind*AlgorithmEx) on the call's own buffers: the output is about
// to be overwritten anyway and the inputs are only read, so no scratch copies are needed. The
// workspace offered (`offered`) is the largest any algorithm wants within the bound.
std::vector<Candidate> search(const ConvCall& c, std::size_t& offered) {
  const ConvDescriptors& d = c.desc;
  std::optional<Workspace> ws;
  try {
    ws.emplace(*c.ctx.allocator, largest_workspace(c, conv_workspace_bound()));
  } catch (const OutOfMemoryError&) {
    ws.emplace(*c.ctx.allocator, 0);  // search among the algorithms that need no workspace
  }
  offered = ws->size();
  int n = 0;
  switch (c.direction) {
    case ConvDirection::forward: {
      cudnnConvolutionFwdAlgoPerf_t r[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
      PX_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(c.ctx.cudnn, d.x, c.x, d.w, c.w, d.conv, d.y, c.y,
                                                            CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, r, ws->get(),
                                                            ws->size()));
      return to_candidates(r, n);
    }
    case ConvDirection::backward_input: {
      cudnnConvolutionBwdDataAlgoPerf_t r[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
      PX_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(c.ctx.cudnn, d.w, c.w, d.y, c.y, d.conv, d.x, c.x,
                                                                 CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n, r,
                                                                 ws->get(), ws->size()));
      return to_candidates(r, n);
    }
    case ConvDirection::backward_weight: {
      cudnnConvolutionBwdFilterAlgoPerf_t r[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
      PX_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(c.ctx.cudnn, d.x, c.x, d.y, c.y, d.conv, d.w,
                                                                   c.w, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n,
                                                                   r, ws->get(), ws->size()));
      return to_candidates(r, n);
    }
  }
  return {};
}

// cuDNN's heuristic ranking (cudnnGet*Algorithm_v7): a fixed function of the shapes, the
// device and the library, never of timings. Its `memory` field is not relied on: each
// supported candidate's workspace is asked for with the math type it would run with.
std::vector<Candidate> heuristics(const ConvCall& c, bool strict_fp32) {
  const ConvDescriptors& d = c.desc;
  int n = 0;
  std::vector<Candidate> cs;
  switch (c.direction) {
    case ConvDirection::forward: {
      cudnnConvolutionFwdAlgoPerf_t r[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
      PX_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(c.ctx.cudnn, d.x, d.w, d.conv, d.y,
                                                            CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, r));
      cs = to_candidates(r, n);
      break;
    }
    case ConvDirection::backward_input: {
      cudnnConvolutionBwdDataAlgoPerf_t r[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
      PX_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(c.ctx.cudnn, d.w, d.y, d.conv, d.x,
                                                                 CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n, r));
      cs = to_candidates(r, n);
      break;
    }
    case ConvDirection::backward_weight: {
      cudnnConvolutionBwdFilterAlgoPerf_t r[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
      PX_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(c.ctx.cudnn, d.x, d.y, d.conv, d.w,
                                                                   CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n, r));
      cs = to_candidates(r, n);
      break;
    }
  }
  cudnnMathType_t searched = CUDNN_DEFAULT_MATH;
  PX_CUDNN_CHECK(cudnnGetConvolutionMathType(d.conv, &searched));
  for (Candidate& r : cs) {
    if (r.status != CUDNN_STATUS_SUCCESS) continue;
    PX_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, strict_fp32 ? CUDNN_FMA_MATH : r.math));
    r.status = workspace_size(c, r.algo, r.memory);
  }
  PX_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, searched));
  return cs;
}

const char* math_name(cudnnMathType_t math) {
  switch (math) {
    case CUDNN_DEFAULT_MATH: return "default";
    case CUDNN_TENSOR_OP_MATH: return "tensor-op";
    case CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION: return "tensor-op-conv";
    case CUDNN_FMA_MATH: return "fma";
  }
  return "?";
}

bool log_enabled() {
  const char* v = std::getenv("PX_CUDA_CONV_LOG");
  return v && *v && std::strcmp(v, "0") != 0;
}

// One stderr line: the key (conv_plan.cpp's make_conv_key field order), how the candidates
// were found, each candidate as algo:status/d(eterministic)|n/math/time/workspace, the choice.
void log_choice(const ConvKey& key, const char* how, const std::vector<Candidate>& cs,
                const std::optional<ConvAlgo>& chosen) {
  const auto& f = key.fields;
  static const char* const directions[] = {"forward", "backward_input", "backward_weight"};
  std::string line = detail::str("px conv-algo: cuda:", f[0], " ", directions[f[1] % 3], " dtype ", f[2], " tf32 ",
                                 f[3], " det ", f[4], " x ", f[5], "x", f[6], "x", f[7], "x", f[8], " w ", f[9], "x",
                                 f[10], "x", f[11], "x", f[12], " stride ", f[13], ",", f[14], " pad ", f[15], ",",
                                 f[16], " dil ", f[17], ",", f[18], " groups ", f[19], " | ", how, ":");
  for (const Candidate& r : cs)
    line += detail::str(" ", r.algo, ":", r.status == CUDNN_STATUS_SUCCESS ? "ok" : "no", "/",
                        r.deterministic ? "d" : "n", "/", math_name(r.math), "/", r.ms, "ms/", r.memory, "B");
  if (chosen) line += detail::str(" -> algo ", chosen->algo, " math ", math_name(chosen->math), " ws ", chosen->workspace);
  else line += " -> NONE";
  std::fprintf(stderr, "%s\n", line.c_str());
}

}  // namespace

ConvAlgo choose_algorithm(const ConvCall& c, const ConvKey& key, bool strict_fp32) {
  const bool deterministic = deterministic_algorithms();
  std::size_t offered = 0;
  std::vector<Candidate> cs;
  std::optional<ConvAlgo> chosen;
  if (deterministic) {
    offered = conv_workspace_bound();
    cs = heuristics(c, strict_fp32);
    chosen = pick(cs, c.direction, true, strict_fp32, offered);
    if (log_enabled()) log_choice(key, "heuristics", cs, chosen);
  }
  // Not deterministic; or, as a last resort, when the heuristics flag no usable algorithm
  // deterministic (not expected: PyTorch's non-benchmark path relies on the same flags): the
  // timed search, still restricted to deterministic algorithms (its choice can then differ
  // between processes; the log says "search (heuristics had none)").
  if (!chosen) {
    cs = search(c, offered);
    chosen = pick(cs, c.direction, deterministic, strict_fp32, offered);
    if (log_enabled()) log_choice(key, deterministic ? "search (heuristics had none)" : "search", cs, chosen);
  }
  PX_CHECK(chosen.has_value(), DeviceError, "conv2d on cuda:", c.ctx.index, ": cuDNN has no ",
           deterministic ? "deterministic algorithm (set_deterministic_algorithms(true), --deterministic) " : "algorithm ",
           "for direction ", static_cast<int>(c.direction), " (0 forward, 1 backward_input, 2 backward_weight) among ",
           cs.size(), " candidates with a workspace of at most ", offered, " bytes",
           strict_fp32 ? " and FMA math (TF32 off)" : "", "; PX_CUDA_CONV_LOG=1 prints them");
  return *chosen;
}

// ---- probe_conv_algorithms (conv_probe.h) ----

namespace {

// The raw bytes of a CUDA tensor (one host synchronisation).
std::vector<unsigned char> bytes_of(const Tensor& t) {
  std::vector<unsigned char> out(static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype()));
  if (!out.empty()) cuda_backend_impl().copy_to_host(out.data(), t);
  return out;
}

}  // namespace

int conv_algorithm(int direction, const Tensor& x, const Tensor& w, const Tensor& y, const Conv2dParams& p,
                   bool fresh) {
  PX_CHECK(direction >= 0 && direction <= 2, ValueError, "conv_algorithm: direction = ", direction,
           ", expected 0 (forward), 1 (backward_input) or 2 (backward_weight)");
  const auto dir = static_cast<ConvDirection>(direction);
  DeviceContext& ctx = cuda_backend_impl().context(x.device());
  const DType dtype = x.dtype();
  const bool tf32 = allow_tf32();
  ConvDescriptors desc(dtype, x.shape(), w.shape(), y.shape(), p);
  PX_CUDNN_CHECK(cudnnSetConvolutionMathType(desc.conv, search_math_type(dtype, tf32)));
  ConvCall call{ctx, dir, dtype, desc, x.data_ptr(), w.data_ptr(), y.data_ptr()};
  const ConvKey key = make_conv_key(ctx.index, dir, dtype, tf32, deterministic_algorithms(), x.shape(), w.shape(), p);
  const bool strict_fp32 = dtype == DType::float32 && !tf32;
  if (fresh) return choose_algorithm(call, key, strict_fp32).algo;
  std::optional<ConvAlgo> algo = conv_algo_cache().find(key);
  if (!algo) {
    algo = choose_algorithm(call, key, strict_fp32);
    conv_algo_cache().insert(key, *algo);
  }
  return algo->algo;
}

std::vector<ConvAlgoProbe> probe_conv_algorithms(int direction, const Tensor& x, const Tensor& w, const Tensor& y,
                                                 const Conv2dParams& p, int runs) {
  PX_CHECK(direction >= 0 && direction <= 2, ValueError, "probe_conv_algorithms: direction = ", direction,
           ", expected 0 (forward), 1 (backward_input) or 2 (backward_weight)");
  PX_CHECK(runs >= 2, ValueError, "probe_conv_algorithms: runs = ", runs, ", expected >= 2");
  const auto dir = static_cast<ConvDirection>(direction);
  const Tensor& out = dir == ConvDirection::forward ? y : dir == ConvDirection::backward_input ? x : w;
  DeviceContext& ctx = cuda_backend_impl().context(out.device());
  const DType dtype = out.dtype();
  const bool strict_fp32 = dtype == DType::float32 && !allow_tf32();
  ConvDescriptors desc(dtype, x.shape(), w.shape(), y.shape(), p);
  PX_CUDNN_CHECK(cudnnSetConvolutionMathType(desc.conv, search_math_type(dtype, allow_tf32())));
  ConvCall call{ctx, dir, dtype, desc, x.data_ptr(), w.data_ptr(), y.data_ptr()};
  const std::vector<Candidate> ranked = heuristics(call, strict_fp32);  // flags and workspace sizes
  const std::size_t bound = conv_workspace_bound();
  std::vector<ConvAlgoProbe> probes;
  for (const Candidate& r : ranked) {
    ConvAlgoProbe probe{r.algo, r.deterministic, documented_nondeterministic(dir, r.algo), false, false, r.memory, ""};
    if (r.status != CUDNN_STATUS_SUCCESS) {
      probe.failure = cudnnGetErrorString(r.status);
    } else if (r.memory > bound) {
      probe.failure = detail::str("workspace ", r.memory, " B over the bound ", bound);
    } else {
      try {
        std::vector<unsigned char> first;
        probe.repeatable = true;
        for (int k = 0; k < runs; ++k) {
          const Tensor result = empty(out.shape(), {.dtype = dtype, .device = out.device()});
          ConvCall c = call;
          (dir == ConvDirection::forward ? c.y : dir == ConvDirection::backward_input ? c.x : c.w) = result.data_ptr();
          run_conv_algorithm(c, ConvAlgo{r.algo, r.memory, strict_fp32 ? CUDNN_FMA_MATH : r.math});
          std::vector<unsigned char> bytes = bytes_of(result);
          if (k == 0) first = std::move(bytes);
          else probe.repeatable = probe.repeatable && bytes == first;
        }
        probe.ran = true;
      } catch (const Error& e) {
        probe.repeatable = false;
        probe.failure = e.what();
      }
    }
    probes.push_back(std::move(probe));
  }
  return probes;
}

}  // namespace px::cuda
