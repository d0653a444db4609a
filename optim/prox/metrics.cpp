// Sparsity and binarisation metrics of a parameter set (see metrics.h for the naming convention).
#include "proxima/optim/prox/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <sstream>

#include "proxima/core/factory.h"
#include "proxima/core/ops.h"

namespace px::optim::prox {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double ratio(std::int64_t count, std::int64_t total) {
  return total == 0 ? kNaN : static_cast<double>(count) / static_cast<double>(total);
}

void check_float(const Tensor& t, const char* what) {
  PX_CHECK(t.defined(), ValueError, what, ": expected a defined tensor, got an undefined one");
  PX_CHECK(is_floating(t.dtype()), DTypeError, what, ": expected a float32 or float64 tensor, got ",
           t.dtype());
}

// A contiguous host copy (the tensor itself when it already is one).
Tensor host_contiguous(const Tensor& t) { return t.to(Device::cpu()).contiguous(); }

template <class T>
void count_values(const T* data, std::int64_t n, SparsityReport& r) {
  for (std::int64_t i = 0; i < n; ++i) {
    const double v = static_cast<double>(data[i]);
    const double a = std::fabs(v);
    r.zeros += v == 0.0;
    r.abs_lt_1e3 += a < kSmallThreshold;
    r.abs_lt_1e2 += a < kLargeThreshold;
    r.plus_minus_one += a == 1.0;
  }
}

// Rows (dim-0 slices) and columns (dim-1 slices) that hold a non-zero, for a contiguous
// [rows, cols, inner] layout.
template <class T>
void mark_nonzero_slices(const T* data, std::int64_t rows, std::int64_t cols, std::int64_t inner,
                         std::vector<char>& row_nz, std::vector<char>& col_nz) {
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t c = 0; c < cols; ++c) {
      const T* slice = data + (r * cols + c) * inner;
      bool any = false;
      for (std::int64_t k = 0; k < inner && !any; ++k) any = slice[k] != T(0);
      if (any) row_nz[static_cast<std::size_t>(r)] = col_nz[static_cast<std::size_t>(c)] = 1;
    }
  }
}

// Fills rows/zero_rows/cols/zero_cols of `row` from a contiguous host tensor with ndim >= 2.
void count_zero_slices(const Tensor& host, TensorRow& row) {
  const Shape& s = host.shape();
  row.rows = s[0];
  row.cols = s[1];
  const std::int64_t inner = row.rows * row.cols == 0 ? 0 : host.numel() / (row.rows * row.cols);
  std::vector<char> row_nz(static_cast<std::size_t>(row.rows), 0);
  std::vector<char> col_nz(static_cast<std::size_t>(row.cols), 0);
  if (host.dtype() == DType::float32) {
    mark_nonzero_slices(host.data<float>(), row.rows, row.cols, inner, row_nz, col_nz);
  } else {
    mark_nonzero_slices(host.data<double>(), row.rows, row.cols, inner, row_nz, col_nz);
  }
  row.zero_rows = row.rows - static_cast<std::int64_t>(std::count(row_nz.begin(), row_nz.end(), 1));
  row.zero_cols = row.cols - static_cast<std::int64_t>(std::count(col_nz.begin(), col_nz.end(), 1));
}

// Shortest text that reads back to exactly `v`; "nan", "inf", "-inf" for non-finite values.
std::string format_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, v);
  return std::string(buffer, result.ptr);
}

// RFC 4180 quoting, only when needed.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

// ---- SparsityReport ----

void SparsityReport::add(const Tensor& t) {
  check_float(t, "SparsityReport::add: t");
  const Tensor host = host_contiguous(t);
  if (host.dtype() == DType::float32) {
    count_values(host.data<float>(), host.numel(), *this);
  } else {
    count_values(host.data<double>(), host.numel(), *this);
  }
  numel += host.numel();
  tensors += 1;
}

void SparsityReport::merge(const SparsityReport& o) {
  tensors += o.tensors;
  numel += o.numel;
  zeros += o.zeros;
  abs_lt_1e3 += o.abs_lt_1e3;
  abs_lt_1e2 += o.abs_lt_1e2;
  plus_minus_one += o.plus_minus_one;
}

double SparsityReport::exact_zero_sparsity() const { return ratio(zeros, numel); }
double SparsityReport::nonzero_density() const { return ratio(numel - zeros, numel); }
double SparsityReport::sparsity_abs_lt_1e3() const { return ratio(abs_lt_1e3, numel); }
double SparsityReport::density_abs_ge_1e3() const { return ratio(numel - abs_lt_1e3, numel); }
double SparsityReport::sparsity_abs_lt_1e2() const { return ratio(abs_lt_1e2, numel); }
double SparsityReport::density_abs_ge_1e2() const { return ratio(numel - abs_lt_1e2, numel); }
double SparsityReport::binary_fraction() const { return ratio(plus_minus_one, numel); }

SparsityReport sparsity_report(const NamedTensors& params, const NamePredicate& include) {
  SparsityReport report;
  for (const auto& [name, t] : params) {
    if (include(name)) report.add(t);
  }
  return report;
}

