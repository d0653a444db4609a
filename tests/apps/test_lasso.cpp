// apps/lasso: the problem generator, FISTA's optimum (KKT), ProxGen's support recovery and exact
// zeros from both initialisations, the JSON records, the plots, flag and path errors (exit code 2)
// and divergence (exit code 3).
#include "temp_dir.h"
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "common/lasso_cli.h"
#include "common/lasso_problem.h"
#include "common/lasso_report.h"
#include "common/lasso_solvers.h"
#include "common/text_file.h"
#include "proxima/core/backend.h"
#include "proxima/core/factory.h"

using namespace px;
using namespace px::apps;

namespace {

// Plain loops: X^T (X b - y) / n.
std::vector<double> reference_gradient(const LassoProblem& pr, const std::vector<double>& b) {
  const auto X = pr.X.to_vector<double>();
  const auto y = pr.y.to_vector<double>();
  const std::int64_t n = pr.spec.n, p = pr.spec.p;
  std::vector<double> r(n), g(p, 0.0);
  for (std::int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (std::int64_t j = 0; j < p; ++j) s += X[i * p + j] * b[j];
    r[i] = s - y[i];
  }
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < p; ++j) g[j] += X[i * p + j] * r[i] / static_cast<double>(n);
  return g;
}

int run_main(std::vector<std::string> args, std::string& out, std::string& err) {
  args.insert(args.begin(), "lasso");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  std::ostringstream o, e;
  const int code = lasso_main(static_cast<int>(argv.size()), argv.data(), o, e);
  out = o.str();
  err = e.str();
  return code;
}

// One CPU thread while a case runs (these problems are tiny; OpenMP threads only add waiting).
struct OneThread {
  int saved = get_num_threads();
  OneThread() { set_num_threads(1); }
  ~OneThread() { set_num_threads(saved); }
};

LassoSpec easy_spec(std::uint64_t seed) {
  return {.n = 100, .p = 60, .k = 4, .noise = 0.05, .lambda = 0.05, .seed = seed};
}

}  // namespace

TEST_CASE("lasso problem: k-sparse truth, y = X beta* + noise, gradient and objective against loops") {
  for (const LassoSpec spec : {LassoSpec{.n = 30, .p = 50, .k = 5, .noise = 0.1, .lambda = 0.1, .seed = 3},
                               LassoSpec{.n = 80, .p = 20, .k = 1, .noise = 0, .lambda = 0.01, .seed = 9}}) {
    const LassoProblem pr = make_lasso_problem(spec);
    CHECK(pr.X.shape() == Shape{spec.n, spec.p});
    const auto truth = pr.beta_true.to_vector<double>();
    CHECK(static_cast<std::int64_t>(pr.support.size()) == spec.k);
    std::int64_t nonzero = 0;
    for (std::size_t i = 0; i < truth.size(); ++i) {
      if (truth[i] != 0) {
        ++nonzero;
        CHECK(std::fabs(truth[i]) >= 0.5);
        CHECK(std::fabs(truth[i]) <= 1.5);
      }
    }
    CHECK(nonzero == spec.k);
    for (std::int64_t i : pr.support) CHECK(truth[i] != 0);
    // A random beta: gradient and objective against loops.
    std::mt19937_64 rng(spec.seed);
    std::normal_distribution<double> normal;
    std::vector<double> b(spec.p);
    for (double& v : b) v = normal(rng);
    const Tensor beta = from_vector(b, {spec.p});
    const auto g = lasso_gradient(pr, beta).to_vector<double>();
    const auto g_ref = reference_gradient(pr, b);
    for (std::int64_t j = 0; j < spec.p; ++j) CHECK(g[j] == doctest::Approx(g_ref[j]).epsilon(1e-10));
    const auto X = pr.X.to_vector<double>();
    const auto y = pr.y.to_vector<double>();
    double loss = 0, l1 = 0;
    for (std::int64_t i = 0; i < spec.n; ++i) {
      double s = -y[i];
      for (std::int64_t j = 0; j < spec.p; ++j) s += X[i * spec.p + j] * b[j];
      loss += s * s / (2.0 * spec.n);
    }
    for (double v : b) l1 += std::fabs(v);
    CHECK(lasso_objective(pr, beta) == doctest::Approx(loss + spec.lambda * l1).epsilon(1e-12));
    // The noise: with noise 0, y = X beta* exactly.
    if (spec.noise == 0) CHECK(lasso_loss(pr, pr.beta_true) < 1e-28);
    // The power iteration: X^T X v / n = L v for its vector, L >= the Rayleigh quotient of any vector.
    double rayleigh = 0, norm2 = 0;
    for (std::int64_t i = 0; i < spec.n; ++i) {
      double s = 0;
      for (std::int64_t j = 0; j < spec.p; ++j) s += X[i * spec.p + j] * b[j];
      rayleigh += s * s / spec.n;
    }
    for (double v : b) norm2 += v * v;
    CHECK(pr.lipschitz >= rayleigh / norm2);
  }
  CHECK_THROWS_AS(make_lasso_problem({.k = 0}), ValueError);
  CHECK_THROWS_AS(make_lasso_problem({.p = 5, .k = 6}), ValueError);
}

