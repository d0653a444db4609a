// backend_for: the one place where a device kind picks its Backend.
#include "proxima/core/backend.h"

namespace px {

Backend& backend_for(Device device) {
  return device.is_cpu() ? cpu_backend() : cuda_backend();
}

// Until a backend implements the fused batch norm, it says so (the front-end then composes
// the normalisation from elementwise ops and reductions).
void Backend::batch_norm_forward(const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                 const Tensor&, const Tensor&, double, bool) {
  throw Error(detail::str(name(), ": batch_norm_forward is not implemented"));
}
void Backend::batch_norm_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                  const Tensor&, const Tensor&, const Tensor&, const Tensor&, bool) {
  throw Error(detail::str(name(), ": batch_norm_backward is not implemented"));
}

}  // namespace px
