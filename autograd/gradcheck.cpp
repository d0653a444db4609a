// gradcheck: compares backward()'s gradients with central finite differences, element by element.
#include "proxima/autograd/gradcheck.h"

#include <cmath>
#include <sstream>

#include "proxima/autograd/autograd.h"
#include "proxima/core/factory.h"
#include "proxima/core/ops.h"

namespace px::autograd {

namespace {

// <v, y> in float64 on the host.
double inner(const Tensor& y, const std::vector<double>& v) {
  const std::vector<double> values = ops::to_dtype(y.to(Device::cpu()), DType::float64).to_vector<double>();
  double total = 0.0;
  for (std::size_t i = 0; i < values.size(); ++i) total += values[i] * v[i];
  return total;
}

std::string index_str(std::int64_t flat, const Shape& shape) {
  Shape index(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return shape_str(index);
}

struct Worst {
  double excess = -INFINITY;
  std::string where;
};

// Compares the analytic gradient of input `which` with central differences of <v, f(x)>.
void check_input(const GradcheckFn& f, std::vector<Tensor>& xs, std::size_t which, const std::vector<double>& v,
                 const GradcheckOptions& options, Worst& worst) {
  Tensor x = xs[which];
  const Tensor grad = x.grad();
  const std::vector<double> analytic =
      grad.defined() ? grad.to_vector<double>() : std::vector<double>(static_cast<std::size_t>(x.numel()), 0.0);
  double* data = x.data<double>();
  NoGradGuard no_grad;
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    const double saved = data[i];
    data[i] = saved + options.eps;
    const double plus = inner(f(xs), v);
    data[i] = saved - options.eps;
    const double minus = inner(f(xs), v);
    data[i] = saved;
    const double numeric = (plus - minus) / (2.0 * options.eps);
    const double a = analytic[static_cast<std::size_t>(i)];
    const double tolerance = options.atol + options.rtol * std::abs(numeric);
    const double excess = std::isfinite(a) ? std::abs(a - numeric) - tolerance : INFINITY;
    if (excess > worst.excess) {
      std::ostringstream out;
      out.precision(10);
      out << "input " << which << " element " << index_str(i, x.shape()) << " (flat " << i << "): analytic " << a
          << ", numeric " << numeric << ", |diff| " << std::abs(a - numeric) << ", tolerance " << tolerance;
      worst = {excess, out.str()};
    }
  }
}

}  // namespace

GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
  std::vector<Tensor> xs;
  std::vector<std::size_t> checked;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    if (t.defined() && t.dtype() == DType::float64 && t.device().is_cpu()) {
      Tensor copy = ops::clone(t.detach());
      copy.set_requires_grad(true);
      xs.push_back(copy);
      checked.push_back(i);
    } else {
      xs.push_back(t);
    }
  }
  PX_CHECK(!checked.empty(), ValueError, "gradcheck: no float64 cpu input to check among ", inputs.size(),
           " inputs");
  const Tensor y = f(xs);
  PX_CHECK(y.defined() && y.dtype() == DType::float64, DTypeError,
           "gradcheck: f must return a float64 tensor, got ", y.defined() ? dtype_name(y.dtype()) : "undefined");
  Generator gen(options.seed);
  const Tensor v = randn(y.shape(), {.dtype = DType::float64, .device = y.device()}, &gen);
  if (y.requires_grad()) backward(y, v);
  const std::vector<double> v_host = v.to(Device::cpu()).to_vector<double>();
  Worst worst;
  for (std::size_t i : checked) check_input(f, xs, i, v_host, options, worst);
  GradcheckResult result;
  result.worst_excess = worst.excess;
  result.ok = worst.excess <= 0.0;
  result.message = (result.ok ? "ok; closest to tolerance: " : "gradient mismatch at ") + worst.where;
  return result;
}

}  // namespace px::autograd
