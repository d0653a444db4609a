// apps/lasso's results: per-run metrics against the truth and the FISTA optimum, the printed
// table, the JSON records and the SVG plots (coefficient paths, objective gap).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/lasso_problem.h"
#include "common/lasso_solvers.h"

namespace px::apps {

// What the study reports about one run (method x initialisation). For a diverged run only
// `run` is set: its numbers would not be finite.
struct LassoRecord {
  const LassoRun* run = nullptr;
  double objective = 0;        // F(beta) at the final iterate
  double gap = 0;              // objective - F* (F* = the FISTA reference optimum)
  double relative_error = 0;   // ||beta - beta_ref|| / ||beta_ref|| (beta_ref = the FISTA optimum)
  double kkt = 0;              // kkt_violation(beta)
  SupportStats support;        // exact nonzeros against the true support
  std::int64_t small = 0;      // |beta_i| < 1e-3 (zeros included): the thresholded count
};

LassoRecord make_lasso_record(const LassoProblem& problem, const FistaReference& reference, const LassoRun& run);

// How a diverged run failed: "F(beta) is inf at iteration 40 (finite at iteration 20)".
std::string lasso_divergence(const LassoRun& run);

// The table printed by apps/lasso, one line per record, with a header line.
std::string format_lasso_table(const LassoProblem& problem, const std::vector<LassoRecord>& records);

// The JSON record of one run. Keys: method, init, status ("ok"), objective, objective_gap,
// relative_error_to_fista, kkt_violation, support_precision, support_recall, support_size,
// exact_zeros, abs_lt_1e-3, iterations, seconds, objective_curve {iterations: [...], objective:
// [...], exact_zeros: [...]}. A diverged run has status "diverged", diverged_at_iteration, no
// final metrics, and its objective_curve up to the last finite point: every number is finite.
nlohmann::json lasso_record_json(const LassoRecord& record);

// The whole result: {"objective": the formula, "problem": {n, p, k, noise, lambda, seed, support,
// lipschitz}, "settings": {...}, "reference": {method, objective, kkt_violation, iterations,
// support_size}, "runs": [lasso_record_json...]}.
nlohmann::json lasso_result_json(const LassoProblem& problem, const LassoSolverSettings& settings,
                                 const FistaReference& reference, const std::vector<LassoRecord>& records);

// The coordinates whose paths are plotted: the true support and up to `off_support` other
// coordinates: first those with the largest |beta_ref| (spurious nonzeros of the lasso optimum),
// then the zeros of the optimum closest to activation (largest |gradient| at beta_ref).
std::vector<std::int64_t> lasso_tracked_coordinates(const LassoProblem& problem, const Tensor& beta_ref,
                                                    std::int64_t off_support = 4);

// Writes into `dir` (created if needed), atomically:
//   paths_<method>_<init>.svg   the tracked coordinates against iterations (one file per run)
//   objective.svg               log10(F(beta) - F*) against iterations, one series per run
// Returns the paths written.
std::vector<std::string> write_lasso_plots(const std::string& dir, const LassoProblem& problem,
                                           const FistaReference& reference, const std::vector<LassoRun>& runs,
                                           const std::vector<std::int64_t>& tracked);

}  // namespace px::apps
