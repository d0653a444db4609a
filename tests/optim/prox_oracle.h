// Test oracles for the scalar proxes: penalties written out independently of the library, and the
// brute-force 1-D minimiser of ALGORITHMS.md §1.11 (dense grid + special points + golden section).
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

namespace px::test {

// The penalties r(x), written directly from their definitions.
inline double pen_power(double x, double q) {  // |x|^q, 0^0 = 0
  if (x == 0) return 0;
  return q == 0 ? 1.0 : std::pow(std::fabs(x), q);
}
inline double pen_mcp(double x, double lam, double gam) {
  const double a = std::fabs(x);
  return a <= gam * lam ? lam * a - x * x / (2 * gam) : gam * lam * lam / 2;
}
inline double pen_scad(double x, double lam, double a) {
  const double v = std::fabs(x);
  if (v <= lam) return lam * v;
  if (v <= a * lam) return (2 * a * lam * v - v * v - lam * lam) / (2 * (a - 1));
  return lam * lam * (a + 1) / 2;
}
inline double pen_binary(double x, double q, bool literal = false) {  // W-shaped distance to {-1, 1}
  if (literal && x == 0) return 0;
  const double d = std::min(std::fabs(x - 1), std::fabs(x + 1));
  if (d == 0) return 0;
  return q == 0 ? 1.0 : std::pow(d, q);
}

// min over x of phi(x): grid of spacing <= 1e-4 max(1, |z|) on [-|z| - M, |z| + M], the special
// points, then golden section around the best grid point.
inline double brute_min(const std::function<double(double)>& phi, double z, double M,
                        const std::vector<double>& special = {}) {
  const double half = std::fabs(z) + M;
  const double h = 1e-4 * std::max(1.0, std::fabs(z));
  const auto n = static_cast<long>(2 * half / h) + 1;
  double best_x = 0, best = phi(0.0);
  for (long k = 0; k <= n; ++k) {
    const double x = -half + 2 * half * double(k) / double(n);
    const double v = phi(x);
    if (v < best) best = v, best_x = x;
  }
  double lo = best_x - h, hi = best_x + h;
  const double g = (std::sqrt(5.0) - 1) / 2;
  for (int it = 0; it < 100; ++it) {
    const double a = hi - g * (hi - lo), b = lo + g * (hi - lo);
    (phi(a) < phi(b) ? hi : lo) = (phi(a) < phi(b) ? b : a);
  }
  best = std::min(best, phi(0.5 * (lo + hi)));
  for (double s : special) best = std::min({best, phi(s), phi(-s)});
  best = std::min({best, phi(z), phi(0.0), phi(1.0), phi(-1.0)});
  return best;
}

}  // namespace px::test
