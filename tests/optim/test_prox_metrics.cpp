// Tests of optim/prox/metrics: sparsity reports, the per-tensor table and its CSV, binarisation,
// each against plain reference loops over random tensors with injected zeros, zero rows/columns.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "proxima/core/factory.h"
#include "proxima/core/ops.h"
#include "proxima/optim/prox/metrics.h"

namespace px::optim::prox {
namespace {

// A random tensor and its values in row-major order (after the cast to its dtype).
struct Sample {
  Shape shape;
  std::vector<double> values;
  Tensor tensor;
};

// Values spread over magnitudes 1e-4 .. 3 (so both thresholds split them), with exact zeros,
// -0.0, exact +-1 and values exactly at +-1e-3 and +-1e-2 injected; for ndim >= 2 some dim-0 and dim-1 slices are zeroed.
// non_contiguous: the tensor is a transposed (ndim >= 2) or strided (ndim 1) view.
Sample make_sample(const Shape& shape, DType dtype, bool non_contiguous, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  Sample s{shape, std::vector<double>(static_cast<std::size_t>(shape_numel(shape))), {}};
  for (double& v : s.values) {
    const double u = unit(rng);
    const double sign = unit(rng) < 0.5 ? -1.0 : 1.0;
    if (u < 0.15) v = 0.0;
    else if (u < 0.18) v = -0.0;
    else if (u < 0.28) v = sign;
    else if (u < 0.32) v = sign * (unit(rng) < 0.5 ? 1e-3 : 1e-2);  // exactly at a threshold
    else v = sign * std::pow(10.0, -4.0 + 4.5 * unit(rng));
  }
  const std::int64_t rows = shape.size() >= 2 ? shape[0] : 0, cols = shape.size() >= 2 ? shape[1] : 0;
  const std::int64_t inner = rows * cols != 0 ? shape_numel(shape) / (rows * cols) : 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t c = 0; c < cols; ++c) {
      if (r % 3 == 1 || c % 4 == 2) {  // zero rows 1, 4, ... and zero columns 2, 6, ...
        for (std::int64_t k = 0; k < inner; ++k) s.values[static_cast<std::size_t>((r * cols + c) * inner + k)] = 0.0;
      }
    }
  }
  if (dtype == DType::float32) {
    for (double& v : s.values) v = static_cast<double>(static_cast<float>(v));
  }
  if (!non_contiguous || shape.empty()) {
    s.tensor = ops::to_dtype(from_vector(s.values, shape), dtype);
  } else if (shape.size() >= 2) {  // store as [cols, rows, ...] and transpose back
    Shape stored = shape;
    std::swap(stored[0], stored[1]);
    std::vector<double> buffer(s.values.size());
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t c = 0; c < cols; ++c)
        for (std::int64_t k = 0; k < inner; ++k)
          buffer[static_cast<std::size_t>((c * rows + r) * inner + k)] =
              s.values[static_cast<std::size_t>((r * cols + c) * inner + k)];
    s.tensor = ops::transpose(ops::to_dtype(from_vector(buffer, stored), dtype), 0, 1);
  } else {  // every other element of a buffer twice as long, filled with 7s in between
    const std::int64_t n = shape_numel(shape);
    std::vector<double> buffer(static_cast<std::size_t>(2 * n), 7.0);
    for (std::int64_t i = 0; i < n; ++i) buffer[static_cast<std::size_t>(2 * i)] = s.values[static_cast<std::size_t>(i)];
    s.tensor = ops::slice(ops::to_dtype(from_vector(buffer, {2 * n}), dtype), 0, 0, 2 * n, 2);
  }
  REQUIRE(s.tensor.shape() == shape);
  if (non_contiguous && shape_numel(shape) > 1) REQUIRE_FALSE(s.tensor.is_contiguous());
  return s;
}

const std::vector<Shape>& test_shapes() {
  static const std::vector<Shape> shapes = {{13}, {9, 14}, {8, 6, 3, 3}, {5, 7, 4}, {1, 1}, {}};
  return shapes;
}

