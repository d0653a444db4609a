// SVG line plots: axis ranges with margins, nice ticks, series paths broken at NaNs, legend.
#include "common/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/text_file.h"
#include "proxima/core/error.h"

namespace px::apps {
namespace {

std::string number(double value) {  // an SVG coordinate
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2f", value);
  return buffer;
}

double power_of_ten(int exponent) {  // exact for |exponent| <= 22
  double p = 1;
  for (int i = 0; i < std::abs(exponent); ++i) p *= 10;
  return exponent >= 0 ? p : 1 / p;
}

bool finite_point(const PlotSeries& s, std::size_t i) { return std::isfinite(s.x[i]) && std::isfinite(s.y[i]); }

struct Range {
  double lo = 0, hi = 1;
};

// The finite points' range along x (use_x) or y, with a 5% margin; [0, 1] when empty.
Range axis_range(const std::vector<PlotSeries>& series, bool use_x) {
  double lo = INFINITY, hi = -INFINITY;
  for (const PlotSeries& s : series)
    for (std::size_t i = 0; i < s.x.size(); ++i)
      if (finite_point(s, i)) {
        const double v = use_x ? s.x[i] : s.y[i];
        lo = std::min(lo, v), hi = std::max(hi, v);
      }
  if (lo > hi) return {};
  if (hi - lo <= 1e-12 * std::max(std::abs(lo), std::abs(hi))) {
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    return {lo - pad, hi + pad};
  }
  const double pad = 0.05 * (hi - lo);
  return {lo - pad, hi + pad};
}

// Screen mapping of the plot area.
struct Frame {
  double left, top, width, height;
  Range x, y;
  double sx(double v) const { return left + (v - x.lo) / (x.hi - x.lo) * width; }
  double sy(double v) const { return top + (y.hi - v) / (y.hi - y.lo) * height; }
};

void draw_ticks(std::string& svg, const Frame& f, const std::string& x_label, const std::string& y_label) {
  const AxisTicks xt = nice_ticks(f.x.lo, f.x.hi, 7), yt = nice_ticks(f.y.lo, f.y.hi, 6);
  const double bottom = f.top + f.height, right = f.left + f.width;
  svg += "<g class=\"grid\" stroke=\"#e5e5e5\" stroke-width=\"1\">\n";
  for (double v : xt.values)
    svg += "<line x1=\"" + number(f.sx(v)) + "\" y1=\"" + number(f.top) + "\" x2=\"" + number(f.sx(v)) +
           "\" y2=\"" + number(bottom) + "\"/>\n";
  for (double v : yt.values)
    svg += "<line x1=\"" + number(f.left) + "\" y1=\"" + number(f.sy(v)) + "\" x2=\"" + number(right) +
           "\" y2=\"" + number(f.sy(v)) + "\"/>\n";
  svg += "</g>\n<rect x=\"" + number(f.left) + "\" y=\"" + number(f.top) + "\" width=\"" + number(f.width) +
         "\" height=\"" + number(f.height) + "\" fill=\"none\" stroke=\"#333333\"/>\n";
  for (double v : xt.values)
    svg += "<text class=\"xtick\" x=\"" + number(f.sx(v)) + "\" y=\"" + number(bottom + 16) +
           "\" text-anchor=\"middle\">" + xml_escape(format_tick(v, xt)) + "</text>\n";
  for (double v : yt.values)
    svg += "<text class=\"ytick\" x=\"" + number(f.left - 6) + "\" y=\"" + number(f.sy(v) + 4) +
           "\" text-anchor=\"end\">" + xml_escape(format_tick(v, yt)) + "</text>\n";
  if (!x_label.empty())
    svg += "<text class=\"xlabel\" x=\"" + number(f.left + f.width / 2) + "\" y=\"" + number(bottom + 40) +
           "\" text-anchor=\"middle\">" + xml_escape(x_label) + "</text>\n";
  if (!y_label.empty()) {
    const std::string x = number(18), y = number(f.top + f.height / 2);
    svg += "<text class=\"ylabel\" x=\"" + x + "\" y=\"" + y + "\" text-anchor=\"middle\" transform=\"rotate(-90 " +
           x + " " + y + ")\">" + xml_escape(y_label) + "</text>\n";
  }
}

void draw_series(std::string& svg, const Frame& f, const PlotSeries& s, const std::string& colour) {
  std::string path, markers;
  std::size_t finite_count = 0;
  for (std::size_t i = 0; i < s.x.size(); ++i) finite_count += finite_point(s, i);
  bool pen_down = false;
  for (std::size_t i = 0; i < s.x.size(); ++i) {
    if (!finite_point(s, i)) {
      pen_down = false;
      continue;
    }
    const bool isolated = (i == 0 || !finite_point(s, i - 1)) && (i + 1 >= s.x.size() || !finite_point(s, i + 1));
    path += (path.empty() ? "" : " ") + std::string(pen_down ? "L" : "M") + number(f.sx(s.x[i])) + " " +
            number(f.sy(s.y[i]));
    pen_down = true;
    if (finite_count <= 60 || isolated)
      markers += "<circle cx=\"" + number(f.sx(s.x[i])) + "\" cy=\"" + number(f.sy(s.y[i])) + "\" r=\"2.5\"/>";
  }
  svg += "<path class=\"series\" d=\"" + path + "\" fill=\"none\" stroke=\"" + colour +
         "\" stroke-width=\"2\" stroke-linejoin=\"round\"/>\n";
  if (!markers.empty()) svg += "<g fill=\"" + colour + "\">" + markers + "</g>\n";
}

void draw_legend(std::string& svg, const std::vector<PlotSeries>& series, double x, double top) {
  for (std::size_t i = 0; i < series.size(); ++i) {
    const std::string colour = plot_palette()[i % plot_palette().size()];
    const double y = top + 8 + 20.0 * static_cast<double>(i);
    svg += "<g class=\"legend\"><line x1=\"" + number(x) + "\" y1=\"" + number(y) + "\" x2=\"" + number(x + 22) +
           "\" y2=\"" + number(y) + "\" stroke=\"" + colour + "\" stroke-width=\"2\"/><text class=\"legend-label\" x=\"" +
           number(x + 28) + "\" y=\"" + number(y + 4) + "\">" + xml_escape(series[i].name) + "</text></g>\n";
  }
}

}  // namespace

const std::vector<std::string>& plot_palette() {
  static const std::vector<std::string> palette = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return palette;
}

std::string xml_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t' || c == '\n') out += c;  // XML forbids other controls
    }
  }
  return out;
}