SparsityReports sparsity_reports(const NamedTensors& params, const NamePredicate& regularized) {
  SparsityReports out;
  for (const auto& [name, t] : params) {
    SparsityReport one;
    one.add(t);
    out.all.merge(one);
    if (regularized(name)) out.regularized.merge(one);
  }
  return out;
}

SparsityReports sparsity_reports(const NamedTensors& params, const std::set<std::string>& regularized) {
  return sparsity_reports(params, [&](const std::string& n) { return regularized.count(n) > 0; });
}

std::vector<std::pair<std::string, double>> sparsity_columns(const SparsityReport& r,
                                                             const std::string& prefix) {
  return {
      {prefix + "numel", static_cast<double>(r.numel)},
      {prefix + "exact_zero_sparsity", r.exact_zero_sparsity()},
      {prefix + "nonzero_density", r.nonzero_density()},
      {prefix + "sparsity_abs_lt_1e-3", r.sparsity_abs_lt_1e3()},
      {prefix + "density_abs_ge_1e-3", r.density_abs_ge_1e3()},
      {prefix + "sparsity_abs_lt_1e-2", r.sparsity_abs_lt_1e2()},
      {prefix + "density_abs_ge_1e-2", r.density_abs_ge_1e2()},
      {prefix + "binary_fraction", r.binary_fraction()},
  };
}

std::set<std::string> default_regularized_names(const NamedTensors& params) {
  std::set<std::string> out;
  for (const auto& [name, t] : params) {
    if (t.defined() && (t.dim() == 2 || t.dim() == 4)) out.insert(name);
  }
  return out;
}

// ---- per-tensor table ----

std::string shape_text(const Shape& shape) {
  if (shape.empty()) return "scalar";
  std::string out;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) out += 'x';
    out += std::to_string(shape[i]);
  }
  return out;
}

TensorRow tensor_row(const std::string& name, const Tensor& t, bool regularized) {
  check_float(t, ("tensor_row: tensor '" + name + "'").c_str());
  const Tensor host = host_contiguous(t);
  SparsityReport counts;
  counts.add(host);
  TensorRow row;
  row.name = name;
  row.shape = host.shape();
  row.numel = counts.numel;
  row.nonzeros = counts.numel - counts.zeros;
  row.zero_fraction = counts.exact_zero_sparsity();
  row.binary_fraction = counts.binary_fraction();
  row.regularized = regularized;
  if (host.dim() >= 2) count_zero_slices(host, row);
  return row;
}

std::vector<TensorRow> tensor_table(const NamedTensors& params, const std::set<std::string>& regularized) {
  std::vector<TensorRow> rows;
  rows.reserve(params.size());
  for (const auto& [name, t] : params) rows.push_back(tensor_row(name, t, regularized.count(name) > 0));
  return rows;
}

std::string tensor_table_csv_header() {
  return "epoch,name,shape,numel,nonzeros,zero_fraction,rows,zero_rows,cols,zero_cols,regularized,"
         "binary_fraction\n";
}

std::string tensor_table_csv(const std::vector<TensorRow>& rows, std::int64_t epoch, bool with_header) {
  std::ostringstream out;
  if (with_header) out << tensor_table_csv_header();
  for (const TensorRow& r : rows) {
    out << epoch << ',' << csv_field(r.name) << ',' << shape_text(r.shape) << ',' << r.numel << ','
        << r.nonzeros << ',' << format_number(r.zero_fraction) << ',';
    if (r.has_rows()) {
      out << r.rows << ',' << r.zero_rows << ',' << r.cols << ',' << r.zero_cols << ',';
    } else {
      out << ",,,,";
    }
    out << (r.regularized ? 1 : 0) << ',' << format_number(r.binary_fraction) << '\n';
  }
  return out.str();
}

// ---- binarisation ----

double binary_fraction(const NamedTensors& params, const std::set<std::string>& regularized) {
  return sparsity_report(params, [&](const std::string& n) { return regularized.count(n) > 0; })
      .binary_fraction();
}

void binarize_(const Tensor& t, bool zero_stays) {
  check_float(t, "binarize_: t");
  // sgn with sgn(0) = +1: w >= 0 -> +1, otherwise -1 (NaN compares false -> -1).
  Tensor sign = ops::where(ops::ge(t, 0.0), ones_like(t), full_like(t, -1.0));
  if (zero_stays) sign = ops::where(ops::eq(t, 0.0), zeros_like(t), sign);
  ops::copy_(t, sign);
}

NamedTensors binarized_copy(const NamedTensors& params, const std::set<std::string>& regularized) {
  NamedTensors out;
  out.reserve(params.size());
  for (const auto& [name, t] : params) {
    PX_CHECK(t.defined(), ValueError, "binarized_copy: tensor '", name, "' is undefined");
    Tensor copy = t.detach().clone();
    if (regularized.count(name)) binarize_(copy);
    out.emplace_back(name, copy);
  }
  return out;
}

}  // namespace px::optim::prox
