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

double block_norm(const double* v, std::int64_t n) {
  double scale = 0;
  for (std::int64_t i = 0; i < n; ++i) scale = std::max(scale, std::fabs(v[i]));
  if (scale == 0 || std::isinf(scale)) return scale;
  const double inv = 1.0 / scale;
  double acc[4] = {0, 0, 0, 0};  // four partial sums in a fixed order (vectorises, same result on every machine)
  std::int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; ++k) acc[k] += (v[i + k] * inv) * (v[i + k] * inv);
  for (; i < n; ++i) acc[0] += (v[i] * inv) * (v[i] * inv);
  return scale * std::sqrt((acc[0] + acc[1]) + (acc[2] + acc[3]));
}

namespace {

// The exact metric prox of a block with norm s (0 < s < inf) and thresholds t (not all equal):
// the Newton iteration of group_root.h on rho = ||x|| / s.
void metric_block_prox(double* z, const double* t, std::int64_t n, double s) {
  const double inv = 1.0 / s;
  double zero_test = 0, tau_min = INFINITY, tau_max = 0, tau_mean = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    if (z[i] == 0) continue;
    const double u = z[i] * inv, tau = t[i] * inv;
    zero_test += (u / tau) * (u / tau);
    tau_min = std::min(tau_min, tau);
    tau_max = std::max(tau_max, tau);
    tau_mean += u * u * tau;
  }
  if (zero_test <= 1) {  // ||(z_i / t_i)|| <= 1
    std::fill(z, z + n, 0.0);
    return;
  }
  MetricRoot root = metric_root_start(tau_min, tau_max, tau_mean);
  while (!root.done) {
    double S[4] = {0, 0, 0, 0}, D[4] = {0, 0, 0, 0};
    std::int64_t i = 0;
    auto term = [&](std::int64_t j, int k) {
      const double w = 1.0 / (root.rho + t[j] * inv), a = z[j] == 0 ? 0.0 : z[j] * inv * w;  // no 0 * inf
      S[k] += a * a;
      D[k] += a * a * w;
    };
    for (; i + 4 <= n; i += 4)
      for (int k = 0; k < 4; ++k) term(i + k, k);
    for (; i < n; ++i) term(i, 0);
    metric_root_step(root, (S[0] + S[1]) + (S[2] + S[3]), (D[0] + D[1]) + (D[2] + D[3]));
  }
  const double rho = root.rho;
  for (std::int64_t i = 0; i < n; ++i) z[i] = rho > 0 ? z[i] * rho / (rho + t[i] * inv) : 0.0;
}

}  // namespace

void block_prox(double* z, const double* t, double t_uniform, std::int64_t n) {
  const double norm = block_norm(z, n);
  if (std::isinf(norm)) return;
  bool uniform = t == nullptr;
  if (!uniform) {
    uniform = std::all_of(t, t + n, [&](double ti) { return ti == t[0]; });
    t_uniform = t[0];
  }
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

template <class T>
void gather(const T* x, const GroupLayout& l, std::int64_t g0, std::int64_t g1, double* z) {
  const std::int64_t n = l.outer * l.inner;
  for (std::int64_t o = 0; o < l.outer; ++o)  // element (o, g, j) sits at (o * groups + g) * inner + j
    for (std::int64_t g = g0; g < g1; ++g) {
      const T* src = x + (o * l.groups + g) * l.inner;
      double* dst = z + (g - g0) * n + o * l.inner;
      for (std::int64_t j = 0; j < l.inner; ++j) dst[j] = double(src[j]);
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
      gather(x, l, g0, g1, z.data());
      if (t) gather(t, l, g0, g1, tz.data());
      if (!f(g0, g1, z.data(), t ? tz.data() : nullptr)) continue;
      for (std::int64_t o = 0; o < l.outer; ++o)
        for (std::int64_t g = g0; g < g1; ++g) {
          T* dst = x + (o * l.groups + g) * l.inner;
          const double* src = z.data() + (g - g0) * n + o * l.inner;
          for (std::int64_t j = 0; j < l.inner; ++j) dst[j] = T(src[j]);
        }
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

double group_value(const Tensor& theta, Grouping grouping) {
  // Any device: a CUDA theta is summed from a host copy (R is read for logging, not per step).
  const Tensor c = theta.to(Device::cpu()).contiguous();
  check_tensor(c, "value");
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
  double total = 0;  // summed in group order
  for (double v : norms) total += v;
  return total;
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
