// metrics.csv round trips and parse errors; SVG plots: well-formed, one path per series, nice ticks, NaNs;
// the plot program's errors (run as a process).
#include "apps/run_program.h"
#include "temp_dir.h"
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "common/run_plots.h"
#include "common/svg_plot.h"
#include "common/text_file.h"
#include "proxima/core/error.h"

using namespace px;
using namespace px::apps;
namespace fs = std::filesystem;

namespace {

using px::test_support::Ran;
using px::test_support::TempDir;
using px::test_support::run_program;

bool same_value(double a, double b) { return std::isnan(a) ? std::isnan(b) : a == b; }

// Values that stress the text format: NaN, infinities, subnormals, extremes, random bits.
double awkward_double(std::mt19937_64& rng) {
  switch (rng() % 8) {
    case 0: return NAN;
    case 1: return (rng() % 2 ? 1 : -1) * INFINITY;
    case 2: return std::ldexp(static_cast<double>(rng() % 1000), -1070);  // subnormal
    case 3: return static_cast<double>(static_cast<std::int64_t>(rng() % 100000)) - 5e4;
    default: {
      double v = std::bit_cast<double>(rng());
      return std::isfinite(v) ? v : 0.1;
    }
  }
}

std::vector<MetricsRow> random_rows(std::mt19937_64& rng, int count, bool extras) {
  std::vector<MetricsRow> rows;
  for (int i = 0; i < count; ++i) {
    MetricsRow row{.epoch = i + 1, .lr = awkward_double(rng), .train_loss = awkward_double(rng),
                   .train_acc = awkward_double(rng), .test_loss = awkward_double(rng),
                   .test_acc = awkward_double(rng), .seconds = awkward_double(rng),
                   .images_per_sec = awkward_double(rng)};
    if (extras) row.extra = {{"sparsity", awkward_double(rng)}, {"grad_norm", awkward_double(rng)}};
    rows.push_back(row);
  }
  return rows;
}

void check_rows_equal(const std::vector<MetricsRow>& got, const std::vector<MetricsRow>& expected) {
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    const MetricsRow &a = got[i], &b = expected[i];
    CHECK(a.epoch == b.epoch);
    for (auto [x, y] : {std::pair{a.lr, b.lr}, {a.train_loss, b.train_loss}, {a.train_acc, b.train_acc},
                        {a.test_loss, b.test_loss}, {a.test_acc, b.test_acc}, {a.seconds, b.seconds},
                        {a.images_per_sec, b.images_per_sec}})
      CHECK(same_value(x, y));
    REQUIRE(a.extra.size() == b.extra.size());
    for (std::size_t k = 0; k < a.extra.size(); ++k) {
      CHECK(a.extra[k].first == b.extra[k].first);
      CHECK(same_value(a.extra[k].second, b.extra[k].second));
    }
  }
}

// The message of the px::ValueError thrown by parsing `text`.
std::string parse_error(const std::string& text) {
  try {
    parse_metrics_csv(text, "runs/x/metrics.csv");
  } catch (const ValueError& e) {
    return e.what();
  }
  return "(no error)";
}

// Tags balanced and properly nested, quotes even inside tags, '&' only in entities.
void check_well_formed(const std::string& svg) {
  std::vector<std::string> open;
  for (std::size_t pos = svg.find('<'); pos != std::string::npos; pos = svg.find('<', pos + 1)) {
    const std::size_t end = svg.find('>', pos);
    REQUIRE(end != std::string::npos);
    const std::string tag = svg.substr(pos + 1, end - pos - 1);
    CHECK(std::count(tag.begin(), tag.end(), '"') % 2 == 0);
    CHECK(tag.find('<') == std::string::npos);
    if (tag.front() == '/') {
      REQUIRE_FALSE(open.empty());
      CHECK(open.back() == tag.substr(1));
      open.pop_back();
    } else if (tag.back() != '/') {
      open.push_back(tag.substr(0, tag.find_first_of(" \n>")));
    }
  }
  CHECK(open.empty());
  const std::regex stray_ampersand("&(?!(amp|lt|gt|quot|apos);)");
  CHECK_FALSE(std::regex_search(svg, stray_ampersand));
  CHECK(svg.rfind("<svg", 0) == 0);
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

std::vector<std::string> tick_labels(const std::string& svg, const std::string& axis) {
  std::vector<std::string> labels;
  const std::regex tick("<text class=\"" + axis + "\"[^>]*>([^<]*)</text>");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), tick); it != std::sregex_iterator(); ++it)
    labels.push_back((*it)[1]);
  return labels;
}

