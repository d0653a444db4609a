// Float64 module gradient checks the layer tests leave out: BatchNorm1d on [N, C, L], and
// Sequential's fused BatchNorm+ReLU (BatchNorm1d and BatchNorm2d) in training mode, with
// AdaptiveAvgPool2d and Identity in the chain.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "nn_helpers.h"
#include "proxima/nn/init.h"
#include "proxima/nn/layers.h"
#include "proxima/nn/layers_simple.h"
#include "proxima/nn/sequential.h"

using namespace px;
using namespace px::nn;

namespace {

void check_module_grad(Module& m, const Tensor& x, const char* what) {
  const auto r = nnt::module_gradcheck(m, x);
  INFO(std::string(what) << ": " << r.message);
  CHECK(r.ok);
}

// Non-trivial affine parameters and running statistics (eval mode reads them).
void randomize(BatchNorm& bn, Generator& gen) {
  init::uniform_(bn.weight, 0.5, 1.5, gen);
  init::uniform_(bn.bias, -0.5, 0.5, gen);
  init::uniform_(bn.running_mean, -0.5, 0.5, gen);
  init::uniform_(bn.running_var, 0.5, 1.5, gen);
}

}  // namespace

TEST_CASE("module gradcheck: BatchNorm1d on [N, C, L] and [N, C], training and eval") {
  Generator gen(41);
  BatchNorm1d bn({.num_features = 3});
  bn.to(DType::float64);
  randomize(bn, gen);
  for (bool training : {true, false}) {
    bn.train(training);
    check_module_grad(bn, nnt::random({4, 3, 5}, 1, DType::float64),
                      training ? "[4, 3, 5] training" : "[4, 3, 5] eval");
    check_module_grad(bn, nnt::random({6, 3}, 2, DType::float64), training ? "[6, 3] training" : "[6, 3] eval");
  }
}

TEST_CASE("module gradcheck: Sequential's fused BatchNorm+ReLU in training and eval") {
  Generator gen(42);
  // Linear -> BatchNorm1d -> ReLU (fused) -> Linear on [N, C].
  Sequential mlp;
  mlp.push_back(std::make_shared<Linear>(LinearOptions{.in_features = 4, .out_features = 5}, gen));
  auto bn1 = std::make_shared<BatchNorm1d>(BatchNormOptions{.num_features = 5});
  mlp.push_back(bn1);
  mlp.push_back(std::make_shared<ReLU>());
  mlp.push_back(std::make_shared<Linear>(LinearOptions{.in_features = 5, .out_features = 2}, gen));
  mlp.to(DType::float64);
  randomize(*bn1, gen);

  // Conv2d -> BatchNorm2d -> ReLU (fused) -> Identity -> AdaptiveAvgPool2d -> Flatten -> Linear.
  Sequential conv;
  conv.push_back(std::make_shared<Conv2d>(
      Conv2dOptions{.in_channels = 2, .out_channels = 3, .kernel_size = 3, .padding = 1}, gen));
  auto bn2 = std::make_shared<BatchNorm2d>(BatchNormOptions{.num_features = 3});
  conv.push_back(bn2);
  conv.push_back(std::make_shared<ReLU>());
  conv.push_back(std::make_shared<Identity>());
  conv.push_back(std::make_shared<AdaptiveAvgPool2d>(1));
  conv.push_back(std::make_shared<Flatten>());
  conv.push_back(std::make_shared<Linear>(LinearOptions{.in_features = 3, .out_features = 2}, gen));
  conv.to(DType::float64);
  randomize(*bn2, gen);

  for (bool training : {true, false}) {
    mlp.train(training);
    conv.train(training);
    check_module_grad(mlp, nnt::random({7, 4}, 3, DType::float64), training ? "mlp training" : "mlp eval");
    check_module_grad(conv, nnt::random({3, 2, 4, 4}, 4, DType::float64), training ? "conv training" : "conv eval");
  }
}
