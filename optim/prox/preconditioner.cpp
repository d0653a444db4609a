// ProxGen's preconditioners: names and per-kind defaults.
#include "proxima/optim/prox/preconditioner.h"

#include "proxima/core/error.h"

namespace px::optim::prox {

PreconditionerKind parse_preconditioner(const std::string& name) {
  if (name == "none" || name == "identity") return PreconditionerKind::none;
  if (name == "adam") return PreconditionerKind::adam;
  if (name == "adagrad") return PreconditionerKind::adagrad;
  if (name == "rmsprop") return PreconditionerKind::rmsprop;
  throw ValueError(detail::str("unknown preconditioner \"", name, "\"; known: none, adam, adagrad, rmsprop"));
}

const char* preconditioner_name(PreconditionerKind kind) {
  switch (kind) {
    case PreconditionerKind::none: return "none";
    case PreconditionerKind::adam: return "adam";
    case PreconditionerKind::adagrad: return "adagrad";
    case PreconditionerKind::rmsprop: return "rmsprop";
  }
  return "?";
}

Preconditioner default_preconditioner(PreconditionerKind kind) {
  switch (kind) {
    case PreconditionerKind::none: return {kind, 0.9, 0.0, 0.0};
    case PreconditionerKind::adam: return {kind, 0.9, 0.999, 1e-8};
    case PreconditionerKind::adagrad: return {kind, 0.0, 0.0, 1e-10};
    case PreconditionerKind::rmsprop: return {kind, 0.0, 0.99, 1e-8};
  }
  return {};
}

}  // namespace px::optim::prox
