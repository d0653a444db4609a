// backend_for: the one place where a device kind picks its Backend.
#include "proxima/core/backend.h"

namespace px {

Backend& backend_for(Device device) {
  return device.is_cpu() ? cpu_backend() : cuda_backend();
}

}  // namespace px
