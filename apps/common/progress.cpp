// Progress bar and periodic progress lines of a training epoch.
#include "common/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace px::apps {

Progress::Progress(ProgressOptions options) : options_(options) {
  live_ = options_.live < 0 ? ::isatty(::fileno(options_.stream)) != 0 : options_.live == 1;
}

void Progress::start_epoch(std::int64_t epoch, std::int64_t epochs, std::int64_t batches) {
  epoch_ = epoch;
  epochs_ = epochs;
  batches_ = batches;
  start_ = std::chrono::steady_clock::now();
  last_print_ = 0;
  last_batch_printed_ = 0;
}

double Progress::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string format_duration(double seconds) {
  const auto s = static_cast<long long>(std::max(0.0, std::round(seconds)));
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lld:%02lld", s / 60, s % 60);
  }
  return buf;
}

bool Progress::due(std::int64_t batch) const {
  if (!options_.enabled || batches_ <= 0) return false;
  const double t = elapsed();
  if (live_) return t - last_print_ >= 0.1 || batch >= batches_;  // redraw at most 10 times a second
  // Plain lines: every line_seconds, and at every 1/lines_per_epoch of the epoch.
  const std::int64_t step = std::max<std::int64_t>(1, batches_ / std::max(1, options_.lines_per_epoch));
  const bool due_by_count =
      batch / step > last_batch_printed_ / step && batch - last_batch_printed_ > step / 2 && batch < batches_;
  const bool due_by_time = t - last_print_ >= options_.line_seconds && batch < batches_;
  return due_by_count || due_by_time;
}

void Progress::update(const ProgressSample& p) {
  if (!due(p.batch)) return;
  const double t = elapsed();
  const double rate = t > 0 ? static_cast<double>(p.images) / t : 0.0;
  const double eta = p.batch > 0 ? t * static_cast<double>(batches_ - p.batch) / static_cast<double>(p.batch) : 0;
  if (live_) {
    last_print_ = t;
    constexpr int width = 24;
    const int filled = static_cast<int>(width * p.batch / batches_);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(width, '.');
    std::fprintf(options_.stream, "\r\033[2Kepoch %lld/%lld [%s] %lld/%lld  loss %.4f  acc %5.2f%%  %.0f img/s  ETA %s",
                 static_cast<long long>(epoch_), static_cast<long long>(epochs_), bar.c_str(),
                 static_cast<long long>(p.batch), static_cast<long long>(batches_), p.loss, 100 * p.accuracy,
                 rate, format_duration(eta).c_str());
    std::fflush(options_.stream);
    bar_drawn_ = true;
    return;
  }
  last_print_ = t;
  last_batch_printed_ = p.batch;
  std::fprintf(options_.stream, "  epoch %lld/%lld  batch %lld/%lld  loss %.4f  acc %5.2f%%  lr %.5g  %.0f img/s  ETA %s\n",
               static_cast<long long>(epoch_), static_cast<long long>(epochs_), static_cast<long long>(p.batch),
               static_cast<long long>(batches_), p.loss, 100 * p.accuracy, p.lr, rate, format_duration(eta).c_str());
  std::fflush(options_.stream);
}

void Progress::clear_bar() {
  if (bar_drawn_) {
    std::fprintf(options_.stream, "\r\033[2K");
    bar_drawn_ = false;
  }
}

void Progress::end_epoch(const std::string& line) { message(line); }

void Progress::message(const std::string& line) {
  clear_bar();
  std::fprintf(options_.stream, "%s\n", line.c_str());
  std::fflush(options_.stream);
}

}  // namespace px::apps
