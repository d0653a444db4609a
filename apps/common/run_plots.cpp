// Series from runs' metrics.csv files, and the loss/accuracy plots written into a run directory.
#include "common/run_plots.h"

#include <filesystem>

#include "common/metrics.h"
#include "proxima/core/error.h"

namespace px::apps {
namespace fs = std::filesystem;

std::string run_metrics_path(const std::string& run) {
  PX_CHECK(fs::exists(run), ValueError, run, ": no such run directory or metrics CSV file");
  return fs::is_directory(run) ? (fs::path(run) / "metrics.csv").string() : run;
}

std::string run_label(const std::string& run) {
  fs::path path = fs::path(run).lexically_normal();
  if (!fs::is_directory(run)) path = path.parent_path();  // a metrics file: name it after its folder
  if (path.filename().empty()) path = path.parent_path();  // "runs/a/" -> "runs/a"
  if (path.empty() || path.filename() == "." || path.filename() == "..") path = fs::absolute(path).lexically_normal();
  if (path.filename().empty()) path = path.parent_path();
  const std::string label = path.filename().string();
  return label.empty() ? run : label;
}

std::vector<PlotSeries> metric_series(const std::vector<std::string>& runs, const std::vector<std::string>& metrics,
                                      const std::string& x_column) {
  std::vector<PlotSeries> series;
  for (const std::string& run : runs) {
    const MetricsTable table = read_metrics_csv(run_metrics_path(run));
    PX_CHECK(!table.rows.empty(), ValueError, table.path, ": no data rows (only the header): nothing to plot");
    const std::vector<double> x = table.column(x_column);
    for (const std::string& metric : metrics) {
      std::string name = metrics.size() == 1 ? run_label(run)
                         : runs.size() == 1  ? metric
                                             : run_label(run) + " " + metric;
      series.push_back({std::move(name), x, table.column(metric)});
    }
  }
  return series;
}

void write_run_plots(const std::string& run_dir) {
  const MetricsTable table = read_metrics_csv((fs::path(run_dir) / "metrics.csv").string());
  const fs::path plots = fs::path(run_dir) / "plots";
  std::error_code error;
  fs::create_directories(plots, error);
  PX_CHECK(!error, Error, "write_run_plots: cannot create ", plots.string(), ": ", error.message());
  const std::vector<double> epoch = table.column("epoch");
  const std::string label = run_label(run_dir);
  write_line_plot((plots / "loss.svg").string(),
                  {{"train", epoch, table.column("train_loss")}, {"test", epoch, table.column("test_loss")}},
                  {.title = label + ": loss", .x_label = "epoch", .y_label = "loss"});
  write_line_plot((plots / "accuracy.svg").string(),
                  {{"train", epoch, table.column("train_acc")}, {"test", epoch, table.column("test_acc")}},
                  {.title = label + ": accuracy", .x_label = "epoch", .y_label = "accuracy"});
  if (table.has_column("sparsity") && table.has_column("sparsity_all")) {
    write_line_plot((plots / "sparsity.svg").string(),
                    {{"regularised weights (exact zeros)", epoch, table.column("sparsity")},
                     {"all parameters (exact zeros)", epoch, table.column("sparsity_all")}},
                    {.title = label + ": sparsity", .x_label = "epoch", .y_label = "fraction of zeros"});
  }
  if (table.has_column("objective") && table.has_column("penalty")) {
    write_line_plot((plots / "objective.svg").string(),
                    {{"objective F = train loss + lambda R", epoch, table.column("objective")},
                     {"train loss", epoch, table.column("train_loss")},
                     {"lambda R", epoch, table.column("penalty")}},
                    {.title = label + ": objective", .x_label = "epoch", .y_label = "value"});
  }
}

}  // namespace px::apps
