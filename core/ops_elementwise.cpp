// Elementwise ops: unary maps, broadcasting binary ops with dtype promotion, where, clamp.
#include "proxima/core/detail/ops_util.h"
#include "proxima/core/ops.h"

namespace px::ops {
namespace {

const char* unary_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::neg: return "neg";
    case UnaryOp::abs: return "abs";
    case UnaryOp::sign: return "sign";
    case UnaryOp::exp: return "exp";
    case UnaryOp::log: return "log";
    case UnaryOp::sqrt: return "sqrt";
    case UnaryOp::rsqrt: return "rsqrt";
    case UnaryOp::relu: return "relu";
    case UnaryOp::sigmoid: return "sigmoid";
    case UnaryOp::tanh: return "tanh";
  }
  return "unary";
}

const char* binary_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::add: return "add";
    case BinaryOp::sub: return "sub";
    case BinaryOp::mul: return "mul";
    case BinaryOp::div: return "div";
    case BinaryOp::pow: return "pow";
    case BinaryOp::minimum: return "minimum";
    case BinaryOp::maximum: return "maximum";
    case BinaryOp::eq: return "eq";
    case BinaryOp::ne: return "ne";
    case BinaryOp::lt: return "lt";
    case BinaryOp::le: return "le";
    case BinaryOp::gt: return "gt";
    case BinaryOp::ge: return "ge";
  }
  return "binary";
}

// A 0-d tensor holding `value` in t's dtype on t's device (scalars take the tensor's dtype).
Tensor scalar_like(const Tensor& t, double value) {
  return scalar_tensor(value, {.dtype = t.dtype(), .device = t.device()});
}

}  // namespace

Tensor unary(UnaryOp op, const Tensor& x) {
  const char* name = unary_name(op);
  detail::check_defined(x, name, "x");
  bool int_ok = op == UnaryOp::neg || op == UnaryOp::abs || op == UnaryOp::sign;
  PX_CHECK(is_floating(x.dtype()) || (int_ok && x.dtype() == DType::int64), DTypeError, name,
           ": 'x' has dtype ", dtype_name(x.dtype()), " but ", name, " needs ",
           int_ok ? "float32, float64 or int64" : "float32 or float64");
  Tensor out = detail::alloc_like(x, x.shape());
  if (out.numel() > 0) detail::backend_of(x).unary(op, x, out);
  return out;
}

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = binary_name(op);
  detail::check_defined(a, name, "a");
  detail::check_defined(b, name, "b");
  detail::check_same_device(name, "a", a, "b", b);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  DType result = promote_types(a.dtype(), b.dtype());
  PX_CHECK(op != BinaryOp::pow || is_floating(result), DTypeError,
           "pow: needs a float operand, got dtypes ", dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
  // Kernels do arithmetic on float32/float64/int64; uint8 arithmetic runs in int64 and wraps back.
  bool comparison = is_comparison(op);
  DType compute = (result == DType::uint8 && !comparison) ? DType::int64 : result;
  Tensor out = detail::alloc(shape, comparison ? DType::uint8 : compute, a.device());
  if (out.numel() > 0) {
    Tensor ea = expand(to_dtype(a, compute), shape), eb = expand(to_dtype(b, compute), shape);
    detail::backend_of(a).binary(op, ea, eb, out);
  }
  return out.dtype() == result || comparison ? out : to_dtype(out, result);
}

