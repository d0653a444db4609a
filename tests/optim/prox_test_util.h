// Helpers of the proximal optimizer tests: expecting an exception whose message names something.
#pragma once

#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include "proxima/core/error.h"

namespace px::test {

// Runs f and checks that it throws ValueError with `needle` in its message.
template <class F>
void check_value_error(F&& f, const std::string& needle) {
  INFO("expected a ValueError naming '", needle, "'");
  try {
    f();
  } catch (const ValueError& e) {
    INFO("message: ", e.what());
    CHECK(std::string(e.what()).find(needle) != std::string::npos);
    return;
  }
  FAIL("no ValueError thrown");
}

// Runs f and checks that it throws E with every one of `needles` in its message.
template <class E>
void check_throws(const std::function<void()>& f, const std::vector<std::string>& needles) {
  bool thrown = false;
  try {
    f();
  } catch (const E& e) {
    thrown = true;
    for (const auto& needle : needles) {
      INFO("message: ", e.what(), "; expected it to contain: ", needle);
      CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
  }
  CHECK(thrown);
}

}  // namespace px::test
