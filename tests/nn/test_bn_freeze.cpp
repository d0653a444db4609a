// nn::FreezeRunningStats and BatchNorm::set_running_stats_frozen: a frozen BatchNorm in training
// mode normalises with the batch statistics but leaves running_mean, running_var and
// num_batches_tracked untouched (SR2's trial evaluations).
#include <doctest/doctest.h>

#include <memory>

#include "nn_helpers.h"
#include "proxima/nn/init.h"
#include "proxima/nn/layers.h"
#include "proxima/nn/sequential.h"

using namespace px;
using namespace px::nn;
using nnt::host;
using nnt::random;

namespace {

struct BnBuffers {
  std::vector<double> mean, var;
  double tracked = 0;
};

BnBuffers buffers(const BatchNorm& bn) {
  return {host(bn.running_mean), host(bn.running_var), bn.num_batches_tracked.item()};
}

}  // namespace

TEST_CASE("FreezeRunningStats: batch statistics without updating running stats, for a module tree") {
  auto bn1 = std::make_shared<BatchNorm2d>(BatchNormOptions{.num_features = 3});
  auto bn2 = std::make_shared<BatchNorm1d>(BatchNormOptions{.num_features = 4});
  Sequential net;
  net.push_back(bn1);
  init::uniform_(bn1->weight, 0.5, 1.5, default_generator());
  init::uniform_(bn1->bias, -0.5, 0.5, default_generator());
  const Tensor x0 = random({4, 3, 2, 2}, 1, DType::float32, -1, 2);
  net(x0);  // one ordinary training pass: stats move away from (0, 1)
  (*bn2)(random({5, 4}, 2));
  const BnBuffers before1 = buffers(*bn1), before2 = buffers(*bn2);
  const Tensor x = random({4, 3, 2, 2}, 3, DType::float32, -2, 3);
  Tensor frozen_out;
  {
    FreezeRunningStats freeze(net);
    FreezeRunningStats freeze2(*bn2);
    CHECK(bn1->running_stats_frozen());
    frozen_out = net(x);
    (*bn2)(random({5, 4}, 4));
    (*bn2)(random({5, 4, 3}, 5));
    const BnBuffers during1 = buffers(*bn1), during2 = buffers(*bn2);
    CHECK(during1.mean == before1.mean);
    CHECK(during1.var == before1.var);
    CHECK(during1.tracked == before1.tracked);
    CHECK(during2.mean == before2.mean);
    CHECK(during2.tracked == before2.tracked);
  }
  CHECK_FALSE(bn1->running_stats_frozen());
  CHECK_FALSE(bn2->running_stats_frozen());
  // The same input unfrozen: the same output (batch statistics), and now the stats move.
  const Tensor out = net(x);
  CHECK(host(out) == host(frozen_out));
  const BnBuffers after1 = buffers(*bn1);
  CHECK(after1.tracked == before1.tracked + 1);
  CHECK(after1.mean != before1.mean);
  // The unfrozen update equals what a single (not a doubled) update would give.
  BatchNorm2d ref({.num_features = 3});
  ref(x0);
  ref(x);
  CHECK(host(ref.running_mean) == host(bn1->running_mean));
  CHECK(host(ref.running_var) == host(bn1->running_var));
}

TEST_CASE("FreezeRunningStats: nested guards restore each BatchNorm's previous setting, eval is unchanged") {
  BatchNorm2d bn({.num_features = 2});
  bn.set_running_stats_frozen(true);
  {
    FreezeRunningStats guard(bn);
    CHECK(bn.running_stats_frozen());
  }
  CHECK(bn.running_stats_frozen());  // was frozen before the guard
  bn.set_running_stats_frozen(false);
  bn(random({3, 2, 2, 2}, 7));
  bn.eval();
  const Tensor x = random({3, 2, 2, 2}, 8);
  const auto plain = host(bn(x));
  FreezeRunningStats guard(bn);
  CHECK(host(bn(x)) == plain);  // eval mode uses the running stats either way
}