TEST_CASE("lasso FISTA: reaches the optimum (KKT conditions checked with loops)") {
  OneThread one;
  for (std::uint64_t seed : {1u, 2u}) {
    const LassoProblem pr = make_lasso_problem({.n = 40, .p = 80, .k = 5, .noise = 0.1, .lambda = 0.05, .seed = seed});
    const FistaReference ref = fista_reference(pr, 1e-10);
    const auto b = ref.beta.to_vector<double>();
    const auto g = reference_gradient(pr, b);
    std::int64_t nonzero = 0;
    for (std::size_t j = 0; j < b.size(); ++j) {
      if (b[j] == 0) {
        CHECK(std::fabs(g[j]) <= pr.spec.lambda + 1e-8);
      } else {
        ++nonzero;
        CHECK(g[j] == doctest::Approx(-pr.spec.lambda * (b[j] > 0 ? 1 : -1)).epsilon(1e-6));
      }
    }
    CHECK(nonzero > 0);
    CHECK(nonzero < pr.spec.p);
    // Plain FISTA for a long budget gets to the same objective (from above).
    LassoSolverSettings s{.iters = 3000, .log_every = 100};
    const LassoRun run = run_lasso_method(pr, "fista", "zero", s);
    CHECK(lasso_objective(pr, run.beta) >= ref.objective - 1e-12);
    CHECK(lasso_objective(pr, run.beta) - ref.objective < 1e-6);
    CHECK(run.curve_iters.front() == 0);
    CHECK(run.curve_iters.back() == 3000);
  }
}

TEST_CASE("lasso ProxGen: recovers the support with exact zeros from zero and random init") {
  OneThread one;
  for (std::uint64_t seed : {4u, 5u}) {
    const LassoProblem pr = make_lasso_problem(easy_spec(seed));
    const FistaReference ref = fista_reference(pr);
    for (const char* init : {"zero", "random"}) {
      INFO("seed ", seed, " init ", init);
      LassoSolverSettings s{.iters = 2000, .batch = 20, .log_every = 100, .lr = 0.02, .seed = seed};
      const LassoRun run = run_lasso_method(pr, "proxgen", init, s);
      const SupportStats st = support_stats(pr.support, run.beta);
      CHECK(st.recall == 1.0);
      CHECK(st.precision == 1.0);
      CHECK(st.exact_zeros == pr.spec.p - pr.spec.k);
      CHECK(lasso_objective(pr, run.beta) - ref.objective < 1e-3);
    }
  }
}

TEST_CASE("lasso subgradient Adam and ProxSGD from random init: no exact zeros (pitfall 8)") {
  OneThread one;
  const LassoProblem pr = make_lasso_problem(easy_spec(6));
  LassoSolverSettings s{.iters = 500, .batch = 20, .log_every = 100, .lr = 0.02};
  for (const char* method : {"subgrad-adam", "proxsgd"}) {
    INFO(method);
    const LassoRun run = run_lasso_method(pr, method, "random", s);
    CHECK(support_stats(pr.support, run.beta).exact_zeros == 0);
    CHECK(run.curve_objective.back() < run.curve_objective.front());
  }
}

