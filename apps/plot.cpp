// plot: draws one or more runs' metrics.csv columns as an SVG line plot.
//   plot RUN_DIR... [--metric test_acc] [--metrics a,b] [--x epoch] [--out FILE.svg] [--title T]
// Each RUN_DIR is a run directory (or a metrics CSV file); the legend names the runs.
// Errors (bad flags, missing files or columns) print one line and exit with status 2.
#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "common/run_plots.h"
#include "common/svg_plot.h"

int main(int argc, char** argv) {
  CLI::App app{"Plot metrics.csv columns of one or more training runs as an SVG line chart.", "plot"};
  std::vector<std::string> runs, metrics;
  std::string metric = "test_acc", x_column = "epoch", out = "plot.svg", title;
  app.add_option("runs", runs, "Run directories (or metrics CSV files)")->required();
  auto* metric_option = app.add_option("--metric", metric, "Column to plot")->capture_default_str();
  app.add_option("--metrics", metrics, "Several columns to plot, comma-separated")
      ->delimiter(',')
      ->excludes(metric_option);
  app.add_option("--x", x_column, "Column for the x axis")->capture_default_str();
  app.add_option("--out", out, "Output SVG file")->capture_default_str();
  app.add_option("--title", title, "Plot title (default: the metric names)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "plot: error: " << e.what() << " (see plot --help)\n";
    return 2;
  }

  try {
    if (metrics.empty()) metrics = {metric};
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
