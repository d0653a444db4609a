// PathProx (ALGORITHMS.md §6, oracles §11 C 19-24): balance, prox, metrics and the optimizer step,
// in float64 on MLPs (with, without and with some biases), the factorised MLP, a small no-BN
// VGG-like net and vgg11-nobn; and the refusal of BatchNorm / residual models.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "pathprox_test_nets.h"
#include "prox_test_util.h"
#include "proxima/optim/prox/pathprox.h"
#include "proxima/optim/sgd.h"

using namespace px;
using namespace px::pptest;
namespace pp = px::optim::prox;

TEST_CASE("pathprox balance preserves the network function (oracle 19), MLPs and no-BN VGGs, with and without biases") {
  for (const auto& make : test_nets()) {
    Net net = make.build(11);
    INFO(make.label);
    unbalance(net.units, 12);
    const Tensor x = input(net, 13);
    const std::vector<double> before = outputs(net, x);
    const pp::BalanceResult r = pp::layerwise_balance(net.units);
    REQUIRE(r.applied);
    double largest_scale_change = 0;
    for (double s : r.scales) largest_scale_change = std::max(largest_scale_change, std::abs(std::log(s)));
    CHECK(largest_scale_change > 0.1);  // the balance did something
    CHECK(max_rel_diff(outputs(net, x), before) < 1e-10);
  }
}

TEST_CASE("pathprox balance on vgg11-nobn keeps its outputs (oracle 19, the zoo model, unpaired convs)") {
  Generator gen(3);
  auto model = nn::make_model("vgg11-nobn", {.in_channels = 1, .image_size = 32, .num_classes = 3}, gen);
  model->to(DType::float64);
  Net net{model, nn::require_homogeneous_units(*model, "vgg11-nobn"), {1, 32, 32}};
  CHECK(net.units.groups.size() == 3);
  CHECK(net.units.others.size() == 3);  // conv1, conv2 and the classifier
  unbalance(net.units, 4);
  const Tensor x = input(net, 5);
  const std::vector<double> before = outputs(net, x);
  REQUIRE(pp::layerwise_balance(net.units).applied);
  CHECK(max_rel_diff(outputs(net, x), before) < 1e-10);
}

TEST_CASE("pathprox balance invariants: product kept, every P_g = geometric mean, sum not larger, idempotent, s_n = 1 (oracle 20)") {
  for (const auto& make : test_nets()) {
    Net net = make.build(21);
    INFO(make.label);
    unbalance(net.units, 22);
    const std::vector<double> p0 = reference_path_norms(net.units);
    double log_prod = 0, sum0 = 0;
    for (double p : p0) log_prod += std::log(p), sum0 += p;
    const double mean = std::exp(log_prod / static_cast<double>(p0.size()));
    const pp::BalanceResult r = pp::layerwise_balance(net.units);
    REQUIRE(r.applied);
    CHECK(r.geometric_mean == doctest::Approx(mean).epsilon(1e-12));
    CHECK(std::abs(r.last_scale - 1) < 1e-12);
    const std::vector<double> p1 = reference_path_norms(net.units);
    double log_prod1 = 0, sum1 = 0;
    for (double p : p1) {
      CHECK(std::abs(p / mean - 1) < 1e-12);
      log_prod1 += std::log(p), sum1 += p;
    }
    CHECK(std::abs(log_prod1 - log_prod) < 1e-12 * std::max(1.0, std::abs(log_prod)));
    CHECK(sum1 <= sum0 * (1 + 1e-12));
    const std::vector<std::vector<double>> once = snapshot(net.units);
    const pp::BalanceResult again = pp::layerwise_balance(net.units);
    for (double s : again.scales) CHECK(std::abs(s - 1) < 1e-12);
    CHECK(max_rel_diff(flat(snapshot(net.units)), flat(once)) < 1e-12);
  }
}

TEST_CASE("pathprox balance skips dead groups and single-group chains, leaving the weights unchanged") {
  Net net = test_nets()[0].build(31);
  fill(net.units.groups[1].v.weight, 0.0);  // group 2 dead: P_2 = 0
  const auto before = snapshot(net.units);
  const pp::BalanceResult r = pp::layerwise_balance(net.units);
  CHECK_FALSE(r.applied);
  CHECK(r.path_norms[1] == 0.0);
  CHECK(flat(snapshot(net.units)) == flat(before));
  Generator gen(32);
  auto one = nn::make_model("mlp:5,4", {.in_channels = 1, .image_size = 3, .num_classes = 2}, gen);
  one->to(DType::float64);
  const auto units = nn::require_homogeneous_units(*one);
  CHECK(units.groups.size() == 1);
  CHECK(units.others.size() == 1);
  CHECK_FALSE(pp::layerwise_balance(units).applied);
}