TEST_CASE("lasso JSON: one record per method and init with the required fields, plots written") {
  OneThread one;
  test_support::TempDir dir("px_lasso");
  std::string out, err;
  const int code = run_main({"--n", "50", "--p", "40", "--k", "3", "--iters", "200", "--log-every", "50", "--batch",
                             "10", "--methods", "fista,proxgen,proxsgd", "--out", dir.str(), "--quiet"},
                            out, err);
  INFO(out, err);
  REQUIRE(code == 0);
  const auto j = nlohmann::json::parse(read_text_file(dir.file("lasso.json")));
  REQUIRE(j.at("runs").size() == 5);  // fista (zero), proxgen x 2, proxsgd x 2
  for (const auto& r : j.at("runs")) {
    CHECK(r.at("status") == "ok");
    for (const char* key : {"method", "init", "objective", "support_precision", "support_recall", "exact_zeros",
                            "iterations", "seconds", "objective_curve"}) {
      CHECK_MESSAGE(r.contains(key), key);
    }
    CHECK(r.at("objective_curve").at("iterations").size() == 5);  // 0, 50, ..., 200
    CHECK(r.at("objective_curve").at("exact_zeros").size() == 5);
    CHECK(r.at("objective_curve").at("exact_zeros").back() == r.at("exact_zeros"));
    CHECK(r.at("objective").get<double>() >= j.at("reference").at("objective").get<double>() - 1e-12);
  }
  CHECK(j.at("runs")[1].at("method") == "proxgen");
  CHECK(j.at("runs")[1].at("init") == "zero");
  CHECK(j.at("runs")[2].at("init") == "random");
  CHECK(j.at("problem").at("support").size() == 3);
  for (const char* svg : {"objective.svg", "paths_proxgen_zero.svg", "paths_proxsgd_random.svg", "paths_fista_zero.svg"}) {
    const std::string text = read_text_file(dir.file(svg));
    CHECK(text.find("<svg") != std::string::npos);
    CHECK(text.find("</svg>") != std::string::npos);
  }
  CHECK(out.find("support") != std::string::npos);
}

TEST_CASE("lasso flags: bad values give exit code 2 and a message naming the flag") {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"--k", "0"}, "--k"},
      {{"--p", "10", "--k", "11"}, "--k"},
      {{"--lambda", "-1"}, "--lambda"},
      {{"--batch", "1000"}, "--batch"},
      {{"--eps0", "2"}, "--eps0"},
      {{"--methods", "proxgen,adamw"}, "adamw"},
      {{"--inits", "ones"}, "ones"},
      {{"--iters", "abc"}, "--iters"},
      {{"--no-such-flag"}, "no-such-flag"},
      {{"--schedule", "cosine"}, "--schedule"}};
  for (const auto& [args, needle] : cases) {
    std::string out, err;
    INFO(args[0]);
    CHECK(run_main(args, out, err) == 2);
    CHECK(err.find("lasso: error:") == 0);
    CHECK(err.find(needle) != std::string::npos);
  }
  std::string out, err;
  CHECK(run_main({"--help"}, out, err) == 0);
  CHECK(out.find("--lambda") != std::string::npos);
}

TEST_CASE("lasso divergence: names the method, init and iteration, exits 3, and lasso.json holds no null") {
  OneThread one;
  test_support::TempDir dir("px_lasso");
  std::string out, err;
  const int code = run_main({"--n", "50", "--p", "40", "--k", "3", "--iters", "200", "--log-every", "50", "--batch",
                             "10", "--lr", "1e300", "--methods", "fista,subgrad-adam", "--out", dir.str(), "--quiet"},
                            out, err);
  INFO(out, err);
  CHECK(code == 3);
  CHECK(err.find("lasso: error: subgrad-adam (zero init) diverged: F(beta) is nan at iteration ") == 0);
  CHECK(err.find("subgrad-adam (random init) diverged") != std::string::npos);
  CHECK(err.find("try a smaller --lr") != std::string::npos);
  CHECK(out.find("diverged") != std::string::npos);  // the table says so too
  const std::string text = read_text_file(dir.file("lasso.json"));
  CHECK(text.find("null") == std::string::npos);
  const auto j = nlohmann::json::parse(text);
  REQUIRE(j.at("runs").size() == 3);
  CHECK(j.at("runs")[0].at("status") == "ok");  // fista's results are kept
  CHECK(j.at("runs")[0].at("objective").is_number());
  for (int i : {1, 2}) {
    const auto& r = j.at("runs")[i];
    CHECK(r.at("status") == "diverged");
    CHECK(r.at("diverged_at_iteration").get<std::int64_t>() >= 0);
    CHECK_FALSE(r.contains("objective"));
    for (const auto& f : r.at("objective_curve").at("objective")) CHECK(std::isfinite(f.get<double>()));
  }
  CHECK(read_text_file(dir.file("objective.svg")).find("</svg>") != std::string::npos);
}

