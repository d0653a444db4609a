// Helpers of the proximal optimizer tests: expecting a ValueError whose message names something.
#pragma once

#include <doctest/doctest.h>

#include <string>

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

}  // namespace px::test