Tensor add(const Tensor& a, const Tensor& b) { return binary(BinaryOp::add, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary(BinaryOp::sub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(BinaryOp::mul, a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary(BinaryOp::div, a, b); }

Tensor add(const Tensor& a, double b) { detail::check_defined(a, "add", "a"); return add(a, scalar_like(a, b)); }
Tensor sub(const Tensor& a, double b) { detail::check_defined(a, "sub", "a"); return sub(a, scalar_like(a, b)); }
Tensor sub(double a, const Tensor& b) { detail::check_defined(b, "sub", "b"); return sub(scalar_like(b, a), b); }
Tensor mul(const Tensor& a, double b) { detail::check_defined(a, "mul", "a"); return mul(a, scalar_like(a, b)); }
Tensor div(const Tensor& a, double b) { detail::check_defined(a, "div", "a"); return div(a, scalar_like(a, b)); }
Tensor div(double a, const Tensor& b) { detail::check_defined(b, "div", "b"); return div(scalar_like(b, a), b); }

Tensor neg(const Tensor& x) { return unary(UnaryOp::neg, x); }
Tensor abs(const Tensor& x) { return unary(UnaryOp::abs, x); }
Tensor sign(const Tensor& x) { return unary(UnaryOp::sign, x); }
Tensor exp(const Tensor& x) { return unary(UnaryOp::exp, x); }
Tensor log(const Tensor& x) { return unary(UnaryOp::log, x); }
Tensor sqrt(const Tensor& x) { return unary(UnaryOp::sqrt, x); }
Tensor rsqrt(const Tensor& x) { return unary(UnaryOp::rsqrt, x); }
Tensor relu(const Tensor& x) { return unary(UnaryOp::relu, x); }
Tensor sigmoid(const Tensor& x) { return unary(UnaryOp::sigmoid, x); }
Tensor tanh(const Tensor& x) { return unary(UnaryOp::tanh, x); }

Tensor pow(const Tensor& x, double exponent) {
  detail::check_defined(x, "pow", "x");
  detail::check_float(x, "pow", "x");
  return binary(BinaryOp::pow, x, scalar_like(x, exponent));
}
Tensor pow(const Tensor& x, const Tensor& exponent) { return binary(BinaryOp::pow, x, exponent); }

Tensor minimum(const Tensor& a, const Tensor& b) { return binary(BinaryOp::minimum, a, b); }
Tensor maximum(const Tensor& a, const Tensor& b) { return binary(BinaryOp::maximum, a, b); }

Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  detail::check_defined(x, "clamp", "x");
  Tensor out = x;
  if (lo) out = maximum(out, scalar_like(x, *lo));
  if (hi) out = minimum(out, scalar_like(x, *hi));
  return out.is_same(x) ? clone(x) : out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  detail::check_defined(cond, "where", "cond");
  detail::check_defined(a, "where", "a");
  detail::check_defined(b, "where", "b");
  detail::check_same_device("where", "cond", cond, "a", a);
  detail::check_same_device("where", "a", a, "b", b);
  Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where (cond, a)"),
                                 b.shape(), "where (cond/a, b)");
  DType dtype = promote_types(a.dtype(), b.dtype());
  Tensor out = detail::alloc(shape, dtype, a.device());
  if (out.numel() == 0) return out;
  Tensor mask = cond.dtype() == DType::uint8 ? cond : ne(cond, 0.0);
  detail::backend_of(a).where(expand(mask, shape), expand(to_dtype(a, dtype), shape),
                              expand(to_dtype(b, dtype), shape), out);
  return out;
}

Tensor eq(const Tensor& a, const Tensor& b) { return binary(BinaryOp::eq, a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return binary(BinaryOp::ne, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary(BinaryOp::lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return binary(BinaryOp::le, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary(BinaryOp::gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary(BinaryOp::ge, a, b); }

Tensor eq(const Tensor& a, double b) { detail::check_defined(a, "eq", "a"); return eq(a, scalar_like(a, b)); }
Tensor ne(const Tensor& a, double b) { detail::check_defined(a, "ne", "a"); return ne(a, scalar_like(a, b)); }
Tensor lt(const Tensor& a, double b) { detail::check_defined(a, "lt", "a"); return lt(a, scalar_like(a, b)); }
Tensor le(const Tensor& a, double b) { detail::check_defined(a, "le", "a"); return le(a, scalar_like(a, b)); }
Tensor gt(const Tensor& a, double b) { detail::check_defined(a, "gt", "a"); return gt(a, scalar_like(a, b)); }
Tensor ge(const Tensor& a, double b) { detail::check_defined(a, "ge", "a"); return ge(a, scalar_like(a, b)); }

}  // namespace px::ops

