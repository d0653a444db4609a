// Float-tensor forms of the fast l1/2 and l2/3 active branches (fast_prox.h): a float start
// without divisions, then division-free Newton steps in double.
//
// For float inputs the prox must be right to ~1e-12 relative before rounding to float. The
// double forms of fast_prox.h get there with double divisions and square roots, which Zen 4 /
// AVX-512 runs double-pumped at a fraction of the FMA rate; here (per 16 float lanes):
// * start (float): 1 / sqrt(a) (one vsqrtps + vdivps), or a^(-1/3) from the exponent-thirding
//   integer seed and three float Newton steps; the normalised root from a float Chebyshev-fit
//   polynomial (relative error 1e-7 for l1/2, 1e-6 for l2/3); r ~ 1 / f' at the root from the
//   same quantities with one float division;
// * refinement (double): division-free Newton steps s <- s - f(s) r on the stationarity
//   polynomial with the fixed float r. A step maps a relative error e to about
//   e |1 - f' r| + C e^2 (C <= 3, |1 - f' r| ~ 1e-6): one step for l1/2, two for l2/3 leave
//   < 3e-13 relative (measured on 2M random float inputs against the closed forms).
// ALGORITHMS.md requires the l1/2, l2/3 active branches in double: the refinement (the value
// returned) is double; the float part only picks the starting point and the step size.
// Inputs are the float t and |z| (or, for the binary family, |z| - 1 of a float z, rounded: it
// only moves the start) and the exact double a, t of the refinement. Results for a below the
// threshold are garbage (callers select them away); no floating-point traps are assumed
// (-fno-trapping-math). Every intermediate stays in the float / double range for float inputs
// (1 / a may be a float denormal for a > 8e37: a slower start, same result).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "proxima/core/hd.h"

namespace px::optim::prox::fast {

template <int N>
PX_HD float horner_f(float x, const float (&k)[N]) {
  float r = k[N - 1];
#pragma GCC unroll 16
  for (int i = N - 2; i >= 0; --i) r = r * x + k[i];
  return r;
}

PX_HD float float_from_bits(std::uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}
PX_HD std::uint32_t bits_of_float(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

// a^(-1/3) for a normal float: exponent-thirding seed, three Newton steps (relative error below
// 1.1e-5, measured over every float in [1, 8) and a sweep of 1e-30 .. 1e30).
PX_HD float rcbrt_f(float a) {
  float y = float_from_bits(0x548c39cbu - bits_of_float(a) / 3u);
  const float third_a = a * (1.0f / 3.0f);
#pragma GCC unroll 4
  for (int it = 0; it < 3; ++it) y = y * (4.0f / 3.0f - third_a * (y * y * y));
  return y;
}

// ---- l1/2: x = s^2 with s the largest root of f(s) = s^3 - a s + t/2 (fast_prox.h) ----
// Normalised: s = sqrt(a) w, w^3 - w + c = 0, c = t / (2 a^(3/2)) in [0, kL12CMax];
// f'(s) = a (3 w^2 - 1), 3 w^2 - 1 in [1, 2]. w: degree-9 fit in x = 2 c / cmax - 1 (relative
// error 1.1e-7 evaluated in float).
struct L12Start {
  float s, r;  // s ~ sqrt(x), r ~ 1 / f'(s)
};
// w(c) (fast_prox_ff.h uses it too).
PX_HD float l12_w(float c) {
  constexpr float kW[10] = {0.923376867f,     -0.0873516383f,  -0.0135661775f,   -0.00378517577f, -0.00131672484f,
                            -0.000510904292f, -0.000173776804f, -6.83299496e-05f, -7.18595668e-05f, -3.56515442e-05f};
  constexpr float kScale = float(2.0 / 0.2721655269759087);
  return horner_f(c * kScale - 1.0f, kW);
}
// The start from a, rs = 1 / sqrt(a) and c = t / (2 a^(3/2)).
PX_HD L12Start l12_start_c(float a, float rs, float c) {
  const float w = l12_w(c);
  // r = 1 / (a (3 w^2 - 1)) with 3 w^2 - 1 in [1, 2] (3 s^2 - a would overflow for a > 1e38)
  return {(a * rs) * w, (rs * rs) / (3.0f * (w * w) - 1.0f)};
}
PX_HD L12Start l12_start_f(float a, float t) {
  // vsqrtps + vdivps; three Newton steps from the exponent-halving seed instead (FMA pipes only,
  // no divider) measured no faster in the fused loop and lose accuracy for a > 1e38
  const float rs = 1.0f / std::sqrt(a);
  // t / (2 a^(3/2)) as ((t rs) rs) rs: every partial product lies between t and c (no overflow).
  const float c = ((t * rs) * rs) * (0.5f * rs);
  return l12_start_c(a, rs, c);
}

// The double refinement: one Newton step with the float r; returns x = s^2.
PX_HD double l12_refine(double a, double t, L12Start st) {
  double s = double(st.s);
  s -= (s * (s * s - a) + 0.5 * t) * double(st.r);
  return s * s;
}

// ---- l2/3: x = y^3 with y the root of F(y) = y^4 - a y + k, k = 2t/3, in [(a/2)^(1/3), a^(1/3)] ----
// Normalised: y = a^(1/3) (1 - u)^(1/3), u^3 (1 - u) = e^3, e = k a^(-4/3) in [0, kL23EMax];
// F'(y) = a (3 - 4 u), 3 - 4u in [1, 3]. m = (1 - u)^(1/3): degree-10 fit in x = 2 e / emax - 1
// (relative error 9e-7 evaluated in float).
struct L23Start {
  float y, r;  // y ~ x^(1/3), r ~ 1 / F'(y)
};
// The start from a, q = a^(-1/3) (rcbrt_f) and e = (2t/3) a^(-4/3) (fast_prox_ff.h forms them too).
PX_HD L23Start l23_start_e(float a, float q, float e) {
  constexpr float kM[11] = {0.922436219f,     -0.092744906f,    -0.0205322891f,  -0.00763539186f,
                            -0.00343724801f,  -0.00217899292f,  -0.00137744156f, 0.000183142655f,
                            0.000324087937f,  -0.000773114431f, -0.000562886925f};
  constexpr float kScale = float(2.0 / 0.3968502629920499);
  const float q2 = q * q;
  const float m = horner_f(e * kScale - 1.0f, kM);
  // r = 1 / (a (4 m^3 - 1)) with 4 m^3 - 1 = 3 - 4u in [1, 3] (4 y^3 - a would overflow)
  return {(a * q2) * m, (q2 * q) / (4.0f * (m * m) * m - 1.0f)};
}
// e as (((t q) q^2) (2q/3)): t q is normal wherever a is above the threshold (a rounded 2t/3
// could be a denormal), and every partial product lies between t and e.
PX_HD float l23_e(float t, float q) { return ((t * q) * (q * q)) * ((2.0f / 3.0f) * q); }
PX_HD L23Start l23_start_f(float a, float t) {
  const float q = rcbrt_f(a);
  return l23_start_e(a, q, l23_e(t, q));
}

// The double refinement: two Newton steps with the float r; returns x = y^3.
PX_HD double l23_refine(double a, double k, L23Start st) {
  double y = double(st.y);
  const double r = double(st.r);
#pragma GCC unroll 3
  for (int it = 0; it < 2; ++it) {
    const double y2 = y * y;
    y -= (y * (y2 * y - a) + k) * r;
  }
  return y * y * y;
}

}  // namespace px::optim::prox::fast
