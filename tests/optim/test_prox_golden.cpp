// Golden test: 50-step trajectories of ProxGen-Adam (l1, l0, l1/2, l2/3) and ProxSGD (l1) on a tiny
// least-squares problem, against tests/optim/prox_golden.txt (written in float64 with NumPy from
// the formulas of ALGORITHMS.md by tests/golden/make_prox_golden.py): every value to 1e-10 and the
// number of exact zeros exactly.
#include <algorithm>
#include <cstdint>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "optim/optim_helpers.h"
#include "proxima/optim/prox/proxgen.h"
#if __has_include("proxima/optim/prox/proxsgd.h")
#include "proxima/optim/prox/proxsgd.h"
#define PX_TEST_HAVE_PROXSGD 1
#endif

using namespace px;
using namespace px::test;
namespace prox = px::optim::prox;

namespace {

struct ProxGolden {
  std::map<std::string, GoldenTensor> tensors;
  std::vector<GoldenConfig> configs;
  std::map<std::string, std::int64_t> zeros;  // "<config>/step<k>" -> exact zeros in w
};

// Reads tests/optim/prox_golden.txt (format in tests/golden/make_prox_golden.py).
const ProxGolden& golden() {
  static const ProxGolden g = [] {
    const std::string path = std::string(PX_TEST_DATA_DIR) + "/optim/prox_golden.txt";
    std::ifstream in(path);
    REQUIRE_MESSAGE(in.good(), "cannot open ", path);
    ProxGolden out;
    for (std::string line; std::getline(in, line);) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream head(line);
      std::string kind, name;
      head >> kind >> name;
      if (kind == "config") {
        GoldenConfig c{.name = name};
        head >> c.optimizer;
        read_golden_settings(head, c);
        out.configs.push_back(c);
      } else if (kind == "zeros") {
        head >> out.zeros[name];
      } else {
        REQUIRE_MESSAGE(kind == "tensor", "unexpected line: ", line);
        out.tensors[name] = read_golden_tensor(head, in, name);
      }
    }
    return out;
  }();
  return g;
}

const GoldenConfig& config_named(const std::string& name) {
  for (const auto& c : golden().configs)
    if (c.name == name) return c;
  FAIL("no config ", name, " in prox_golden.txt");
  throw;  // unreachable
}

double setting(const GoldenConfig& c, const std::string& key) {
  REQUIRE_MESSAGE(c.settings.count(key), c.name, ": missing setting ", key);
  return std::stod(c.settings.at(key));
}

// The problem: pred = x w^T + b, loss = 1/(2N) sum ||pred - y||^2. Gradients by plain loops.
struct LeastSquares {
  std::vector<double> x, y;  // N x D, N x O
  std::int64_t n, d, o;
  Tensor w, b;               // O x D, O (fresh copies of init/)

  LeastSquares() {
    const auto& t = golden().tensors;
    x = t.at("data/x").values;
    y = t.at("data/y").values;
    n = t.at("data/x").shape[0];
    d = t.at("data/x").shape[1];
    o = t.at("data/y").shape[1];
    w = to_tensor(t.at("init/w")).clone();
    b = to_tensor(t.at("init/b")).clone();
  }

  void set_gradients() {
    const std::vector<double> wv = values(w), bv = values(b);
    std::vector<double> gw(static_cast<std::size_t>(o * d), 0.0), gb(static_cast<std::size_t>(o), 0.0);
    for (std::int64_t s = 0; s < n; ++s)
      for (std::int64_t j = 0; j < o; ++j) {
        double r = bv[j] - y[s * o + j];
        for (std::int64_t k = 0; k < d; ++k) r += x[s * d + k] * wv[j * d + k];
        r /= static_cast<double>(n);
        gb[j] += r;
        for (std::int64_t k = 0; k < d; ++k) gw[j * d + k] += r * x[s * d + k];
      }
    w.set_grad(from_vector(gw, {o, d}));
    b.set_grad(from_vector(gb, {o}));
  }

  // w regularised by the config's regulariser and lambda (times lambda_factor), b never.
  std::vector<optim::ParamGroup> groups(const GoldenConfig& c, double lambda_factor) const {
    return {optim::ParamGroup{.params = {w}, .names = {"w"},
                              .options = {{"regularizer", c.settings.at("regularizer")},
                                          {"lambda", setting(c, "lambda") * lambda_factor}}},
            optim::ParamGroup{.params = {b}, .names = {"b"}}};
  }
};

