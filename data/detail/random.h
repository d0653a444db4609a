// Philox streams for the data layer: keys from (seed, purpose, epoch), seeded permutations.
#pragma once

#include <cstdint>
#include <numeric>
#include <vector>

#include "proxima/core/philox.h"

namespace px::data::detail {

// What a stream is used for; part of its key so that no two purposes share random numbers.
enum class Stream : std::uint64_t { shuffle = 1, augment = 2, subset = 3 };

// SplitMix64 finaliser: a bijective mixing of 64 bits.
inline std::uint64_t mix64(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The Philox key of stream (seed, purpose, epoch).
inline std::uint64_t stream_key(std::uint64_t seed, Stream purpose, std::uint64_t epoch) {
  return mix64(seed ^ mix64(static_cast<std::uint64_t>(purpose) ^ mix64(epoch)));
}

// The 4 words at `counter` of stream `key`.
inline philox::U32x4 stream_words(std::uint64_t key, std::uint64_t counter) {
  return philox::philox4x32(counter, key);
}

// An integer uniform on [0, bound) from 32 random bits (Lemire's multiply-shift; the bias,
// below bound / 2^32, is irrelevant for dataset sizes).
inline std::uint64_t bounded(std::uint32_t bits, std::uint64_t bound) {
  return (static_cast<std::uint64_t>(bits) * bound) >> 32;
}

// A permutation of 0..n-1 that is a pure function of (key, n): Fisher-Yates where step i
// (from n-1 down to 1) draws word 0 of counter i.
inline std::vector<std::int64_t> permutation(std::uint64_t key, std::int64_t n) {
  std::vector<std::int64_t> p(static_cast<std::size_t>(n));
  std::iota(p.begin(), p.end(), 0);
  for (std::int64_t i = n - 1; i > 0; --i) {
    auto j = static_cast<std::int64_t>(bounded(stream_words(key, i).v[0], i + 1));
    std::swap(p[i], p[j]);
  }
  return p;
}

}  // namespace px::data::detail