// step == m * 10^k for m in {1, 2, 5}, checked independently of the implementation.
bool is_nice_step(double step) {
  const double k = std::floor(std::log10(step) + 1e-9);
  const double mantissa = step / std::pow(10.0, k);
  for (double m : {1.0, 2.0, 5.0})
    if (std::abs(mantissa - m) < 1e-9) return true;
  return false;
}

// Tick values (parsed from labels) are evenly spaced by a nice step and multiples of it.
void check_nice_labels(const std::vector<std::string>& labels) {
  REQUIRE(labels.size() >= 2);
  std::vector<double> values;
  for (const std::string& label : labels) values.push_back(std::stod(label));
  const double step = values[1] - values[0];
  CHECK(step > 0);
  CHECK(is_nice_step(step));
  for (std::size_t i = 1; i < values.size(); ++i) CHECK(std::abs(values[i] - values[i - 1] - step) < step * 1e-6);
  for (double v : values) CHECK(std::abs(v / step - std::round(v / step)) < 1e-6);
}

Ran run_plot(const std::vector<std::string>& args, const TempDir& dir) { return run_program("plot", args, dir); }

// A run directory `dir`/a with a 3-epoch metrics.csv; returns its path.
fs::path make_run(const TempDir& dir) {
  const fs::path run = dir.path() / "a";
  fs::create_directories(run);
  std::vector<MetricsRow> rows;
  for (int e = 1; e <= 3; ++e) rows.push_back({.epoch = e, .train_loss = 1.0 / e, .test_acc = 0.3 * e});
  write_metrics_csv((run / "metrics.csv").string(), rows);
  return run;
}

}  // namespace

TEST_CASE("metrics.csv: write then read gives back every value exactly, extra columns included") {
  std::mt19937_64 rng(1);
  TempDir dir;
  for (bool extras : {false, true}) {
    const auto rows = random_rows(rng, 25, extras);
    write_metrics_csv(dir.file("m.csv"), rows);
    const MetricsTable table = read_metrics_csv(dir.file("m.csv"));
    CHECK(table.columns == metrics_columns(rows[0]));
    check_rows_equal(metrics_rows(table), rows);
  }
  for (int i = 0; i < 2000; ++i) {
    const double v = awkward_double(rng);
    const std::string text = format_metric(v);
    const double back = std::strtod(text.c_str(), nullptr);  // handles subnormals, inf and nan
    CHECK(same_value(back, v));
  }
}

TEST_CASE("metrics.csv: appending row by row equals writing at once, header mismatch is an error") {
  std::mt19937_64 rng(2);
  TempDir dir;
  const auto rows = random_rows(rng, 6, true);
  for (const MetricsRow& row : rows) append_metrics_csv(dir.file("a.csv"), row);
  write_metrics_csv(dir.file("w.csv"), rows);
  CHECK(read_text_file(dir.file("a.csv")) == read_text_file(dir.file("w.csv")));
  check_rows_equal(metrics_rows(read_metrics_csv(dir.file("a.csv"))), rows);

  const std::string before = read_text_file(dir.file("a.csv"));
  try {
    append_metrics_csv(dir.file("a.csv"), MetricsRow{.epoch = 7});  // no extra columns
    FAIL("no error");
  } catch (const ValueError& e) {
    CHECK(std::string(e.what()).find(dir.file("a.csv")) != std::string::npos);
  }
  CHECK(read_text_file(dir.file("a.csv")) == before);
  MetricsRow other = rows[0];
  other.extra = {{"x", 1}};
  CHECK_THROWS_AS(write_metrics_csv(dir.file("w.csv"), {rows[0], other}), ValueError);
  CHECK(fs::directory_iterator(dir.path()) != fs::directory_iterator());
  for (const auto& entry : fs::directory_iterator(dir.path()))
    CHECK(entry.path().filename().string().find(".tmp") == std::string::npos);  // no temp files left
}

