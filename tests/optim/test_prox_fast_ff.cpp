// The float-float l1/2 and l2/3 proxes of the fused float32 ProxGen loop (fast_prox_ff.h) against the closed
// form of scalar_prox.h and the double form of fast_prox.h: random, near-threshold, tied and
// extreme float inputs (the lanes it flags taking the double form, as the loop does), and one
// ProxGen step whose blocks have all, none or some coordinates above the threshold. (The tests are
// built without -march=native: std::fma is then glibc's, exact as the instruction, so the forms
// are the same; the ProxGen step runs the library's loop.)
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "proxima/core/factory.h"
#include "proxima/optim/prox/fast_prox.h"
#include "proxima/optim/prox/proxgen.h"

using namespace px::optim::prox;

namespace {

double tau_l12(double t) { return 1.5 * std::cbrt(t) * std::cbrt(t); }
double tau_l23(double t) { return 2.0 * std::pow(2.0 * t / 3.0, 0.75); }

// What the fused loop computes for one lane: the float-float form, or the double form where flagged.
template <class Prox>
float loop_prox(float z, float t, bool keep_at_tie, int& redo) {
  const Prox prox{keep_at_tie};
  redo = 0;
  const float x = prox.ff(z, t, redo);
  return redo ? prox(z, t) : x;
}
float loop_l12(float z, float t, bool keep_at_tie, int& redo) { return loop_prox<fast::L12>(z, t, keep_at_tie, redo); }
float loop_l23(float z, float t, bool keep_at_tie, int& redo) { return loop_prox<fast::L23>(z, t, keep_at_tie, redo); }

bool same_float(float a, float b) { return (std::isnan(a) && std::isnan(b)) || (a == b && std::signbit(a) == std::signbit(b)); }

// One ProxGen step on p0 with preconditioner none, no momentum, delta 0, lr 1 and zero gradients:
// z = p and t = lambda (in float), so the step is P(p; t) coordinate by coordinate, through the
// fused float loop. Every coordinate is checked against the double form (fast::L12 / L23: what the
// loop computed before the float-float form) to 1.2e-7 relative, with the same zeros; returns how
// many differ bitwise and how many are zero.
struct StepVsDouble {
  int differ = 0, zeros = 0;
};
StepVsDouble prox_step_vs_double_form(const std::string& spec, const std::vector<float>& p0, float lambda) {
  const std::int64_t n = static_cast<std::int64_t>(p0.size());
  px::Tensor param = px::from_vector(p0, {n});
  param.set_grad(px::zeros({n}));
  ProxGen opt({param}, ProxGenOptions{.lr = 1.0, .preconditioner = "none", .momentum = 0.0, .delta = 0.0,
                                      .regularizer = spec, .lambda = double(lambda)});
  opt.step();
  const std::vector<float> got = param.to_vector<float>();
  StepVsDouble r;
  for (std::int64_t i = 0; i < n; ++i) {
    CAPTURE(i);
    CAPTURE(p0[i]);
    const float want = spec == "l23" ? fast::L23{}(p0[i], lambda) : fast::L12{}(p0[i], lambda);
    CHECK(std::abs(double(got[i]) - double(want)) <= 1.2e-7 * std::abs(double(want)));
    CHECK((got[i] == 0.0f) == (want == 0.0f));
    r.differ += !same_float(got[i], want);
    r.zeros += got[i] == 0.0f;
  }
  return r;
}

}  // namespace

