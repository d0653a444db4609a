// GPU suite: the classic optimizers (SGD, Adam/AdamW/AMSGrad, AdaGrad, RMSprop) on CUDA against
// the same optimizers on CPU copies, fused launches per group, state dicts across devices.
#include <memory>

#include "proxima/optim/adagrad.h"
#include "proxima/optim/adam.h"
#include "proxima/optim/device_loop.h"
#include "proxima/optim/rmsprop.h"
#include "proxima/optim/sgd.h"
#include "test_optim_util.h"

using namespace px;
using namespace px::optim;
using px::gpu_test::check_optimizer_parity;

namespace {

template <class Opt, class Options>
gpu_test::OptimizerFactory factory(Options o) {
  return [o](std::vector<Tensor> params) -> std::unique_ptr<Optimizer> { return std::make_unique<Opt>(params, o); };
}

}  // namespace

TEST_CASE("cuda optim: sgd plain, momentum, dampening, nesterov, weight decay match the CPU") {
  check_optimizer_parity(factory<SGD>(SgdOptions{.lr = 0.05}), "sgd");
  check_optimizer_parity(factory<SGD>(SgdOptions{.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-3}), "sgd momentum");
  check_optimizer_parity(factory<SGD>(SgdOptions{.lr = 0.05, .momentum = 0.8, .dampening = 0.3}), "sgd dampening");
  check_optimizer_parity(factory<SGD>(SgdOptions{.lr = 0.05, .momentum = 0.9, .nesterov = true, .weight_decay = 1e-2}),
                         "sgd nesterov");
}

TEST_CASE("cuda optim: adam, adamw and amsgrad match the CPU") {
  check_optimizer_parity(factory<Adam>(AdamOptions{.lr = 1e-2}), "adam");
  check_optimizer_parity(factory<Adam>(AdamOptions{.lr = 1e-2, .weight_decay = 1e-2}), "adam l2");
  check_optimizer_parity(factory<Adam>(AdamOptions{.lr = 1e-2, .weight_decay = 1e-2, .amsgrad = true}), "amsgrad");
  check_optimizer_parity(factory<AdamW>(AdamWOptions{.lr = 1e-2, .weight_decay = 0.1}), "adamw");
}

TEST_CASE("cuda optim: adagrad and rmsprop match the CPU") {
  check_optimizer_parity(factory<Adagrad>(AdagradOptions{.lr = 0.05}), "adagrad");
  check_optimizer_parity(
      factory<Adagrad>(AdagradOptions{.lr = 0.05, .lr_decay = 0.01, .weight_decay = 1e-3, .initial_accumulator_value = 0.1}),
      "adagrad decay");
  check_optimizer_parity(factory<RMSprop>(RmspropOptions{.lr = 1e-2}), "rmsprop");
  check_optimizer_parity(
      factory<RMSprop>(RmspropOptions{.lr = 1e-2, .weight_decay = 1e-3, .momentum = 0.9, .centered = true}),
      "rmsprop centered momentum");
}

TEST_CASE("cuda optim: one kernel launch per param group and step") {
  Generator gen(5);
  std::vector<ParamGroup> groups(2);
  for (int k = 0; k < 12; ++k)  // 12 tensors, two groups, some over several blocks
    groups[k % 2].params.push_back(gpu_test::random_cpu({k * 1000 + 3}, DType::float32, gen).to(gpu_test::gpu()));
  Adam adam(groups, AdamOptions{.lr = 1e-3});
  for (int s = 0; s < 3; ++s) {
    for (auto& g : adam.param_groups())
      for (auto& p : g.params) p.set_grad(ops::mul(ones_like(p), 0.5));
    const std::int64_t before = device::launch_count();
    adam.step();
    CHECK(device::launch_count() - before == 2);
  }
  // A tensor whose step count differs (no gradient at one step) gets its own launch.
  for (auto& g : adam.param_groups())
    for (std::size_t i = 0; i < g.params.size(); ++i)
      if (i == 0) g.params[i].zero_grad();
      else g.params[i].set_grad(ones_like(g.params[i]));
  adam.step();
  for (auto& g : adam.param_groups())
    for (auto& p : g.params) p.set_grad(ones_like(p));
  const std::int64_t before = device::launch_count();
  adam.step();
  CHECK(device::launch_count() - before == 4);
}

TEST_CASE("cuda optim: state_dict round trip cuda -> cpu -> cuda continues the same run") {
  for (DType dtype : {DType::float64, DType::float32}) {
    Generator gen(9);
    gpu_test::OptimizerPair pair(factory<Adam>(AdamOptions{.lr = 1e-2, .amsgrad = true}), dtype, gen, 1.0);
    for (int s = 0; s < 3; ++s) pair.step(gen);
    // CUDA state into the CPU optimizer (and the CUDA parameters into the CPU ones).
    for (std::size_t k = 0; k < pair.cpu.size(); ++k) ops::copy_(pair.cpu[k], pair.gpu[k].to(Device::cpu()));
    const NamedTensors saved = pair.on_gpu->state_dict();
    for (const auto& [key, value] : saved)
      CHECK_MESSAGE(value.device() == (value.dim() == 0 ? Device::cpu() : gpu_test::gpu()), key);
    pair.on_cpu->load_state_dict(saved);
    for (const auto& [key, value] : pair.on_cpu->state_dict()) CHECK_MESSAGE(value.device() == Device::cpu(), key);
    // And back: a fresh CUDA optimizer from the CPU state.
    auto fresh = factory<Adam>(AdamOptions{.lr = 1e-2, .amsgrad = true})(pair.gpu);
    fresh->load_state_dict(pair.on_cpu->state_dict());
    pair.on_gpu = std::move(fresh);
    for (int s = 0; s < 3; ++s) {
      pair.step(gen);
      pair.compare(gpu_test::optim_tolerance(dtype, 1.0), false, "after round trip " + std::string(dtype_name(dtype)));
    }
  }
}