// Reference counts of one tensor's values.
SparsityReport reference_report(const std::vector<double>& values) {
  SparsityReport r;
  r.tensors = 1;
  for (double v : values) {
    r.numel += 1;
    if (v == 0.0) r.zeros += 1;
    if (v > -1e-3 && v < 1e-3) r.abs_lt_1e3 += 1;
    if (v > -1e-2 && v < 1e-2) r.abs_lt_1e2 += 1;
    if (v == 1.0 || v == -1.0) r.plus_minus_one += 1;
  }
  return r;
}

void check_report(const SparsityReport& got, const SparsityReport& want, const std::string& what) {
  INFO(what);
  CHECK(got.tensors == want.tensors);
  CHECK(got.numel == want.numel);
  CHECK(got.zeros == want.zeros);
  CHECK(got.abs_lt_1e3 == want.abs_lt_1e3);
  CHECK(got.abs_lt_1e2 == want.abs_lt_1e2);
  CHECK(got.plus_minus_one == want.plus_minus_one);
}

std::string label(const Shape& shape, DType dtype, bool non_contiguous) {
  return shape_str(shape) + " " + std::string(dtype_name(dtype)) + (non_contiguous ? " strided" : " contiguous");
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> fields(1);
  for (char c : line) {
    if (c == ',') fields.emplace_back();
    else fields.back() += c;
  }
  return fields;
}

}  // namespace

TEST_CASE("prox metrics: SparsityReport counts equal the reference loop") {
  std::mt19937_64 rng(11);
  for (DType dtype : {DType::float32, DType::float64}) {
    for (bool strided : {false, true}) {
      for (const Shape& shape : test_shapes()) {
        const Sample s = make_sample(shape, dtype, strided, rng);
        SparsityReport got;
        got.add(s.tensor);
        const SparsityReport want = reference_report(s.values);
        check_report(got, want, label(shape, dtype, strided));
        CHECK(got.exact_zero_sparsity() == doctest::Approx(double(want.zeros) / double(want.numel)));
        CHECK(got.nonzero_density() == doctest::Approx(1.0 - double(want.zeros) / double(want.numel)));
        CHECK(got.sparsity_abs_lt_1e3() == doctest::Approx(double(want.abs_lt_1e3) / double(want.numel)));
        CHECK(got.density_abs_ge_1e3() == doctest::Approx(1.0 - got.sparsity_abs_lt_1e3()));
        CHECK(got.sparsity_abs_lt_1e2() == doctest::Approx(double(want.abs_lt_1e2) / double(want.numel)));
        CHECK(got.density_abs_ge_1e2() == doctest::Approx(1.0 - got.sparsity_abs_lt_1e2()));
        CHECK(got.binary_fraction() == doctest::Approx(double(want.plus_minus_one) / double(want.numel)));
      }
    }
  }
}

TEST_CASE("prox metrics: reports over the regularised set and over all parameters") {
  std::mt19937_64 rng(12);
  NamedTensors params;
  std::vector<std::vector<double>> values;
  const std::vector<std::pair<std::string, Shape>> layout = {
      {"conv1.weight", {8, 3, 3, 3}}, {"bn1.weight", {8}}, {"bn1.bias", {8}},
      {"fc.weight", {10, 32}},        {"fc.bias", {10}}};
  for (std::size_t i = 0; i < layout.size(); ++i) {
    const Sample s = make_sample(layout[i].second, i % 2 ? DType::float32 : DType::float64, i % 2 == 0, rng);
    params.emplace_back(layout[i].first, s.tensor);
    values.push_back(s.values);
  }
  const std::set<std::string> regularized = default_regularized_names(params);
  CHECK(regularized == std::set<std::string>{"conv1.weight", "fc.weight"});

  SparsityReport want_reg, want_all;
  for (std::size_t i = 0; i < params.size(); ++i) {
    want_all.merge(reference_report(values[i]));
    if (regularized.count(params[i].first)) want_reg.merge(reference_report(values[i]));
  }
  const SparsityReports got = sparsity_reports(params, regularized);
  check_report(got.regularized, want_reg, "regularized");
  check_report(got.all, want_all, "all");
  CHECK(got.regularized.numel == 8 * 27 + 320);
  CHECK(got.all.numel == 8 * 27 + 320 + 26);

  // The predicate form agrees with the set form.
  const SparsityReports by_predicate =
      sparsity_reports(params, [](const std::string& n) { return n.ends_with(".weight") && n != "bn1.weight"; });
  check_report(by_predicate.regularized, want_reg, "predicate");

  // binary_fraction counts the regularised tensors only.
  CHECK(binary_fraction(params, regularized) ==
        doctest::Approx(double(want_reg.plus_minus_one) / double(want_reg.numel)));

  // An empty set has no ratio, not a misleading 0.
  const SparsityReports none = sparsity_reports(params, std::set<std::string>{});
  CHECK(none.regularized.numel == 0);
  CHECK(std::isnan(none.regularized.exact_zero_sparsity()));
  CHECK(std::isnan(none.regularized.nonzero_density()));
  CHECK(std::isnan(binary_fraction(params, {})));
}

