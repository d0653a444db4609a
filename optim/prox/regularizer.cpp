// Regularizer: the CPU loops of the separable regularisers, group lasso's tensor prox, and
// make_regularizer (spec parsing and parameter checks).
#include "proxima/optim/prox/regularizer.h"

#include <cmath>
#include <cstdlib>
#include <set>

#include "proxima/core/error.h"
#include "proxima/optim/cpu_loop.h"

namespace px::optim::prox {
namespace {

void check_theta(const Tensor& theta, const std::string& name, const char* what) {
  PX_CHECK(theta.device().is_cpu(), DeviceError, "regularizer ", name, " ", what, " on ",
           theta.device().str(), " is not implemented yet");
  PX_CHECK(theta.dtype() == DType::float32 || theta.dtype() == DType::float64, DTypeError, "regularizer ",
           name, " ", what, ": theta has dtype ", dtype_name(theta.dtype()), ", expected float32 or float64");
}

void check_prox_args(const Tensor& theta, const Tensor* t, const std::string& name) {
  check_theta(theta, name, "prox");
  PX_CHECK(theta.is_contiguous(), ValueError, "regularizer ", name,
           " prox: theta must be contiguous (it is updated in place)");
  if (t) {
    PX_CHECK(t->shape() == theta.shape() && t->dtype() == theta.dtype() && t->device() == theta.device(),
             ValueError, "regularizer ", name, " prox: t must match theta's shape, dtype and device, got t ",
             shape_str(t->shape()), " ", dtype_name(t->dtype()), " for theta ", shape_str(theta.shape()), " ",
             dtype_name(theta.dtype()));
  }
}

}  // namespace

Tensor Regularizer::prox(const Tensor& z, const Tensor& t) const {
  Tensor out = z.clone();
  prox_(out, t);
  return out;
}

Tensor Regularizer::prox(const Tensor& z, double t) const {
  Tensor out = z.clone();
  prox_(out, t);
  return out;
}

SeparableRegularizer::SeparableRegularizer(std::string name, const SeparableProx& scalar)
    : name_(std::move(name)), scalar_(scalar) {}

double SeparableRegularizer::value(const Tensor& theta) const {
  // Any device: a CUDA theta is summed from a host copy (R is read for logging, not per step).
  const Tensor c = theta.to(Device::cpu()).contiguous();
  check_theta(c, name_, "value");
  double total = 0;
  cpu::dispatch_float(c.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = c.data<T>();
    for (std::int64_t i = 0; i < c.numel(); ++i) total += scalar_.value(double(x[i]));
  });
  return total;
}

void SeparableRegularizer::prox_(const Tensor& theta, const Tensor& t) const {
  check_prox_args(theta, &t, name_);
  const Tensor tc = t.contiguous();
  cpu::dispatch_float(theta.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* x = theta.data<T>();
    const T* tp = tc.data<T>();
    const SeparableProx s = scalar_;
    cpu::for_each_coordinate(theta.numel(), [&](std::int64_t i) { x[i] = s.apply(x[i], tp[i]); });
  });
}

void SeparableRegularizer::prox_(const Tensor& theta, double t) const {
  check_prox_args(theta, nullptr, name_);
  PX_CHECK(t >= 0, ValueError, "regularizer ", name_, " prox: t must be >= 0, got ", t);
  cpu::dispatch_float(theta.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* x = theta.data<T>();
    const T tt = T(t);
    const SeparableProx s = scalar_;
    cpu::for_each_coordinate(theta.numel(), [&](std::int64_t i) { x[i] = s.apply(x[i], tt); });
  });
}

Tensor SeparableRegularizer::subgradient(const Tensor& theta) const {
  PX_CHECK(scalar_.has_subgradient(), ValueError, "regularizer ", name_,
           " has no useful subgradient (its derivative is 0 wherever it exists)");
  check_theta(theta, name_, "subgradient");
  Tensor out = theta.clone();
  cpu::dispatch_float(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* x = out.data<T>();
    for (std::int64_t i = 0; i < out.numel(); ++i) x[i] = T(scalar_.subgradient(double(x[i])));
  });
  return out;
}

void GroupLassoRegularizer::prox_(const Tensor& theta, const Tensor& t) const {
  group_prox_(theta, &t, 0.0, grouping_);
}

// ---- make_regularizer ----
namespace {

// Typed reads of the params, each key checked against the ones the spec reads.
class ParamReader {
 public:
  ParamReader(const std::string& spec, const RegularizerParams& params) : spec_(spec), params_(params) {}

