// The model zoo against tests/golden/model_keys.txt (from PyTorch): keys, order, shapes, dtypes,
// parameter counts; forward shapes, train vs eval behaviour, regularised weights, bad names.
#include <doctest/doctest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#include "nn_helpers.h"
#include "proxima/autograd/gradcheck.h"
#include "proxima/nn/models/models.h"

using namespace px;
using namespace px::nn;
using nnt::max_diff;

namespace {

struct GoldenEntry {
  std::string key, dtype;
  Shape shape;
};

struct GoldenModel {
  std::string name;
  ModelSpec spec;
  std::int64_t parameters = 0;
  std::vector<GoldenEntry> entries;
};

Shape parse_shape(const std::string& text) {  // "[16,3,3,3]" or "[]"
  Shape shape;
  std::stringstream in(text.substr(1, text.size() - 2));
  std::string item;
  while (std::getline(in, item, ',')) shape.push_back(std::stoll(item));
  return shape;
}

std::vector<GoldenModel> read_golden() {
  std::ifstream in(std::string(PX_TEST_DATA_DIR) + "/golden/model_keys.txt");
  REQUIRE(in.good());
  std::vector<GoldenModel> models;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line == "end") continue;
    std::stringstream words(line);
    std::string first;
    words >> first;
    if (first == "model") {
      GoldenModel m;
      words >> m.name >> m.spec.in_channels >> m.spec.image_size >> m.spec.num_classes >> m.parameters;
      models.push_back(m);
    } else {
      REQUIRE(!models.empty());
      GoldenEntry e{first, "", {}};
      std::string shape;
      words >> e.dtype >> shape;
      e.shape = parse_shape(shape);
      models.back().entries.push_back(e);
    }
  }
  return models;
}

std::string spec_str(const GoldenModel& g) {
  return g.name + " (" + std::to_string(g.spec.in_channels) + "x" + std::to_string(g.spec.image_size) + ", " +
         std::to_string(g.spec.num_classes) + " classes)";
}

}  // namespace

TEST_CASE("every zoo model's state_dict matches PyTorch: keys, order, shapes, dtypes, parameter counts") {
  const auto golden = read_golden();
  REQUIRE(golden.size() >= model_names().size());
  std::set<std::string> covered;
  for (const auto& g : golden) {
    INFO(spec_str(g));
    Generator gen(1);
    auto model = make_model(g.name, g.spec, gen);
    const StateDict dict = model->state_dict();
    REQUIRE(dict.size() == g.entries.size());
    std::vector<std::string> expected_regularized;
    for (std::size_t i = 0; i < dict.size(); ++i) {
      INFO("entry " << i << ": " << g.entries[i].key);
      CHECK(dict[i].first == g.entries[i].key);
      CHECK(dict[i].second.shape() == g.entries[i].shape);
      CHECK(std::string(dtype_name(dict[i].second.dtype())) == g.entries[i].dtype);
      // Conv2d and Linear weights are the only 2-D or 4-D "weight" entries in these models.
      const auto& e = g.entries[i];
      if (e.key.size() >= 6 && e.key.substr(e.key.size() - 6) == "weight" && (e.shape.size() == 2 || e.shape.size() == 4))
        expected_regularized.push_back(e.key);
    }
    CHECK(model->parameter_count() == g.parameters);
    CHECK(model->regularized_weight_names() == expected_regularized);
    covered.insert(g.name.substr(0, g.name.find(':')));
  }
  for (const auto& name : model_names()) CHECK_MESSAGE(covered.count(name), name << " has no golden entry");
}

TEST_CASE("known parameter counts: resnet20 269,722 and resnet56 853,018") {
  CHECK(make_model("resnet20", {})->parameter_count() == 269722);
  CHECK(make_model("resnet56", {})->parameter_count() == 853018);
}

TEST_CASE("forward gives [2, classes] for every model (in_channels 3, and 1 for each family)") {
  for (const auto& name : model_names()) {
    // in_channels 1: every family once (the rest share the same stem code).
    const bool family_head = name == "mlp" || name == "lenet5" || name == "resnet20" || name == "resnet18" ||
                             name == "vgg11";
    for (std::int64_t channels : {3, 1}) {
      if (channels == 1 && !family_head) continue;
      const bool small = name == "mlp" || name == "lenet5";
      const ModelSpec spec{.in_channels = channels, .image_size = small && channels == 1 ? 28 : 32, .num_classes = 7};
      INFO(name << " with " << channels << " channels");
      Generator gen(2);
      auto model = make_model(name, spec, gen);
      model->eval();
      NoGradGuard no_grad;
      const Tensor y = (*model)(nnt::random({2, channels, spec.image_size, spec.image_size}, 3));
      CHECK(y.shape() == Shape{2, 7});
      CHECK(std::isfinite(ops::sum(ops::abs(y)).item()));
    }
  }
}

