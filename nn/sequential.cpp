// Sequential container: registration under positional names and the chained forward.
#include "proxima/nn/sequential.h"

#include <string>

namespace px::nn {

Sequential::Sequential(std::vector<std::shared_ptr<Module>> modules) {
  for (auto& m : modules) append(std::move(m));
}

void Sequential::append(std::shared_ptr<Module> module) {
  register_module(std::to_string(modules_.size()), module);
  modules_.push_back(std::move(module));
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (auto& m : modules_) y = m->forward(y);
  return y;
}

std::shared_ptr<Module> Sequential::at(std::int64_t index) const {
  PX_CHECK(index >= 0 && index < size(), IndexError, "Sequential::at: index ", index, " out of range [0, ", size(),
           ")");
  return modules_[static_cast<std::size_t>(index)];
}

}  // namespace px::nn