TEST_CASE("prox metrics: sparsity_columns names what each number counts") {
  SparsityReport r;
  r.tensors = 2, r.numel = 200, r.zeros = 50, r.abs_lt_1e3 = 60, r.abs_lt_1e2 = 90, r.plus_minus_one = 20;
  const auto columns = sparsity_columns(r, "reg_");
  const std::vector<std::pair<std::string, double>> want = {
      {"reg_numel", 200},
      {"reg_exact_zero_sparsity", 0.25},
      {"reg_nonzero_density", 0.75},
      {"reg_sparsity_abs_lt_1e-3", 0.3},
      {"reg_density_abs_ge_1e-3", 0.7},
      {"reg_sparsity_abs_lt_1e-2", 0.45},
      {"reg_density_abs_ge_1e-2", 0.55},
      {"reg_binary_fraction", 0.1}};
  REQUIRE(columns.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    CHECK(columns[i].first == want[i].first);
    CHECK(columns[i].second == doctest::Approx(want[i].second));
  }
}

TEST_CASE("prox metrics: tensor_table rows equal the reference loops") {
  std::mt19937_64 rng(13);
  for (DType dtype : {DType::float32, DType::float64}) {
    for (bool strided : {false, true}) {
      NamedTensors params;
      std::vector<Sample> samples;
      for (std::size_t i = 0; i < test_shapes().size(); ++i) {
        samples.push_back(make_sample(test_shapes()[i], dtype, strided, rng));
        params.emplace_back("p" + std::to_string(i), samples.back().tensor);
      }
      const std::set<std::string> regularized = {"p1", "p2"};
      const std::vector<TensorRow> rows = tensor_table(params, regularized);
      REQUIRE(rows.size() == samples.size());
      for (std::size_t i = 0; i < rows.size(); ++i) {
        const Sample& s = samples[i];
        const TensorRow& row = rows[i];
        INFO(label(s.shape, dtype, strided));
        const SparsityReport ref = reference_report(s.values);
        CHECK(row.name == params[i].first);
        CHECK(row.shape == s.shape);
        CHECK(row.numel == ref.numel);
        CHECK(row.nonzeros == ref.numel - ref.zeros);
        CHECK(row.zero_fraction == doctest::Approx(double(ref.zeros) / double(ref.numel)));
        CHECK(row.binary_fraction == doctest::Approx(double(ref.plus_minus_one) / double(ref.numel)));
        CHECK(row.regularized == (regularized.count(row.name) > 0));
        if (s.shape.size() < 2) {
          CHECK_FALSE(row.has_rows());
          CHECK(row.zero_rows == 0);
          CHECK(row.zero_cols == 0);
          continue;
        }
        // Reference: a slice is zero when every entry with that index is 0.
        const std::int64_t R = s.shape[0], C = s.shape[1], K = shape_numel(s.shape) / (R * C);
        std::int64_t zero_rows = 0, zero_cols = 0;
        for (std::int64_t r = 0; r < R; ++r) {
          bool all_zero = true;
          for (std::int64_t c = 0; c < C; ++c)
            for (std::int64_t k = 0; k < K; ++k) all_zero &= s.values[static_cast<std::size_t>((r * C + c) * K + k)] == 0.0;
          zero_rows += all_zero;
        }
        for (std::int64_t c = 0; c < C; ++c) {
          bool all_zero = true;
          for (std::int64_t r = 0; r < R; ++r)
            for (std::int64_t k = 0; k < K; ++k) all_zero &= s.values[static_cast<std::size_t>((r * C + c) * K + k)] == 0.0;
          zero_cols += all_zero;
        }
        CHECK(row.rows == R);
        CHECK(row.cols == C);
        CHECK(row.zero_rows == zero_rows);
        CHECK(row.zero_cols == zero_cols);
        if (R >= 5 && C >= 3) {  // the injected zero rows/columns are found (so the check can fail)
          CHECK(row.zero_rows >= R / 3);
          CHECK(row.zero_cols >= 1);
        }
      }
    }
  }
}

