// The CPU float-tensor l1/2 and l2/3 proxes of the fused ProxGen loops without float <-> double conversions:
// the threshold decided in float with a re-check band, the Newton residual in compensated float
// (float-float) arithmetic; lanes it cannot decide go to the double form (fast_prox.h).
//
// Why: in the fused loop over float tensors the double refinement of fast_prox_float.h costs more
// in conversions (4 float -> double per 8 lanes, 1 back, plus the lane shuffles) than in maths,
// and the threshold test a^3 > (27/8) t^2 in double costs as much again.
// What (for float z, t; a = |z|; s ~ sqrt(x) the float start):
// * threshold: 2c = t / a^(3/2), formed as (t rs) rs^2 with rs = 1 / sqrt(a) to 1.7e-7 (rsqrt_ff;
//   < 1e-6 relative; for a denormal a, below the threshold of every t > 0, it is inf); |z| is
//   above the threshold iff c < kL12CMax (fast_prox.h). Lanes with c within kL12Band of kL12CMax
//   (ties included) are flagged for the double form.
// * refinement: one Newton step s' = s - f(s) / f'(s) on f(s) = s^3 - a s + t/2, with f evaluated
//   to ~1e-14 of a s (the scale of its terms) by error-free products (fma): s^2 = p + pe exactly;
//   h = p - a exactly (Sterbenz: p/a = w^2 in [2/3, 1]); s h = q + qe exactly; q + t/2 exactly
//   (Sterbenz again: s h = -t/2 at the root); f = (q + t/2) + (qe + s pe). The correction
//   d = f / f' only needs float precision (it is ~1e-7 s), and x = s'^2 = p + (pe - 2 s d) rounds
//   once. Measured on random float inputs (as tests/optim/test_prox_fast_ff.cpp, half of them
//   near the threshold): the closed form's float on 4M; 5 lanes of 36M one ulp off (the session-6
//   form with sqrt: 1 of the same 36M).
// * flagged for the double form besides the band: active lanes with a below kFfMinA (the
//   error-free products need their terms above the float denormals); a above kFfMaxA, inf or NaN;
//   t NaN. Inactive lanes of small a are exact zeros already; t <= 0 gives z here. So typical
//   lanes (z = 0 or t = 0 included: a zero lambda, a zero gradient) never leave the vector loop.
// So it stays within ALGORITHMS.md's rule: the branch is evaluated to double accuracy (the
// float-float residual), masked before anything can overflow, and never returns NaN for finite
// inputs; t <= 0 or |z| = inf gives z, else NaN in z or t gives NaN (as the double form).
// Needs a hardware fma (std::fma is then one instruction and the loop vectorises):
// kFloatFfAvailable is false otherwise, and callers keep the double form.
#pragma once

#include <cmath>
#include <cstdint>

#include "proxima/core/hd.h"
#include "proxima/optim/prox/fast_prox_float.h"

