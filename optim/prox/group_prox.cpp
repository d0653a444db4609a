// Group lasso: grouping layouts, the (metric) block soft threshold and the CPU tensor loops (CUDA
// tensors go to the per-group kernels of group_device.h).
#include "proxima/optim/prox/group_prox.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "proxima/core/error.h"
#include "proxima/optim/cpu_loop.h"
#include "proxima/optim/prox/group_device.h"
#include "proxima/optim/prox/group_root.h"

namespace px::optim::prox {

Grouping parse_grouping(const std::string& name) {
  if (name == "whole") return Grouping::whole;
  if (name == "rows") return Grouping::rows;
  if (name == "columns") return Grouping::columns;
  if (name == "filters") return Grouping::filters;
  if (name == "channels") return Grouping::channels;
  throw ValueError(detail::str("group lasso: grouping \"", name,
                               "\" is unknown; expected one of whole, rows, columns, filters, channels"));
}

const char* grouping_name(Grouping grouping) {
  switch (grouping) {
    case Grouping::whole: return "whole";
    case Grouping::rows: return "rows";
    case Grouping::columns: return "columns";
    case Grouping::filters: return "filters";
    case Grouping::channels: return "channels";
  }
  return "?";
}

GroupLayout group_layout(const Shape& shape, Grouping grouping) {
  if (grouping == Grouping::whole) return {1, 1, shape_numel(shape)};
  const std::int64_t dim = grouping == Grouping::rows || grouping == Grouping::filters ? 0 : 1;
  PX_CHECK(static_cast<std::int64_t>(shape.size()) >= 2, ShapeError, "group lasso: grouping ",
           grouping_name(grouping), " needs a tensor with at least 2 dims, got shape ", shape_str(shape));
  GroupLayout layout;
  for (std::int64_t d = 0; d < dim; ++d) layout.outer *= shape[d];
  layout.groups = shape[dim];
  for (std::size_t d = dim + 1; d < shape.size(); ++d) layout.inner *= shape[d];
  return layout;
}

namespace {

// Sums of f's terms over [0, n) (f(i, a, b) adds coordinate i's terms to a and b) in 8 partial sums
// per total, lane i mod 8, added pairwise at the end: a fixed order, so the same result on every
// machine and thread count, and the lanes vectorise. (Max and min reductions are exact in any
// order; they use `omp simd reduction` directly.)
constexpr int kLanes = 8;

template <class F>
void fixed_order_sums(std::int64_t n, F f, double& total_a, double& total_b) {
  double a[kLanes] = {}, b[kLanes] = {};
  std::int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
#pragma omp simd
    for (int k = 0; k < kLanes; ++k) f(i + k, a[k], b[k]);
  }
  for (int k = 0; i < n; ++i, ++k) f(i, a[k], b[k]);
  auto total = [](const double* x) { return ((x[0] + x[1]) + (x[2] + x[3])) + ((x[4] + x[5]) + (x[6] + x[7])); };
  total_a = total(a);
  total_b = total(b);
}

double max_abs(const double* v, std::int64_t n) {
  double m = 0;
#pragma omp simd reduction(max : m)
  for (std::int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(v[i]));
  return m;
}

}  // namespace

double block_norm(const double* v, std::int64_t n) {
  const double scale = max_abs(v, n);
  if (scale == 0 || std::isinf(scale)) return scale;
  const double inv = 1.0 / scale;
  double sum = 0, unused = 0;
  fixed_order_sums(n, [=](std::int64_t i, double& a, double&) { a += (v[i] * inv) * (v[i] * inv); }, sum, unused);
  return scale * std::sqrt(sum);
}

namespace {

// The exact metric prox of a block with norm s (0 < s < inf) and thresholds t (not all equal):
// the Newton iteration of group_root.h on rho = ||x|| / s. Zero entries of z take no part.
void metric_block_prox(double* z, const double* t, std::int64_t n, double s) {
  const double inv = 1.0 / s;
  double t_min = INFINITY, t_max = 0;
#pragma omp simd reduction(min : t_min) reduction(max : t_max)
  for (std::int64_t i = 0; i < n; ++i) {
    t_min = std::min(t_min, z[i] == 0 ? INFINITY : t[i]);
    t_max = std::max(t_max, z[i] == 0 ? 0.0 : t[i]);
  }
  double zero_test = 0, tau_mean = 0;  // ||(u_i / tau_i)||^2 and sum u_i^2 tau_i (u = z / s, tau = t / s)
  fixed_order_sums(n, [=](std::int64_t i, double& a, double& b) {
    const double u = z[i] * inv, tau = t[i] * inv, q = z[i] == 0 ? 0.0 : u / tau;
    a += q * q;
    b += u * u * tau;
  }, zero_test, tau_mean);
  if (zero_test <= 1) {  // ||(z_i / t_i)|| <= 1
    std::fill(z, z + n, 0.0);
    return;
  }
  // (min and max commute with the multiplication by inv > 0: rounding is monotone)
  MetricRoot root = metric_root_start(t_min * inv, t_max * inv, tau_mean);
  while (!root.done) {
    const double rho = root.rho;
    double S = 0, D = 0;
    fixed_order_sums(n, [=](std::int64_t i, double& a, double& b) {
      const double w = 1.0 / (rho + t[i] * inv), u = z[i] == 0 ? 0.0 : z[i] * inv * w;  // no 0 * inf
      a += u * u;
      b += u * u * w;
    }, S, D);
    metric_root_step(root, S, D);
  }
  const double rho = root.rho;
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) z[i] = rho > 0 ? z[i] * rho / (rho + t[i] * inv) : 0.0;
}