TEST_CASE("prox metrics: shape_text") {
  CHECK(shape_text({64, 3, 3, 3}) == "64x3x3x3");
  CHECK(shape_text({10}) == "10");
  CHECK(shape_text({}) == "scalar");
}

TEST_CASE("prox metrics: tensor_table_csv header and rows") {
  const std::string header =
      "epoch,name,shape,numel,nonzeros,zero_fraction,rows,zero_rows,cols,zero_cols,regularized,binary_fraction\n";
  CHECK(tensor_table_csv_header() == header);
  const std::size_t columns = split_csv_line(header.substr(0, header.size() - 1)).size();

  std::mt19937_64 rng(14);
  NamedTensors params = {{"conv.weight", make_sample({6, 4, 3, 3}, DType::float32, true, rng).tensor},
                         {"conv.bias", make_sample({6}, DType::float64, false, rng).tensor},
                         {"odd,name\"x", make_sample({3, 5}, DType::float64, false, rng).tensor}};
  const std::vector<TensorRow> rows = tensor_table(params, {"conv.weight"});
  const std::string text = tensor_table_csv(rows, 7);
  CHECK(text.rfind(header, 0) == 0);
  CHECK(tensor_table_csv(rows, 7, false) == text.substr(header.size()));

  std::istringstream lines(text.substr(header.size()));
  std::string line;
  std::vector<std::string> got_lines;
  while (std::getline(lines, line)) got_lines.push_back(line);
  REQUIRE(got_lines.size() == rows.size());

  // Row 0: a 4-D regularised weight; every number reads back exactly.
  const auto f = split_csv_line(got_lines[0]);
  REQUIRE(f.size() == columns);
  CHECK(f[0] == "7");
  CHECK(f[1] == "conv.weight");
  CHECK(f[2] == "6x4x3x3");
  CHECK(std::stoll(f[3]) == rows[0].numel);
  CHECK(std::stoll(f[4]) == rows[0].nonzeros);
  CHECK(std::stod(f[5]) == rows[0].zero_fraction);
  CHECK(std::stoll(f[6]) == rows[0].rows);
  CHECK(std::stoll(f[7]) == rows[0].zero_rows);
  CHECK(std::stoll(f[8]) == rows[0].cols);
  CHECK(std::stoll(f[9]) == rows[0].zero_cols);
  CHECK(f[10] == "1");
  CHECK(std::stod(f[11]) == rows[0].binary_fraction);

  // Row 1: a 1-D bias leaves the row/column fields empty.
  const auto b = split_csv_line(got_lines[1]);
  REQUIRE(b.size() == columns);
  CHECK(b[2] == "6");
  CHECK(b[6].empty());
  CHECK(b[7].empty());
  CHECK(b[8].empty());
  CHECK(b[9].empty());
  CHECK(b[10] == "0");

  // Row 2: a name holding a comma and a quote is quoted as in RFC 4180.
  CHECK(got_lines[2].rfind("7,\"odd,name\"\"x\",3x5,15,", 0) == 0);

  // An empty tensor's ratios are written as nan.
  const std::string empty = tensor_table_csv({tensor_row("e", zeros({0, 4}), false)}, 1, false);
  CHECK(empty == "1,e,0x4,0,0,nan,0,0,4,4,0,nan\n");
}