TEST_CASE("metrics.csv: tolerant of spacing, CRLF, blank and comment lines, empty fields") {
  const MetricsTable table = parse_metrics_csv(
      "# run a\r\n epoch , lr,\"train_loss\"\r\n\r\n1, 0.1 ,2.5\r\n2,+0.05,\n  \n3,1e-3,nan\n");
  CHECK(table.columns == std::vector<std::string>{"epoch", "lr", "train_loss"});
  REQUIRE(table.rows.size() == 3);
  CHECK(table.column("lr") == std::vector<double>{0.1, 0.05, 0.001});
  CHECK(table.rows[0][2] == 2.5);
  CHECK(std::isnan(table.rows[1][2]));
  CHECK(std::isnan(table.rows[2][2]));
}

TEST_CASE("metrics.csv: malformed files give errors naming the file and the line") {
  const std::string header = "epoch,lr,test_acc\n";
  CHECK(parse_error(header + "1,0.1,0.5\n2,0.1\n").find("runs/x/metrics.csv:3: expected 3 fields") == 0);
  CHECK(parse_error(header + "1,0.1,0.5,9\n").find("metrics.csv:2: expected 3 fields") != std::string::npos);
  const std::string bad_number = parse_error(header + "\n1,0.1,0.5\n2,abc,0.5\n");
  CHECK(bad_number.find("metrics.csv:4: column 'lr': 'abc' is not a number") != std::string::npos);
  CHECK(parse_error(header + "1,0.1,0.5x\n").find("'0.5x' is not a number") != std::string::npos);
  CHECK(parse_error("epoch,,lr\n").find("metrics.csv:1: empty column name") != std::string::npos);
  CHECK(parse_error("epoch,lr,epoch\n").find("duplicate column 'epoch'") != std::string::npos);
  CHECK(parse_error("").find("runs/x/metrics.csv: empty") == 0);
  CHECK(parse_error("# only a comment\n\n").find("empty") != std::string::npos);
  CHECK(parse_error(std::string("ep\0ch\x7f\x01", 7)).find("runs/x/metrics.csv: not a CSV text file (control byte 0x00 at offset 2)") == 0);
  CHECK(parse_error("1,0.1,0.5\n2,0.1,0.6\n").find("runs/x/metrics.csv:1: the first row holds numbers ('1', ...)") == 0);
  CHECK(parse_error("epoch\t,lr\n1\t,2\n").find("(no error)") == 0);  // a tab is text

  const MetricsTable table = parse_metrics_csv(header + "1.5,0.1,0.5\n", "f.csv");
  CHECK_THROWS_WITH_AS(table.column("train_loss"), doctest::Contains("columns: epoch, lr, test_acc"), ValueError);
  CHECK_THROWS_WITH_AS(metrics_rows(table), doctest::Contains("f.csv"), ValueError);  // standard columns missing
  CHECK_THROWS_WITH_AS(read_metrics_csv("/nonexistent/metrics.csv"), doctest::Contains("/nonexistent/metrics.csv"),
                       ValueError);
}

TEST_CASE("plot ticks: nice steps, multiples of the step, covering the range, for many ranges") {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> unit(0, 1);
  for (int trial = 0; trial < 3000; ++trial) {
    const double scale = std::pow(10.0, std::floor(unit(rng) * 24) - 12);
    const double offset = std::pow(10.0, std::floor(unit(rng) * 5));  // ranges far from 0 too
    double lo = (unit(rng) * 2 - 1) * scale * offset, hi = lo + scale * (0.01 + unit(rng) * 10);
    const int target = 3 + static_cast<int>(rng() % 8);
    const AxisTicks ticks = nice_ticks(lo, hi, target);
    INFO("range [", lo, ", ", hi, "] target ", target, " step ", ticks.step);
    CHECK(is_nice_step(ticks.step));
    REQUIRE(ticks.values.size() >= 2);
    CHECK(std::abs(static_cast<double>(ticks.values.size()) - target) <= 0.6 * target + 1);
    CHECK(ticks.values.front() >= lo - 1e-9 * ticks.step);
    CHECK(ticks.values.back() <= hi + 1e-9 * ticks.step);
    CHECK(ticks.values.front() - lo < ticks.step * (1 + 1e-9));  // no multiple of step missing at either end
    CHECK(hi - ticks.values.back() < ticks.step * (1 + 1e-9));
    for (std::size_t i = 0; i < ticks.values.size(); ++i) {
      CHECK(std::abs(ticks.values[i] / ticks.step - std::round(ticks.values[i] / ticks.step)) < 1e-9);
      const std::string label = format_tick(ticks.values[i], ticks);
      CHECK(std::abs(std::stod(label) - ticks.values[i]) <= ticks.step * 1e-3);  // labels read back
      if (i > 0) CHECK(label != format_tick(ticks.values[i - 1], ticks));
    }
  }
  AxisTicks t = nice_ticks(0, 1, 6);
  CHECK(t.step == 0.2);
  CHECK(format_tick(t.values[1], t) == "0.2");
  t = nice_ticks(-0.013, 0.012, 5);
  for (double v : t.values) CHECK(format_tick(v, t).find("-0.000") == std::string::npos);
  CHECK_THROWS_AS(nice_ticks(1, 1), ValueError);
  CHECK_THROWS_AS(nice_ticks(0, NAN), ValueError);
}