  double number(const std::string& key, double fallback, bool required = false) {
    known_.insert(key);
    auto it = params_.find(key);
    if (it == params_.end()) {
      PX_CHECK(!required, ValueError, "make_regularizer: \"", spec_, "\" needs params[\"", key, "\"]",
               key == "lambda" ? " (the penalty's lambda, equal to the optimizer's lambda, > 0)" : "");
      return fallback;
    }
    if (auto* d = std::get_if<double>(&it->second)) return *d;
    if (auto* i = std::get_if<std::int64_t>(&it->second)) return static_cast<double>(*i);
    throw ValueError(detail::str("make_regularizer: \"", spec_, "\" params[\"", key, "\"] must be a number"));
  }
  bool flag(const std::string& key, bool fallback) {
    known_.insert(key);
    auto it = params_.find(key);
    if (it == params_.end()) return fallback;
    if (auto* b = std::get_if<bool>(&it->second)) return *b;
    throw ValueError(detail::str("make_regularizer: \"", spec_, "\" params[\"", key, "\"] must be a bool"));
  }
  std::string text(const std::string& key, const std::string& fallback) {
    known_.insert(key);
    auto it = params_.find(key);
    if (it == params_.end()) return fallback;
    if (auto* s = std::get_if<std::string>(&it->second)) return *s;
    throw ValueError(detail::str("make_regularizer: \"", spec_, "\" params[\"", key, "\"] must be a string"));
  }
  // Throws on any key the spec did not read.
  void finish() const {
    for (const auto& [key, value] : params_) {
      if (known_.count(key)) continue;
      std::string list;
      for (const auto& k : known_) list += (list.empty() ? "" : ", ") + k;
      throw ValueError(detail::str("make_regularizer: \"", spec_, "\" does not read params[\"", key,
                                   "\"]; its keys are: ", list.empty() ? "(none)" : list));
    }
  }

 private:
  std::string spec_;
  const RegularizerParams& params_;
  std::set<std::string> known_;
};

void check_param(bool ok, const std::string& spec, const char* key, double value, const char* expected) {
  PX_CHECK(ok, ValueError, "make_regularizer: \"", spec, "\" ", key, " must be ", expected, ", got ", value);
}

BinaryZero parse_binary_zero(const std::string& spec, const std::string& name) {
  if (name == "plus_one") return BinaryZero::plus_one;
  if (name == "keep_zero") return BinaryZero::keep_zero;
  if (name == "literal") return BinaryZero::literal;
  throw ValueError(detail::str("make_regularizer: \"", spec, "\" binary_zero \"", name,
                               "\" is unknown; expected plus_one, keep_zero or literal"));
}

// "lq:Q" -> Q in (0, 1).
double parse_lq(const std::string& spec) {
  const std::string number = spec.substr(3);
  char* end = nullptr;
  const double q = number.empty() ? NAN : std::strtod(number.c_str(), &end);
  PX_CHECK(!number.empty() && end && *end == '\0' && q > 0 && q < 1, ValueError, "make_regularizer: \"",
           spec, "\" needs an exponent 0 < Q < 1 after \"lq:\" (e.g. \"lq:0.3\")");
  return q;
}

std::unique_ptr<Regularizer> build(const std::string& spec, ParamReader& p) {
  if (spec == "group") return std::make_unique<GroupLassoRegularizer>(parse_grouping(p.text("grouping", "filters")));
  SeparableProx s;
  s.keep_at_tie = p.flag("keep_at_tie", false);
  auto make = [&](SeparableKind kind, double q) {
    s.kind = kind;
    s.q = q;
    return std::make_unique<SeparableRegularizer>(spec, s);
  };
  if (spec == "l1") return make(SeparableKind::l1, 1.0);
  if (spec == "l0") return make(SeparableKind::l0, 0.0);
  if (spec == "l12") return make(SeparableKind::l12, 0.5);
  if (spec == "l23") return make(SeparableKind::l23, 2.0 / 3.0);
  if (spec == "l2") return make(SeparableKind::l2, 2.0);
  if (spec.rfind("lq:", 0) == 0) return make(SeparableKind::lq, parse_lq(spec));
  if (spec == "mcp" || spec == "scad") {
    s.lambda = p.number("lambda", 0.0, true);
    check_param(s.lambda > 0 && std::isfinite(s.lambda), spec, "lambda", s.lambda, "finite and > 0");
    if (spec == "mcp") {
      s.shape = p.number("gamma", 3.0);
      check_param(s.shape > 0 && std::isfinite(s.shape), spec, "gamma", s.shape, "finite and > 0");
      return make(SeparableKind::mcp, 1.0);
    }
    s.shape = p.number("a", 3.7);
    check_param(s.shape > 2 && std::isfinite(s.shape), spec, "a", s.shape, "finite and > 2");
    return make(SeparableKind::scad, 1.0);
  }
  const std::pair<const char*, double> binaries[] = {
      {"bin-l1", 1.0}, {"bin-l12", 0.5}, {"bin-l23", 2.0 / 3.0}, {"bin-l0", 0.0}};
  for (const auto& [name, q] : binaries) {
    if (spec != name) continue;
    s.binary_zero = parse_binary_zero(spec, p.text("binary_zero", "plus_one"));
    return make(SeparableKind::binary, q);
  }
  std::string list;
  for (const auto& n : regularizer_names()) list += (list.empty() ? "" : ", ") + n;
  throw ValueError(detail::str("make_regularizer: unknown regularizer \"", spec, "\"; known: ", list));
}

}  // namespace

std::vector<std::string> regularizer_names() {
  return {"l1", "l0", "l12", "l23", "lq:Q", "mcp", "scad", "group", "l2", "bin-l1", "bin-l12", "bin-l23", "bin-l0"};
}

std::unique_ptr<Regularizer> make_regularizer(const std::string& spec, const RegularizerParams& params) {
  ParamReader reader(spec, params);
  auto reg = build(spec, reader);
  reader.finish();
  return reg;
}

}  // namespace px::optim::prox
