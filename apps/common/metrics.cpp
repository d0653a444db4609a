// metrics.csv writer (atomic rewrite, append) and a strict, line-numbered reader.
#include "common/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "common/text_file.h"
#include "proxima/core/error.h"

namespace px::apps {
namespace {

std::string join(const std::vector<std::string>& parts, const char* separator) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? separator : "") + parts[i];
  return out;
}

std::string csv_line(const MetricsRow& row) {
  std::string line = std::to_string(row.epoch);
  for (double value : {row.lr, row.train_loss, row.train_acc, row.test_loss, row.test_acc, row.seconds,
                       row.images_per_sec})
    line += "," + format_metric(value);
  for (const auto& [name, value] : row.extra) line += "," + format_metric(value);
  return line + "\n";
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t\r") - first + 1);
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  for (std::size_t comma; (comma = line.find(',', start)) != std::string_view::npos; start = comma + 1)
    fields.push_back(trim(line.substr(start, comma - start)));
  fields.push_back(trim(line.substr(start)));
  return fields;
}

// A number, or NaN for an empty field; false when the field is not a number.
bool parse_number(std::string_view field, double& value) {
  if (field.empty()) {
    value = kMissing;
    return true;
  }
  if (field.front() == '+') field.remove_prefix(1);
  const auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), value);
  return error == std::errc() && end == field.data() + field.size();
}

std::string header_line_of(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const std::string_view text = trim(line);
    if (!text.empty() && text.front() != '#') return std::string(text);
  }
  return {};
}

// A metrics file is text: a byte below 0x20 other than tab, CR and LF (a NUL, say) means the
// caller named a binary file, and listing its "columns" would print garbage.
void check_is_text(const std::string& text, const std::string& source) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x20 && byte != '\t' && byte != '\r' && byte != '\n') {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", byte);
      PX_CHECK(false, ValueError, source, ": not a CSV text file (control byte ", hex, " at offset ", i,
               "); expected a metrics.csv written by train_cifar");
    }
  }
}

// A header whose every field is a number is a data row: the file has no header.
void check_not_numeric_header(const std::vector<std::string_view>& fields, const std::string& source,
                              std::size_t line_number) {
  double ignored = 0;
  for (std::string_view field : fields)
    if (field.empty() || !parse_number(field, ignored)) return;
  PX_CHECK(false, ValueError, source, ":", line_number, ": the first row holds numbers ('", fields.front(),
           "', ...), not column names; the header row (e.g. epoch,lr,...) is missing");
}

}  // namespace