AxisTicks nice_ticks(double lo, double hi, int target) {
  PX_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo < hi, ValueError, "nice_ticks: need finite lo < hi, got [",
           lo, ", ", hi, "]");
  target = std::max(target, 2);
  const int base = static_cast<int>(std::floor(std::log10(hi / target - lo / target)));
  AxisTicks best;
  double best_score = INFINITY;
  for (int exponent = base - 1; exponent <= base + 1; ++exponent)
    for (int mantissa : {1, 2, 5}) {
      const double step = mantissa * power_of_ten(exponent);
      const double first = std::ceil(lo / step - 1e-9), last = std::floor(hi / step + 1e-9);
      if (last - first > 1000 || first + 1 == first) continue;  // far too many, or beyond exact integers
      const double count = last - first + 1;
      const double score = count < 2 ? 1e9 : std::abs(count - target);  // an axis needs two ticks
      if (score <= best_score) {  // ascending steps: ties go to the larger one
        best_score = score;
        best.step = step, best.exponent = exponent;
        best.values.clear();
        for (double i = first; i <= last; ++i)  // i * mantissa is exact: one rounding to the decimal value
          best.values.push_back(exponent >= 0 ? i * mantissa * power_of_ten(exponent)
                                              : i * mantissa / power_of_ten(-exponent));
      }
    }
  if (best.values.empty()) best.values = {lo, hi};  // only for ranges tiny relative to their values
  return best;
}

std::string format_tick(double value, const AxisTicks& ticks) {
  double largest = 0;
  for (double v : ticks.values) largest = std::max(largest, std::abs(v));
  char buffer[64];
  if (ticks.exponent < -6 || largest >= 1e9) {  // enough significant digits to tell ticks apart
    const int digits = static_cast<int>(std::floor(std::log10(std::max(largest, ticks.step)))) - ticks.exponent + 1;
    std::snprintf(buffer, sizeof buffer, "%.*g", std::clamp(digits, 1, 17), value);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.*f", std::max(0, -ticks.exponent), value);
  }
  std::string text = buffer;
  if (text.front() == '-' && text.find_first_of("123456789") == std::string::npos) text.erase(0, 1);  // "-0"
  return text;
}

std::string render_line_plot(const std::vector<PlotSeries>& series, const PlotOptions& options) {
  for (const PlotSeries& s : series)
    PX_CHECK(s.x.size() == s.y.size(), ValueError, "render_line_plot: series '", s.name, "' has ", s.x.size(),
             " x values but ", s.y.size(), " y values");
  std::size_t longest_name = 0;
  for (const PlotSeries& s : series) longest_name = std::max(longest_name, s.name.size());
  const double legend_width = series.empty() ? 0 : std::min(260.0, 40.0 + 7.0 * static_cast<double>(longest_name));
  const double width = std::max(options.width, 200), height = std::max(options.height, 150);
  const double top = options.title.empty() ? 20 : 44, left = 72, bottom = 56, right = 20 + legend_width;
  const Frame frame{left, top, std::max(40.0, width - left - right), std::max(40.0, height - top - bottom),
                    axis_range(series, true), axis_range(series, false)};

  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + number(width) + "\" height=\"" +
                    number(height) + "\" viewBox=\"0 0 " + number(width) + " " + number(height) +
                    "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  if (!options.title.empty())
    svg += "<text class=\"title\" x=\"" + number(width / 2) + "\" y=\"26\" text-anchor=\"middle\" font-size=\"16\">" +
           xml_escape(options.title) + "</text>\n";
  draw_ticks(svg, frame, options.x_label, options.y_label);
  for (std::size_t i = 0; i < series.size(); ++i)
    draw_series(svg, frame, series[i], plot_palette()[i % plot_palette().size()]);
  draw_legend(svg, series, frame.left + frame.width + 14, frame.top);
  return svg + "</svg>\n";
}

void write_line_plot(const std::string& path, const std::vector<PlotSeries>& series, const PlotOptions& options) {
  write_text_file_atomic(path, render_line_plot(series, options));
}

}  // namespace px::apps
