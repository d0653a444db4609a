// apps/lasso's metrics, table, JSON records and SVG plots (see lasso_report.h).
#include "common/lasso_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "common/svg_plot.h"
#include "proxima/core/error.h"

namespace px::apps {
namespace {

// ||a - b||, scaled by the largest |a_i - b_i| so that the squares cannot overflow.
double distance(const std::vector<double>& a, const std::vector<double>& b) {
  double scale = 0, s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) scale = std::max(scale, std::fabs(a[i] - b[i]));
  if (scale == 0 || !std::isfinite(scale)) return scale;
  for (std::size_t i = 0; i < a.size(); ++i) s += ((a[i] - b[i]) / scale) * ((a[i] - b[i]) / scale);
  return scale * std::sqrt(s);
}

// The first n values of v.
std::vector<double> head(const std::vector<double>& v, std::size_t n) { return {v.begin(), v.begin() + n}; }

std::string run_label(const LassoRun& run) { return run.method + " (" + run.init + " init)"; }

}  // namespace

LassoRecord make_lasso_record(const LassoProblem& problem, const FistaReference& reference, const LassoRun& run) {
  LassoRecord r;
  r.run = &run;
  if (run.diverged) return r;
  r.objective = lasso_objective(problem, run.beta);
  r.gap = r.objective - reference.objective;
  const std::vector<double> b = run.beta.contiguous().to_vector<double>();
  const std::vector<double> ref = reference.beta.contiguous().to_vector<double>();
  const double ref_norm = distance(ref, std::vector<double>(ref.size(), 0.0));
  const double d = distance(b, ref);
  r.relative_error = ref_norm > 0 ? d / ref_norm : d;
  r.kkt = kkt_violation(problem, run.beta);
  r.support = support_stats(problem.support, run.beta);
  r.small = std::count_if(b.begin(), b.end(), [](double v) { return std::fabs(v) < 1e-3; });
  return r;
}

std::string lasso_divergence(const LassoRun& run) {
  const std::size_t n = run.curve_objective.size();
  char text[160];
  std::snprintf(text, sizeof text, "F(beta) is %g at iteration %lld", run.curve_objective.back(),
                static_cast<long long>(run.iterations));
  std::string out = text;
  if (n >= 2) {
    std::snprintf(text, sizeof text, " (finite at iteration %.0f)", run.curve_iters[n - 2]);
    out += text;
  }
  return out;
}

std::string format_lasso_table(const LassoProblem& problem, const std::vector<LassoRecord>& records) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-13s %-6s %12s %10s %9s %9s %6s %7s %6s %8s %8s %7s\n", "method", "init",
                "objective", "F-F*", "rel_err", "kkt", "supp", "prec", "recall", "zeros", "|b|<1e-3", "sec");
  out += line;
  for (const LassoRecord& r : records) {
    if (r.run->diverged) {
      std::snprintf(line, sizeof line, "%-13s %-6s diverged: %s\n", r.run->method.c_str(), r.run->init.c_str(),
                    lasso_divergence(*r.run).c_str());
      out += line;
      continue;
    }
    char objective[32];  // fixed point unless huge (a far random start), which would overflow the line
    std::snprintf(objective, sizeof objective, std::fabs(r.objective) < 1e4 ? "%12.8f" : "%12.4e", r.objective);
    std::snprintf(line, sizeof line, "%-13s %-6s %s %10.2e %9.2e %9.2e %6lld %7.3f %6.3f %8lld %8lld %7.2f\n",
                  r.run->method.c_str(), r.run->init.c_str(), objective, r.gap, r.relative_error, r.kkt,
                  static_cast<long long>(r.support.estimated), r.support.precision, r.support.recall,
                  static_cast<long long>(r.support.exact_zeros), static_cast<long long>(r.small), r.run->seconds);
    out += line;
  }
  std::snprintf(line, sizeof line,
                "(p = %lld coordinates, true support %lld; supp = exact nonzeros, prec/recall of that set "
                "against the true support)\n",
                static_cast<long long>(problem.spec.p), static_cast<long long>(problem.support.size()));
  out += line;
  return out;
}

nlohmann::json lasso_record_json(const LassoRecord& r) {
  const LassoRun& run = *r.run;
  if (run.diverged) {
    const std::size_t finite = run.curve_objective.size() - 1;  // the last point is the non-finite one
    return {{"method", run.method},
            {"init", run.init},
            {"status", "diverged"},
            {"diverged_at_iteration", run.iterations},
            {"iterations", run.iterations},
            {"seconds", run.seconds},
            {"objective_curve",
             {{"iterations", head(run.curve_iters, finite)},
              {"objective", head(run.curve_objective, finite)},
              {"exact_zeros", head(run.curve_zeros, finite)}}}};
  }
  return {{"method", run.method},
          {"init", run.init},
          {"status", "ok"},
          {"objective", r.objective},
          {"objective_gap", r.gap},
          {"relative_error_to_fista", r.relative_error},
          {"kkt_violation", r.kkt},
          {"support_precision", r.support.precision},
          {"support_recall", r.support.recall},
          {"support_size", r.support.estimated},
          {"exact_zeros", r.support.exact_zeros},
          {"abs_lt_1e-3", r.small},
          {"iterations", run.iterations},
          {"seconds", run.seconds},
          {"objective_curve",
           {{"iterations", run.curve_iters}, {"objective", run.curve_objective}, {"exact_zeros", run.curve_zeros}}}};
}

