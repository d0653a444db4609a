// Philox4x32-10 counter-based random numbers (Salmon et al., SC'11), host and device.
#pragma once

#include <cmath>
#include <cstdint>

#include "proxima/core/hd.h"

namespace px::philox {

struct U32x4 {
  std::uint32_t v[4];
};

PX_HD std::uint32_t mulhilo(std::uint32_t a, std::uint32_t b, std::uint32_t* hi) {
  std::uint64_t p = static_cast<std::uint64_t>(a) * b;
  *hi = static_cast<std::uint32_t>(p >> 32);
  return static_cast<std::uint32_t>(p);
}

// Ten rounds of Philox4x32 on counter `ctr` with key `key`.
PX_HD U32x4 philox4x32(std::uint64_t counter, std::uint64_t key) {
  std::uint32_t c0 = static_cast<std::uint32_t>(counter), c1 = static_cast<std::uint32_t>(counter >> 32);
  std::uint32_t c2 = 0, c3 = 0;
  std::uint32_t k0 = static_cast<std::uint32_t>(key), k1 = static_cast<std::uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    std::uint32_t hi0, hi1;
    std::uint32_t lo0 = mulhilo(0xD2511F53u, c0, &hi0);
    std::uint32_t lo1 = mulhilo(0xCD9E8D57u, c2, &hi1);
    std::uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {{c0, c1, c2, c3}};
}

// Uniform in [0, 1) from 32 random bits (24 bits of mantissa, like float32 generators).
PX_HD double uniform01(std::uint32_t bits) { return (bits >> 8) * (1.0 / 16777216.0); }

// The i-th uniform number of the stream (seed, offset): element i uses word i % 4 of
// counter (offset + i) / 4 ... with offset a multiple of 4.
PX_HD double uniform_at(std::uint64_t seed, std::uint64_t offset, std::uint64_t i) {
  U32x4 r = philox4x32((offset + i) / 4, seed);
  return uniform01(r.v[(offset + i) % 4]);
}

// The i-th standard normal of the stream: Box-Muller on two independent words of the
// counter block (i's block shifted into the upper half of the key space).
PX_HD double normal_at(std::uint64_t seed, std::uint64_t offset, std::uint64_t i) {
  U32x4 r = philox4x32(offset + i, seed ^ 0x9E3779B97F4A7C15ull);
  double u1 = (static_cast<double>(r.v[0]) + 1.0) * (1.0 / 4294967297.0);  // (0, 1)
  double u2 = r.v[1] * (1.0 / 4294967296.0);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace px::philox
