// GPU suite: fused batch norm (CudaBackend::batch_norm_forward/backward and px::batch_norm)
// against the CPU backend, training and eval, both dtypes, tiny to large [N, C, H, W].
#include <cmath>
#include <string>
#include <vector>

#include "batch_norm_util.h"
#include "proxima/autograd/autograd.h"
#include "proxima/autograd/functions.h"
#include "proxima/core/backend.h"

using namespace px;
using px::gpu_test::bn_case;
using px::gpu_test::bn_sum_atol;
using px::gpu_test::check_close;
using px::gpu_test::gpu;
using px::gpu_test::maybe_to_gpu;
using px::gpu_test::positive_cpu;
using px::gpu_test::random_cpu;

namespace {

const std::vector<Shape> kShapes = {{2, 3},          {7, 5},           {300, 70},       {2, 1, 1, 1},
                                    {3, 4, 5, 7},    {33, 3, 7, 5},    {16, 8, 9, 9},   {64, 32, 16, 16},
                                    {256, 16, 32, 32}};

// Both sides normalise elementwise in the dtype after rounding the statistics once: float32
// results agree to a few ulps of O(1) values (rtol; bn_sum_atol(dtype, 1) * 4 near zero).
double rtol(DType dtype) { return dtype == DType::float32 ? 1e-5 : 1e-11; }

// A fresh leaf copy of t on `device` (never an alias of t).
Tensor fresh(const Tensor& t, Device device) { return device.is_cpu() ? t.clone() : t.to(device); }

}  // namespace

TEST_CASE("cuda: batch_norm_forward matches the CPU (training and eval, affine or not, both dtypes)") {
  Generator gen(81);
  for (DType dtype : {DType::float32, DType::float64}) {
    for (const Shape& shape : kShapes) {
      for (bool training : {true, false}) {
        const std::int64_t c = shape[1];
        const bool affine = shape[0] % 2 == 0 || !training;  // some cases without weight/bias
        Tensor x = ops::add(random_cpu(shape, dtype, gen, 2.0), 3.0);  // mean away from 0
        Tensor w = affine ? random_cpu({c}, dtype, gen) : Tensor(), b = affine ? random_cpu({c}, dtype, gen) : Tensor();
        Tensor mean = training ? empty({c}, {.dtype = dtype}) : random_cpu({c}, dtype, gen);
        Tensor invstd = training ? empty({c}, {.dtype = dtype}) : positive_cpu({c}, dtype, gen);
        Tensor mean_g = training ? empty({c}, {.dtype = dtype, .device = gpu()}) : mean.to(gpu());
        Tensor invstd_g = training ? empty({c}, {.dtype = dtype, .device = gpu()}) : invstd.to(gpu());
        Tensor y = empty(shape, {.dtype = dtype}), y_g = empty(shape, {.dtype = dtype, .device = gpu()});
        cpu_backend().batch_norm_forward(x, w, b, mean, invstd, y, 1e-5, training);
        cuda_backend().batch_norm_forward(x.to(gpu()), maybe_to_gpu(w), maybe_to_gpu(b), mean_g, invstd_g, y_g, 1e-5,
                                          training);
        const std::string what = bn_case("forward", dtype, shape, training);
        if (training) {
          check_close(mean, mean_g, rtol(dtype), 0.0, what + " mean");
          check_close(invstd, invstd_g, rtol(dtype), 0.0, what + " invstd");
        }
        check_close(y, y_g, rtol(dtype), bn_sum_atol(dtype, 1) * 4, what + " y");
      }
    }
  }
}

TEST_CASE("cuda: batch_norm_backward matches the CPU (each gradient optional, both modes, both dtypes)") {
  Generator gen(82);
  for (DType dtype : {DType::float32, DType::float64}) {
    for (const Shape& shape : kShapes) {
      for (bool training : {true, false}) {
        for (int wanted = 0; wanted < 3; ++wanted) {  // 0: all, 1: grad_x only, 2: weight and bias only
          const std::int64_t c = shape[1], count = shape_numel(shape) / c;
          Tensor x = ops::add(random_cpu(shape, dtype, gen), 1.0), gy = random_cpu(shape, dtype, gen);
          Tensor w = wanted != 1 ? random_cpu({c}, dtype, gen) : Tensor();
          Tensor mean = random_cpu({c}, dtype, gen), invstd = positive_cpu({c}, dtype, gen);
          auto grads = [&](Device device) {
            const TensorOptions opt{.dtype = dtype, .device = device};
            return std::vector<Tensor>{wanted != 2 ? empty(shape, opt) : Tensor(), wanted != 1 ? empty({c}, opt) : Tensor(),
                                       wanted != 1 ? empty({c}, opt) : Tensor()};
          };
          std::vector<Tensor> cpu = grads(Device::cpu()), dev = grads(gpu());
          cpu_backend().batch_norm_backward(gy, x, w, mean, invstd, cpu[0], cpu[1], cpu[2], training);
          cuda_backend().batch_norm_backward(gy.to(gpu()), x.to(gpu()), maybe_to_gpu(w), mean.to(gpu()),
                                             invstd.to(gpu()), dev[0], dev[1], dev[2], training);
          const std::string what = bn_case("backward", dtype, shape, training) + " wanted " + std::to_string(wanted);
          if (cpu[0].defined()) check_close(cpu[0], dev[0], rtol(dtype), bn_sum_atol(dtype, 1) * 4, what + " grad_x");
          if (cpu[1].defined()) check_close(cpu[1], dev[1], rtol(dtype), bn_sum_atol(dtype, count), what + " grad_weight");
          if (cpu[2].defined()) check_close(cpu[2], dev[2], rtol(dtype), bn_sum_atol(dtype, count), what + " grad_bias");
        }
      }
    }
  }
}

TEST_CASE("cuda: px::batch_norm on the GPU matches the CPU (values, gradients, running statistics)") {
  Generator gen(83);
  for (DType dtype : {DType::float32, DType::float64}) {
    for (const Shape& shape : {Shape{9, 6}, Shape{32, 16, 8, 8}}) {
      for (bool training : {true, false}) {
        const std::int64_t c = shape[1], count = shape_numel(shape) / c;
        Tensor x0 = random_cpu(shape, dtype, gen), w0 = random_cpu({c}, dtype, gen), b0 = random_cpu({c}, dtype, gen);
        Tensor gy = random_cpu(shape, dtype, gen), rm0 = random_cpu({c}, dtype, gen);
        Tensor rv0 = positive_cpu({c}, dtype, gen);
        auto run = [&](Device device) {
          Tensor x = fresh(x0, device).set_requires_grad(), w = fresh(w0, device).set_requires_grad();
          Tensor b = fresh(b0, device).set_requires_grad(), rm = fresh(rm0, device), rv = fresh(rv0, device);
          Tensor y = batch_norm(x, w, b, rm, rv, training, 0.1, 1e-5);
          backward(y, gy.to(device));
          return std::vector<Tensor>{y, x.grad(), w.grad(), b.grad(), rm, rv};
        };
        std::vector<Tensor> want = run(Device::cpu()), got = run(gpu());
        const char* names[] = {"y", "grad_x", "grad_weight", "grad_bias", "running_mean", "running_var"};
        for (std::size_t i = 0; i < want.size(); ++i) {
          const double a = i == 2 || i == 3 ? bn_sum_atol(dtype, count) : bn_sum_atol(dtype, 1) * 4;
          check_close(want[i], got[i], rtol(dtype), a, bn_case(names[i], dtype, shape, training));
        }
      }
    }
  }
}