TEST_CASE("svg plot: well-formed, one path per series, escaped legend, nice tick labels") {
  std::mt19937_64 rng(4);
  for (double scale : {1e-4, 0.37, 1.0, 75.0, 3e5}) {
    std::vector<PlotSeries> series;
    for (int s = 0; s < 3; ++s) {
      PlotSeries one{"run <" + std::to_string(s) + "> & \"co\"", {}, {}};
      for (int i = 1; i <= 20; ++i) {
        one.x.push_back(i);
        one.y.push_back(scale * (std::sin(i * 0.3 + s) + 0.01 * static_cast<double>(rng() % 100)));
      }
      series.push_back(one);
    }
    const std::string svg = render_line_plot(series, {.title = "a < b & c", .x_label = "epoch", .y_label = "loss"});
    INFO("scale ", scale);
    check_well_formed(svg);
    CHECK(count_of(svg, "<path") == 3);
    CHECK(count_of(svg, "<polyline") == 0);
    for (int s = 0; s < 3; ++s)
      CHECK(svg.find(">run &lt;" + std::to_string(s) + "&gt; &amp; &quot;co&quot;</text>") != std::string::npos);
    CHECK(svg.find("a &lt; b &amp; c") != std::string::npos);
    for (std::size_t i = 0; i < 3; ++i) CHECK(svg.find("stroke=\"" + plot_palette()[i] + "\"") != std::string::npos);
    check_nice_labels(tick_labels(svg, "xtick"));
    check_nice_labels(tick_labels(svg, "ytick"));
  }
}

TEST_CASE("svg plot: NaN points are skipped and break the line, empty and single-point series") {
  PlotSeries gaps{"gaps", {1, 2, 3, 4, 5, 6, 7}, {1, 2, NAN, 4, 5, INFINITY, 7}};
  PlotSeries empty{"nothing", {1, 2}, {NAN, NAN}};
  PlotSeries single{"single", {3}, {2}};
  const std::string svg = render_line_plot({gaps, empty, single});
  check_well_formed(svg);
  CHECK(count_of(svg, "<path") == 3);
  CHECK(svg.find("nan") == std::string::npos);
  CHECK(svg.find("inf") == std::string::npos);
  const std::regex path_d("<path class=\"series\" d=\"([^\"]*)\"");
  std::vector<std::string> ds;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), path_d); it != std::sregex_iterator(); ++it)
    ds.push_back((*it)[1]);
  REQUIRE(ds.size() == 3);
  CHECK(count_of(ds[0], "M") == 3);  // segments {1,2}, {4,5}, {7}
  CHECK(count_of(ds[0], "L") == 2);
  CHECK(ds[1].empty());
  CHECK(count_of(ds[2], "M") == 1);
  CHECK(count_of(svg, "<circle") == 5 + 1);  // every finite point is marked (few points)
  check_well_formed(render_line_plot({}, {.title = "no data"}));
  CHECK_THROWS_AS(render_line_plot({{"bad", {1, 2}, {1}}}), ValueError);
}

