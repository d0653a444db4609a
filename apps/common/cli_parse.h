// parse_cli: CLI11 parsing with proxima's exit-code convention, shared by the programs' flag parsers.
#pragma once

#include <CLI/CLI.hpp>

#include <charconv>
#include <functional>
#include <limits>
#include <string>

#include "proxima/core/error.h"

namespace px::apps {

// A CLI11 check for an integer flag of type T: the text must be an integer that T holds. CLI11's
// own conversion clamps an out-of-range value (99999999999999999999 epochs) and wraps a negative
// one into an unsigned type (--seed -1); this refuses both, naming the range.
template <class T>
CLI::Validator integer_of() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        T value{};
        const char* end = text.data() + text.size();
        const auto [ptr, ec] = std::from_chars(text.data(), end, value);
        if (ec == std::errc() && ptr == end) return "";
        return text + " is not an integer in [" + std::to_string(std::numeric_limits<T>::min()) + ", " +
               std::to_string(std::numeric_limits<T>::max()) + "]";
      },
      "INTEGER");
}

// Parses argv with `app`, then runs `finish` (defaults, validation). Returns -1 when the
// program should go on, 0 after --help (`message` holds the help text), 2 after a bad flag or a
// px::Error from `finish` (`message` holds one line naming the problem).
inline int parse_cli(CLI::App& app, int argc, const char* const* argv, std::string& message,
                     const std::function<void()>& finish) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    message = app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    message = e.what();
    for (char& ch : message) {
      if (ch == '\n') ch = ' ';
    }
    return 2;
  }
  try {
    finish();
  } catch (const px::Error& e) {
    message = e.what();
    return 2;
  }
  return -1;
}

}  // namespace px::apps