TEST_CASE("float-float l1/2 and l2/3 give the closed form's float on random and near-threshold inputs") {
  for (int l23 = 0; l23 < 2; ++l23) {
  CAPTURE(l23);
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  int differ = 0, flagged_far = 0, far = 0, flagged_near = 0, near = 0;
  for (int i = 0; i < 600000; ++i) {
    const float t = static_cast<float>(std::pow(10.0, -30.0 + 34.0 * unit(rng)));  // 1e-30 .. 1e4
    const double tau = l23 ? tau_l23(t) : tau_l12(t);
    const double sign = unit(rng) < 0.5 ? -1.0 : 1.0;
    const bool close = i % 2 == 1;
    const double width = l23 ? 2e-3 : 2e-4;
    const double ratio = close ? 1.0 + (unit(rng) - 0.5) * width : 0.1 * std::pow(10.0, 4.0 * unit(rng));
    const float z = static_cast<float>(sign * tau * ratio);
    int redo = 0;
    const float got = l23 ? loop_l23(z, t, false, redo) : loop_l12(z, t, false, redo);
    const float want = l23 ? prox_l23(z, t) : prox_l12(z, t);
    CAPTURE(z);
    CAPTURE(t);
    REQUIRE(std::isfinite(got));
    if (std::abs(std::abs(double(z)) / tau - 1.0) < 1e-13) continue;  // either side is a minimiser
    CHECK(std::abs(double(got) - double(want)) <= 1.2e-7 * std::abs(double(want)));
    CHECK((got == 0.0f) == (want == 0.0f));
    differ += got != want;
    (close ? near : far) += 1;
    if (redo) (close ? flagged_near : flagged_far) += 1;
  }
  MESSAGE("differ from the closed form: ", differ, "; flagged: far ", flagged_far, " of ", far, ", near ",
          flagged_near, " of ", near);
  CHECK(differ <= 60);                   // 0 measured; the double form's own test allows 0.1%
  CHECK(flagged_far < far / 10);         // the float-float form decides most lanes itself (range flags only:
                                         // t < ~1e-25 puts active |z| below kFfMinA)
  CHECK(flagged_near > 0);               // the band is used ...
  CHECK(flagged_near < near / 5);  // ... and narrow (l1/2: 1e-5 of c, ~7e-6 of |z|, samples within 1e-4;
                                   // l2/3: 1e-4 of e, 7.5e-5 of |z|, samples within 1e-3)
  }
}

TEST_CASE("float-float l1/2 and l2/3 agree with the double form at special and extreme float inputs") {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const float den = std::numeric_limits<float>::denorm_min(), big = std::numeric_limits<float>::max();
  const std::vector<float> zs = {0.0f, -0.0f, den, -den, 1e-38f, 3e-21f, 1e-20f, 0.5f, -2.0f, 1e24f, -3e24f,
                                 1e30f, big, -big, inf, -inf, nan};
  const std::vector<float> ts = {0.0f, -1.0f, den, 1e-38f, 1e-30f, 1e-12f, 0.25f, 1.0f, 1e20f, 1e30f, big, inf, nan};
  for (float z : zs)
    for (float t : ts)
      for (bool keep : {false, true}) {
        CAPTURE(z);
        CAPTURE(t);
        int redo = 0;
        const float got12 = loop_l12(z, t, keep, redo), got23 = loop_l23(z, t, keep, redo);
        CHECK(same_float(got12, fast::L12{keep}(z, t)));
        CHECK(same_float(got23, fast::L23{keep}(z, t)));
        for (const float got : {got12, got23}) {
          if (std::isfinite(z) && !std::isnan(t)) CHECK(!std::isnan(got));
          if (std::isnan(z) || (std::isnan(t) && !std::isinf(z))) CHECK(std::isnan(got));  // inf z: z
        }
      }
}

