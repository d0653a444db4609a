// metrics.csv: one row per epoch (epoch, lr, losses, accuracies, timing, extra columns); write and read.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace px::apps {

// CONVENTION: metrics.csv is plain comma-separated text. Line 1 is the header: the eight
// standard columns below in this order, then any extra columns. Every later non-blank
// line holds one number per column; numbers are written in the shortest form that reads
// back exactly ("0.1", "3", "nan", "inf"). Reading accepts surrounding spaces, CRLF line
// ends, blank lines, lines starting with '#', and an empty field as NaN (missing value).

constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();

struct MetricsRow {
  std::int64_t epoch = 0;  // 1-based
  double lr = kMissing;
  double train_loss = kMissing, train_acc = kMissing;
  double test_loss = kMissing, test_acc = kMissing;
  double seconds = kMissing, images_per_sec = kMissing;
  std::vector<std::pair<std::string, double>> extra;  // more columns, in order
};

// "epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc", "seconds", "images_per_sec".
const std::vector<std::string>& metrics_standard_columns();

// The header columns of `row`: the standard ones, then its extra names.
std::vector<std::string> metrics_columns(const MetricsRow& row);

// Replaces `path` atomically with a header and `rows`. All rows must have the same extra
// column names (px::ValueError otherwise); an empty `rows` writes the standard header only.
void write_metrics_csv(const std::string& path, const std::vector<MetricsRow>& rows);

// Appends one row, writing the header first when the file is missing or empty. When the
// file exists its header must equal the row's columns (px::ValueError naming the file).
void append_metrics_csv(const std::string& path, const MetricsRow& row);

// Any metrics.csv-like table: named columns of numbers.
struct MetricsTable {
  std::string path;                        // where it was read from (for error messages)
  std::vector<std::string> columns;
  std::vector<std::vector<double>> rows;   // rows[i].size() == columns.size()

  bool has_column(const std::string& name) const;
  // The values of one column; px::ValueError naming the file and the available columns.
  std::vector<double> column(const std::string& name) const;
};

// Parses CSV text; errors are px::ValueError starting "<source>:<line>: " (source names the
// file). Header names must be non-empty and unique; each row needs one field per column.
MetricsTable parse_metrics_csv(const std::string& text, const std::string& source = "metrics.csv");
MetricsTable read_metrics_csv(const std::string& path);

// Rows of a table that has all the standard columns (others become `extra`); px::ValueError
// when a standard column is missing or an epoch is not an integer.
std::vector<MetricsRow> metrics_rows(const MetricsTable& table);

// Shortest text that reads back to exactly `value` ("nan", "inf", "-inf" for non-finite).
std::string format_metric(double value);

}  // namespace px::apps