bool all_equal(const double* t, std::int64_t n) {
  int differs = 0;
#pragma omp simd reduction(| : differs)
  for (std::int64_t i = 0; i < n; ++i) differs |= t[i] != t[0];
  return !differs;
}

}  // namespace

void block_prox(double* z, const double* t, double t_uniform, std::int64_t n) {
  const double norm = block_norm(z, n);
  if (std::isinf(norm)) return;
  const bool uniform = t == nullptr || all_equal(t, n);
  if (t) t_uniform = t[0];
  if (uniform || norm == 0) {
    const double keep = norm > t_uniform ? 1.0 - t_uniform / norm : 0.0;
    for (std::int64_t i = 0; i < n; ++i) z[i] = keep * z[i];
    return;
  }
  metric_block_prox(z, t, n, norm);
}

namespace {

void check_tensor(const Tensor& theta, const char* what) {
  PX_CHECK(theta.dtype() == DType::float32 || theta.dtype() == DType::float64, DTypeError,
           "group lasso ", what, ": theta has dtype ", dtype_name(theta.dtype()), ", expected float32 or float64");
}

// Calls f(g0, g1, z, tz) for consecutive chunks of groups [g0, g1), with z the chunk's values of x
// in double, group-major: group g's n = outer * inner values at z + (g - g0) * n, in the group's
// element order; tz the same for t (nullptr when t is). Chunks of about kChunk values run in
// parallel (each group is computed alone, so the results do not depend on the thread count). When
// f returns true, z is written back to x.
constexpr std::int64_t kChunk = 1 << 13;

// Copies groups [g0, g1) between x (element (o, g, j) at (o * groups + g) * inner + j) and the
// group-major chunk z, converting the values: x to z (gather) or z back to x (scatter).
template <bool Gather, class T>
void transfer(T* x, const GroupLayout& l, std::int64_t g0, std::int64_t g1, double* z) {
  const std::int64_t n = l.outer * l.inner;
  for (std::int64_t o = 0; o < l.outer; ++o)
    for (std::int64_t g = g0; g < g1; ++g) {
      T* xs = x + (o * l.groups + g) * l.inner;
      double* zs = z + (g - g0) * n + o * l.inner;
      for (std::int64_t j = 0; j < l.inner; ++j) {
        if constexpr (Gather) zs[j] = double(xs[j]);
        else xs[j] = T(zs[j]);
      }
    }
}

template <class T, class F>
void for_group_chunks(T* x, const T* t, const GroupLayout& l, F&& f) {
  const std::int64_t n = l.outer * l.inner;
  const std::int64_t per = std::max<std::int64_t>(1, kChunk / std::max<std::int64_t>(n, 1));
  const std::int64_t chunks = (l.groups + per - 1) / per;
  const int threads = omp_in_parallel() ? 1 : static_cast<int>(std::min<std::int64_t>(get_num_threads(), chunks));
#pragma omp parallel num_threads(threads)
  {
    std::vector<double> z(static_cast<std::size_t>(per * n)), tz(t ? z.size() : 0);
#pragma omp for schedule(static)
    for (std::int64_t c = 0; c < chunks; ++c) {
      const std::int64_t g0 = c * per, g1 = std::min(l.groups, g0 + per);
      transfer<true>(x, l, g0, g1, z.data());
      if (t) transfer<true>(t, l, g0, g1, tz.data());
      if (f(g0, g1, z.data(), t ? tz.data() : nullptr)) transfer<false>(x, l, g0, g1, z.data());
    }
  }
}

}  // namespace

