// Random draws: fresh tensors from U[lo, hi) or N(mean, std^2), addressed by the generator.
#include <cmath>

#include "proxima/core/detail/ops_util.h"
#include "proxima/core/ops.h"

namespace px::ops {
namespace {

Tensor draw(const char* op, const Shape& shape, RandomKind kind, double a, double b,
            TensorOptions options, Generator* gen) {
  PX_CHECK(is_floating(options.dtype), DTypeError, op, ": dtype must be float32 or float64, got ",
           dtype_name(options.dtype));
  Tensor out = detail::alloc(shape, options.dtype, options.device);
  if (out.numel() == 0) return out;
  Generator& g = gen ? *gen : default_generator();
  std::uint64_t offset = g.advance(static_cast<std::uint64_t>(out.numel()));
  detail::backend_of(out).random(out, kind, a, b, g.seed(), offset);
  return out;
}

}  // namespace

Tensor uniform(const Shape& shape, double lo, double hi, TensorOptions options, Generator* gen) {
  PX_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo <= hi, ValueError, "uniform: lo = ", lo,
           " and hi = ", hi, " must be finite with lo <= hi");
  return draw("uniform", shape, RandomKind::uniform, lo, hi, options, gen);
}

Tensor normal(const Shape& shape, double mean, double std, TensorOptions options, Generator* gen) {
  PX_CHECK(std::isfinite(mean), ValueError, "normal: mean = ", mean, " must be finite");
  PX_CHECK(std::isfinite(std) && std >= 0.0, ValueError, "normal: std = ", std,
           " must be finite and >= 0");
  return draw("normal", shape, RandomKind::normal, mean, std, options, gen);
}

}  // namespace px::ops