std::string format_metric(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

const std::vector<std::string>& metrics_standard_columns() {
  static const std::vector<std::string> columns = {"epoch",     "lr",       "train_loss", "train_acc",
                                                   "test_loss", "test_acc", "seconds",    "images_per_sec"};
  return columns;
}

std::vector<std::string> metrics_columns(const MetricsRow& row) {
  std::vector<std::string> columns = metrics_standard_columns();
  for (const auto& [name, value] : row.extra) columns.push_back(name);
  return columns;
}

void write_metrics_csv(const std::string& path, const std::vector<MetricsRow>& rows) {
  const std::vector<std::string> columns = rows.empty() ? metrics_standard_columns() : metrics_columns(rows[0]);
  const std::set<std::string> unique(columns.begin(), columns.end());
  PX_CHECK(unique.size() == columns.size() && !unique.contains(""), ValueError, "write_metrics_csv(", path,
           "): column names must be non-empty and unique, got ", join(columns, ","));
  std::string text = join(columns, ",") + "\n";
  for (const MetricsRow& row : rows) {
    PX_CHECK(metrics_columns(row) == columns, ValueError, "write_metrics_csv(", path, "): epoch ", row.epoch,
             " has columns ", join(metrics_columns(row), ","), " but the first row has ", join(columns, ","));
    text += csv_line(row);
  }
  write_text_file_atomic(path, text);
}

void append_metrics_csv(const std::string& path, const MetricsRow& row) {
  const std::string columns = join(metrics_columns(row), ",");
  const bool fresh = !std::filesystem::exists(path) || std::filesystem::file_size(path) == 0;
  if (!fresh) {
    const std::string header = header_line_of(path);
    PX_CHECK(header == columns, ValueError, "append_metrics_csv(", path, "): the file's header '", header,
             "' differs from the row's columns '", columns, "'");
  }
  std::ofstream out(path, std::ios::app);
  PX_CHECK(out.good(), Error, "append_metrics_csv: cannot open ", path, " for appending");
  out << (fresh ? columns + "\n" : std::string()) + csv_line(row);
  out.flush();
  PX_CHECK(out.good(), Error, "append_metrics_csv: writing ", path, " failed");
}

bool MetricsTable::has_column(const std::string& name) const {
  return std::find(columns.begin(), columns.end(), name) != columns.end();
}

std::vector<double> MetricsTable::column(const std::string& name) const {
  const auto found = std::find(columns.begin(), columns.end(), name);
  PX_CHECK(found != columns.end(), ValueError, path, ": no column '", name, "' (columns: ", join(columns, ", "), ")");
  const std::size_t index = static_cast<std::size_t>(found - columns.begin());
  std::vector<double> values;
  values.reserve(rows.size());
  for (const auto& row : rows) values.push_back(row[index]);
  return values;
}

MetricsTable parse_metrics_csv(const std::string& text, const std::string& source) {
  check_is_text(text, source);
  MetricsTable table;
  table.path = source;
  std::size_t line_number = 0, start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string_view line = trim(std::string_view(text).substr(start, end - start));
    start = end + 1;
    ++line_number;
    if (line.empty() || line.front() == '#') continue;
    const std::vector<std::string_view> fields = split_fields(line);
    if (table.columns.empty()) {
      check_not_numeric_header(fields, source, line_number);
      for (std::string_view field : fields) {
        if (field.size() >= 2 && field.front() == '"' && field.back() == '"') field = field.substr(1, field.size() - 2);
        PX_CHECK(!field.empty(), ValueError, source, ":", line_number, ": empty column name in the header");
        PX_CHECK(!table.has_column(std::string(field)), ValueError, source, ":", line_number,
                 ": duplicate column '", field, "' in the header");
        table.columns.emplace_back(field);
      }
      continue;
    }
    PX_CHECK(fields.size() == table.columns.size(), ValueError, source, ":", line_number, ": expected ",
             table.columns.size(), " fields (", join(table.columns, ","), "), got ", fields.size());
    std::vector<double>& row = table.rows.emplace_back(fields.size());
    for (std::size_t i = 0; i < fields.size(); ++i)
      PX_CHECK(parse_number(fields[i], row[i]), ValueError, source, ":", line_number, ": column '",
               table.columns[i], "': '", fields[i], "' is not a number");
  }
  PX_CHECK(!table.columns.empty(), ValueError, source, ": empty, expected a header row");
  return table;
}

MetricsTable read_metrics_csv(const std::string& path) { return parse_metrics_csv(read_text_file(path), path); }

std::vector<MetricsRow> metrics_rows(const MetricsTable& table) {
  const auto& standard = metrics_standard_columns();
  std::vector<std::vector<double>> values;
  for (const std::string& name : standard) values.push_back(table.column(name));
  std::vector<std::string> extra_names;
  for (const std::string& name : table.columns)
    if (std::find(standard.begin(), standard.end(), name) == standard.end()) extra_names.push_back(name);

  std::vector<MetricsRow> rows;
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const double epoch = values[0][r];
    PX_CHECK(std::isfinite(epoch) && epoch == std::floor(epoch), ValueError, table.path, ": row ", r + 1,
             ": epoch ", format_metric(epoch), " is not an integer");
    MetricsRow row{.epoch = static_cast<std::int64_t>(epoch), .lr = values[1][r], .train_loss = values[2][r],
                   .train_acc = values[3][r], .test_loss = values[4][r], .test_acc = values[5][r],
                   .seconds = values[6][r], .images_per_sec = values[7][r], .extra = {}};
    for (const std::string& name : extra_names) {
      const std::size_t index = static_cast<std::size_t>(
          std::find(table.columns.begin(), table.columns.end(), name) - table.columns.begin());
      row.extra.emplace_back(name, table.rows[r][index]);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace px::apps
