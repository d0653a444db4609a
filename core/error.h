// Errors thrown by proxima: one base class, a few subclasses, and PX_CHECK to raise them.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace px {

// Every error proxima throws derives from px::Error. Messages name the offending
// argument, the value received and the form expected.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class ShapeError : public Error { using Error::Error; };      // incompatible or invalid shapes
class DTypeError : public Error { using Error::Error; };      // unsupported or mismatched dtypes
class DeviceError : public Error { using Error::Error; };     // wrong device, device unavailable
class ValueError : public Error { using Error::Error; };      // bad argument value (negative size, p > 1 ...)
class IndexError : public Error { using Error::Error; };      // dimension or index out of range
class AutogradError : public Error { using Error::Error; };   // misuse of backward / requires_grad
class OutOfMemoryError : public Error { using Error::Error; };
// Thrown by the stub backend of a build without CUDA when a cuda device is used.
class CudaUnavailableError : public DeviceError { using DeviceError::DeviceError; };

namespace detail {
template <class... Args>
std::string str(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}
}  // namespace detail

}  // namespace px

// PX_CHECK(cond, ErrorClass, parts...): throw ErrorClass(concatenation of parts) when cond is false.
#define PX_CHECK(cond, ErrorClass, ...)                          \
  do {                                                           \
    if (!(cond)) throw ErrorClass(::px::detail::str(__VA_ARGS__)); \
  } while (0)
