// Plots of runs' metrics.csv: series per (run, metric) for apps/plot, and labels for runs.
#pragma once

#include <string>
#include <vector>

#include "common/svg_plot.h"

namespace px::apps {

// `run` is a run directory (its metrics.csv is read) or a metrics CSV file itself; px::ValueError
// naming it when it does not exist.
std::string run_metrics_path(const std::string& run);
// The legend name of a run: its directory's name ("runs/a/" -> "a", "runs/a/metrics.csv" -> "a").
std::string run_label(const std::string& run);

// One series per (run, metric): x from column `x_column`, y from the metric. Named by the
// run label alone when there is one metric, "label metric" otherwise, or the metric alone
// for a single run with several metrics. px::ValueError (naming the file) for a missing
// file or column.
std::vector<PlotSeries> metric_series(const std::vector<std::string>& runs, const std::vector<std::string>& metrics,
                                      const std::string& x_column = "epoch");

}  // namespace px::apps
