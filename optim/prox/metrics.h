// Sparsity and binarisation metrics of a parameter set: whole-set reports, a per-tensor table
// (layers.csv), the fraction of weights at exactly +-1, and hard binarisation for evaluation.
//
// CONVENTION (ALGORITHMS.md §2.5, §11 E, "Conventions" 7): every number's name says what it
// counts and over which tensor set.
//   * sparsity = fraction of entries that are (near) zero; density = 1 - sparsity = fraction kept.
//   * "exact" counts w == 0 (so -0.0 counts as zero); "abs_lt_1e-3" counts |w| < 1e-3 and
//     "abs_lt_1e-2" counts |w| < 1e-2 (thresholded counts, for subgradient baselines, which
//     produce no exact zeros). NaN counts as neither zero nor small.
//   * The headline number is the exact-zero sparsity over the regularised tensors. ProxGen's code
//     prints densities under "sparsity" names: its exact_sparsity() is nonzero_density() here, and
//     its sparsity_level() pair is (density_abs_ge_1e-2, density_abs_ge_1e-3); the names here
//     are those of SparsityReport's functions and of sparsity_columns.
//   * The tensor set is named by the caller: `regularized` lists the names of the regularised
//     tensors (by default the conv/linear weights, ndim 2 or 4: default_regularized_names).
//   * A ratio over an empty set (no entries) is NaN, never a misleading 0.
// Inputs may be float32 or float64, on any device, contiguous or not; they are read through a
// contiguous host copy and counted in int64.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "proxima/optim/optimizer.h"

namespace px::optim::prox {

inline constexpr double kSmallThreshold = 1e-3;  // |w| < 1e-3 counts as "small"
inline constexpr double kLargeThreshold = 1e-2;  // |w| < 1e-2 counts as "small" (coarser)

// Which tensors are regularised, by name.
using NamePredicate = std::function<bool(const std::string&)>;

// Counts over a set of tensors. All ratios are NaN when numel == 0.
struct SparsityReport {
  std::int64_t tensors = 0;      // tensors counted
  std::int64_t numel = 0;        // entries counted
  std::int64_t zeros = 0;        // w == 0
  std::int64_t abs_lt_1e3 = 0;   // |w| < 1e-3 (zeros included)
  std::int64_t abs_lt_1e2 = 0;   // |w| < 1e-2 (zeros included)
  std::int64_t plus_minus_one = 0;  // w == +1 or w == -1

  void add(const Tensor& t);  // counts one more tensor (float32/float64, any device)
  void merge(const SparsityReport& other);

  double exact_zero_sparsity() const;   // zeros / numel: the headline number
  double nonzero_density() const;       // (numel - zeros) / numel
  double sparsity_abs_lt_1e3() const;   // #{|w| < 1e-3} / numel
  double density_abs_ge_1e3() const;    // #{|w| >= 1e-3} / numel
  double sparsity_abs_lt_1e2() const;   // #{|w| < 1e-2} / numel
  double density_abs_ge_1e2() const;    // #{|w| >= 1e-2} / numel
  double binary_fraction() const;       // #{w = +-1} / numel
};

// The report of the regularised tensors (headline) and of every tensor given.
struct SparsityReports {
  SparsityReport regularized;
  SparsityReport all;
};

SparsityReport sparsity_report(const NamedTensors& params, const NamePredicate& include);
SparsityReports sparsity_reports(const NamedTensors& params, const NamePredicate& regularized);
SparsityReports sparsity_reports(const NamedTensors& params, const std::set<std::string>& regularized);

// metrics.csv / summary.json columns of a report, each name "<prefix><what>":
//   numel, exact_zero_sparsity, nonzero_density, sparsity_abs_lt_1e-3, density_abs_ge_1e-3,
//   sparsity_abs_lt_1e-2, density_abs_ge_1e-2, binary_fraction
// e.g. prefix "reg_" for the regularised tensors and "all_" for all parameters.
std::vector<std::pair<std::string, double>> sparsity_columns(const SparsityReport& report,
                                                             const std::string& prefix);

// The names of the tensors regularised by default (Conventions 5): those with ndim 2 or 4.
std::set<std::string> default_regularized_names(const NamedTensors& params);

// One parameter's row of the per-tensor table.
struct TensorRow {
  std::string name;
  Shape shape;
  std::int64_t numel = 0;
  std::int64_t nonzeros = 0;       // w != 0
  double zero_fraction = 0;        // exact zeros / numel (NaN when numel == 0)
  // For ndim >= 2 only (otherwise all 0): rows are the dim-0 slices (output units of a linear
  // layer, conv filters), columns the dim-1 slices (input units, input channels); a row or
  // column is zero when every entry of its slice is exactly 0.
  std::int64_t rows = 0, zero_rows = 0;
  std::int64_t cols = 0, zero_cols = 0;
  bool regularized = false;
  double binary_fraction = 0;      // #{w = +-1} / numel (NaN when numel == 0)

  bool has_rows() const { return shape.size() >= 2; }
};

// "64x3x3x3"; "scalar" for a 0-d shape.
std::string shape_text(const Shape& shape);

TensorRow tensor_row(const std::string& name, const Tensor& t, bool regularized);
std::vector<TensorRow> tensor_table(const NamedTensors& params, const std::set<std::string>& regularized);

// layers.csv: the header line (with '\n') and the text of `rows` tagged with `epoch`, one line
// each, preceded by the header when `with_header`. Columns, in this order:
//   epoch            the epoch the table was taken after (1-based, as metrics.csv)
//   name             the parameter's name (quoted as in RFC 4180 when it holds , " or a newline)
//   shape            shape_text, e.g. 64x3x3x3
//   numel            entries
//   nonzeros         entries != 0
//   zero_fraction    exact zeros / numel
//   rows zero_rows   dim-0 slices and how many are entirely zero (empty for ndim < 2)
//   cols zero_cols   dim-1 slices and how many are entirely zero (empty for ndim < 2)
//   regularized      1 or 0
//   binary_fraction  entries at exactly +-1 / numel
// Numbers are written in the shortest form that reads back exactly ("nan" for NaN).
std::string tensor_table_csv_header();
std::string tensor_table_csv(const std::vector<TensorRow>& rows, std::int64_t epoch, bool with_header = true);

// The fraction of the regularised tensors' entries at exactly +-1 (NaN when there are none).
double binary_fraction(const NamedTensors& params, const std::set<std::string>& regularized);

// Hard binarisation: t <- sgn(t) in place with sgn(0) = sgn(-0) = +1 (ALGORITHMS.md Conventions 4),
// or with sgn(0) = 0 when zero_stays (the bin-* modes keep_zero and literal: ProxQuant's code);
// NaN becomes -1. float32/float64, any device, contiguous or not.
void binarize_(const Tensor& t, bool zero_stays = false);
// Fresh copies of every tensor, the regularised ones binarised: the hard-binarised model's state.
NamedTensors binarized_copy(const NamedTensors& params, const std::set<std::string>& regularized);

}  // namespace px::optim::prox
