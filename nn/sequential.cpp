// Sequential container: registration under positional names and the chained forward.
#include "proxima/nn/sequential.h"

#include <string>
#include <typeinfo>

#include "proxima/nn/layers.h"
#include "proxima/nn/layers_simple.h"

namespace px::nn {

Sequential::Sequential(std::vector<std::shared_ptr<Module>> modules) {
  for (auto& m : modules) append(std::move(m));
}

void Sequential::append(std::shared_ptr<Module> module) {
  register_module(std::to_string(modules_.size()), module);
  modules_.push_back(std::move(module));
}

// A BatchNorm directly followed by a plain ReLU runs as one fused op (BatchNorm::forward_relu:
// same values and gradients, one pass less); the children and their names are unchanged.
Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (std::size_t i = 0; i < modules_.size(); ++i) {
    Module* m = modules_[i].get();
    if (i + 1 < modules_.size()) {
      auto* bn = dynamic_cast<BatchNorm*>(m);
      const Module& next = *modules_[i + 1];
      if (bn && typeid(next) == typeid(ReLU)) {
        y = bn->forward_relu(y);
        ++i;
        continue;
      }
    }
    y = m->forward(y);
  }
  return y;
}

std::shared_ptr<Module> Sequential::at(std::int64_t index) const {
  PX_CHECK(index >= 0 && index < size(), IndexError, "Sequential::at: index ", index, " out of range [0, ", size(),
           ")");
  return modules_[static_cast<std::size_t>(index)];
}

}  // namespace px::nn
