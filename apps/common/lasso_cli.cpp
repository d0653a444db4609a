// apps/lasso's flags, validation and the study run (see lasso_cli.h).
#include "common/lasso_cli.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <ostream>
#include <system_error>

#include "common/cli_parse.h"
#include "common/lasso_report.h"
#include "common/text_file.h"
#include "proxima/core/backend.h"
#include "proxima/core/error.h"
#include "proxima/core/factory.h"

namespace px::apps {
namespace {

constexpr std::int64_t kMaxIters = 1'000'000'000;   // --iters
constexpr std::int64_t kMaxRecords = 100'000;       // recorded points per run: --iters / --log-every
constexpr std::int64_t kMaxEntries = 100'000'000;   // --n x --p (X is held twice, as float64)

void add_flags(CLI::App& app, LassoConfig& c) {
  app.option_defaults()->always_capture_default();
  const auto int64 = integer_of<std::int64_t>();
  app.add_option("--n", c.problem.n, "samples (rows of X; --n x --p at most 1e8)")->check(int64);
  app.add_option("--p", c.problem.p, "features (columns of X)")->check(int64);
  app.add_option("--k", c.problem.k, "nonzeros of the true beta")->check(int64);
  app.add_option("--noise", c.problem.noise, "standard deviation of the noise on y");
  app.add_option("--lambda", c.problem.lambda, "weight of ||beta||_1 in F");
  app.add_option("--seed", c.problem.seed,
                 "seed of the problem, the minibatches and the random initialisation (0 to 2^64 - 1)")
      ->check(integer_of<std::uint64_t>());
  app.add_option("--iters", c.solver.iters, "steps of every method (at most 1e9)")->check(int64);
  app.add_option("--batch", c.solver.batch, "minibatch size of the stochastic methods (0 = full batch)")->check(int64);
  app.add_option("--log-every", c.solver.log_every,
                 "record the objective and the paths every this many steps (at most 1e5 records per run)")
      ->check(int64);
  app.add_option("--lr", c.solver.lr, "learning rate (alpha) of proxgen and subgrad-adam");
  app.add_option("--schedule", c.solver.schedule, "lr schedule of proxgen and subgrad-adam (step: x0.1 at 50%, x0.01 at 75%)")
      ->check(CLI::IsMember({"constant", "step"}));
  app.add_option("--eps0", c.solver.eps0, "ProxSGD: eps_t = eps0 / (t + 4)^eps-decay, the step length");
  app.add_option("--eps-decay", c.solver.eps_decay, "ProxSGD: the decay exponent of eps_t");
  app.add_option("--rho0", c.solver.rho0, "ProxSGD: rho_t = rho0 / (t + 4)^rho-decay, the momentum weight");
  app.add_option("--rho-decay", c.solver.rho_decay, "ProxSGD: the decay exponent of rho_t");
  app.add_option("--init-scale", c.solver.init_scale, "standard deviation of the random initialisation");
  app.add_option("--methods", c.methods, "methods, comma-separated: fista, proxgen, proxsgd, subgrad-adam")
      ->delimiter(',');
  app.add_option("--inits", c.inits, "initialisations of the stochastic methods, comma-separated: zero, random")
      ->delimiter(',');
  app.add_option("--off-support", c.off_support, "off-support coordinates drawn in the path plots")->check(int64);
  app.add_option("--out", c.out, "folder for the SVG plots and lasso.json");
  app.add_option("--json", c.json, "write the results as JSON to this file (default with --out: <out>/lasso.json)");
  app.add_flag("--quiet", c.quiet, "print only the final table");
  app.add_option("--threads", c.threads, "CPU threads (0 = all hardware threads; at most 1024)")
      ->check(integer_of<int>());
}

void check_flag(bool ok, const char* flag, const std::string& value, const std::string& expected) {
  PX_CHECK(ok, ValueError, flag, " ", value, ": expected ", expected);
}

std::string num(double v) {
  char text[64];
  std::snprintf(text, sizeof text, "%g", v);
  return text;
}

// The objective gap F - F* of every run at about 10 recorded iterations, one column per run.
std::string gap_table(const std::vector<LassoRun>& runs, double optimum) {
  if (runs.empty()) return "";
  std::string out = "objective gap F(beta) - F* by iteration\n";
  char cell[64];
  std::snprintf(cell, sizeof cell, "%8s", "iter");
  out += cell;
  for (const LassoRun& r : runs) {
    std::snprintf(cell, sizeof cell, " %17s", (r.method + "/" + r.init.substr(0, 4)).c_str());
    out += cell;
  }
  out += "\n";
  // A diverged run stopped early: the iterations are those of the longest curve.
  const LassoRun& longest = *std::max_element(runs.begin(), runs.end(), [](const LassoRun& a, const LassoRun& b) {
    return a.curve_iters.size() < b.curve_iters.size();
  });
  const std::size_t records = longest.curve_iters.size();
  const std::size_t stride = std::max<std::size_t>(1, (records - 1) / 10);
  for (std::size_t e = 0; e < records; e += stride) {
    const bool last = e + stride >= records;
    const std::size_t at = last ? records - 1 : e;
    std::snprintf(cell, sizeof cell, "%8.0f", longest.curve_iters[at]);
    out += cell;
    for (const LassoRun& r : runs) {
      if (at < r.curve_objective.size()) std::snprintf(cell, sizeof cell, " %17.3e", r.curve_objective[at] - optimum);
      else std::snprintf(cell, sizeof cell, " %17s", "diverged");
      out += cell;
    }
    out += "\n";
    if (last) break;
  }
  return out;
}

// Creates the folder `dir` now, so that an unusable --out or --json fails before the study runs.
void make_output_dir(const std::filesystem::path& dir, const char* flag, const std::string& value) {
  if (dir.empty()) return;
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (!error && !std::filesystem::is_directory(dir)) error = std::make_error_code(std::errc::not_a_directory);
  PX_CHECK(!error, ValueError, flag, " ", value, ": cannot create the folder ", dir.string(), " (",
           error.message(), ")");
}

// The problem data and the random start must give a finite F, or every run would "diverge" at once.
void check_finite_start(const LassoConfig& c, const LassoProblem& problem, const LassoSolverSettings& s) {
  const double at_zero = lasso_objective(problem, zeros({problem.spec.p}, {.dtype = DType::float64}));
  check_flag(std::isfinite(at_zero), "--noise", num(c.problem.noise),
             "a value small enough that y and F(0) = ||y||^2/(2n) are finite, got F(0) = " + num(at_zero));
  const bool random = std::find(c.inits.begin(), c.inits.end(), "random") != c.inits.end() &&
                      std::any_of(c.methods.begin(), c.methods.end(), [](const std::string& m) { return m != "fista"; });
  if (!random) return;
  const double at_start = lasso_objective(problem, lasso_initial_beta(problem.spec.p, "random", s.seed, s.init_scale));
  check_flag(std::isfinite(at_start), "--init-scale", num(s.init_scale),
             "a value small enough that F at the random initialisation is finite, got F = " + num(at_start));
}

// The flag to lower when `run` diverged ("" when none helps).
std::string divergence_hint(const LassoRun& run) {
  if (run.method == "proxgen" || run.method == "subgrad-adam") return "; try a smaller --lr";
  if (run.method == "proxsgd") return "; try a smaller --eps0";
  return "";
}

}  // namespace

int parse_lasso_args(int argc, const char* const* argv, LassoConfig& config, std::string& message) {
  CLI::App app{"lasso: sparse linear regression F(beta) = 1/(2n) ||X beta - y||^2 + lambda ||beta||_1 on a "
               "synthetic Gaussian design, solved by FISTA, ProxGen-Adam, ProxSGD and subgradient Adam from "
               "zero and random initialisations (ProxGen paper, section 5, study 1).",
               "lasso"};
  add_flags(app, config);
  return parse_cli(app, argc, argv, message, [&] { validate_lasso_config(config); });
}

void validate_lasso_config(const LassoConfig& c) {
  const LassoSpec& p = c.problem;
  const LassoSolverSettings& s = c.solver;
  check_flag(p.n >= 1, "--n", std::to_string(p.n), "at least 1");
  check_flag(p.p >= 1, "--p", std::to_string(p.p), "at least 1");
  check_flag(p.k >= 1 && p.k <= p.p, "--k", std::to_string(p.k), "in [1, --p]");
  check_flag(p.n <= kMaxEntries / p.p, "--n x --p", std::to_string(p.n) + " x " + std::to_string(p.p),
             "at most " + std::to_string(kMaxEntries) + " entries of X");
  check_flag(p.noise >= 0 && std::isfinite(p.noise), "--noise", num(p.noise), "a number >= 0");
  check_flag(p.lambda > 0 && std::isfinite(p.lambda), "--lambda", num(p.lambda), "a positive number");
  check_flag(s.iters >= 1 && s.iters <= kMaxIters, "--iters", std::to_string(s.iters),
             "in [1, " + std::to_string(kMaxIters) + "]");
  check_flag(s.batch >= 0 && s.batch <= p.n, "--batch", std::to_string(s.batch), "in [0, --n] (0 = full batch)");
  check_flag(s.log_every >= 1, "--log-every", std::to_string(s.log_every), "at least 1");
  check_flag(s.iters / s.log_every <= kMaxRecords, "--log-every", std::to_string(s.log_every),
             "at least --iters / " + std::to_string(kMaxRecords) + " (at most that many records per run)");
  check_flag(s.lr > 0 && std::isfinite(s.lr), "--lr", num(s.lr), "a positive number");
  check_flag(s.eps0 > 0 && s.eps0 <= 1, "--eps0", num(s.eps0), "in (0, 1]");
  check_flag(s.eps_decay >= 0 && std::isfinite(s.eps_decay), "--eps-decay", num(s.eps_decay), "a number >= 0");
  check_flag(s.rho0 > 0 && s.rho0 <= 1, "--rho0", num(s.rho0), "in (0, 1]");
  check_flag(s.rho_decay >= 0 && std::isfinite(s.rho_decay), "--rho-decay", num(s.rho_decay), "a number >= 0");
  check_flag(s.init_scale >= 0 && std::isfinite(s.init_scale), "--init-scale", num(s.init_scale), "a number >= 0");
  check_flag(c.off_support >= 0, "--off-support", std::to_string(c.off_support), "at least 0");
  check_flag(c.threads >= 0 && c.threads <= 1024, "--threads", std::to_string(c.threads), "in [0, 1024] (0 = all)");
  check_flag(!c.methods.empty(), "--methods", "(none)", "at least one method");
  check_flag(!c.inits.empty(), "--inits", "(none)", "at least one initialisation");
  for (const std::string& m : c.methods) {
    const auto& known = lasso_method_names();
    check_flag(std::find(known.begin(), known.end(), m) != known.end(), "--methods", m,
               "fista, proxgen, proxsgd or subgrad-adam");
  }
  for (const std::string& i : c.inits) check_flag(i == "zero" || i == "random", "--inits", i, "zero or random");
}

LassoStudy run_lasso_study(const LassoConfig& c, std::ostream& out) {
  if (c.threads > 0) set_num_threads(c.threads);
  std::string json_path = c.json;
  if (json_path.empty() && !c.out.empty()) json_path = (std::filesystem::path(c.out) / "lasso.json").string();
  make_output_dir(c.out, "--out", c.out);
  if (!c.json.empty()) {
    check_flag(!std::filesystem::is_directory(c.json), "--json", c.json, "a file name, not a folder");
    make_output_dir(std::filesystem::path(c.json).parent_path(), "--json", c.json);
  }
  LassoSolverSettings settings = c.solver;
  settings.seed = c.problem.seed;  // --seed also draws the minibatches and the random initialisation
  const LassoProblem problem = make_lasso_problem(c.problem);
  check_finite_start(c, problem, settings);
  const FistaReference reference = fista_reference(problem);
  const LassoSpec& spec = problem.spec;
  out << "lasso: F(beta) = 1/(2n) ||X beta - y||^2 + lambda ||beta||_1, n = " << spec.n << ", p = " << spec.p
      << ", k = " << spec.k << ", noise = " << num(spec.noise) << ", lambda = " << num(spec.lambda)
      << ", seed = " << spec.seed << "\n";
  out << "reference: FISTA (restarted) F* = " << num(reference.objective) << " after " << reference.iterations
      << " iterations, KKT violation " << num(reference.kkt) << ", " << support_stats(problem.support, reference.beta).estimated
      << " nonzeros; L = " << num(problem.lipschitz) << "\n";
  out << "stochastic methods: batch " << (c.solver.batch == 0 ? spec.n : c.solver.batch) << ", " << c.solver.iters
      << " steps, proxgen/subgrad-adam lr " << num(c.solver.lr) << " (" << c.solver.schedule
      << " schedule), proxsgd eps0 " << num(c.solver.eps0) << " eps_decay " << num(c.solver.eps_decay) << " rho0 "
      << num(c.solver.rho0) << " rho_decay " << num(c.solver.rho_decay) << ", random init N(0, "
      << num(c.solver.init_scale) << "^2)\n";

  settings.tracked = lasso_tracked_coordinates(problem, reference.beta, c.off_support);
  std::vector<LassoRun> runs;
  for (const std::string& method : c.methods) {
    // FISTA is deterministic and the reference; it is run from zero only.
    const std::vector<std::string> inits = method == "fista" ? std::vector<std::string>{"zero"} : c.inits;
    for (const std::string& init : inits) runs.push_back(run_lasso_method(problem, method, init, settings));
  }
  std::vector<LassoRecord> records;
  for (const LassoRun& run : runs) records.push_back(make_lasso_record(problem, reference, run));
  if (!c.quiet) out << "\n" << gap_table(runs, reference.objective);
  out << "\n" << format_lasso_table(problem, records);

  LassoStudy study;
  study.json = lasso_result_json(problem, settings, reference, records).dump(2) + "\n";
  for (const LassoRun& run : runs) {
    if (run.diverged) {
      study.diverged.push_back(run.method + " (" + run.init + " init) diverged: " + lasso_divergence(run) +
                               divergence_hint(run));
    }
  }
  if (!c.out.empty()) {
    for (const std::string& path : write_lasso_plots(c.out, problem, reference, runs, settings.tracked)) {
      out << "wrote " << path << "\n";
    }
  }
  if (!json_path.empty()) {
    write_text_file_atomic(json_path, study.json);
    out << "wrote " << json_path << "\n";
  }
  return study;
}

int lasso_main(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  LassoConfig config;
  std::string message;
  const int parsed = parse_lasso_args(argc, argv, config, message);
  if (parsed == 0) {
    out << message;
    return 0;
  }
  if (parsed > 0) {
    err << "lasso: error: " << message << "\n";
    return parsed;
  }
  try {
    const LassoStudy study = run_lasso_study(config, out);
    for (const std::string& line : study.diverged) err << "lasso: error: " << line << "\n";
    return study.diverged.empty() ? 0 : 3;
  } catch (const px::Error& e) {
    err << "lasso: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    err << "lasso: internal error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace px::apps