TEST_CASE("pathprox unit rescaling leaves outputs and path norm unchanged, AM-GM minimum at c^2 = |v|/|w| (oracle 21)") {
  for (const auto& make : test_nets()) {
    Net net = make.build(41);
    INFO(make.label);
    const Tensor x = input(net, 42);
    const std::vector<double> before = outputs(net, x);
    const double path_before = pp::path_norm(net.units);
    for (std::size_t g = 0; g < net.units.groups.size(); ++g) rescale_unit(net.units.groups[g], 1, 3.7 - g);
    CHECK(max_rel_diff(outputs(net, x), before) < 1e-10);
    CHECK(pp::path_norm(net.units) == doctest::Approx(path_before).epsilon(1e-12));
  }
  Generator gen(43);
  for (int trial = 0; trial < 20; ++trial) {
    const double nw = ops::uniform({1}, 0.01, 10, {.dtype = DType::float64}, &gen).item();
    const double nv = ops::uniform({1}, 0.01, 10, {.dtype = DType::float64}, &gen).item();
    const auto half_sq = [&](double c) { return 0.5 * (c * c * nw * nw + nv * nv / (c * c)); };
    CHECK(half_sq(std::sqrt(nv / nw)) == doctest::Approx(nw * nv).epsilon(1e-12));
    for (double c = 0.01; c < 100; c *= 1.05) CHECK(half_sq(c) >= nw * nv * (1 - 1e-12));
  }
}

TEST_CASE("pathprox prox postconditions: |w_k| in {0, 1}, biases divided alike, group soft threshold of v_k (oracle 22)") {
  for (const auto& make : test_nets()) {
    Net net = make.build(51);
    INFO(make.label);
    zero_input_unit(net.units.groups[0], 0);  // a unit with w_k = 0 stays 0
    const auto before = snapshot_units(net.units);
    double tau = median_v_norm(before);
    pp::pathprox_prox(net.units, tau);
    const auto after = snapshot_units(net.units);
    std::int64_t zeroed = 0, kept = 0;
    for (std::size_t g = 0; g < after.size(); ++g) {
      for (std::size_t k = 0; k < after[g].size(); ++k) {
        const UnitValues& b = before[g][k];
        const UnitValues& a = after[g][k];
        const double nw = norm(b.w), nv = norm(b.v);
        CHECK((std::abs(norm(a.w) - 1) < 1e-12 || (nw == 0 && norm(a.w) == 0)));
        const double factor = nw > 0 ? 1 / nw : 1;
        for (std::size_t i = 0; i < a.w.size(); ++i) CHECK(a.w[i] == doctest::Approx(b.w[i] * factor).epsilon(1e-12));
        if (b.has_bias) CHECK(a.b == doctest::Approx(b.b * factor).epsilon(1e-12));
        if (nv <= tau) {
          ++zeroed;
          CHECK(norm(a.v) == 0.0);
        } else {
          ++kept;
          CHECK(norm(a.v) == doctest::Approx(nv - tau).epsilon(1e-12));
          for (std::size_t i = 0; i < a.v.size(); ++i)
            CHECK(a.v[i] == doctest::Approx(b.v[i] * (nv - tau) / nv).epsilon(1e-12));
        }
      }
    }
    CHECK(zeroed > 0);
    CHECK(kept > 0);
  }
}

TEST_CASE("pathprox with lambda = 0: v unchanged, w still normalised, so it is not plain SGD (oracle 23)") {
  Net net = test_nets()[0].build(61);
  const auto before = snapshot_units(net.units);
  pp::pathprox_prox(net.units, 0.0);
  const auto after = snapshot_units(net.units);
  for (std::size_t g = 0; g < after.size(); ++g)
    for (std::size_t k = 0; k < after[g].size(); ++k) {
      CHECK(after[g][k].v == before[g][k].v);
      CHECK(std::abs(norm(after[g][k].w) - 1) < 1e-12);
    }
  // The optimizer with lambda = 0 and no balance: SGD, then w normalised; plain SGD keeps |w_k| != 1.
  Net a = test_nets()[0].build(62), b = test_nets()[0].build(62);
  pp::PathProx opt(a.units, a.model->named_parameters(), {.lr = 0.1, .lambda = 0.0, .balance = false});
  optim::SGD sgd(b.model->parameters(), {.lr = 0.1});
  for (Net* n : {&a, &b}) set_loss_gradients(*n, 63);
  opt.step();
  sgd.step();
  const auto pa = snapshot_units(a.units), pb = snapshot_units(b.units);
  double w_gap = 0;
  for (std::size_t g = 0; g < pa.size(); ++g)
    for (std::size_t k = 0; k < pa[g].size(); ++k) {
      CHECK(max_rel_diff(pa[g][k].v, pb[g][k].v) < 1e-15);
      w_gap = std::max(w_gap, std::abs(norm(pb[g][k].w) - 1));
    }
  CHECK(w_gap > 1e-3);
  // ... and the header says so.
  std::ifstream header(std::string(PX_TEST_DATA_DIR) + "/../optim/prox/pathprox.h");
  REQUIRE(header.good());
  std::stringstream text;
  text << header.rdbuf();
  CHECK(text.str().find("PathProx is still not plain SGD") != std::string::npos);
}