TEST_CASE("train vs eval: batch statistics and running-stat updates only in training") {
  Generator gen(3);
  auto model = make_model("resnet20", {}, gen);
  const Tensor x = nnt::random({4, 3, 32, 32}, 4);
  Tensor bn_mean, bn_count;
  for (auto& [k, t] : model->state_dict()) {
    if (k == "bn1.running_mean") bn_mean = t;
    if (k == "bn1.num_batches_tracked") bn_count = t;
  }
  REQUIRE(bn_mean.defined());
  // Eval: a sample's output does not depend on the rest of the batch, and nothing changes.
  model->eval();
  const Tensor all = (*model)(x);
  const Tensor first = (*model)(ops::narrow(x, 0, 0, 1));
  CHECK(max_diff(ops::narrow(all, 0, 0, 1), first) < 1e-4);
  CHECK(max_diff(bn_mean, zeros({16})) == 0.0);
  CHECK(bn_count.item() == 0);
  // Train: batch statistics couple the samples, running stats move, batches are counted.
  model->train();
  const Tensor all_train = (*model)(x);
  const Tensor pair_train = (*model)(ops::narrow(x, 0, 0, 2));
  CHECK(max_diff(ops::narrow(all_train, 0, 0, 1), ops::narrow(pair_train, 0, 0, 1)) > 1e-4);
  CHECK(max_diff(bn_mean, zeros({16})) > 0.0);
  CHECK(bn_count.item() == 2);
  CHECK(max_diff(all, all_train) > 1e-4);
}

TEST_CASE("gradient through resnet20 (option-A shortcuts) and lenet5 with respect to the input, float64") {
  for (const std::string name : {"resnet20", "lenet5"}) {
    Generator gen(6);
    const ModelSpec spec{.in_channels = 1, .image_size = name == "lenet5" ? 16 : 4, .num_classes = 3};
    auto model = make_model(name, spec, gen);
    model->to(DType::float64);
    const Tensor x = nnt::random({2, 1, spec.image_size, spec.image_size}, 8, DType::float64);
    const auto r = autograd::gradcheck([&](const std::vector<Tensor>& in) { return (*model)(in[0]); }, {x});
    INFO(name << ": " << r.message);
    CHECK(r.ok);
  }
}

TEST_CASE("the same seed builds the same model, init follows each reference") {
  Generator a(9), b(9);
  auto m1 = make_model("resnet20", {}, a);
  auto m2 = make_model("resnet20", {}, b);
  for (std::size_t i = 0; i < m1->state_dict().size(); ++i)
    CHECK(max_diff(m1->state_dict()[i].second, m2->state_dict()[i].second) == 0.0);
  // akamaster: kaiming_normal_ (fan_in, gain sqrt 2) on conv weights: std sqrt(2 / (16*9)).
  for (auto& [k, t] : m1->state_dict())
    if (k == "layer3.2.conv2.weight") {
      const auto v = nnt::host(t);
      double sq = 0;
      for (double x : v) sq += x * x;
      CHECK(std::sqrt(sq / v.size()) == doctest::Approx(std::sqrt(2.0 / (64 * 9))).epsilon(0.05));
    }
  // kuangliu resnet18 keeps PyTorch's default: |w| <= 1/sqrt(fan_in).
  auto r18 = make_model("resnet18", {}, a);
  for (auto& [k, t] : r18->state_dict())
    if (k == "layer4.1.conv2.weight") {
      const auto v = nnt::host(t);
      const double bound = 1.0 / std::sqrt(512.0 * 9);
      double largest = 0;
      for (double x : v) largest = std::max(largest, std::abs(x));
      CHECK(largest <= bound);
      CHECK(largest > 0.99 * bound);
    }
}

