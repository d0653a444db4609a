// Device parsing ("cpu", "cuda", "cuda:N") and printing.
#include "proxima/core/device.h"

#include <charconv>

#include "proxima/core/error.h"

namespace px {

Device Device::parse(std::string_view text) {
  if (text == "cpu") return cpu();
  if (text == "cuda") return cuda(0);
  if (text.starts_with("cuda:")) {
    std::string_view digits = text.substr(5);
    int index = -1;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (!digits.empty() && ec == std::errc() && end == digits.data() + digits.size() && index >= 0)
      return cuda(index);
  }
  throw ValueError(detail::str("Device::parse: device '", text,
                               "' is not valid; expected \"cpu\", \"cuda\" or \"cuda:N\""));
}

std::string Device::str() const {
  return is_cpu() ? std::string("cpu") : "cuda:" + std::to_string(index);
}

}  // namespace px