nlohmann::json lasso_result_json(const LassoProblem& problem, const LassoSolverSettings& s,
                                 const FistaReference& reference, const std::vector<LassoRecord>& records) {
  nlohmann::json runs = nlohmann::json::array();
  for (const LassoRecord& r : records) runs.push_back(lasso_record_json(r));
  const LassoSpec& spec = problem.spec;
  return {{"objective", "F(beta) = 1/(2n) ||X beta - y||^2 + lambda ||beta||_1"},
          {"problem",
           {{"n", spec.n}, {"p", spec.p}, {"k", spec.k}, {"noise", spec.noise}, {"lambda", spec.lambda},
            {"seed", spec.seed}, {"support", problem.support}, {"lipschitz", problem.lipschitz}}},
          {"settings",
           {{"iters", s.iters}, {"batch", s.batch}, {"log_every", s.log_every}, {"lr", s.lr},
            {"schedule", s.schedule}, {"eps0", s.eps0}, {"eps_decay", s.eps_decay}, {"rho0", s.rho0},
            {"rho_decay", s.rho_decay}, {"init_scale", s.init_scale}}},
          {"reference",
           {{"method", "fista with adaptive restart, to the KKT tolerance"},
            {"objective", reference.objective},
            {"kkt_violation", reference.kkt},
            {"iterations", reference.iterations},
            {"support_size", support_stats(problem.support, reference.beta).estimated}}},
          {"runs", runs}};
}

std::vector<std::int64_t> lasso_tracked_coordinates(const LassoProblem& problem, const Tensor& beta_ref,
                                                    std::int64_t off_support) {
  std::vector<std::int64_t> tracked = problem.support;
  const std::vector<double> ref = beta_ref.contiguous().to_vector<double>();
  const std::vector<double> grad = lasso_gradient(problem, beta_ref).to_vector<double>();
  std::vector<std::int64_t> others;
  for (std::int64_t i = 0; i < problem.spec.p; ++i) {
    if (!std::binary_search(problem.support.begin(), problem.support.end(), i)) others.push_back(i);
  }
  // Spurious nonzeros of the optimum first, then the zeros closest to activation (largest |g_i| <= lambda).
  std::stable_sort(others.begin(), others.end(), [&](std::int64_t a, std::int64_t b) {
    if (std::fabs(ref[a]) != std::fabs(ref[b])) return std::fabs(ref[a]) > std::fabs(ref[b]);
    return std::fabs(grad[a]) > std::fabs(grad[b]);
  });
  const auto extra = std::min<std::size_t>(others.size(), static_cast<std::size_t>(std::max<std::int64_t>(off_support, 0)));
  tracked.insert(tracked.end(), others.begin(), others.begin() + static_cast<std::ptrdiff_t>(extra));
  return tracked;
}

std::vector<std::string> write_lasso_plots(const std::string& dir, const LassoProblem& problem,
                                           const FistaReference& reference, const std::vector<LassoRun>& runs,
                                           const std::vector<std::int64_t>& tracked) {
  std::filesystem::create_directories(dir);
  std::vector<std::string> written;
  const std::vector<double> truth = problem.beta_true.to_vector<double>();
  for (const LassoRun& run : runs) {
    PX_CHECK(run.paths.size() == tracked.size(), ValueError, "write_lasso_plots: run ", run_label(run), " has ",
             run.paths.size(), " paths for ", tracked.size(), " tracked coordinates");
    std::vector<PlotSeries> series;
    for (std::size_t j = 0; j < tracked.size(); ++j) {
      char name[96];
      const double t = truth[tracked[j]];
      if (t != 0) std::snprintf(name, sizeof name, "beta[%lld] (true %+.2f)", static_cast<long long>(tracked[j]), t);
      else std::snprintf(name, sizeof name, "beta[%lld] (true 0)", static_cast<long long>(tracked[j]));
      series.push_back({name, run.curve_iters, run.paths[j]});
    }
    const std::string path = (std::filesystem::path(dir) / ("paths_" + run.method + "_" + run.init + ".svg")).string();
    write_line_plot(path, series,
                    {.title = "Coefficient paths: " + run_label(run) + ", true support and off-support",
                     .x_label = "iteration",
                     .y_label = "coefficient value",
                     .width = 900,
                     .height = 520});
    written.push_back(path);
  }
  std::vector<PlotSeries> gaps;
  for (const LassoRun& run : runs) {
    PlotSeries s{run_label(run), run.curve_iters, {}};
    for (double f : run.curve_objective) s.y.push_back(std::log10(std::max(f - reference.objective, 1e-16)));
    gaps.push_back(std::move(s));
  }
  const std::string path = (std::filesystem::path(dir) / "objective.svg").string();
  write_line_plot(path, gaps,
                  {.title = "Lasso objective gap to the FISTA optimum F* (log scale, floor 1e-16)",
                   .x_label = "iteration",
                   .y_label = "log10(F(beta) - F*)",
                   .width = 900,
                   .height = 520});
  written.push_back(path);
  return written;
}

}  // namespace px::apps
