// Progress: a live per-epoch bar on a terminal, plain periodic lines otherwise, one summary per epoch.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace px::apps {

struct ProgressOptions {
  bool enabled = true;       // false: only the epoch summaries
  int live = -1;             // 1 = redraw a bar in place, 0 = plain lines, -1 = isatty(stream)
  double line_seconds = 10;  // plain mode: at most one line per this many seconds ...
  int lines_per_epoch = 5;   // ... and at least this many per epoch
  std::FILE* stream = stdout;
};

// What the bar shows after `batch` of `batches` batches of the current epoch.
struct ProgressSample {
  std::int64_t batch = 0;    // batches done (1-based after the first)
  std::int64_t images = 0;   // images done this epoch
  double loss = 0;           // running mean training loss this epoch
  double accuracy = 0;       // running training accuracy this epoch, in [0, 1]
  double lr = 0;
};

class Progress {
 public:
  explicit Progress(ProgressOptions options = {});
  void start_epoch(std::int64_t epoch, std::int64_t epochs, std::int64_t batches);
  void update(const ProgressSample& sample);
  // Whether update() for `batch` would draw (the bar's refresh interval, the plain lines' rule):
  // the trainer reads its device-side running sums back only then.
  bool due(std::int64_t batch) const;
  // Clears the live bar and prints `line` (the epoch summary) on a line of its own.
  void end_epoch(const std::string& line);
  // Prints a message line (clearing the live bar first).
  void message(const std::string& line);
  bool live() const { return live_; }

 private:
  double elapsed() const;
  void clear_bar();

  ProgressOptions options_;
  bool live_ = false;
  bool bar_drawn_ = false;
  std::int64_t epoch_ = 0, epochs_ = 0, batches_ = 0;
  std::chrono::steady_clock::time_point start_;
  double last_print_ = 0;
  std::int64_t last_batch_printed_ = 0;
};

// "1:05" / "1:02:03" for a duration in seconds.
std::string format_duration(double seconds);

}  // namespace px::apps
