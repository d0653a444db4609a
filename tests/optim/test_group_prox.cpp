// The group lasso's exact metric prox (group_prox.h): the Newton root of group_root.h against a
// long-double bisection oracle on hard blocks (thresholds over 12 decades, zero thresholds, zero
// entries, extreme scales), and the chunked, threaded tensor loops against block_prox per group.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "proxima/core/backend.h"
#include "proxima/core/factory.h"
#include "proxima/optim/prox/group_prox.h"
#include "proxima/optim/prox/group_root.h"

using namespace px;
using namespace px::optim::prox;

namespace {

// argmin_x ||x|| + sum_i (x_i - v_i)^2 / (2 t_i) by bisection on rho = ||x|| / ||v|| in long double.
std::vector<double> oracle(const std::vector<double>& v, const std::vector<double>& t) {
  long double s = 0;
  for (double vi : v) s = std::max(s, std::fabs((long double)vi));
  long double sum = 0;
  for (double vi : v) sum += (vi / s) * (vi / s);
  s *= std::sqrt(sum);
  auto S = [&](long double rho) {
    long double acc = 0;
    for (std::size_t i = 0; i < v.size(); ++i)
      if (v[i] != 0) acc += std::pow((v[i] / s) / (rho + t[i] / s), 2.0L);
    return acc;
  };
  std::vector<double> x(v.size(), 0.0);
  if (S(0) <= 1) return x;
  long double lo = 0, hi = 1;
  for (int it = 0; it < 200; ++it) (S(0.5L * (lo + hi)) > 1 ? lo : hi) = 0.5L * (lo + hi);
  const long double rho = 0.5L * (lo + hi);
  for (std::size_t i = 0; i < v.size(); ++i) x[i] = double(v[i] * rho / (rho + t[i] / s));
  return x;
}

double max_scaled_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double norm = 0, diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) norm = std::max(norm, std::fabs(b[i]));
  for (std::size_t i = 0; i < a.size(); ++i) diff = std::max(diff, std::fabs(a[i] - b[i]));
  return norm > 0 ? diff / norm : diff;
}

}  // namespace

TEST_CASE("group lasso metric prox: the Newton root agrees with a long-double bisection on hard blocks") {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> unit(-1, 1), decade(0, 1);
  int checked = 0, zero_blocks = 0;
  for (std::int64_t n : {1, 2, 3, 7, 64, 1000}) {
    for (double scale : {1e-200, 1e-3, 1.0, 1e200}) {
      for (double spread : {0.0, 2.0, 6.0, 12.0}) {   // thresholds over `spread` decades
        for (double level : {0.01, 0.3, 0.9, 3.0}) {  // threshold size against the block norm
          std::vector<double> v(n), t(n);
          double norm2 = 0;
          for (std::int64_t i = 0; i < n; ++i) {
            v[i] = i % 5 == 3 ? 0.0 : unit(rng);
            norm2 += v[i] * v[i];
          }
          if (norm2 == 0) v[0] = 0.5, norm2 = 0.25;
          for (std::int64_t i = 0; i < n; ++i) {
            const double tau = level * std::pow(10.0, -spread * decade(rng));
            t[i] = i % 11 == 10 ? 0.0 : tau * std::sqrt(norm2) * scale;
            v[i] *= scale;
          }
          std::vector<double> x = v;
          block_prox(x.data(), t.data(), 0.0, n);
          const std::vector<double> want = oracle(v, t);
          INFO("n " << n << " scale " << scale << " spread " << spread << " level " << level);
          CHECK(max_scaled_difference(x, want) <= 1e-13);
          bool all_zero = true;
          for (std::int64_t i = 0; i < n; ++i) {
            CHECK(std::isfinite(x[i]));
            CHECK((x[i] == 0) == (want[i] == 0));
            all_zero = all_zero && x[i] == 0;
          }
          zero_blocks += all_zero;
          ++checked;
        }
      }
    }
  }
  CHECK(checked == 384);
  CHECK(zero_blocks > 10);            // both branches are exercised
  CHECK(zero_blocks < checked - 100);
}

TEST_CASE("group lasso metric root: a few Newton steps on random hard blocks, one for equal thresholds") {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> unit(-1, 1), u01(0, 1);
  int worst = 0, solved = 0;
  for (int trial = 0; trial < 4000; ++trial) {
    const int n = 1 + static_cast<int>(rng() % 300);
    const bool equal = trial % 4 == 0;
    const double spread = equal ? 0.0 : 12 * u01(rng), level = std::pow(10.0, 2 * u01(rng) - 1.5);
    std::vector<double> u(n), tau(n);
    double norm = 0;
    for (int i = 0; i < n; ++i) u[i] = unit(rng) * std::pow(10.0, -3 * u01(rng)), norm += u[i] * u[i];
    double zero_test = 0, tau_min = INFINITY, tau_max = 0, tau_mean = 0;
    for (int i = 0; i < n; ++i) {
      u[i] /= std::sqrt(norm);
      tau[i] = level * std::pow(10.0, -spread * u01(rng));
      zero_test += std::pow(u[i] / tau[i], 2);
      tau_min = std::min(tau_min, tau[i]), tau_max = std::max(tau_max, tau[i]), tau_mean += u[i] * u[i] * tau[i];
    }
    if (zero_test <= 1) continue;
    MetricRoot root = metric_root_start(tau_min, tau_max, tau_mean);
    while (!root.done) {
      double S = 0, D = 0;
      for (int i = 0; i < n; ++i) {
        const double w = 1 / (root.rho + tau[i]);
        S += u[i] * u[i] * w * w, D += u[i] * u[i] * w * w * w;
      }
      metric_root_step(root, S, D);
    }
    double S = 0;
    for (int i = 0; i < n; ++i) S += std::pow(u[i] / (root.rho + tau[i]), 2);
    CHECK(std::fabs(S - 1) <= 1e-12);
    if (equal) CHECK(root.steps <= 1);
    worst = std::max(worst, root.steps);
    ++solved;
  }
  CHECK(solved > 2000);
  CHECK(worst <= 8);  // bisection alone would take about 50
}

