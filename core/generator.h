// Seedable random-number generator: Philox4x32-10 keyed by a seed, addressed by a counter.
#pragma once

#include <cstdint>

namespace px {

// CONVENTION: random tensors are a pure function of (seed, offset, element index): element i
// of a draw uses Philox counter (offset + i). A draw of n elements advances the offset by n
// (rounded up to a multiple of 4), so results do not depend on device or thread count.
class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0) : seed_(seed) {}
  void manual_seed(std::uint64_t seed) { seed_ = seed; offset_ = 0; }
  std::uint64_t seed() const { return seed_; }
  std::uint64_t offset() const { return offset_; }
  void set_offset(std::uint64_t offset) { offset_ = offset; }
  // Reserves counters for n elements and returns the offset of the first.
  std::uint64_t advance(std::uint64_t n) {
    std::uint64_t first = offset_;
    offset_ += (n + 3) / 4 * 4;
    return first;
  }

 private:
  std::uint64_t seed_;
  std::uint64_t offset_ = 0;
};

Generator& default_generator();
void manual_seed(std::uint64_t seed);  // reseeds the default generator

}  // namespace px
