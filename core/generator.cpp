// The process-wide default random generator.
#include "proxima/core/generator.h"

namespace px {

Generator& default_generator() {
  static Generator generator(0);
  return generator;
}

void manual_seed(std::uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace px
