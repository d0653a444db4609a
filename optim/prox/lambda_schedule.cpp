// LambdaSchedule: spec parsing and the scale per epoch.
#include "proxima/optim/prox/lambda_schedule.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "proxima/core/error.h"

namespace px::optim::prox {
namespace {

std::string joined_forms() {
  std::string out;
  for (const auto& form : LambdaSchedule::known_forms()) out += (out.empty() ? "" : ", ") + form;
  return out;
}

}  // namespace

std::vector<std::string> LambdaSchedule::known_forms() { return {"constant", "warmup:E", "homotopy"}; }

LambdaSchedule LambdaSchedule::warmup(double epochs) {
  PX_CHECK(epochs > 0 && std::isfinite(epochs), ValueError, "lambda schedule: warmup epochs E must be finite and > 0, got ",
           epochs);
  LambdaSchedule s;
  s.kind_ = Kind::warmup;
  s.warmup_epochs_ = epochs;
  return s;
}

LambdaSchedule LambdaSchedule::homotopy() {
  LambdaSchedule s;
  s.kind_ = Kind::homotopy;
  return s;
}

LambdaSchedule LambdaSchedule::parse(const std::string& spec) {
  if (spec == "constant") return constant();
  if (spec == "homotopy") return homotopy();
  const std::string prefix = "warmup:";
  if (spec.rfind(prefix, 0) == 0) {
    const std::string number = spec.substr(prefix.size());
    char* end = nullptr;
    const double epochs = number.empty() ? NAN : std::strtod(number.c_str(), &end);
    PX_CHECK(!number.empty() && end == number.c_str() + number.size() && epochs > 0 && std::isfinite(epochs),
             ValueError, "lambda schedule '", spec, "': E in warmup:E must be a finite number of epochs > 0, got '",
             number, "'");
    return warmup(epochs);
  }
  throw ValueError(detail::str("lambda schedule: unknown spec '", spec, "'; known forms: ", joined_forms()));
}

double LambdaSchedule::scale(std::int64_t epoch, double fraction_of_epoch) const {
  PX_CHECK(epoch >= 0, ValueError, "lambda schedule: epoch must be >= 0, got ", epoch);
  PX_CHECK(fraction_of_epoch >= 0 && fraction_of_epoch <= 1, ValueError,
           "lambda schedule: fraction_of_epoch must be in [0, 1], got ", fraction_of_epoch);
  switch (kind_) {
    case Kind::constant: return 1.0;
    case Kind::warmup: return std::min(1.0, (static_cast<double>(epoch) + fraction_of_epoch) / warmup_epochs_);
    case Kind::homotopy: return static_cast<double>(epoch);
  }
  return 1.0;
}

std::string LambdaSchedule::spec() const {
  switch (kind_) {
    case Kind::constant: return "constant";
    case Kind::warmup: return detail::str("warmup:", warmup_epochs_);
    case Kind::homotopy: return "homotopy";
  }
  return "constant";
}

}  // namespace px::optim::prox
