// GPU parity of the fused batch_norm_relu (Backend::batch_norm_relu_forward/backward, which the
// CUDA backend inherits from Backend's composed defaults, and px::batch_norm_relu) against the CPU.
#include <cmath>
#include <string>
#include <vector>

#include "batch_norm_util.h"
#include "parity_util.h"
#include "proxima/core/backend.h"

using px::gpu_test::bn_case;
using px::gpu_test::bn_sum_atol;

namespace {

const std::vector<Shape> kShapes = {{2, 3},       {7, 5},        {300, 70},   {2, 1, 1, 1},
                                    {3, 4, 5, 7}, {33, 3, 7, 5}, {16, 8, 9, 9}};

Tensor empty_like_on(const Tensor& t, Device device) {
  return empty(t.shape(), {.dtype = t.dtype(), .device = device});
}

}  // namespace

TEST_CASE("cuda parity: batch_norm_relu_forward matches the CPU's fused kernel (training and eval, affine or not)") {
  Generator gen(811);
  for (DType dtype : kFloats) {
    const Tol tol = tol_for(dtype);
    for (const Shape& shape : kShapes) {
      for (bool training : {true, false}) {
        for (bool affine : {true, false}) {
          const std::int64_t c = shape[1];
          Tensor x = ops::add(random_cpu(shape, dtype, gen, 2.0), 1.0);
          Tensor w = affine ? positive_cpu({c}, dtype, gen) : Tensor();
          Tensor b = affine ? random_cpu({c}, dtype, gen) : Tensor();
          Tensor mean = training ? empty({c}, {.dtype = dtype}) : random_cpu({c}, dtype, gen);
          Tensor invstd =
              training ? empty({c}, {.dtype = dtype}) : positive_cpu({c}, dtype, gen);
          Tensor mean_g = training ? empty_like_on(mean, gpu()) : mean.to(gpu());
          Tensor invstd_g = training ? empty_like_on(invstd, gpu()) : invstd.to(gpu());
          Tensor y = empty(shape, {.dtype = dtype}), y_g = empty_like_on(y, gpu());
          cpu_backend().batch_norm_relu_forward(x, w, b, mean, invstd, y, 1e-5, training);
          cuda_backend().batch_norm_relu_forward(x.to(gpu()), maybe_to_gpu(w), maybe_to_gpu(b), mean_g, invstd_g, y_g,
                                                 1e-5, training);
          const std::string what = bn_case("forward", dtype, shape, training) + (affine ? " affine" : "");
          if (training) {
            check_close(mean, mean_g, tol.rtol, tol.atol, what + " mean");
            check_close(invstd, invstd_g, tol.rtol, tol.atol, what + " invstd");
          }
          check_close(y, y_g, tol.rtol, tol.atol, what + " y");
          // The relu happened on the GPU: no negative output.
          CHECK_MESSAGE(ops::count_nonzero(ops::lt(y_g, 0.0)).item() == 0, what);
        }
      }
    }
  }
}