TEST_CASE("make_model rejects unknown names and specs it cannot take, with clear messages") {
  try {
    make_model("resnet21", {});
    FAIL("no error");
  } catch (const ValueError& e) {
    const std::string message = e.what();
    CHECK(message.find("resnet21") != std::string::npos);
    for (const auto& name : model_names()) CHECK(message.find(name) != std::string::npos);
  }
  CHECK_THROWS_AS(make_model("vgg11", {.image_size = 28}), ValueError);
  CHECK_THROWS_AS(make_model("resnet18", {.image_size = 64}), ValueError);
  CHECK_THROWS_AS(make_model("lenet5", {.image_size = 8}), ValueError);
  CHECK_THROWS_AS(make_model("mlp", {.num_classes = 0}), ValueError);
  for (const char* bad : {"mlp:", "mlp:a", "mlp:10,", "mlp:0", "mlp:5,-3"}) CHECK_THROWS_AS(make_model(bad, {}), ValueError);
  auto mlp = make_model("mlp:32,16,8", {.in_channels = 1, .image_size = 5, .num_classes = 2});
  CHECK(mlp->parameter_count() == 25 * 32 + 32 + 32 * 16 + 16 + 16 * 8 + 8 + 8 * 2 + 2);
  CHECK(mlp->regularized_weight_names() == std::vector<std::string>{"1.weight", "3.weight", "5.weight", "7.weight"});
}

