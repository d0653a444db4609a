// Sequential: children "0", "1", ... applied in order.
#pragma once

#include <cstdint>
#include <memory>

#include "proxima/nn/module.h"

namespace px::nn {

class Sequential : public Module {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<std::shared_ptr<Module>> modules);
  // Registers `module` as child std::to_string(size()) and returns it.
  template <class M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> module) {
    append(module);
    return module;
  }
  Tensor forward(const Tensor& x) override;
  std::string name() const override { return "Sequential"; }
  std::int64_t size() const { return static_cast<std::int64_t>(modules_.size()); }
  std::shared_ptr<Module> at(std::int64_t index) const;  // IndexError when out of range

 private:
  void append(std::shared_ptr<Module> module);
  std::vector<std::shared_ptr<Module>> modules_;
};

}  // namespace px::nn