TEST_CASE("float-float l1/2 and l2/3 flag exact ties for the double form's tie rule") {
  for (float m : {0.0009765625f, 0.125f, 1.0f, 16.0f, 1024.0f})
    for (float s : {1.0f, -1.0f}) {
      CAPTURE(m);
      CAPTURE(s);
      int redo = 0;
      // l1/2 with t = 8 m^3: threshold 1.5 t^(2/3) = 6 m^2, jump t^(2/3) = 4 m^2, all exact
      float t = 8.0f * m * m * m, z = s * 6.0f * m * m;
      CHECK(loop_l12(z, t, false, redo) == 0.0f);
      CHECK(redo == 1);
      CHECK(loop_l12(z, t, true, redo) == s * 4.0f * m * m);
      // one float ulp either side is decided without the double form
      float up = std::nextafter(z, s * 1e30f), down = std::nextafter(z, 0.0f);
      CHECK(loop_l12(down, t, false, redo) == 0.0f);
      CHECK(loop_l12(up, t, false, redo) == prox_l12(up, t));
      // l2/3 with t = 1.5 m^4: threshold 2 (2t/3)^(3/4) = 2 m^3, jump m^3
      t = 1.5f * m * m * m * m, z = s * 2.0f * m * m * m;
      CHECK(loop_l23(z, t, false, redo) == 0.0f);
      CHECK(redo == 1);
      CHECK(loop_l23(z, t, true, redo) == s * m * m * m);
      up = std::nextafter(z, s * 1e30f), down = std::nextafter(z, 0.0f);
      CHECK(loop_l23(down, t, false, redo) == 0.0f);
      CHECK(loop_l23(up, t, false, redo) == prox_l23(up, t));
    }
}

TEST_CASE("rcbrt2_ff: a^(-2/3) to 7e-6 relative on 1 <= a < 8 and from 1e-37 to 1e37") {
  double worst = 0.0;
  for (float a = 1.0f; a < 8.0f; a = std::nextafter(a, 9.0f))  // the seed's error repeats every factor 8
    worst = std::max(worst, std::abs(double(fast::rcbrt2_ff(a)) * std::cbrt(double(a)) * std::cbrt(double(a)) - 1.0));
  MESSAGE("worst relative error on [1, 8): ", worst);
  CHECK(worst < 7e-6);
  double sweep = 0.0;
  for (double la = -37.0; la < 37.0; la += 1e-3) {
    const float a = static_cast<float>(std::pow(10.0, la));
    const double want = 1.0 / (std::cbrt(double(a)) * std::cbrt(double(a)));
    sweep = std::max(sweep, std::abs(double(fast::rcbrt2_ff(a)) / want - 1.0));
  }
  CHECK(sweep < 7e-6);
}

TEST_CASE("rsqrt_ff: a^(-1/2) to 1.7e-7 relative on 1 <= a < 4 and from 1e-37 to 1e37") {
  double worst = 0.0;
  for (float a = 1.0f; a < 4.0f; a = std::nextafter(a, 5.0f))  // the seed's error repeats every factor 4
    worst = std::max(worst, std::abs(double(fast::rsqrt_ff(a)) * std::sqrt(double(a)) - 1.0));
  MESSAGE("worst relative error on [1, 4): ", worst);
  CHECK(worst < 1.7e-7);
  double sweep = 0.0;
  for (double la = -37.0; la < 37.0; la += 1e-3) {
    const float a = static_cast<float>(std::pow(10.0, la));
    sweep = std::max(sweep, std::abs(double(fast::rsqrt_ff(a)) * std::sqrt(double(a)) - 1.0));
  }
  CHECK(sweep < 1.7e-7);
  CHECK(std::isfinite(fast::rsqrt_ff(0.0f)));  // a = 0: finite, so 2c = t rs^3 is inf or NaN (inactive)
}

