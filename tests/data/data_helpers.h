// Helpers for the data tests: temporary folders, synthetic files whose bytes encode their position.
#pragma once

#include <zlib.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "proxima/core/factory.h"
#include "proxima/data/dataset.h"

#include "temp_dir.h"

namespace px_test {

namespace fs = std::filesystem;

using px::test_support::TempDir;

inline void write_file(const fs::path& path, const std::vector<std::uint8_t>& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

inline void write_gzip(const fs::path& path, const std::vector<std::uint8_t>& bytes) {
  fs::create_directories(path.parent_path());
  gzFile file = gzopen(path.string().c_str(), "wb");
  gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(file);
}

inline std::vector<std::uint8_t> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void truncate_file(const fs::path& path, std::size_t drop) {
  std::vector<std::uint8_t> bytes = read_file(path);
  bytes.resize(bytes.size() - drop);
  write_file(path, bytes);
}

inline void append_be32(std::vector<std::uint8_t>& bytes, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<std::uint8_t>(v >> shift));
}

// The pixel value that sample `i` holds at (c, y, x): distinct enough that a swapped sample,
// channel, row or column shows up.
inline std::uint8_t pixel_code(std::int64_t i, std::int64_t c, std::int64_t y, std::int64_t x) {
  return static_cast<std::uint8_t>((i * 101 + c * 67 + y * 13 + x * 7 + (i >> 8) * 3) & 0xFF);
}

// A dataset of n samples [c, h, w] with pixel_code values and labels i % classes.
inline px::data::Dataset coded_dataset(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w,
                                       std::int64_t classes) {
  px::data::Dataset ds;
  ds.images = px::empty({n, c, h, w}, {.dtype = px::DType::uint8});
  ds.labels = px::empty({n}, {.dtype = px::DType::int64});
  auto* img = ds.images.data<std::uint8_t>();
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t k = 0; k < c; ++k)
      for (std::int64_t y = 0; y < h; ++y)
        for (std::int64_t x = 0; x < w; ++x) *img++ = pixel_code(i, k, y, x);
    ds.labels.data<std::int64_t>()[i] = i % classes;
  }
  for (std::int64_t k = 0; k < classes; ++k) ds.classes.push_back("class" + std::to_string(k));
  ds.name = "coded";
  return ds;
}

// The message of the px::data::DataError that f() throws ("" when it throws none; any other
// exception escapes and fails the test).
template <class F>
std::string data_error_of(F&& f) {
  try {
    f();
  } catch (const px::data::DataError& e) {
    return e.what();
  }
  return "";
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Where a real dataset lives: the environment variable `env` when set, else `fallback`.
inline std::string real_data_path(const char* env, const std::string& fallback) {
  const char* value = std::getenv(env);
  return value && *value ? std::string(value) : fallback;
}

// Skips the rest of a test case when a real dataset is absent. The "SKIPPED:" line on stdout
// makes CTest report the test as skipped (SKIP_REGULAR_EXPRESSION in tests/CMakeLists.txt),
// so a missing dataset never passes silently.
#define PX_SKIP_UNLESS_EXISTS(path)                                                                \
  if (!std::filesystem::exists(path)) {                                                            \
    std::printf("SKIPPED: %s is absent (real-data check not run)\n", std::string(path).c_str()); \
    std::fflush(stdout);                                                                           \
    return;                                                                                        \
  }

}  // namespace px_test