namespace px::optim::prox::fast {

// Not `inline`: a const namespace-scope variable has internal linkage, so translation units
// built with and without -march=native (the library and the tests) may each see their own value.
#if defined(__FMA__) || defined(__aarch64__)
constexpr bool kFloatFfAvailable = true;
#else
constexpr bool kFloatFfAvailable = false;
#endif

inline constexpr float kL12CMaxF = 0.2721655269759087f;  // kL12CMax (fast_prox.h) in float
inline constexpr float kL12Band = 1e-5f;                // |c / kL12CMax - 1| below this: re-check
inline constexpr float kFfMinA = 1e-20f, kFfMaxA = 1e24f;

// The redo flag of prox_l12_ff / prox_l23_ff from the threshold variable c (2c for l1/2, e for
// l2/3; active iff c < c_max): c within the band around c_max; active, t > 0 and a below kFfMinA;
// a above kFfMaxA, inf or NaN; t NaN. As unsigned compares of the bit patterns (one compare each,
// no float masks to combine; ~1% faster): for t > 0 and a below kFfMinA, c is positive, so
// 0 < c < c_max is active & positive.
PX_HD int ff_redo(float a, float t, float c, float c_max, float band) {
  const std::uint32_t ab = bits_of_float(a), cb = bits_of_float(c), tb = bits_of_float(t);
  const std::uint32_t lo = bits_of_float(c_max * (1.0f - band)) + 1u, hi = bits_of_float(c_max * (1.0f + band));
  const bool in_band = cb - lo < hi - lo;  // c_max (1 - band) < c < c_max (1 + band)
  const bool small = (ab < bits_of_float(kFfMinA)) & (cb - 1u < bits_of_float(c_max) - 1u);
  const bool big = ab > bits_of_float(kFfMaxA);
  const bool t_nan = (tb & 0x7fffffffu) > 0x7f800000u;
  return in_band | small | big | t_nan;
}

// The state between the passes of prox_l12_ff / prox_l23_ff (proxgen.cpp's fused loop runs each
// pass over a block of lanes; the l2/3 comment below says why passes).
struct FfStage {
  float u, v;
};

// a^(-1/2) for a normal float a, to 1.7e-7 (measured over every float in [1, 4) and a sweep of
// 1e-37 .. 1e37: tests/optim/test_prox_fast_ff.cpp). Seed q = bits^-1(K - bits(a) / 2) (3.4%),
// then q P(a q^2 - 1), P a degree-4 fit of (1 + x)^(-1/2) on the seed's range (2.4e-8). Only
// multiplies: a vsqrtps and a vdivps (what sqrt, then 1 / sqrt took) cost ~16 multiplies of the
// same width on Zen 4. For a = 0 it is finite (~3e19: 2c is then inf or NaN, inactive).
PX_HD float rsqrt_ff(float a) {
  const float q = float_from_bits(0x5f375000u - (bits_of_float(a) >> 1));
  constexpr float kP[5] = {1.0f, -0.4999983310699463f, 0.37499886751174927f, -0.3139367997646332f, 0.2745600640773773f};
  return q * horner_f(std::fma(a, q * q, -1.0f), kP);
}

// P_{1/2}(z; t) as three passes (whole step, data in L2, 1 thread: 1.24 ns/coordinate as one pass
// with sqrt and 1 / sqrt, 1.08 as below).
// Pass 1: rs = 1 / sqrt(a) (rsqrt_ff) and 2c = t / a^(3/2), formed as (t rs) rs^2; u = sqrt(a) as a rs.
PX_HD FfStage l12_start_ff(float z, float t) {
  const float a = std::fabs(z);
  const float rs = rsqrt_ff(a);
  return {a * rs, (t * rs) * (rs * rs)};
}
// Pass 2: the start s = sqrt(a) w(c), w the degree-9 fit in c of fast_prox_float.h (1.1e-7 in
// float; session 6's degree-4 form in sqrt(cb - c) needs one more square root, ~10 multiplies).
PX_HD FfStage l12_mid_ff([[maybe_unused]] float z, [[maybe_unused]] float t, FfStage st) {
  return {st.u * l12_w(0.5f * st.v), st.v};
}
// Pass 3: one Newton step s' = s - f(s) / f'(s) on f(s) = s^3 - a s + t/2 with f in compensated
// float (the file comment), f'(s) = 3 s^2 - a = a (3 w^2 - 1) in [a, 2a] (no cancellation; a above
// kFfMaxA is flagged), x = s'^2 = p + (pe - 2 s d); then the select and the flags.
PX_HD float l12_finish_ff(float z, float t, FfStage st, int& redo) {
  const float a = std::fabs(z), s = st.u, c2 = st.v;
  const float p = s * s, pe = std::fma(s, s, -p);
  const float h = p - a;
  const float q = s * h, qe = std::fma(s, h, -q);
  const float f = (q + 0.5f * t) + std::fma(s, pe, qe);
  const float d = f / std::fma(3.0f, p, -a);
  const float x = p + std::fma(-2.0f * s, d, pe);
  constexpr float kC2Max = 2.0f * kL12CMaxF;
  const bool active = c2 < kC2Max;  // false for NaN
  const bool positive = t > 0.0f;
  redo = ff_redo(a, t, c2, kC2Max, kL12Band);
  const float out = std::copysign(active ? x : 0.0f, z);
  return positive ? out : z;
}
// P_{1/2}(z; t) for float z, t; sets redo (to 1) where the caller must use the double form.
PX_HD float prox_l12_ff(float z, float t, int& redo) {
  return l12_finish_ff(z, t, l12_mid_ff(z, t, l12_start_ff(z, t)), redo);
}

// ---- l2/3 ----
// x = y^3 with y the root of F(y) = y^4 - a y + k, k = 2t/3, in [(a/2)^(1/3), a^(1/3)] (fast_prox_float.h).
// Per 16 lanes: 35 mul/fma and 2 divisions (the former form: 54 and 2; AVX-512 on Zen 4 runs one
// 16-lane mul/fma per cycle, the divider beside it); in three passes (FfStage below).
// * q2 = a^(-2/3) (rcbrt2_ff): a seed q ~ a^(-1/3) from the bits of a (3.4%), then one order-4 step.
// * threshold: e = t q2^2 = (3/2) (2t/3) a^(-4/3) (to ~1.5e-5) below kL23E15Max iff active, re-check
//   band kL23Band. Formed as (t q2) q2: t q2 is normal wherever e is near the threshold, and q2 is
//   finite for every normal a (a denormal a is below the threshold of every t > 0; e is then inf or
//   NaN: inactive).
// * start: y = a^(1/3) m(e) = (a q2) m(e), m = (1 - u)^(1/3) a minimax polynomial (9.5e-5); one
//   float Newton step y <- y - F(y) / F'(y) takes it to float rounding (~1.5e-7; the step's
//   quadratic term adds < 3e-8).
// * one compensated Newton step: y^2 = p + pe, y p = c3 + c3e (exact), h = c3 - a (Sterbenz: y^3 / a
//   in [1/2, 1]), y h = m + me (exact), 2t/3 = k + kl (kl from 2/3 as a float pair, two fmas),
//   m + k exact (Sterbenz: y h = -k at the root), F = (m + k) + (me + y (c3e + y pe) + kl),
//   d = -3 F / F'(y) in float, x = y'^3 = c3 + (c3e + y pe + p d) (the dropped 3 y d^2 is ~1e-13 of x,
//   as the Newton error). Measured on 4M random float inputs: the closed form's float every time.
inline constexpr float kL23E15Max = 0.5952753944880749f;   // 1.5 kL23EMax (fast_prox.h): the threshold of e
inline constexpr float kL23Band = 1e-4f;  // |e / kL23E15Max - 1| below this: re-check (e is good to ~1.5e-5)

// a^(-2/3) for a normal float a, to 6.8e-6 (measured over every 7th float in [1, 8) and a sweep of
// 1e-37 .. 1e37: tests/optim/test_prox_fast_ff.cpp). Seed q = bits^-1(K - bits(a) / 3) ~ a^(-1/3)
// (K tuned: 3.4%), the division by 3 in float (bits(a) < 2^31 rounds to 2^-24 relative, which moves
// the seed by < 1e-5); then q2 = q^2 P(a q^3 - 1), P a degree-3 fit of (1 + x)^(-2/3) on the
// seed's range (one step of order 4).
PX_HD float rcbrt2_ff(float a) {
  const float s = std::fma(float(static_cast<std::int32_t>(bits_of_float(a))), -1.0f / 3.0f, 1419916032.0f);
  const float q = float_from_bits(static_cast<std::uint32_t>(static_cast<std::int32_t>(s)));
  const float q2 = q * q;
  constexpr float kP[4] = {0.999993503f, -0.666695237f, 0.560406506f, -0.491914392f};  // ~ (1 + x)^(-2/3)
  return q2 * horner_f(std::fma(a, q2 * q, -1.0f), kP);
}

// prox_l23_ff as three passes over a block of lanes (proxgen.cpp's fused loop runs them so; the
// state between passes is FfStage: u = y, v = e). Why: in one pass the chain of dependent
// operations per lane (~115 cycles: seed, two polynomials, two divisions, the compensated step) is
// too long for Zen 4's out-of-order window to overlap enough lanes (~75 vector operations per 16
// lanes); as three passes the same operations measured 1.48 -> 1.21 ns/coordinate for the whole
// step (data in L2, 1 thread). Two passes gave 1.31, four 1.28, one pass with the gradient half
// 1.48.
// Pass 1: e and the start y.
PX_HD FfStage l23_start_ff(float z, float t) {
  // m(e) = (1 - u)^(1/3): minimax degree 5 on [0, 1.001 kL23E15Max], relative error 9.5e-5
  constexpr float kM[6] = {1.00009501f, -0.231592909f, 0.0505742505f, -0.917914689f, 1.93172491f, -1.81042504f};
  const float a = std::fabs(z);
  const float q2 = rcbrt2_ff(a);
  const float e = (t * q2) * q2;
  return {(a * q2) * horner_f(e, kM), e};
}
// Pass 2: the float Newton step on y.
PX_HD FfStage l23_newton_ff(float z, float t, FfStage st) {
  constexpr float kTwoThirds = 0.666666686534881591796875f;
  const float a = std::fabs(z), y = st.u;
  const float k = t * kTwoThirds;
  const float y3 = (y * y) * y;
  return {y - std::fma(y, y3 - a, k) / std::fma(4.0f, y3, -a), st.v};
}

// Pass 3: the compensated Newton step, the threshold select and the flags.
PX_HD float l23_finish_ff(float z, float t, FfStage st, int& redo) {
  constexpr float kTwoThirds = 0.666666686534881591796875f, kTwoThirdsLo = -1.98682149e-08f;  // 2/3 as a pair
  const float a = std::fabs(z), y = st.u, e = st.v;
  const float k = t * kTwoThirds;
  const float p = y * y, pe = std::fma(y, y, -p);
  const float c3 = y * p, c3e = std::fma(y, p, -c3);
  const float hl = std::fma(y, pe, c3e);
  const float h = c3 - a;
  const float m = y * h, me = std::fma(y, h, -m);
  const float kl = std::fma(t, kTwoThirdsLo, std::fma(t, kTwoThirds, -k));
  const float f = (m + k) + (std::fma(y, hl, me) + kl);
  const float x = c3 + std::fma(p, f * (-3.0f / std::fma(4.0f, c3, -a)), hl);
  // Lanes the double form must redo: near the threshold; active with |z| below the error-free range;
  // |z| above it, inf or NaN; t NaN (rare or pathological data only). t <= 0 keeps z here.
  const bool active = e < kL23E15Max;  // false for NaN
  const bool positive = t > 0.0f;
  redo = ff_redo(a, t, e, kL23E15Max, kL23Band);
  const float out = std::copysign(active ? x : 0.0f, z);
  return positive ? out : z;
}

PX_HD float prox_l23_ff(float z, float t, int& redo) {
  return l23_finish_ff(z, t, l23_newton_ff(z, t, l23_start_ff(z, t)), redo);
}

}  // namespace px::optim::prox::fast