TEST_CASE("float-float l1/2 and l2/3 decide zeros and t <= 0 themselves and flag inf, NaN and huge |z|") {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  for (int l23 = 0; l23 < 2; ++l23) {
    CAPTURE(l23);
    auto ff = [&](float z, float t, int& redo) {
      redo = 0;
      return l23 ? fast::L23{}.ff(z, t, redo) : fast::L12{}.ff(z, t, redo);
    };
    auto dbl = [&](float z, float t) { return l23 ? fast::L23{}(z, t) : fast::L12{}(z, t); };
    // what training gives often (a zero lambda, a zero gradient, an exact zero weight): no flag
    for (float z : {0.0f, -0.0f, 1e-20f, -3e-3f, 0.5f, -7.0f, 1e20f})
      for (float t : {0.0f, -0.0f, -1.0f, 1e-12f, 1e-5f, 0.25f}) {
        CAPTURE(z);
        CAPTURE(t);
        int redo = 1;
        const float got = ff(z, t, redo);
        CHECK(redo == 0);
        CHECK(same_float(got, dbl(z, t)));
      }
    // active lanes with |z| below the error-free range, |z| above it, inf and NaN: flagged
    for (const auto& [z, t] : std::vector<std::pair<float, float>>{
             {1e-22f, 1e-40f}, {-3e-21f, 1e-36f}, {2e24f, 1.0f}, {-1e30f, 1e-3f}, {inf, 1.0f}, {-inf, 0.0f},
             {nan, 1.0f}, {1.0f, nan}, {0.0f, nan}}) {
      CAPTURE(z);
      CAPTURE(t);
      int redo = 0;
      ff(z, t, redo);
      CHECK(redo == 1);
    }
  }
}

TEST_CASE("proxgen float32 l1/2 and l2/3: one step with blocks of all, none and some active coordinates") {
  for (const std::string spec : {"l12", "l23"}) {
  CAPTURE(spec);
  const bool l23 = spec == "l23";
  const float lambda = 1e-4f;
  const double tau = l23 ? tau_l23(lambda) : tau_l12(lambda);  // ~3.2e-3, ~1.8e-3
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const std::int64_t n = 70000;  // above the parallel loop's grain; blocks of 256
  std::vector<float> p0(n);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t block = (i / 256) % 4;
    const double sign = unit(rng) < 0.5 ? -1.0 : 1.0;
    double ratio;
    if (block == 0) ratio = 1.01 + 10.0 * unit(rng);                    // every lane active
    else if (block == 1) ratio = 0.99 * unit(rng);                      // none
    else if (block == 2) ratio = 2.0 * unit(rng);                       // some
    else ratio = i % 7 == 0 ? 1.0 + (unit(rng) - 0.5) * 1e-5 : 3.0 * unit(rng);  // some in the band
    p0[i] = static_cast<float>(sign * tau * ratio);
  }
  p0[3 * 256 + 5] = 0.0f;
  p0[3 * 256 + 6] = -0.0f;
  const auto [differ, zeros] = prox_step_vs_double_form(spec, p0, lambda);
  MESSAGE("differ from the double form: ", differ, " of ", n, "; zeros ", zeros);
  CHECK(differ <= 10);
  CHECK(zeros > n / 4);      // blocks 1 (all), 2 (half), 3 (a third) are zeroed ...
  CHECK(zeros < 3 * n / 4);  // ... block 0 is not
  }
}

TEST_CASE("proxgen float32 l1/2 and l2/3: ragged tensor sizes (partial blocks and vectors in every pass)") {
  // The fused loop runs l2/3 as three passes over blocks of 256 (fast_prox_ff.h): sizes below,
  // at and just past a block and a vector width exercise the passes' remainders.
  for (const std::string spec : {"l12", "l23"})
    for (const std::int64_t n : {1, 15, 16, 17, 255, 256, 257, 531}) {
      CAPTURE(spec);
      CAPTURE(n);
      const bool l23 = spec == "l23";
      const float lambda = 3e-4f;
      const double tau = l23 ? tau_l23(lambda) : tau_l12(lambda);
      std::mt19937_64 rng(static_cast<std::uint64_t>(n) * 7 + (l23 ? 1 : 0));
      std::uniform_real_distribution<double> unit(0.0, 1.0);
      std::vector<float> p0(static_cast<std::size_t>(n));
      for (float& x : p0) x = static_cast<float>((unit(rng) < 0.5 ? -1.0 : 1.0) * tau * 3.0 * unit(rng));
      const auto [differ, zeros] = prox_step_vs_double_form(spec, p0, lambda);
      CHECK(differ <= 2);
      if (n >= 255) CHECK(zeros > 0);      // both sides of the threshold are represented
      if (n >= 255) CHECK(zeros < n);
    }
}
