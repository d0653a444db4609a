// GPU parity of nn modules the other suites run on the CPU only: BatchNorm1d on [N, C, L],
// Sequential's fused BatchNorm2d+ReLU, and ResNet-20 (fused bn1+relu) in training and eval:
// outputs, input and parameter gradients, running statistics.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "parity_util.h"
#include "proxima/nn/init.h"
#include "proxima/nn/layers.h"
#include "proxima/nn/layers_simple.h"
#include "proxima/nn/models/models.h"
#include "proxima/nn/sequential.h"

namespace {

using MakeModule = std::function<std::shared_ptr<nn::Module>(Generator&)>;

// Builds the module twice from the same seed (one copy moved to the GPU), runs x through both in
// the given mode, back-propagates sum(y * v) with the same v, and compares the outputs, x's
// gradient, every parameter's gradient and every buffer (running statistics after the update).
void check_module_parity(const std::string& what, const MakeModule& make, const Tensor& x, DType dtype, bool training,
                         Tol tol) {
  Generator g1(5), g2(5);
  std::shared_ptr<nn::Module> on_cpu = make(g1), on_gpu = make(g2);
  on_cpu->to(dtype);
  on_gpu->to(dtype);
  on_gpu->to(gpu());
  on_cpu->train(training);
  on_gpu->train(training);
  // Fresh leaves (to_dtype returns x itself when the dtype already matches).
  Tensor x_cpu = ops::clone(ops::to_dtype(x, dtype)), x_gpu = ops::to_dtype(x, dtype).to(gpu());
  x_cpu.set_requires_grad();
  x_gpu.set_requires_grad();
  Tensor y_cpu = on_cpu->forward(x_cpu), y_gpu = on_gpu->forward(x_gpu);
  check_close(y_cpu.detach(), y_gpu.detach(), tol.rtol, tol.atol, what + ": output");
  Generator gv(77);
  Tensor v = random_cpu(y_cpu.shape(), dtype, gv);
  backward(y_cpu, v);
  backward(y_gpu, v.to(gpu()));
  check_close(x_cpu.grad(), x_gpu.grad(), tol.rtol, tol.atol, what + ": input gradient");
  const auto params_cpu = on_cpu->named_parameters(), params_gpu = on_gpu->named_parameters();
  REQUIRE(params_cpu.size() == params_gpu.size());
  for (std::size_t i = 0; i < params_cpu.size(); ++i) {
    INFO(what << ": parameter " << params_cpu[i].first);
    REQUIRE(params_cpu[i].second.grad().defined());
    REQUIRE(params_gpu[i].second.grad().defined());
    check_close(params_cpu[i].second.grad(), params_gpu[i].second.grad(), tol.rtol, tol.atol,
                what + ": gradient of " + params_cpu[i].first);
  }
  const auto buffers_cpu = on_cpu->named_buffers(), buffers_gpu = on_gpu->named_buffers();
  REQUIRE(buffers_cpu.size() == buffers_gpu.size());
  for (std::size_t i = 0; i < buffers_cpu.size(); ++i)
    check_close(buffers_cpu[i].second, buffers_gpu[i].second, tol.rtol, tol.atol,
                what + ": buffer " + buffers_cpu[i].first);
}

std::string mode(bool training) { return training ? " training" : " eval"; }

}  // namespace

TEST_CASE("cuda parity: BatchNorm1d on [N, C] and [N, C, L], training and eval") {
  Generator gen(821);
  for (DType dtype : kFloats) {
    for (const Shape& shape : {Shape{9, 4}, Shape{5, 4, 7}}) {
      for (bool training : {true, false}) {
        const Tensor x = ops::add(random_cpu(shape, DType::float64, gen), 0.5);
        MakeModule make = [](Generator& g) {
          auto bn = std::make_shared<nn::BatchNorm1d>(nn::BatchNormOptions{.num_features = 4});
          // Non-trivial affine parameters and running statistics, the same on both copies.
          nn::init::uniform_(bn->weight, 0.5, 1.5, g);
          nn::init::uniform_(bn->bias, -0.5, 0.5, g);
          for (auto& [name, t] : bn->named_buffers())
            if (is_floating(t.dtype())) nn::init::uniform_(t, 0.5, 1.5, g);
          return bn;
        };
        check_module_parity(label("BatchNorm1d " + shape_str(shape) + mode(training), dtype), make, x, dtype,
                            training, tol_for(dtype));
      }
    }
  }
}

TEST_CASE("cuda parity: Sequential's fused BatchNorm2d+ReLU in a conv stack, training and eval") {
  NoTf32 exact;
  Generator gen(822);
  MakeModule make = [](Generator& g) {
    auto net = std::make_shared<nn::Sequential>();
    net->push_back(std::make_shared<nn::Conv2d>(
        nn::Conv2dOptions{.in_channels = 3, .out_channels = 6, .kernel_size = 3, .padding = 1}, g));
    net->push_back(std::make_shared<nn::BatchNorm2d>(nn::BatchNormOptions{.num_features = 6}));
    net->push_back(std::make_shared<nn::ReLU>());
    net->push_back(std::make_shared<nn::MaxPool2d>(nn::Pool2dOptions{.kernel_size = 2}));
    net->push_back(std::make_shared<nn::Conv2d>(
        nn::Conv2dOptions{.in_channels = 6, .out_channels = 4, .kernel_size = 3, .padding = 1}, g));
    net->push_back(std::make_shared<nn::BatchNorm2d>(nn::BatchNormOptions{.num_features = 4}));
    net->push_back(std::make_shared<nn::ReLU>());
    net->push_back(std::make_shared<nn::AdaptiveAvgPool2d>(1));
    net->push_back(std::make_shared<nn::Flatten>());
    net->push_back(std::make_shared<nn::Linear>(nn::LinearOptions{.in_features = 4, .out_features = 3}, g));
    return net;
  };
  for (DType dtype : kFloats) {
    for (bool training : {true, false}) {
      const Tensor x = random_cpu({4, 3, 8, 8}, DType::float64, gen);
      check_module_parity(label("conv-bn-relu stack" + mode(training), dtype), make, x, dtype, training,
                          tol_for(dtype));
    }
  }
}

TEST_CASE("cuda parity: resnet20 (fused bn1+relu, option-A shortcuts) forward and backward, float64") {
  Generator gen(823);
  MakeModule make = [](Generator& g) { return nn::make_model("resnet20", {}, g); };
  for (bool training : {true, false}) {
    const Tensor x = random_cpu({2, 3, 32, 32}, DType::float64, gen);
    check_module_parity("resnet20 float64" + mode(training), make, x, DType::float64, training,
                        tol_for(DType::float64));
  }
}
