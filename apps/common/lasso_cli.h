// apps/lasso's command line (CLI11) and its whole run as a library entry point, so tests can
// drive the program without spawning processes.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "common/lasso_problem.h"
#include "common/lasso_solvers.h"

namespace px::apps {

struct LassoConfig {
  LassoSpec problem;
  LassoSolverSettings solver;
  std::vector<std::string> methods{"fista", "proxgen", "proxsgd", "subgrad-adam"};
  std::vector<std::string> inits{"zero", "random"};
  std::int64_t off_support = 4;  // off-support coordinates shown in the path plots
  std::string out;               // "" = no plots; else the folder of the SVGs and lasso.json
  std::string json;              // "" = none (or <out>/lasso.json when --out is given)
  bool quiet = false;            // no objective gap table, only the final table
  int threads = 1;               // CPU threads (0 = px's default); the problem is small, 1 is fastest
};

// Parses apps/lasso's flags into `config`. Returns -1 when the study should run; otherwise the
// exit code: 0 after --help (the help text is in `message`), 2 after a bad flag or value (a
// one-line message naming the flag, the value and what is expected is in `message`).
int parse_lasso_args(int argc, const char* const* argv, LassoConfig& config, std::string& message);

// Checks what the flag parser cannot; px::ValueError naming the flag, the value and what is expected.
void validate_lasso_config(const LassoConfig& config);

struct LassoStudy {
  std::string json;                   // the JSON written (or that would have been)
  std::vector<std::string> diverged;  // one line per diverged run: method, init, iteration, what to lower
};

// Creates the output folders (px::ValueError naming --out or --json when that fails) and checks
// that the data and the random start give a finite F (px::ValueError naming --noise or
// --init-scale), then builds the problem, runs every method from every initialisation, prints
// the progress lines and the table to `out`, and writes the JSON and the plots, diverged runs
// included (marked, see lasso_record_json).
LassoStudy run_lasso_study(const LassoConfig& config, std::ostream& out);

// The whole program: parse, run, report. Returns the exit code (0 ok, 2 bad flags, values or
// output paths, 3 a method diverged, 1 internal error); errors are printed as one line
// "lasso: error: ..." to `err` (one line per diverged run).
int lasso_main(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace px::apps