void group_prox_(const Tensor& theta, const Tensor* t, double t_uniform, Grouping grouping) {
  check_tensor(theta, "prox");
  PX_CHECK(theta.is_contiguous(), ValueError, "group lasso prox: theta must be contiguous (it is updated in place)");
  if (t) {
    PX_CHECK(t->shape() == theta.shape() && t->dtype() == theta.dtype() && t->device() == theta.device(),
             ValueError, "group lasso prox: t must match theta's shape, dtype and device, got ",
             shape_str(t->shape()), " ", dtype_name(t->dtype()), " for theta ", shape_str(theta.shape()), " ",
             dtype_name(theta.dtype()));
  } else {
    PX_CHECK(t_uniform >= 0, ValueError, "group lasso prox: t must be >= 0, got ", t_uniform);
  }
  const Tensor tc = t ? t->contiguous() : Tensor();
  const GroupLayout layout = group_layout(theta.shape(), grouping);
  if (!theta.device().is_cpu()) return device::group_prox(theta, t ? &tc : nullptr, t_uniform, layout);
  const std::int64_t n = layout.outer * layout.inner;
  cpu::dispatch_float(theta.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* tp = t ? tc.data<T>() : nullptr;
    for_group_chunks(theta.data<T>(), tp, layout, [&](std::int64_t g0, std::int64_t g1, double* z, double* tz) {
      for (std::int64_t g = g0; g < g1; ++g)
        block_prox(z + (g - g0) * n, tz ? tz + (g - g0) * n : nullptr, t_uniform, n);
      return true;
    });
  });
}

std::vector<double> group_norms(const Tensor& theta, Grouping grouping) {
  // Any device: a CUDA theta is read from a host copy (norms are read for logging and PathProx's metrics).
  const Tensor c = theta.to(Device::cpu()).contiguous();
  check_tensor(c, "norms");
  const GroupLayout layout = group_layout(c.shape(), grouping);
  const std::int64_t n = layout.outer * layout.inner;
  std::vector<double> norms(static_cast<std::size_t>(layout.groups));
  cpu::dispatch_float(c.dtype(), [&](auto tag) {
    using T = decltype(tag);
    for_group_chunks(const_cast<T*>(c.data<T>()), static_cast<const T*>(nullptr), layout,
                     [&](std::int64_t g0, std::int64_t g1, double* z, double*) {
      for (std::int64_t g = g0; g < g1; ++g) norms[g] = block_norm(z + (g - g0) * n, n);
      return false;
    });
  });
  return norms;
}

double group_value(const Tensor& theta, Grouping grouping) {
  double total = 0;  // summed in group order
  for (double v : group_norms(theta, grouping)) total += v;
  return total;
}

std::vector<double> group_normalize_(const Tensor& theta, Grouping grouping) {
  check_tensor(theta, "normalize");
  PX_CHECK(theta.is_contiguous() && theta.device().is_cpu(), ValueError,
           "group normalize: theta must be a contiguous CPU tensor (it is updated in place), got one on ",
           theta.device().str());
  const GroupLayout layout = group_layout(theta.shape(), grouping);
  const std::int64_t n = layout.outer * layout.inner;
  std::vector<double> factors(static_cast<std::size_t>(layout.groups));
  cpu::dispatch_float(theta.dtype(), [&](auto tag) {
    using T = decltype(tag);
    for_group_chunks(theta.data<T>(), static_cast<const T*>(nullptr), layout,
                     [&](std::int64_t g0, std::int64_t g1, double* z, double*) {
      for (std::int64_t g = g0; g < g1; ++g) {
        double* v = z + (g - g0) * n;
        const double norm = block_norm(v, n);
        const double f = norm > 0 && std::isfinite(norm) ? 1.0 / norm : 1.0;
        for (std::int64_t k = 0; k < n; ++k) v[k] *= f;
        factors[g] = f;
      }
      return true;
    });
  });
  return factors;
}

Tensor group_subgradient(const Tensor& theta, Grouping grouping) {
  check_tensor(theta, "subgradient");
  Tensor out = theta.clone();
  const GroupLayout layout = group_layout(out.shape(), grouping);
  if (!theta.device().is_cpu()) {
    device::group_subgradient(out, out, layout);  // each group reads its values before writing them
    return out;
  }
  const std::int64_t n = layout.outer * layout.inner;
  cpu::dispatch_float(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    for_group_chunks(out.data<T>(), static_cast<const T*>(nullptr), layout,
                     [&](std::int64_t g0, std::int64_t g1, double* z, double*) {
      for (std::int64_t g = g0; g < g1; ++g) {
        double* v = z + (g - g0) * n;
        const double norm = block_norm(v, n);
        for (std::int64_t k = 0; k < n; ++k) v[k] = norm > 0 ? v[k] / norm : 0.0;
      }
      return true;
    });
  });
  return out;
}

}  // namespace px::optim::prox
