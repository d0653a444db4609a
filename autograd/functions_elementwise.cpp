// Differentiable elementwise ops, operators and the non-differentiable passthroughs.
// Binary backward rules return gradients of the broadcast shape; the engine sums them down.
#include "proxima/autograd/functions.h"
#include "proxima/core/ops.h"

namespace px {

using autograd::Needs;
using autograd::record;
using autograd::TensorList;

namespace {
Tensor zero_scalar(const Tensor& like) {
  return scalar_tensor(0.0, {.dtype = like.dtype(), .device = like.device()});
}
Tensor float_mask(const Tensor& mask, const Tensor& like) { return ops::to_dtype(mask, like.dtype()); }
}  // namespace

// ---- binary ----

Tensor add(const Tensor& a, const Tensor& b) {
  return record("add", {a, b}, ops::add(a, b), [](const Tensor& g, const Needs&) -> TensorList { return {g, g}; });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  return record("sub", {a, b}, ops::sub(a, b), [](const Tensor& g, const Needs& needs) -> TensorList {
    return {g, needs[1] ? ops::neg(g) : Tensor()};
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  return record("mul", {a, b}, ops::mul(a, b),
                [a = a.detach(), b = b.detach()](const Tensor& g, const Needs& needs) -> TensorList {
                  return {needs[0] ? ops::mul(g, b) : Tensor(), needs[1] ? ops::mul(g, a) : Tensor()};
                });
}

// y = a / b: da = g / b, db = -g a / b^2 = -(g / b) y.
Tensor div(const Tensor& a, const Tensor& b) {
  Tensor y = ops::div(a, b);
  return record("div", {a, b}, y,
                [b = b.detach(), y = y.detach()](const Tensor& g, const Needs& needs) -> TensorList {
                  Tensor g_over_b = ops::div(g, b);
                  return {g_over_b, needs[1] ? ops::neg(ops::mul(g_over_b, y)) : Tensor()};
                });
}

Tensor add(const Tensor& a, double b) {
  return record("add", {a}, ops::add(a, b), [](const Tensor& g, const Needs&) -> TensorList { return {g}; });
}

Tensor sub(const Tensor& a, double b) {
  return record("sub", {a}, ops::sub(a, b), [](const Tensor& g, const Needs&) -> TensorList { return {g}; });
}

Tensor sub(double a, const Tensor& b) {
  return record("sub", {b}, ops::sub(a, b),
                [](const Tensor& g, const Needs&) -> TensorList { return {ops::neg(g)}; });
}

Tensor mul(const Tensor& a, double b) {
  return record("mul", {a}, ops::mul(a, b),
                [b](const Tensor& g, const Needs&) -> TensorList { return {ops::mul(g, b)}; });
}

Tensor div(const Tensor& a, double b) {
  return record("div", {a}, ops::div(a, b),
                [b](const Tensor& g, const Needs&) -> TensorList { return {ops::div(g, b)}; });
}

// y = a / b: db = -a / b^2 = -y / b.
Tensor div(double a, const Tensor& b) {
  Tensor y = ops::div(a, b);
  return record("div", {b}, y, [b = b.detach(), y = y.detach()](const Tensor& g, const Needs&) -> TensorList {
    return {ops::neg(ops::div(ops::mul(g, y), b))};
  });
}

// ---- unary ----

Tensor neg(const Tensor& x) {
  return record("neg", {x}, ops::neg(x),
                [](const Tensor& g, const Needs&) -> TensorList { return {ops::neg(g)}; });
}

Tensor abs(const Tensor& x) {
  return record("abs", {x}, ops::abs(x), [x = x.detach()](const Tensor& g, const Needs&) -> TensorList {
    return {ops::mul(g, ops::sign(x))};
  });
}

Tensor exp(const Tensor& x) {
  Tensor y = ops::exp(x);
  return record("exp", {x}, y,
                [y = y.detach()](const Tensor& g, const Needs&) -> TensorList { return {ops::mul(g, y)}; });
}

Tensor log(const Tensor& x) {
  return record("log", {x}, ops::log(x),
                [x = x.detach()](const Tensor& g, const Needs&) -> TensorList { return {ops::div(g, x)}; });
}

// y = sqrt(x): dx = g / (2 y).
Tensor sqrt(const Tensor& x) {
  Tensor y = ops::sqrt(x);
  return record("sqrt", {x}, y, [y = y.detach()](const Tensor& g, const Needs&) -> TensorList {
    return {ops::div(ops::mul(g, 0.5), y)};
  });
}

// y = x^(-1/2): dx = -y^3 / 2.
Tensor rsqrt(const Tensor& x) {
  Tensor y = ops::rsqrt(x);
  return record("rsqrt", {x}, y, [y = y.detach()](const Tensor& g, const Needs&) -> TensorList {
    return {ops::mul(g, ops::mul(ops::mul(ops::mul(y, y), y), -0.5))};
  });
}

Tensor relu(const Tensor& x) {
  Tensor y = ops::relu(x);
  return record("relu", {x}, y, [y = y.detach()](const Tensor& g, const Needs&) -> TensorList {
    // y >= 0 (or NaN), so sign(y) is the float mask [y > 0] itself (0 for NaN, as the
    // comparison), made in one pass with no uint8 mask and no dtype conversion.
    return {ops::mul(g, ops::sign(y))};
  });
}

// y = sigmoid(x): dx = y (1 - y).
Tensor sigmoid(const Tensor& x) {
  Tensor y = ops::sigmoid(x);
  return record("sigmoid", {x}, y, [y = y.detach()](const Tensor& g, const Needs&) -> TensorList {
    return {ops::mul(g, ops::mul(y, ops::sub(1.0, y)))};
  });
}

// y = tanh(x): dx = 1 - y^2.
Tensor tanh(const Tensor& x) {
  Tensor y = ops::tanh(x);
  return record("tanh", {x}, y, [y = y.detach()](const Tensor& g, const Needs&) -> TensorList {
    return {ops::mul(g, ops::sub(1.0, ops::mul(y, y)))};
  });
}

// y = x^p: dx = p x^(p-1).
Tensor pow(const Tensor& x, double exponent) {
  return record("pow", {x}, ops::pow(x, exponent),
                [x = x.detach(), p = exponent](const Tensor& g, const Needs&) -> TensorList {
                  if (p == 0.0) return {ops::mul(g, 0.0)};
                  return {ops::mul(g, ops::mul(ops::pow(x, p - 1.0), p))};
                });
}

// y = x^e: dx = e x^(e-1); de = y log(x), taken as 0 where x == 0 (as PyTorch).
Tensor pow(const Tensor& x, const Tensor& exponent) {
  Tensor y = ops::pow(x, exponent);
  return record(
      "pow", {x, exponent}, y,
      [x = x.detach(), e = exponent.detach(), y = y.detach()](const Tensor& g, const Needs& needs) -> TensorList {
        Tensor gx, ge;
        if (needs[0]) gx = ops::mul(g, ops::mul(e, ops::pow(x, ops::sub(e, 1.0))));
        if (needs[1]) {
          Tensor d = ops::mul(y, ops::log(x));
          ge = ops::mul(g, ops::where(ops::eq(x, 0.0), zero_scalar(d), d));
        }
        return {gx, ge};
      });
}

// The gradient passes where lo <= x <= hi.
Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  return record("clamp", {x}, ops::clamp(x, lo, hi),
                [x = x.detach(), lo, hi](const Tensor& g, const Needs&) -> TensorList {
                  Tensor gx = g;
                  if (lo) gx = ops::where(ops::lt(x, *lo), zero_scalar(g), gx);
                  if (hi) gx = ops::where(ops::gt(x, *hi), zero_scalar(g), gx);
                  return {gx};
                });
}

namespace {
// Share of the gradient that goes to a: 1 where a wins, 1/2 on ties, 0 where b wins.
Tensor extremum(const char* name, const Tensor& a, const Tensor& b, bool is_max) {
  Tensor y = is_max ? ops::maximum(a, b) : ops::minimum(a, b);
  return record(name, {a, b}, y,
                [a = a.detach(), b = b.detach(), is_max](const Tensor& g, const Needs&) -> TensorList {
                  Tensor wins = float_mask(is_max ? ops::gt(a, b) : ops::lt(a, b), g);
                  Tensor share = ops::add(wins, ops::mul(float_mask(ops::eq(a, b), g), 0.5));
                  return {ops::mul(g, share), ops::mul(g, ops::sub(1.0, share))};
                });
}
}  // namespace

Tensor minimum(const Tensor& a, const Tensor& b) { return extremum("minimum", a, b, false); }
Tensor maximum(const Tensor& a, const Tensor& b) { return extremum("maximum", a, b, true); }

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  return record(
      "where", {a, b}, ops::where(cond, a, b),
      [cond = cond.detach()](const Tensor& g, const Needs& needs) -> TensorList {
        Tensor zero = zero_scalar(g);
        return {needs[0] ? ops::where(cond, g, zero) : Tensor(), needs[1] ? ops::where(cond, zero, g) : Tensor()};
      });
}

// ---- operators ----

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator+(double a, const Tensor& b) { return add(b, a); }
Tensor operator-(const Tensor& a, double b) { return sub(a, b); }
Tensor operator-(double a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
Tensor operator/(const Tensor& a, double b) { return div(a, b); }
Tensor operator/(double a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& x) { return neg(x); }

// ---- passthroughs (no gradient) ----

Tensor sign(const Tensor& x) { return ops::sign(x); }
Tensor eq(const Tensor& a, const Tensor& b) { return ops::eq(a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return ops::ne(a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return ops::lt(a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return ops::le(a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return ops::gt(a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return ops::ge(a, b); }
Tensor eq(const Tensor& a, double b) { return ops::eq(a, b); }
Tensor ne(const Tensor& a, double b) { return ops::ne(a, b); }
Tensor lt(const Tensor& a, double b) { return ops::lt(a, b); }
Tensor le(const Tensor& a, double b) { return ops::le(a, b); }
Tensor gt(const Tensor& a, double b) { return ops::gt(a, b); }
Tensor ge(const Tensor& a, double b) { return ops::ge(a, b); }
Tensor argmax(const Tensor& x, std::optional<std::int64_t> dim, bool keepdim) {
  return ops::argmax(x, dim, keepdim);
}
Tensor argmin(const Tensor& x, std::optional<std::int64_t> dim, bool keepdim) {
  return ops::argmin(x, dim, keepdim);
}
Tensor count_nonzero(const Tensor& x, const std::vector<std::int64_t>& dims) {
  return ops::count_nonzero(x, dims);
}

}  // namespace px