TEST_CASE("group lasso tensor loops: chunked and threaded results equal block_prox per group") {
  const Shape shape{40, 600, 3};  // columns: 600 groups of 120 values, several chunks of groups
  const std::int64_t outer = 40, groups = 600, inner = 3, n = outer * inner;
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> value(-1, 1), thr(0.03, 0.2);
  std::vector<double> v(40 * 600 * 3), t(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = value(rng) * 0.01 * double(1 + i / inner % 3);
  for (auto& x : t) x = thr(rng);
  // the reference: gather each group, block_prox, scatter
  auto at = [&](std::int64_t o, std::int64_t g, std::int64_t j) { return (o * groups + g) * inner + j; };
  std::vector<double> want(v.size()), norms(groups);
  for (std::int64_t g = 0; g < groups; ++g) {
    std::vector<double> z, tz;
    for (std::int64_t o = 0; o < outer; ++o)
      for (std::int64_t j = 0; j < inner; ++j) z.push_back(v[at(o, g, j)]), tz.push_back(t[at(o, g, j)]);
    norms[g] = block_norm(z.data(), n);
    block_prox(z.data(), tz.data(), 0.0, n);
    for (std::int64_t o = 0, k = 0; o < outer; ++o)
      for (std::int64_t j = 0; j < inner; ++j) want[at(o, g, j)] = z[k++];
  }
  int zero_groups = 0;
  for (std::int64_t g = 0; g < groups; ++g) zero_groups += want[at(0, g, 0)] == 0 && v[at(0, g, 0)] != 0;
  CHECK(zero_groups > 50);
  CHECK(zero_groups < groups - 50);

  const int saved = get_num_threads();
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    CAPTURE(threads);
    Tensor x = from_vector(v, shape);
    const Tensor tt = from_vector(t, shape);
    group_prox_(x, &tt, 0.0, Grouping::columns);
    CHECK(x.to_vector<double>() == want);
    double total = 0;
    for (double nm : norms) total += nm;
    CHECK(group_value(from_vector(v, shape), Grouping::columns) == total);
    const auto sub = group_subgradient(from_vector(v, shape), Grouping::columns).to_vector<double>();
    for (std::int64_t g = 0; g < groups; ++g) CHECK(sub[at(7, g, 1)] == v[at(7, g, 1)] / norms[g]);
    CHECK(group_norms(from_vector(v, shape), Grouping::columns) == norms);
    // normalisation (PathProx's w step): factors 1 / norm, a zero group untouched with factor 1
    std::vector<double> vz = v;
    for (std::int64_t o = 0; o < outer; ++o)
      for (std::int64_t j = 0; j < inner; ++j) vz[at(o, 9, j)] = 0.0;
    Tensor xn = from_vector(vz, shape);
    const std::vector<double> factors = group_normalize_(xn, Grouping::columns);
    const auto vn = xn.to_vector<double>();
    REQUIRE(factors.size() == std::size_t(groups));
    CHECK(factors[9] == 1.0);
    CHECK(vn[at(3, 9, 2)] == 0.0);
    for (std::int64_t g : {0, 5, 599}) {
      CHECK(factors[g] == 1.0 / norms[g]);
      CHECK(vn[at(7, g, 1)] == v[at(7, g, 1)] * factors[g]);
      std::vector<double> z;
      for (std::int64_t o = 0; o < outer; ++o)
        for (std::int64_t j = 0; j < inner; ++j) z.push_back(vn[at(o, g, j)]);
      CHECK(std::abs(block_norm(z.data(), n) - 1.0) < 1e-14);
    }
    // float32: the same computation in double, rounded once
    Tensor xf = from_vector(v, shape).to(DType::float32);
    const Tensor tf = from_vector(t, shape).to(DType::float32);
    group_prox_(xf, &tf, 0.0, Grouping::columns);
    const auto vf = from_vector(v, shape).to(DType::float32).to(DType::float64).to_vector<double>();
    const auto tff = tf.to(DType::float64).to_vector<double>();
    std::vector<double> z, tz;
    for (std::int64_t o = 0; o < outer; ++o)
      for (std::int64_t j = 0; j < inner; ++j) z.push_back(vf[at(o, 5, j)]), tz.push_back(tff[at(o, 5, j)]);
    block_prox(z.data(), tz.data(), 0.0, n);
    const auto got = xf.to(DType::float64).to_vector<double>();
    for (std::int64_t o = 0, k = 0; o < outer; ++o)
      for (std::int64_t j = 0; j < inner; ++j) CHECK(got[at(o, 5, j)] == double(float(z[k++])));
  }
  set_num_threads(saved);
}