TEST_CASE("cuda parity: batch_norm_relu_backward matches the CPU (each gradient optional, both modes)") {
  Generator gen(812);
  for (DType dtype : kFloats) {
    const Tol tol = tol_for(dtype);
    for (const Shape& shape : kShapes) {
      for (bool training : {true, false}) {
        for (int wanted = 0; wanted < 4; ++wanted) {  // 0 all, 1 grad_x only, 2 weight+bias only, 3 x+bias
          const std::int64_t c = shape[1], count = shape_numel(shape) / c;
          const bool affine = wanted != 1;
          Tensor x = ops::add(random_cpu(shape, dtype, gen), 0.5), gy = random_cpu(shape, dtype, gen);
          Tensor w = affine ? positive_cpu({c}, dtype, gen) : Tensor();
          Tensor b = affine ? random_cpu({c}, dtype, gen) : Tensor();
          Tensor mean = empty({c}, {.dtype = dtype}), invstd = empty({c}, {.dtype = dtype});
          Tensor y = empty(shape, {.dtype = dtype});
          // The forward output y on the CPU, given to both backends: the same relu mask on both sides.
          cpu_backend().batch_norm_relu_forward(x, w, b, mean, invstd, y, 1e-5, /*training=*/true);
          const bool want_x = wanted != 2, want_wb = wanted == 0 || wanted == 2, want_b = wanted != 1;
          auto grads = [&](Device device) {
            Tensor gx = want_x ? empty(shape, {.dtype = dtype, .device = device}) : Tensor();
            Tensor gw = want_wb ? empty({c}, {.dtype = dtype, .device = device}) : Tensor();
            Tensor gb = want_b ? empty({c}, {.dtype = dtype, .device = device}) : Tensor();
            return std::vector<Tensor>{gx, gw, gb};
          };
          std::vector<Tensor> on_cpu = grads(Device::cpu()), on_gpu = grads(gpu());
          cpu_backend().batch_norm_relu_backward(gy, x, y, w, mean, invstd, on_cpu[0], on_cpu[1], on_cpu[2], training);
          cuda_backend().batch_norm_relu_backward(gy.to(gpu()), x.to(gpu()), y.to(gpu()), maybe_to_gpu(w),
                                                  mean.to(gpu()), invstd.to(gpu()), on_gpu[0], on_gpu[1], on_gpu[2],
                                                  training);
          const std::string what = bn_case("backward", dtype, shape, training) + " wanted " + std::to_string(wanted);
          const char* names[] = {" grad_x", " grad_weight", " grad_bias"};
          for (int k = 0; k < 3; ++k) {
            if (!on_cpu[static_cast<std::size_t>(k)].defined()) continue;
            const double atol = k == 0 ? tol.atol : std::max(tol.atol, bn_sum_atol(dtype, count));
            check_close(on_cpu[static_cast<std::size_t>(k)], on_gpu[static_cast<std::size_t>(k)], tol.rtol, atol,
                        what + names[k]);
          }
        }
      }
    }
  }
}

TEST_CASE("cuda parity: px::batch_norm_relu values, gradients and running statistics") {
  Generator gen(813);
  for (DType dtype : kFloats) {
    for (const Shape& shape : {Shape{17, 6}, Shape{8, 5, 6, 7}, Shape{3, 4, 1, 1}}) {
      for (bool training : {true, false}) {
        for (bool affine : {true, false}) {
          const std::int64_t c = shape[1];
          Tensor x = ops::add(random_cpu(shape, dtype, gen), 0.5);
          Tensor w = affine ? positive_cpu({c}, dtype, gen) : Tensor();
          Tensor b = affine ? random_cpu({c}, dtype, gen) : Tensor();
          Tensor rm = random_cpu({c}, dtype, gen), rv = positive_cpu({c}, dtype, gen);
          // Each device updates its own copy of the running statistics.
          Tensor rm_cpu = rm.clone(), rv_cpu = rv.clone(), rm_gpu = rm.to(gpu()), rv_gpu = rv.to(gpu());
          auto f = [&](const Ts& in) {
            const bool on_gpu = !in[0].device().is_cpu();
            Tensor y = px::batch_norm_relu(in[0], in[1], in[2], on_gpu ? rm_gpu : rm_cpu, on_gpu ? rv_gpu : rv_cpu,
                                           training, 0.1, 1e-5);
            if (y.requires_grad()) CHECK(y.autograd_meta()->grad_fn->name == "batch_norm_relu");  // the fused node
            return y;
          };
          const std::string what = bn_case("px::batch_norm_relu", dtype, shape, training) + (affine ? " affine" : "");
          check_parity(what, f, {x, w, b}, tol_for(dtype));
          check_close(rm_cpu, rm_gpu, tol_for(dtype).rtol, tol_for(dtype).atol, what + " running_mean");
          check_close(rv_cpu, rv_gpu, tol_for(dtype).rtol, tol_for(dtype).atol, what + " running_var");
        }
      }
    }
  }
}