namespace {

// The fill of make_model_keys.py's fill_deterministic, entry k element i, s = sin(0.37 k + 1.7 i).
void fill_deterministic(Module& model) {
  const StateDict dict = model.state_dict();
  for (std::size_t k = 0; k < dict.size(); ++k) {
    const auto& [key, t] = dict[k];
    std::vector<double> v(static_cast<std::size_t>(t.numel()));
    auto ends = [&](const std::string& suffix) {
      return key.size() >= suffix.size() && key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    for (std::size_t i = 0; i < v.size(); ++i) {
      const double s = std::sin(0.37 * static_cast<double>(k) + 1.7 * static_cast<double>(i));
      if (ends("num_batches_tracked")) v[i] = 0;
      else if (ends("running_var")) v[i] = 1 + 0.5 * std::abs(s);
      else if (t.dim() >= 2) v[i] = s * std::sqrt(6.0 / (static_cast<double>(t.numel()) / t.size(0)));
      else if (ends("weight")) v[i] = 1 + 0.1 * s;
      else v[i] = 0.1 * s;
    }
    NoGradGuard no_grad;
    ops::copy_(t, from_vector(v, t.shape()));
  }
}

}  // namespace

TEST_CASE("forward outputs equal PyTorch's on deterministically filled models, eval and train (float64)") {
  std::ifstream in(std::string(PX_TEST_DATA_DIR) + "/golden/model_outputs.txt");
  REQUIRE(in.good());
  std::string line;
  int cases = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::stringstream words(line);
    std::string name, mode;
    ModelSpec spec;
    words >> name >> spec.in_channels >> spec.image_size >> spec.num_classes >> mode;
    std::vector<double> expected;
    for (double v; words >> v;) expected.push_back(v);
    INFO(name << " " << mode);
    auto model = make_model(name, spec);
    model->to(DType::float64);
    fill_deterministic(*model);
    model->train(mode == "train");
    const std::int64_t n = 2 * spec.in_channels * spec.image_size * spec.image_size;
    std::vector<double> xs(static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = std::sin(0.05 * static_cast<double>(i) + 1);
    NoGradGuard no_grad;
    const Tensor y = (*model)(from_vector(xs, {2, spec.in_channels, spec.image_size, spec.image_size}));
    const auto got = nnt::host(y);
    REQUIRE(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(expected[i]).epsilon(1e-7).scale(1));
    ++cases;
  }
  CHECK(cases == 10);
}

// ---- PathProx's models (ALGORITHMS.md §6.3) and their homogeneous units ----

TEST_CASE("mlp-factorized: L1 ReLU L2 | L3 ReLU L4 | L5 ReLU fc equals a plain reference, units (L1,L2),(L3,L4),(L5,fc)") {
  Generator gen(5);
  auto model = make_model("mlp-factorized:6", {.in_channels = 2, .image_size = 2, .num_classes = 3}, gen);
  model->to(DType::float64);
  const HomogeneousUnits u = require_homogeneous_units(*model, "mlp-factorized:6");
  REQUIRE(u.groups.size() == 3);
  CHECK(u.others.empty());
  const std::vector<std::pair<std::string, std::string>> pairs = {{"1.weight", "3.weight"}, {"4.weight", "6.weight"},
                                                                  {"7.weight", "9.weight"}};
  for (std::size_t g = 0; g < 3; ++g) {
    CHECK(u.groups[g].w.weight_name == pairs[g].first);
    CHECK(u.groups[g].v.weight_name == pairs[g].second);
    CHECK(u.groups[g].units() == 6);
  }
  CHECK(u.total_units() == 18);
  // Reference: y = W x + b per layer, ReLU after L1, L3, L5 only.
  std::vector<std::vector<double>> w, b;
  for (auto& [name, t] : model->named_parameters()) (t.dim() == 2 ? w : b).push_back(nnt::host(t));
  const Tensor x = nnt::random({2, 2, 2, 2}, 6, DType::float64);
  const auto xs = nnt::host(x);
  NoGradGuard no_grad;
  const auto y = nnt::host((*model)(x));
  for (std::int64_t n = 0; n < 2; ++n) {
    std::vector<double> h(xs.begin() + n * 8, xs.begin() + (n + 1) * 8);
    for (std::size_t l = 0; l < 6; ++l) {
      const std::size_t out = b[l].size(), in = h.size();
      std::vector<double> next(out);
      for (std::size_t o = 0; o < out; ++o) {
        next[o] = b[l][o];
        for (std::size_t i = 0; i < in; ++i) next[o] += w[l][o * in + i] * h[i];
        if (l % 2 == 0) next[o] = std::max(0.0, next[o]);
      }
      h = next;
    }
    for (std::size_t c = 0; c < 3; ++c) CHECK(y[n * 3 + c] == doctest::Approx(h[c]).epsilon(1e-12));
  }
  CHECK(make_model("mlp-factorized", {})->parameter_count() == 3072 * 400 + 400 + 4 * (400 * 400 + 400) + 4010);
  CHECK_THROWS_AS(make_model("mlp-factorized:4,5", {}), ValueError);
  CHECK_THROWS_AS(make_model("mlp-factorized:0", {}), ValueError);
}

TEST_CASE("vggNN-nobn: no BatchNorm, Kaiming-normal weights, zero biases, units = conv pairs inside blocks") {
  // (depth, groups, other convs): vgg11 blocks 1,1,2,2,2; vgg16 2,2,3,3,3; vgg13 / vgg19 all even.
  const std::vector<std::tuple<int, std::size_t, std::size_t>> expected = {{11, 3, 2}, {13, 5, 0}, {16, 5, 3}, {19, 8, 0}};
  for (const auto& [depth, groups, other_convs] : expected) {
    const std::string name = "vgg" + std::to_string(depth) + "-nobn";
    INFO(name);
    Generator gen(7);
    auto model = make_model(name, {}, gen);
    for (auto& [key, m] : model->named_modules()) CHECK(m->name().find("BatchNorm") == std::string::npos);
    const HomogeneousUnits u = require_homogeneous_units(*model, name);
    CHECK(u.groups.size() == groups);
    REQUIRE(u.others.size() == other_convs + 1);
    CHECK(u.others.back().layer.weight_name == "classifier.weight");
    CHECK(u.others.back().groups_before == static_cast<std::int64_t>(groups));
    for (const auto& g : u.groups) {
      CHECK(g.w.weight.dim() == 4);
      CHECK(g.v.weight.size(1) == g.w.weight.size(0));
      // the pair is consecutive: V's index is W's + 2 (conv, ReLU, conv)
      const auto index = [](const std::string& n) { return std::stoi(n.substr(9, n.find('.', 9) - 9)); };
      CHECK(index(g.v.weight_name) == index(g.w.weight_name) + 2);
    }
    for (auto& [key, t] : model->named_parameters()) {
      const auto v = nnt::host(t);
      if (t.dim() == 1) {
        for (double x : v) CHECK(x == 0.0);
      } else if (key == "features.0.weight" || key == "classifier.weight") {
        double sq = 0;
        for (double x : v) sq += x * x;
        const double fan_in = static_cast<double>(t.numel() / t.size(0));
        CHECK(std::sqrt(sq / v.size()) == doctest::Approx(std::sqrt(2.0 / fan_in)).epsilon(0.2));
      }
    }
  }
  CHECK_THROWS_AS(make_model("vgg11-nobn", {.image_size = 28}), ValueError);
}
