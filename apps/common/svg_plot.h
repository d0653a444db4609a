// Dependency-free SVG line plots (series, legend, nice ticks) and the per-run loss/accuracy plots.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace px::apps {

struct PlotSeries {
  std::string name;           // legend text
  std::vector<double> x, y;   // same length; points with a non-finite x or y are skipped
};

struct PlotOptions {
  std::string title, x_label, y_label;
  int width = 760, height = 460;  // pixels, legend included
};

// CONVENTION: each series is one <path class="series"> (the line breaks at skipped points),
// drawn in palette colour i % 10, plus <circle> markers at its points (all of them when it
// has at most 60, else only isolated ones). Axis ranges cover the finite points with a 5%
// margin; tick values are multiples of 1, 2 or 5 x 10^k (<text class="xtick"/"ytick">).
std::string render_line_plot(const std::vector<PlotSeries>& series, const PlotOptions& options = {});
// render_line_plot written atomically to `path`.
void write_line_plot(const std::string& path, const std::vector<PlotSeries>& series,
                     const PlotOptions& options = {});

struct AxisTicks {
  double step = 1;              // 1, 2 or 5 x 10^exponent
  int exponent = 0;
  std::vector<double> values;   // every multiple of step inside [lo, hi], ascending
};
// Nice tick values for the range [lo, hi] (lo < hi, both finite): the step of the form
// {1, 2, 5} x 10^k giving at least two ticks whose count is closest to `target` (ties: the larger step).
AxisTicks nice_ticks(double lo, double hi, int target = 6);
// A tick label with just the decimals the step needs ("0.25" for step 0.05, "1500" for
// step 500, "%g" style such as "2.5e-07" with the digits the step needs for very small steps
// or values of 1e9 and more).
std::string format_tick(double value, const AxisTicks& ticks);

// Text safe inside SVG/XML elements and attribute values (& < > " ').
std::string xml_escape(std::string_view text);

// The fixed colour palette (10 colours, as "#rrggbb").
const std::vector<std::string>& plot_palette();

// Reads <run_dir>/metrics.csv and writes <run_dir>/plots/loss.svg (train_loss, test_loss)
// and <run_dir>/plots/accuracy.svg (train_acc, test_acc) against epoch, atomically.
// Defined in run_plots.cpp; px::Error on a missing or malformed metrics.csv.
void write_run_plots(const std::string& run_dir);

}  // namespace px::apps
