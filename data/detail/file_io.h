// File helpers for the loaders: whole-file reads (raw or gzip), text lines, path checks.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace px::data::detail {

namespace fs = std::filesystem;

// The bytes of `path`; DataError naming the path when it cannot be opened or read.
std::vector<std::uint8_t> read_bytes(const fs::path& path);
// The decompressed bytes of a gzip file, or the bytes of a plain file (zlib reads both);
// DataError for a missing file or a corrupt / truncated gzip stream.
std::vector<std::uint8_t> read_gzip_or_raw(const fs::path& path);
// Non-empty lines of a text file, trailing whitespace and '\r' removed.
std::vector<std::string> read_lines(const fs::path& path);
// Big-endian 32-bit integer at bytes[at..at+4).
std::uint32_t read_be32(const std::vector<std::uint8_t>& bytes, std::size_t at);
std::string lowercase(std::string s);
bool is_file(const fs::path& path);
bool is_dir(const fs::path& path);

}  // namespace px::data::detail
