// Group lasso: grouping layouts, the (metric) block soft threshold and the CPU tensor loops (CUDA
// tensors go to the per-group kernels of group_device.h).
#include "proxima/optim/prox/group_prox.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "proxima/core/error.h"
#include "proxima/optim/cpu_loop.h"
#include "proxima/optim/prox/group_device.h"

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
  double sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += (v[i] / scale) * (v[i] / scale);
  return scale * std::sqrt(sum);
}

namespace {

// ||(v_i / (r + t_i))_i|| - 1, decreasing in r.
double metric_residual(const double* v, const double* t, std::int64_t n, double r,
                       std::vector<double>& scratch) {
  for (std::int64_t i = 0; i < n; ++i) scratch[i] = v[i] == 0 ? 0.0 : v[i] / (r + t[i]);
  return block_norm(scratch.data(), n) - 1.0;
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
  if (uniform) {
    const double keep = norm > t_uniform ? 1.0 - t_uniform / norm : 0.0;
    for (std::int64_t i = 0; i < n; ++i) z[i] = keep * z[i];
    return;
  }
  std::vector<double> scratch(n);
  if (metric_residual(z, t, n, 0.0, scratch) <= 0) {  // ||(z_i / t_i)|| <= 1
    std::fill(z, z + n, 0.0);
    return;
  }
  double lo = 0, hi = norm;  // residual(lo) > 0 >= residual(hi)
  for (int it = 0; it < 200 && hi - lo > 1e-16 * hi; ++it) {
    const double mid = 0.5 * (lo + hi);
    (metric_residual(z, t, n, mid, scratch) > 0 ? lo : hi) = mid;
  }
  const double r = 0.5 * (lo + hi);
  for (std::int64_t i = 0; i < n; ++i) z[i] = z[i] * r / (r + t[i]);
}

namespace {

void check_tensor(const Tensor& theta, const char* what) {
  PX_CHECK(theta.dtype() == DType::float32 || theta.dtype() == DType::float64, DTypeError,
           "group lasso ", what, ": theta has dtype ", dtype_name(theta.dtype()), ", expected float32 or float64");
}

// Calls f(group index, element offsets) for each group (offsets into the contiguous data).
template <class F>
void for_each_group(const GroupLayout& l, F&& f) {
  std::vector<std::int64_t> offsets(l.outer * l.inner);
  for (std::int64_t g = 0; g < l.groups; ++g) {
    std::int64_t k = 0;
    for (std::int64_t o = 0; o < l.outer; ++o)
      for (std::int64_t j = 0; j < l.inner; ++j) offsets[k++] = (o * l.groups + g) * l.inner + j;
    f(g, offsets);
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
  cpu::dispatch_float(theta.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* x = theta.data<T>();
    const T* tp = t ? tc.data<T>() : nullptr;
    std::vector<double> z(layout.outer * layout.inner), tz(tp ? z.size() : 0);
    for_each_group(layout, [&](std::int64_t, const std::vector<std::int64_t>& off) {
      for (std::size_t k = 0; k < off.size(); ++k) {
        z[k] = double(x[off[k]]);
        if (tp) tz[k] = double(tp[off[k]]);
      }
      block_prox(z.data(), tp ? tz.data() : nullptr, t_uniform, static_cast<std::int64_t>(z.size()));
      for (std::size_t k = 0; k < off.size(); ++k) x[off[k]] = T(z[k]);
    });
  });
}

double group_value(const Tensor& theta, Grouping grouping) {
  // Any device: a CUDA theta is summed from a host copy (R is read for logging, not per step).
  const Tensor c = theta.to(Device::cpu()).contiguous();
  check_tensor(c, "value");
  const GroupLayout layout = group_layout(c.shape(), grouping);
  double total = 0;
  cpu::dispatch_float(c.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = c.data<T>();
    std::vector<double> z(layout.outer * layout.inner);
    for_each_group(layout, [&](std::int64_t, const std::vector<std::int64_t>& off) {
      for (std::size_t k = 0; k < off.size(); ++k) z[k] = double(x[off[k]]);
      total += block_norm(z.data(), static_cast<std::int64_t>(z.size()));
    });
  });
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
  cpu::dispatch_float(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* x = out.data<T>();
    std::vector<double> z(layout.outer * layout.inner);
    for_each_group(layout, [&](std::int64_t, const std::vector<std::int64_t>& off) {
      for (std::size_t k = 0; k < off.size(); ++k) z[k] = double(x[off[k]]);
      const double norm = block_norm(z.data(), static_cast<std::int64_t>(z.size()));
      for (std::size_t k = 0; k < off.size(); ++k) x[off[k]] = norm > 0 ? T(z[k] / norm) : T(0);
    });
  });
  return out;
}

}  // namespace px::optim::prox