std::unique_ptr<optim::Optimizer> make(const GoldenConfig& c, const LeastSquares& problem, double lambda_factor) {
  if (c.optimizer == "proxgen") {
    prox::ProxGenOptions o;
    o.lr = setting(c, "lr");
    o.preconditioner = "adam";
    o.momentum = setting(c, "beta1");
    o.beta2 = setting(c, "beta2");
    o.delta = setting(c, "delta");
    return std::make_unique<prox::ProxGen>(problem.groups(c, lambda_factor), o);
  }
#ifdef PX_TEST_HAVE_PROXSGD
  if (c.optimizer == "proxsgd") {
    prox::ProxSGDOptions o;
    o.epsilon0 = setting(c, "epsilon0");
    o.epsilon_decay = setting(c, "epsilon_decay");
    o.rho0 = setting(c, "rho0");
    o.rho_decay = setting(c, "rho_decay");
    o.step_offset = setting(c, "step_offset");
    o.beta = setting(c, "beta");
    o.delta = setting(c, "delta");
    return std::make_unique<prox::ProxSGD>(problem.groups(c, lambda_factor), o);
  }
#endif
  FAIL("unknown optimizer ", c.optimizer);
  return nullptr;
}

std::int64_t exact_zeros(const Tensor& t) {
  std::int64_t count = 0;
  for (double v : values(t)) count += v == 0.0;
  return count;
}

// Runs the config for 50 steps; at every saved step calls check(prefix, problem).
void run(const GoldenConfig& c, double lambda_factor,
         const std::function<void(const std::string&, const LeastSquares&)>& check) {
  LeastSquares problem;
  auto opt = make(c, problem, lambda_factor);
  for (int step = 1; step <= 50; ++step) {
    problem.set_gradients();
    opt->step();
    const std::string prefix = c.name + "/step" + std::to_string(step);
    if (golden().zeros.count(prefix)) check(prefix, problem);
  }
}

// Compares every saved step of a config with the golden values; returns the steps checked.
int check_config(const std::string& name) {
  const GoldenConfig& c = config_named(name);
  INFO("config ", name);
  int checked = 0;
  run(c, 1.0, [&](const std::string& prefix, const LeastSquares& problem) {
    check_close(prefix + "/w", values(problem.w), golden().tensors.at(prefix + "/w").values, 1e-10, 1e-10);
    check_close(prefix + "/b", values(problem.b), golden().tensors.at(prefix + "/b").values, 1e-10, 1e-10);
    INFO(prefix, ": exact zeros in w");
    CHECK(exact_zeros(problem.w) == golden().zeros.at(prefix));
    ++checked;
  });
  return checked;
}

}  // namespace

TEST_CASE("prox golden: ProxGen-Adam l1 trajectory matches the NumPy reference") {
  CHECK(check_config("proxgen_l1") == 4);
}

TEST_CASE("prox golden: ProxGen-Adam l0 trajectory matches the NumPy reference") {
  CHECK(check_config("proxgen_l0") == 4);
}

TEST_CASE("prox golden: ProxGen-Adam l1/2 trajectory matches the NumPy reference") {
  CHECK(check_config("proxgen_l12") == 4);
}

TEST_CASE("prox golden: ProxGen-Adam l2/3 trajectory matches the NumPy reference") {
  CHECK(check_config("proxgen_l23") == 4);
}

#ifdef PX_TEST_HAVE_PROXSGD
TEST_CASE("prox golden: ProxSGD l1 trajectory matches the NumPy reference") {
  CHECK(check_config("proxsgd_l1") == 4);
}
#endif

TEST_CASE("prox golden: the file has sparse but not empty solutions, and lambda is visible in it") {
  // Guards the golden file itself: every ProxGen config ends with between 25% and 90% exact zeros
  // in w, and a 25% larger lambda changes the trajectory by far more than the 1e-10 tolerance
  // (l0's prox depends on lambda only through which coordinates cross sqrt(2t), so a small change
  // of lambda may leave its trajectory untouched).
  for (const auto& c : golden().configs) {
    INFO("config ", c.name);
    const std::int64_t zeros = golden().zeros.at(c.name + "/step50");
    if (c.optimizer == "proxgen") {
      CHECK(zeros >= 8);
      CHECK(zeros <= 29);
      double moved = 0;
      run(c, 1.25, [&](const std::string& prefix, const LeastSquares& problem) {
        const auto got = values(problem.w);
        const auto& want = golden().tensors.at(prefix + "/w").values;
        for (std::size_t i = 0; i < got.size(); ++i) moved = std::max(moved, std::abs(got[i] - want[i]));
      });
      CHECK(moved > 1e-6);
    }
  }
  std::set<std::string> kinds;
  for (const auto& c : golden().configs) kinds.insert(c.optimizer + "/" + c.settings.at("regularizer"));
  CHECK(kinds == std::set<std::string>{"proxgen/l1", "proxgen/l0", "proxgen/l12", "proxgen/l23", "proxsgd/l1"});
}
