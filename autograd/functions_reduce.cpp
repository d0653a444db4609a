// Differentiable reductions over all or several dims: sum, mean, amax/amin, var, L1/L2 norms.
#include "proxima/autograd/functions.h"
#include "proxima/core/ops.h"

namespace px {

using autograd::Needs;
using autograd::record;
using autograd::TensorList;

namespace {

// What a reduction of x over `dims` keeps: the input's shape with reduced dims set to 1
// (the keepdim shape) and the number of elements folded into each result.
struct Reduced {
  Shape in;
  Shape kept;
  std::vector<std::int64_t> dims;  // normalised, never empty unless x is 0-d
  std::int64_t count = 1;
};

Reduced reduced(const Tensor& x, const std::vector<std::int64_t>& dims) {
  Reduced r{x.shape(), x.shape(), {}, 1};
  auto fold = [&r](std::size_t d) {
    r.count *= r.in[d];
    r.kept[d] = 1;
    r.dims.push_back(static_cast<std::int64_t>(d));
  };
  if (dims.empty()) {
    for (std::size_t d = 0; d < r.in.size(); ++d) fold(d);
  } else {
    for (std::int64_t d : dims) fold(static_cast<std::size_t>(normalize_dim(d, x.dim())));
  }
  return r;
}

// The gradient (or result) of a reduction in the keepdim layout, broadcastable against x.
Tensor keep(const Tensor& t, const Reduced& r) { return ops::reshape(t, r.kept); }

// The gradient of a sum: every input element receives its result's gradient.
Tensor spread(const Tensor& g, const Reduced& r) { return ops::expand(keep(g, r), r.in); }

}  // namespace

Tensor sum(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  Tensor y = ops::sum(x, dims, keepdim);  // validates dims
  return record("sum", {x}, y,
                [r = reduced(x, dims)](const Tensor& g, const Needs&) -> TensorList { return {spread(g, r)}; });
}

Tensor mean(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  Tensor y = ops::mean(x, dims, keepdim);
  return record("mean", {x}, y, [r = reduced(x, dims)](const Tensor& g, const Needs&) -> TensorList {
    return {ops::div(spread(g, r), static_cast<double>(r.count))};
  });
}

namespace {
// amax/amin: the gradient is shared evenly among the elements equal to the extremum.
Tensor extreme(const char* name, const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim,
               bool is_max) {
  Tensor y = is_max ? ops::amax(x, dims, keepdim) : ops::amin(x, dims, keepdim);
  return record(
      name, {x}, y,
      [x = x.detach(), y = y.detach(), r = reduced(x, dims)](const Tensor& g, const Needs&) -> TensorList {
        Tensor hits = ops::to_dtype(ops::eq(x, keep(y, r)), g.dtype());
        Tensor ties = ops::sum(hits, r.dims, /*keepdim=*/true);
        return {ops::mul(hits, ops::div(keep(g, r), ties))};
      });
}
}  // namespace

Tensor amax(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  return extreme("amax", x, dims, keepdim, true);
}

Tensor amin(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  return extreme("amin", x, dims, keepdim, false);
}

// var = sum((x - mean)^2) / (count - correction): dx = 2 (x - mean) / (count - correction).
Tensor var(const Tensor& x, const std::vector<std::int64_t>& dims, std::int64_t correction, bool keepdim) {
  Tensor y = ops::var(x, dims, correction, keepdim);
  return record("var", {x}, y,
                [x = x.detach(), r = reduced(x, dims), correction](const Tensor& g, const Needs&) -> TensorList {
                  Tensor centred = ops::sub(x, ops::mean(x, r.dims, /*keepdim=*/true));
                  const double scale = 2.0 / static_cast<double>(r.count - correction);
                  return {ops::mul(ops::mul(centred, keep(g, r)), scale)};
                });
}

Tensor norm_l1(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  Tensor y = ops::norm_l1(x, dims, keepdim);
  return record("norm_l1", {x}, y,
                [x = x.detach(), r = reduced(x, dims)](const Tensor& g, const Needs&) -> TensorList {
                  return {ops::mul(keep(g, r), ops::sign(x))};
                });
}

// y = sqrt(sum x^2): dx = x / y, and 0 where y == 0.
Tensor norm_l2(const Tensor& x, const std::vector<std::int64_t>& dims, bool keepdim) {
  Tensor y = ops::norm_l2(x, dims, keepdim);
  return record(
      "norm_l2", {x}, y,
      [x = x.detach(), y = y.detach(), r = reduced(x, dims)](const Tensor& g, const Needs&) -> TensorList {
        Tensor y_kept = keep(y, r);
        Tensor unit = ops::div(x, y_kept);
        Tensor zero = scalar_tensor(0.0, {.dtype = x.dtype(), .device = x.device()});
        return {ops::mul(keep(g, r), ops::where(ops::eq(y_kept, 0.0), zero, unit))};
      });
}

}  // namespace px