TEST_CASE("run plots: write_run_plots and metric_series read a run's metrics.csv") {
  TempDir dir;
  const fs::path run = dir.path() / "resnet20-sgd";
  fs::create_directories(run);
  std::vector<MetricsRow> rows;
  for (int e = 1; e <= 5; ++e)
    rows.push_back({.epoch = e, .lr = 0.1, .train_loss = 2.0 / e, .train_acc = 0.1 * e, .test_loss = 2.2 / e,
                    .test_acc = 0.09 * e, .seconds = 3, .images_per_sec = 1000});
  write_metrics_csv((run / "metrics.csv").string(), rows);
  write_run_plots(run.string());
  for (const char* name : {"loss.svg", "accuracy.svg"}) {
    const std::string svg = read_text_file((run / "plots" / name).string());
    check_well_formed(svg);
    CHECK(count_of(svg, "<path") == 2);
    CHECK(svg.find(">train</text>") != std::string::npos);
    CHECK(svg.find(">test</text>") != std::string::npos);
  }
  CHECK(std::distance(fs::directory_iterator(run / "plots"), fs::directory_iterator()) == 2);

  CHECK(run_label(run.string()) == "resnet20-sgd");
  CHECK(run_label(run.string() + "/") == "resnet20-sgd");
  CHECK(run_label((run / "metrics.csv").string()) == "resnet20-sgd");
  const auto one = metric_series({run.string()}, {"test_acc"});
  REQUIRE(one.size() == 1);
  CHECK(one[0].name == "resnet20-sgd");
  CHECK(one[0].y[4] == doctest::Approx(0.45));
  const auto two = metric_series({run.string(), run.string()}, {"train_loss", "test_loss"}, "epoch");
  REQUIRE(two.size() == 4);
  CHECK(two[1].name == "resnet20-sgd test_loss");
  CHECK_THROWS_WITH_AS(metric_series({run.string()}, {"nope"}), doctest::Contains("no column 'nope'"), ValueError);
  CHECK_THROWS_AS(metric_series({(dir.path() / "missing").string()}, {"test_acc"}), ValueError);
  CHECK_THROWS_AS(write_run_plots((dir.path() / "missing").string()), ValueError);
  write_text_file_atomic(dir.file("header_only.csv"), "epoch,test_acc\n");
  CHECK_THROWS_WITH_AS(metric_series({dir.file("header_only.csv")}, {"test_acc"}),
                       doctest::Contains("header_only.csv: no data rows"), ValueError);
}

TEST_CASE("plot program: an --out that is one of its inputs is refused and the input kept") {
  TempDir dir("px_plot");
  const fs::path run = make_run(dir);
  const std::string csv = (run / "metrics.csv").string(), before = read_text_file(csv);
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{run.string(), "--out", csv},
        {csv, "--out", (run / ".." / "a" / "metrics.csv").string()},
        {(dir.path() / "." / "a").string(), run.string(), "--metrics", "test_acc,train_loss", "--out", csv}}) {
    INFO(args[0], " ", args.back());
    const Ran r = run_plot(args, dir);
    CHECK(r.code == 2);
    CHECK(r.err.find("plot: error: --out " + args.back() + ": is the input ") == 0);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(read_text_file(csv) == before);
  }
  const Ran ok = run_plot({run.string(), "--out", dir.file("acc.svg")}, dir);
  CHECK(ok.code == 0);
  check_well_formed(read_text_file(dir.file("acc.svg")));
}

TEST_CASE("plot program: an empty metric list or name is refused, naming the flag") {
  TempDir dir("px_plot");
  const fs::path run = make_run(dir);
  for (const std::vector<std::string>& args : {std::vector<std::string>{"--metrics", ",,"},
                                               {"--metrics", "test_acc,,train_loss"},
                                               {"--metrics", "test_acc,"},
                                               {"--metrics", ""},
                                               {"--metric", ""}}) {
    INFO(args[0], " '", args[1], "'");
    const Ran r = run_plot({run.string(), args[0], args[1], "--out", dir.file("x.svg")}, dir);
    CHECK(r.code == 2);
    CHECK(r.err.find("plot: error: " + args[0] + " '" + args[1] + "': ") == 0);
    CHECK(r.err.find("expected") != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK_FALSE(fs::exists(dir.file("x.svg")));
  }
  const Ran two = run_plot({run.string(), "--metrics", "test_acc,train_loss", "--out", dir.file("x.svg")}, dir);
  CHECK(two.code == 0);
  CHECK(two.out.find("(2 series)") != std::string::npos);
}