TEST_CASE("lasso data: a --noise or --init-scale that makes F non-finite is refused before the study") {
  test_support::TempDir dir("px_lasso");
  for (const auto& [flag, value] : {std::pair{"--noise", "1e300"}, {"--init-scale", "1e300"}, {"--noise", "1e308"}}) {
    INFO(flag, " ", value);
    std::string out, err;
    CHECK(run_main({"--n", "50", "--p", "40", "--k", "3", "--iters", "20", flag, value, "--json", dir.file("r.json")},
                   out, err) == 2);
    CHECK(err.find(std::string("lasso: error: ") + flag + " 1e+30") == 0);
    CHECK(err.find("finite") != std::string::npos);
    CHECK(out.empty());
    CHECK_FALSE(std::filesystem::exists(dir.file("r.json")));
  }
}

TEST_CASE("lasso flags: integers that overflow or wrap and values past the documented bounds are refused") {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"--iters", "99999999999999999999"}, "--iters"},  // CLI11 alone clamps it to INT64_MAX (a hang)
      {{"--iters", "1000000001"}, "--iters"},            // over 1e9
      {{"--iters", "1000000000"}, "--log-every"},        // 5e7 records at --log-every 20
      {{"--seed", "-1"}, "--seed"},                      // CLI11 alone wraps it to 2^64 - 1
      {{"--n", "99999999999999999999"}, "--n"},
      {{"--n", "100000", "--p", "100000"}, "--n x --p"},
      {{"--off-support", "-99999999999999999999"}, "--off-support"},
      {{"--threads", "99999999999"}, "--threads"},
      {{"--threads", "5000"}, "--threads"}};
  for (const auto& [args, needle] : cases) {
    INFO(args[0], " ", args[1]);
    std::vector<const char*> argv{"lasso"};
    for (const std::string& a : args) argv.push_back(a.c_str());
    LassoConfig config;
    std::string message;
    CHECK(parse_lasso_args(static_cast<int>(argv.size()), argv.data(), config, message) == 2);
    CHECK(message.find(needle) != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
  }
  LassoConfig config;
  std::string message;
  const char* largest[] = {"lasso", "--iters", "1000000000", "--log-every", "10000", "--seed", "18446744073709551615"};
  CHECK(parse_lasso_args(7, largest, config, message) == -1);
  CHECK(config.problem.seed == 18446744073709551615ull);
}

TEST_CASE("lasso --out and --json: an unusable path is refused before the study, naming it") {
  test_support::TempDir dir("px_lasso");
  write_text_file_atomic(dir.file("f"), "a file\n");
  const std::string bad = (dir / "f" / "sub").string();
  for (const std::vector<std::string>& flags : {std::vector<std::string>{"--out", bad},
                                                {"--json", (dir / "f" / "sub" / "r.json").string()},
                                                {"--json", dir.str()}}) {
    INFO(flags[0], " ", flags[1]);
    std::string out, err;
    CHECK(run_main({"--n", "50", "--p", "40", "--k", "3", "--iters", "20", flags[0], flags[1]}, out, err) == 2);
    CHECK(err.find("lasso: error: " + flags[0] + " " + flags[1] + ": ") == 0);
    CHECK(std::count(err.begin(), err.end(), '\n') == 1);
    CHECK(out.empty());  // nothing ran
  }
  CHECK(read_text_file(dir.file("f")) == "a file\n");
}

TEST_CASE("lasso --seed: also draws the random initialisation") {
  OneThread one;
  test_support::TempDir dir("px_lasso");
  std::string out, err;
  REQUIRE(run_main({"--n", "30", "--p", "20", "--k", "2", "--iters", "1", "--seed", "7", "--methods", "proxgen",
                    "--inits", "random", "--json", dir.file("r.json")},
                   out, err) == 0);
  const auto j = nlohmann::json::parse(read_text_file(dir.file("r.json")));
  const LassoProblem pr = make_lasso_problem({.n = 30, .p = 20, .k = 2, .seed = 7});
  const double start = j.at("runs")[0].at("objective_curve").at("objective")[0].get<double>();
  CHECK(start == doctest::Approx(lasso_objective(pr, lasso_initial_beta(20, "random", 7))).epsilon(1e-12));
}
