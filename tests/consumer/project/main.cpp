// Consumer test program: a small autograd computation whose gradient is checked numerically.
// Returns 0 when the gradients from px::backward match central finite differences.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include <proxima/proxima.h>

namespace {

// loss(x, w, b) = sum(relu(x @ w^T + b) * x @ w^T), in float64 (smooth except where a
// pre-activation is exactly 0, which random inputs never hit at the step used below).
px::Tensor loss_of(const px::Tensor& x, const px::Tensor& w, const px::Tensor& b) {
  const px::Tensor h = px::linear(x, w, b);  // [4, 3]
  return px::sum(px::relu(h) * h + h * 0.5);
}

// Largest |analytic - numeric| / (1 + |numeric|) over the elements of `param`.
double gradient_error(const px::Tensor& x, const px::Tensor& w, const px::Tensor& b,
                      const px::Tensor& param, const px::Tensor& analytic) {
  const double step = 1e-6;
  const std::vector<double> grad = analytic.to_vector<double>();
  double worst = 0.0;
  px::NoGradGuard no_grad;
  for (std::int64_t i = 0; i < param.numel(); ++i) {
    double* value = param.data<double>() + i;
    const double saved = *value;
    *value = saved + step;
    const double up = loss_of(x, w, b).item();
    *value = saved - step;
    const double down = loss_of(x, w, b).item();
    *value = saved;
    const double numeric = (up - down) / (2 * step);
    worst = std::max(worst, std::abs(grad[i] - numeric) / (1.0 + std::abs(numeric)));
  }
  return worst;
}

}  // namespace

int main() {
  try {
    px::Generator gen(42);
    const px::TensorOptions f64{.dtype = px::DType::float64};
    px::Tensor x = px::randn({4, 5}, f64, &gen).set_requires_grad();
    px::Tensor w = px::randn({3, 5}, f64, &gen).set_requires_grad();
    px::Tensor b = px::randn({3}, f64, &gen).set_requires_grad();

    px::backward(loss_of(x, w, b));
    double worst = 0.0;
    for (const px::Tensor& t : {x, w, b}) {
      if (!t.grad().defined()) {
        std::fprintf(stderr, "consumer: a leaf received no gradient\n");
        return 1;
      }
      worst = std::max(worst, gradient_error(x, w, b, t.detach(), t.grad()));
    }
    std::printf("consumer: max relative gradient error %.3g\n", worst);
    if (!(worst < 1e-6)) {
      std::fprintf(stderr, "consumer: gradient mismatch (%.3g >= 1e-6)\n", worst);
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "consumer: error: %s\n", e.what());
    return 1;
  }
}
