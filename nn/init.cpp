// Initialisers: uniform, normal, constants and Kaiming (He) draws, written in place.
#include "proxima/nn/init.h"

#include <cmath>
#include <string>

#include "proxima/autograd/autograd.h"
#include "proxima/core/ops.h"

namespace px::nn::init {

namespace {

void check_float(const Tensor& t, const char* who) {
  PX_CHECK(t.defined(), ValueError, who, ": the tensor is undefined");
  PX_CHECK(is_floating(t.dtype()), DTypeError, who, ": needs a float tensor, got ", dtype_name(t.dtype()));
}

void write(const Tensor& t, const Tensor& values) {
  NoGradGuard no_grad;
  ops::copy_(t, values);
}

}  // namespace

std::int64_t fan(const Tensor& t, FanMode mode) {
  PX_CHECK(t.defined() && t.dim() >= 2, ShapeError, "init::fan: needs a tensor with at least 2 dims, got ",
           t.defined() ? shape_str(t.shape()) : "undefined");
  std::int64_t receptive = 1;
  for (std::int64_t d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  return (mode == FanMode::fan_in ? t.size(1) : t.size(0)) * receptive;
}

double calculate_gain(std::string_view nonlinearity, double a) {
  if (nonlinearity == "linear" || nonlinearity == "conv2d" || nonlinearity == "sigmoid") return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1.0 + a * a));
  throw ValueError("init::calculate_gain: unknown nonlinearity \"" + std::string(nonlinearity) +
                   "\"; expected linear, conv2d, sigmoid, tanh, relu or leaky_relu");
}

void uniform_(const Tensor& t, double lo, double hi, Generator& gen) {
  check_float(t, "init::uniform_");
  PX_CHECK(lo <= hi, ValueError, "init::uniform_: lo must be <= hi, got lo=", lo, " hi=", hi);
  write(t, ops::uniform(t.shape(), lo, hi, {.dtype = t.dtype(), .device = t.device()}, &gen));
}

void normal_(const Tensor& t, double mean, double std, Generator& gen) {
  check_float(t, "init::normal_");
  PX_CHECK(std >= 0, ValueError, "init::normal_: std must be >= 0, got ", std);
  write(t, ops::normal(t.shape(), mean, std, {.dtype = t.dtype(), .device = t.device()}, &gen));
}

void constant_(const Tensor& t, double value) {
  PX_CHECK(t.defined(), ValueError, "init::constant_: the tensor is undefined");
  NoGradGuard no_grad;
  ops::fill_(t, value);
}
void zeros_(const Tensor& t) { constant_(t, 0.0); }
void ones_(const Tensor& t) { constant_(t, 1.0); }

void kaiming_uniform_(const Tensor& t, Generator& gen, double a, FanMode mode, std::string_view nonlinearity) {
  const double bound = calculate_gain(nonlinearity, a) * std::sqrt(3.0 / static_cast<double>(fan(t, mode)));
  uniform_(t, -bound, bound, gen);
}

void kaiming_normal_(const Tensor& t, Generator& gen, double a, FanMode mode, std::string_view nonlinearity) {
  const double std = calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan(t, mode)));
  normal_(t, 0.0, std, gen);
}

}  // namespace px::nn::init
