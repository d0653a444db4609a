// main() of the GPU suite: exits 77 (CTest's "skipped") when no CUDA device is present.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "proxima/core/backend.h"

int main(int argc, char** argv) {
  if (!px::cuda_available()) {
    std::printf("gpu tests skipped: no CUDA device is present\n");
    return 77;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
