// plot: draws one or more runs' metrics.csv columns as an SVG line plot.
//   plot RUN_DIR... [--metric test_acc] [--metrics a,b] [--x epoch] [--out FILE.svg] [--title T]
// Each RUN_DIR is a run directory (or a metrics CSV file); the legend names the runs.
// Errors (bad flags, an empty metric name, an --out that is one of the inputs, missing files or
// columns) print one line "plot: error: ..." and exit with status 2; nothing is written then.
#include <CLI/CLI.hpp>

#include <exception>
#include <filesystem>
#include <iostream>
#include <string>
#include <system_error>
#include <vector>

#include "common/cli_parse.h"
#include "common/run_plots.h"
#include "common/svg_plot.h"
#include "proxima/core/error.h"

namespace {

// --metrics "a,b" -> {a, b}; ValueError for an empty name (",,", "a,", "").
std::vector<std::string> split_metrics(const std::string& list) {
  std::vector<std::string> names;
  for (std::size_t start = 0;;) {
    const std::size_t comma = list.find(',', start);
    names.push_back(list.substr(start, comma - start));  // comma == npos: to the end
    PX_CHECK(!names.back().empty(), px::ValueError, "--metrics '", list,
             "': an empty metric name; expected column names separated by commas, e.g. train_loss,test_loss");
    if (comma == std::string::npos) return names;
    start = comma + 1;
  }
}

// Refuses an --out that is one of the input CSV files: the plot would replace the data.
void check_out_is_no_input(const std::string& out, const std::vector<std::string>& runs) {
  for (const std::string& run : runs) {
    const std::string input = px::apps::run_metrics_path(run);
    std::error_code error;  // set (and false returned) when `out` does not exist yet
    PX_CHECK(!std::filesystem::equivalent(out, input, error), px::ValueError, "--out ", out, ": is the input ",
             input, ", which the plot would replace; choose another file");
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Plot metrics.csv columns of one or more training runs as an SVG line chart.", "plot"};
  std::vector<std::string> runs, metrics;
  std::string metric = "test_acc", metric_list, x_column = "epoch", out = "plot.svg", title;
  app.add_option("runs", runs, "Run directories (or metrics CSV files)")->required();
  auto* metric_option = app.add_option("--metric", metric, "Column to plot")->capture_default_str();
  auto* metrics_option = app.add_option("--metrics", metric_list, "Several columns to plot, comma-separated")
                             ->excludes(metric_option);
  app.add_option("--x", x_column, "Column for the x axis")->capture_default_str();
  app.add_option("--out", out, "Output SVG file (not one of the inputs)")->capture_default_str();
  app.add_option("--title", title, "Plot title (default: the metric names)");

  std::string message;
  const int parsed = px::apps::parse_cli(app, argc, argv, message, [&] {
    PX_CHECK(!metric.empty(), px::ValueError, "--metric '': expected a column name");
    metrics = metrics_option->count() ? split_metrics(metric_list) : std::vector<std::string>{metric};
    check_out_is_no_input(out, runs);
  });
  if (parsed == 0) {
    std::cout << message;
    return 0;
  }
  if (parsed > 0) {
    std::cerr << "plot: error: " << message << " (see plot --help)\n";
    return parsed;
  }

  try {
    std::string joined;
    for (const std::string& m : metrics) joined += (joined.empty() ? "" : ", ") + m;
    const auto series = px::apps::metric_series(runs, metrics, x_column);
    px::apps::write_line_plot(out, series,
                              {.title = title.empty() ? joined : title,
                               .x_label = x_column,
                               .y_label = metrics.size() == 1 ? metrics[0] : std::string("value")});
    std::cout << "wrote " << out << " (" << series.size() << " series)\n";
  } catch (const std::exception& e) {
    std::cerr << "plot: error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
