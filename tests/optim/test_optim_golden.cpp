// Golden test: 300-step trajectories of every optimizer configuration against PyTorch 1.13
// (tests/optim/optim_golden.txt, written by tests/golden/make_optim_golden.py).
#include <set>

#include "optim/optim_helpers.h"

using namespace px;
using namespace px::test;

namespace {

const char* kParams[] = {"w1", "b1", "w2"};

// Reruns each configuration of `optimizer` in the golden file and compares the saved steps.
// Returns how many configurations were checked.
int check_trajectories(const std::string& optimizer) {
  static const OptimGolden golden = load_optim_golden();
  const Tensor x = to_tensor(golden.tensors.at("data/x"));
  const Tensor target = to_tensor(golden.tensors.at("data/target"));
  std::vector<Tensor> init;
  for (const char* p : kParams) init.push_back(to_tensor(golden.tensors.at(std::string("init/") + p)));
  int checked = 0;
  for (const auto& config : golden.configs) {
    if (config.optimizer != optimizer) continue;
    INFO("config ", config.name);
    TanhNet net(x, target, init);
    auto opt = optim::make_optimizer(config.optimizer, {{.params = net.params}}, config_from(config));
    for (int step = 1; step <= 300; ++step) {
      net.train_step(*opt);
      const std::string prefix = config.name + "/step" + std::to_string(step) + "/";
      if (!golden.tensors.count(prefix + "w1")) continue;
      for (std::size_t k = 0; k < 3; ++k)
        check_close(prefix + kParams[k], values(net.params[k]), golden.tensors.at(prefix + kParams[k]).values,
                    1e-9, 1e-12);
    }
    ++checked;
  }
  return checked;
}

}  // namespace

TEST_CASE("golden: SGD trajectories (plain, momentum, dampening, nesterov, weight decay) match PyTorch") {
  CHECK(check_trajectories("sgd") == 5);
}

TEST_CASE("golden: Adam trajectories (plain, amsgrad, weight decay) match PyTorch") {
  CHECK(check_trajectories("adam") == 3);
}

TEST_CASE("golden: AdamW trajectories match PyTorch") { CHECK(check_trajectories("adamw") == 2); }

TEST_CASE("golden: AdaGrad trajectories (lr_decay, weight decay) match PyTorch") {
  CHECK(check_trajectories("adagrad") == 2);
}

TEST_CASE("golden: RMSprop trajectories (plain, centered, momentum) match PyTorch") {
  CHECK(check_trajectories("rmsprop") == 4);
}

TEST_CASE("golden: the file covers every optimizer make_optimizer knows") {
  const OptimGolden golden = load_optim_golden();
  std::set<std::string> covered;
  for (const auto& c : golden.configs) covered.insert(c.optimizer);
  for (const auto& name : optim::optimizer_names()) CHECK_MESSAGE(covered.count(name), name);
}
