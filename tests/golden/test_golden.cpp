// Golden test: a small CNN step (conv -> batch_norm -> relu -> max_pool -> linear -> cross_entropy)
// against values PyTorch wrote to golden_graph.txt (see make_golden.py, which produced it).
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "proxima/autograd/autograd.h"
#include "proxima/autograd/functions.h"
#include "proxima/core/factory.h"
#include "proxima/core/ops.h"

using namespace px;

namespace {

struct Golden {
  Shape shape;
  std::vector<double> values;
};

// Reads "<name> <ndim> <dims...>" + a line of values per tensor; '#' lines are comments.
std::map<std::string, Golden> load_golden(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open ", path);
  std::map<std::string, Golden> tensors;
  std::string header, line;
  while (std::getline(in, header)) {
    if (header.empty() || header[0] == '#') continue;
    std::istringstream head(header);
    std::string name;
    std::int64_t ndim = 0;
    head >> name >> ndim;
    Golden g;
    g.shape.resize(static_cast<std::size_t>(ndim));
    for (auto& s : g.shape) head >> s;
    REQUIRE(std::getline(in, line));
    std::istringstream body(line);
    for (double v; body >> v;) g.values.push_back(v);
    REQUIRE_MESSAGE(static_cast<std::int64_t>(g.values.size()) == shape_numel(g.shape), name,
                    ": wrong value count");
    tensors[name] = std::move(g);
  }
  return tensors;
}

Tensor float_tensor(const Golden& g) {
  std::vector<float> v(g.values.begin(), g.values.end());
  return from_vector(v, g.shape);
}

void check_matches(const char* name, const Tensor& got, const Golden& want, double atol, double rtol) {
  INFO(std::string(name));
  REQUIRE(got.defined());
  REQUIRE(got.shape() == want.shape);
  const std::vector<double> v = ops::to_dtype(got, DType::float64).to_vector<double>();
  double worst = 0;
  std::size_t worst_at = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const double excess = std::abs(v[i] - want.values[i]) - (atol + rtol * std::abs(want.values[i]));
    if (i == 0 || excess > worst) {
      worst = excess;
      worst_at = i;
    }
  }
  INFO("worst element ", worst_at, ": got ", v[worst_at], ", PyTorch ", want.values[worst_at]);
  CHECK(worst <= 0.0);
}

}  // namespace

TEST_CASE("a conv-bn-relu-pool-linear-cross_entropy step matches PyTorch") {
  auto golden = load_golden(std::string(PX_TEST_DATA_DIR) + "/golden/golden_graph.txt");
  const char* params[] = {"x", "conv_w", "conv_b", "bn_w", "bn_b", "lin_w", "lin_b"};
  std::map<std::string, Tensor> t;
  for (const char* name : params) t[name] = float_tensor(golden.at(name)).set_requires_grad(true);
  Tensor running_mean = float_tensor(golden.at("bn_running_mean"));
  Tensor running_var = float_tensor(golden.at("bn_running_var"));
  const auto& target_values = golden.at("target").values;
  Tensor target = from_vector(std::vector<std::int64_t>(target_values.begin(), target_values.end()), {4});

  Tensor h = conv2d(t["x"], t["conv_w"], t["conv_b"], {.pad_h = 1, .pad_w = 1});  // [4, 6, 8, 8]
  h = batch_norm(h, t["bn_w"], t["bn_b"], running_mean, running_var, true, 0.1, 1e-5);
  h = max_pool2d(relu(h), {.kernel_h = 2, .kernel_w = 2, .stride_h = 2, .stride_w = 2});  // [4, 6, 4, 4]
  Tensor logits = linear(flatten(h, 1), t["lin_w"], t["lin_b"]);                          // [4, 5]
  Tensor loss = cross_entropy(logits, target, Reduction::mean, 0.1);
  backward(loss);

  check_matches("loss", loss, golden.at("loss"), 1e-5, 1e-5);
  for (const char* name : params) {
    const std::string grad_name = std::string("grad_") + name;
    check_matches(grad_name.c_str(), t[name].grad(), golden.at(grad_name), 5e-6, 1e-4);
  }
  check_matches("running_mean", running_mean, golden.at("bn_running_mean_updated"), 1e-6, 1e-5);
  check_matches("running_var", running_var, golden.at("bn_running_var_updated"), 1e-6, 1e-5);
}
