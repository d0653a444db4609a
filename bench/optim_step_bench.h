// The parameter sets and rows shared by the one-step optimizer benchmarks (bench_prox_step on the
// CPU, gpu_optim_bench on CUDA): the sets' shapes, their parameters and gradients, the two groups.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "proxima/proxima.h"

namespace px_bench {

// A parameter set: the regularised tensors are those of ndim 2 or 4.
struct ParamSet {
  std::string name;
  std::vector<px::Shape> shapes;
};

// ResNet-20 (option-A shortcuts) parameter shapes, taken from the model zoo.
inline ParamSet resnet20_shapes() {
  px::Generator gen(0);
  auto model = px::nn::make_model("resnet20", {}, gen);
  ParamSet set{"resnet20 shapes", {}};
  for (const auto& [name, p] : model->named_parameters()) set.shapes.push_back(p.shape());
  return set;
}

inline std::int64_t numel(const ParamSet& set) {
  std::int64_t n = 0;
  for (const auto& s : set.shapes) n += px::shape_numel(s);
  return n;
}

// One timed row: an optimizer over its own parameters, or (no optimizer) a copy of copy_src.
struct Row {
  std::string name;
  std::int64_t bytes_per_param = 28;  // 7 * 4: an Adam-type step reads p, g, m, v, writes p, m, v
  std::vector<px::Tensor> params;
  std::unique_ptr<px::optim::Optimizer> opt;
  px::Tensor copy_src, copy_dst;  // the copy row only
  std::vector<double> times;      // one per timed batch, in the benchmark's unit

  void step() {
    if (opt) opt->step();
    else px::ops::copy_(copy_dst, copy_src);
  }
};

// Fresh parameters of the set's shapes on `device`, N(0, 0.05^2), each with a fixed N(0, 0.01^2)
// gradient (drawn on the CPU, so both benchmarks see the same values for a seed).
inline std::vector<px::Tensor> make_params(const ParamSet& set, px::Generator& gen, px::Device device) {
  std::vector<px::Tensor> params;
  for (const auto& shape : set.shapes) {
    px::Tensor p = px::ops::mul(px::randn(shape, {}, &gen), 0.05);
    px::Tensor g = px::ops::mul(px::randn(shape, {}, &gen), 0.01);
    if (!device.is_cpu()) p = p.to(device), g = g.to(device);
    p.set_grad(g);
    params.push_back(p);
  }
  return params;
}

// Group 0: the ndim-2/4 weights (the regularised ones), group 1: the rest; empty groups dropped.
inline std::vector<px::optim::ParamGroup> split_groups(const std::vector<px::Tensor>& params) {
  px::optim::ParamGroup reg, rest;
  for (const auto& p : params) (p.dim() == 2 || p.dim() == 4 ? reg : rest).params.push_back(p);
  std::vector<px::optim::ParamGroup> groups;
  if (!reg.params.empty()) groups.push_back(std::move(reg));
  if (!rest.params.empty()) groups.push_back(std::move(rest));
  return groups;
}

}  // namespace px_bench
