// Whole-file text output written atomically (temporary file in the same folder, fsync, rename).
#pragma once

#include <string>

namespace px::apps {

// Replaces `path` with `text` so that readers see either the old file or the whole new one;
// px::Error naming the path on failure, with no temporary file left behind.
void write_text_file_atomic(const std::string& path, const std::string& text);

// The whole file as a string; px::ValueError naming the path when it cannot be opened.
std::string read_text_file(const std::string& path);

}  // namespace px::apps