TEST_CASE("prox metrics: binarize_ is sgn with sgn(0) = +1, also on strided views") {
  std::mt19937_64 rng(15);
  for (DType dtype : {DType::float32, DType::float64}) {
    for (const Shape& shape : test_shapes()) {
      const Sample s = make_sample(shape, dtype, false, rng);
      Tensor t = s.tensor.clone();
      binarize_(t);
      const std::vector<double> got = ops::to_dtype(t, DType::float64).to_vector<double>();
      for (std::size_t i = 0; i < got.size(); ++i) {
        const double want = std::signbit(s.values[i]) && s.values[i] != 0.0 ? -1.0 : 1.0;
        CHECK(got[i] == want);
      }
    }
    // A strided view: only its elements change.
    Tensor base = ops::to_dtype(from_vector(std::vector<double>{0.5, -0.25, 0.0, -3.0, -0.0, 2.0}, {3, 2}), dtype);
    binarize_(ops::slice(base, 1, 1, 2));  // column 1: -0.25, -3.0, 2.0
    const std::vector<double> after = ops::to_dtype(base, DType::float64).to_vector<double>();
    CHECK(after == std::vector<double>{0.5, -1.0, 0.0, -1.0, -0.0, 1.0});
    binarize_(ops::transpose(base, 0, 1));
    CHECK(ops::to_dtype(base, DType::float64).to_vector<double>() == std::vector<double>{1, -1, 1, -1, 1, 1});
    // zero_stays (bin-* keep_zero / literal): sgn(0) = sgn(-0) = 0, NaN still -1
    Tensor z = ops::to_dtype(from_vector(std::vector<double>{0.5, -0.0, 0.0, -3.0, NAN, 2.0}, {3, 2}), dtype);
    binarize_(z, true);
    CHECK(ops::to_dtype(z, DType::float64).to_vector<double>() == std::vector<double>{1, 0, 0, -1, -1, 1});
  }
}

TEST_CASE("prox metrics: binarized_copy binarises the regularised tensors of a fresh copy") {
  std::mt19937_64 rng(16);
  const Sample w = make_sample({6, 5}, DType::float32, true, rng);
  const Sample b = make_sample({6}, DType::float32, false, rng);
  NamedTensors params = {{"fc.weight", w.tensor}, {"fc.bias", b.tensor}};
  const NamedTensors copy = binarized_copy(params, {"fc.weight"});
  REQUIRE(copy.size() == 2);
  CHECK(copy[0].first == "fc.weight");
  CHECK(copy[1].first == "fc.bias");
  const std::vector<float> cw = copy[0].second.contiguous().to_vector<float>();
  for (std::size_t i = 0; i < cw.size(); ++i) CHECK(cw[i] == (w.values[i] < 0 ? -1.0f : 1.0f));
  const std::vector<float> cb = copy[1].second.to_vector<float>();
  for (std::size_t i = 0; i < cb.size(); ++i) CHECK(double(cb[i]) == b.values[i]);
  // The originals are untouched and the copies share no storage with them.
  const std::vector<float> ow = w.tensor.contiguous().to_vector<float>();
  for (std::size_t i = 0; i < ow.size(); ++i) CHECK(double(ow[i]) == w.values[i]);
  CHECK(copy[0].second.storage() != w.tensor.storage());
  CHECK(copy[1].second.storage() != b.tensor.storage());
  // The copy's binary fraction is 1 over the regularised set.
  CHECK(binary_fraction(copy, {"fc.weight"}) == 1.0);
}

TEST_CASE("prox metrics: bad inputs raise named errors") {
  SparsityReport r;
  CHECK_THROWS_AS(r.add(arange(5)), DTypeError);
  CHECK_THROWS_AS(r.add(Tensor{}), ValueError);
  CHECK_THROWS_AS(tensor_table({{"idx", arange(4)}}, {}), DTypeError);
  CHECK_THROWS_AS(binarize_(arange(3)), DTypeError);
  CHECK_THROWS_AS(binarized_copy({{"w", Tensor{}}}, {}), ValueError);
}

}  // namespace px::optim::prox
