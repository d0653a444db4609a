// The CPU float-tensor l1/2 and l2/3 proxes of the fused ProxGen loops without float <-> double conversions:
// the threshold decided in float with a re-check band, the Newton residual in compensated float
// (float-float) arithmetic; lanes it cannot decide go to the double form (fast_prox.h).
//
// Why: in the fused loop over float tensors the double refinement of fast_prox_float.h costs more
// in conversions (4 float -> double per 8 lanes, 1 back, plus the lane shuffles) than in maths,
// and the threshold test a^3 > (27/8) t^2 in double costs as much again.
// What (for float z, t; s, r the float start of l12_start_f, a = |z|):
// * threshold: c = t / (2 a^(3/2)) is already formed in float for the start (a few ulps,
//   < 1e-6 relative); |z| is above the threshold iff c < kL12CMax (fast_prox.h). Lanes with c
//   within kL12Band of kL12CMax (ties included) are flagged for the double form.
// * refinement: one Newton step s' = s - f(s) r on f(s) = s^3 - a s + t/2, with f evaluated
//   to ~1e-14 of a s (the scale of its terms) by error-free products (fma): s^2 = p + pe exactly;
//   h = p - a exactly (Sterbenz: p/a = w^2 in [2/3, 1]); s h = q + qe exactly; q + t/2 exactly
//   (Sterbenz again: s h = -t/2 at the root); f = (q + t/2) + (qe + s pe). The correction
//   d = f r only needs float precision (it is ~1e-7 s), and x = s'^2 = p + (pe - 2 s d) rounds
//   once. Measured on 4M random float inputs (tests/optim/test_prox_fast_ff.cpp): the same float
//   as the closed form of scalar_prox.h (the double form agrees as well).
// * range: the error-free products need the terms above the float denormals: active lanes with
//   a outside [kFfMinA, kFfMaxA] are flagged as well (inactive ones are exact zeros already).
// So it stays within ALGORITHMS.md's rule: the branch is evaluated to double accuracy (the
// float-float residual), masked before anything can overflow, and never returns NaN for finite
// inputs; t <= 0 or |z| = inf gives z, else NaN in z or t gives NaN (as the double form).
// Needs a hardware fma (std::fma is then one instruction and the loop vectorises):
// kFloatFfAvailable is false otherwise, and callers keep the double form.
#pragma once

#include <cmath>

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

// f(s) r for f(s) = s^3 - a s + t/2 in compensated float (see above); a, s > 0, s^2 / a in
// [1/2, 2] and s h ~ -t/2 for the Sterbenz steps. Returns the Newton correction d (s' = s - d)
// and p, pe with s^2 = p + pe.
struct L12Correction {
  float d, p, pe;
};
PX_HD L12Correction l12_correction_ff(float a, float t, float s, float r) {
  const float p = s * s, pe = std::fma(s, s, -p);
  const float h = p - a;
  const float q = s * h, qe = std::fma(s, h, -q);
  const float f = (q + 0.5f * t) + std::fma(s, pe, qe);
  return {f * r, p, pe};
}

// P_{1/2}(z; t) for float z, t; sets redo (to 1) where the caller must use the double form.
PX_HD float prox_l12_ff(float z, float t, int& redo) {
  const float a = std::fabs(z);
  const float rs = 1.0f / std::sqrt(a);
  const float c = ((t * rs) * rs) * (0.5f * rs);
  const L12Start st = l12_start_c(a, rs, c);
  const L12Correction k = l12_correction_ff(a, t, st.s, st.r);
  const float x = k.p + std::fma(-2.0f * st.s, k.d, k.pe);
  const bool active = c < kL12CMaxF;  // false for NaN
  const bool band = (c > kL12CMaxF * (1.0f - kL12Band)) & (c < kL12CMaxF * (1.0f + kL12Band));
  const bool range = (a < kFfMinA) | (a > kFfMaxA);
  const bool keep = (t <= 0.0f) | (a == INFINITY);
  const bool nan = (z != z) | (t != t);
  redo = band | (active & range & !keep & !nan);
  const float out = std::copysign(active ? x : 0.0f, z);
  return keep ? z : nan ? z + t : out;
}

// ---- l2/3 ----
// Threshold: e = (2t/3) a^(-4/3) (formed for the start; q = a^(-1/3) is good to 1.1e-5, so e to
// ~5e-5) below kL23EMax (fast_prox.h) iff active, re-check band kL23Band. The start y (~1e-5)
// takes one float Newton step on F(y) = y^4 - a y + k, k = 2t/3 (to ~2e-7: F's float rounding),
// r = 1 / F'(y) = 1 / (4 y^3 - a) is re-formed there (one division), then one compensated step:
// y^2 = p + pe, y p = c3 + c3e (exact), h = c3 - a (Sterbenz: y^3 / a in [1/2, 1]), y h = m + me
// (exact), k = kh + kl (kl = (2t - 3 kh) / 3, the fma exact), m + kh exact (Sterbenz: y h = -k at
// the root), F = (m + kh) + (me + y (c3e + y pe) + kl), d = F r, x = y'^3 = c3 + (c3e + y pe - 3 p d)
// (the dropped 3 y d^2 is ~1e-13 of x, as the Newton error).
inline constexpr float kL23EMaxF = 0.3968502629920499f;  // kL23EMax (fast_prox.h) in float
inline constexpr float kL23Band = 2e-4f;

PX_HD float prox_l23_ff(float z, float t, int& redo) {
  const float a = std::fabs(z);
  const float q = rcbrt_f(a);
  const float e = l23_e(t, q);
  const L23Start st = l23_start_e(a, q, e);
  const float k = t * (2.0f / 3.0f);
  float y = st.y;
  y -= (y * ((y * y) * y - a) + k) * st.r;
  const float p = y * y, pe = std::fma(y, y, -p);
  const float c3 = y * p, c3e = std::fma(y, p, -c3);
  const float r = 1.0f / std::fma(4.0f, c3, -a);
  const float h = c3 - a, hl = std::fma(y, pe, c3e);
  const float m = y * h, me = std::fma(y, h, -m);
  const float kl = std::fma(-3.0f, k, 2.0f * t) * (1.0f / 3.0f);
  const float f = (m + k) + (me + std::fma(y, hl, kl));
  const float d = f * r;
  const float x = c3 + std::fma(-3.0f * p, d, hl);
  const bool active = e < kL23EMaxF;  // false for NaN
  const bool band = (e > kL23EMaxF * (1.0f - kL23Band)) & (e < kL23EMaxF * (1.0f + kL23Band));
  const bool range = (a < kFfMinA) | (a > kFfMaxA);
  const bool keep = (t <= 0.0f) | (a == INFINITY);
  const bool nan = (z != z) | (t != t);
  redo = band | (active & range & !keep & !nan);
  const float out = std::copysign(active ? x : 0.0f, z);
  return keep ? z : nan ? z + t : out;
}

}  // namespace px::optim::prox::fast