TEST_CASE("pathprox active-unit metric: v_k = 0 or w_k = 0 is inactive, grouped units only, biases excluded (oracle 24)") {
  for (const auto& make : test_nets()) {
    Net net = make.build(71);
    INFO(make.label);
    const pp::ActiveUnits all = pp::active_units(net.units);
    std::int64_t total = 0;
    for (const auto& g : net.units.groups) total += g.w.weight.size(0);
    CHECK(all.total == total);
    CHECK(all.active == total);
    CHECK(all.percent() == 100.0);
    zero_input_unit(net.units.groups[0], 1);   // w_1 = 0 (its bias stays nonzero when it has one)
    zero_output_unit(net.units.groups.back(), 0);  // v_0 = 0
    const pp::ActiveUnits some = pp::active_units(net.units);
    CHECK(some.total == total);
    CHECK(some.active == total - 2);
    CHECK(some.percent() == doctest::Approx(100.0 * (total - 2) / total));
  }
}

TEST_CASE("pathprox step = SGD (other layers decayed by lambda, biases not) + balance + prox with tau = lambda lr") {
  for (const auto& make : test_nets()) {
    INFO(make.label);
    Net a = make.build(81), b = make.build(81);
    const double lr = 0.07, lambda = 0.3;
    pp::PathProx opt(a.units, a.model->named_parameters(), {.lr = lr, .lambda = lambda});
    for (int it = 0; it < 3; ++it) {
      set_loss_gradients(a, 82 + it);
      set_loss_gradients(b, 82 + it);
      opt.step();
      reference_sgd(b, lr, lambda);  // plain loops over the named parameters
      pp::layerwise_balance(b.units);
      pp::pathprox_prox(b.units, lambda * lr);
    }
    CHECK(max_rel_diff(flat(snapshot(a.units)), flat(snapshot(b.units))) < 1e-12);
    CHECK(opt.penalty() == doctest::Approx(lambda * (pp::path_norm(a.units) + 0.5 * reference_other_sq(a.units))));
  }
}

TEST_CASE("pathprox refuses models it cannot group, naming the model and the reason") {
  Generator gen(91);
  test::check_throws<ValueError>([&] { nn::require_homogeneous_units(*nn::make_model("vgg11", {}, gen), "vgg11"); },
                                 {"vgg11", "BatchNorm", "homogeneous"});
  test::check_throws<ValueError>(
      [&] { nn::require_homogeneous_units(*nn::make_model("resnet20", {}, gen), "resnet20"); },
      {"resnet20", "residual", "BatchNorm"});
  test::check_throws<ValueError>([&] { nn::require_homogeneous_units(*nn::make_model("lenet5", {}, gen)); },
                                 {"LeNet5", "declares no homogeneous units"});
  test::check_throws<ValueError>([&] { nn::require_homogeneous_units(*tanh_mlp(gen), "tanh-mlp"); },
                                 {"tanh-mlp", "Tanh"});
  test::check_value_error([&] { pp::PathProx(test_nets()[0].build(92).units, {}, {}); }, "not among the parameters");
  Net net = test_nets()[0].build(93);
  test::check_value_error([&] { pp::PathProx(net.units, net.model->named_parameters(), {.lambda = -1}); }, "lambda");
}

TEST_CASE("pathprox float32 parameters: balance keeps outputs to float precision, prox normalises") {
  Net net = test_nets()[1].build(101);
  net.model->to(DType::float32);
  net.units = nn::require_homogeneous_units(*net.model);
  unbalance(net.units, 102);
  const Tensor x = ops::to_dtype(input(net, 103), DType::float32);
  const std::vector<double> before = outputs(net, x);
  REQUIRE(pp::layerwise_balance(net.units).applied);
  CHECK(max_rel_diff(outputs(net, x), before) < 1e-5);
  pp::pathprox_prox(net.units, 1e-3);
  for (const auto& g : net.units.groups) {
    const auto rows = g.w.weight.size(0);
    const auto w = ops::to_dtype(g.w.weight, DType::float64).to_vector<double>();
    const auto inner = static_cast<std::int64_t>(w.size()) / rows;
    for (std::int64_t k = 0; k < rows; ++k) {
      double sq = 0;
      for (std::int64_t i = 0; i < inner; ++i) sq += w[k * inner + i] * w[k * inner + i];
      CHECK(std::abs(std::sqrt(sq) - 1) < 1e-6);
    }
  }
}
