// Element types of a tensor: float32 (default), float64, int64, uint8.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string_view>

namespace px {

enum class DType : std::uint8_t { float32, float64, int64, uint8 };

constexpr std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::float32: return 4;
    case DType::float64: return 8;
    case DType::int64: return 8;
    case DType::uint8: return 1;
  }
  return 0;
}

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::float32: return "float32";
    case DType::float64: return "float64";
    case DType::int64: return "int64";
    case DType::uint8: return "uint8";
  }
  return "?";
}

constexpr bool is_floating(DType t) { return t == DType::float32 || t == DType::float64; }

// Result type of a binary op: uint8 < int64 < float32 < float64 (as in NumPy/PyTorch for
// these four types, except that mixing int64 with float32 stays float32 like PyTorch).
constexpr DType promote_types(DType a, DType b) {
  auto rank = [](DType t) {
    switch (t) {
      case DType::uint8: return 0;
      case DType::int64: return 1;
      case DType::float32: return 2;
      case DType::float64: return 3;
    }
    return 0;
  };
  return rank(a) >= rank(b) ? a : b;
}

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::float32; }
template <> constexpr DType dtype_of<double>() { return DType::float64; }
template <> constexpr DType dtype_of<std::int64_t>() { return DType::int64; }
template <> constexpr DType dtype_of<std::uint8_t>() { return DType::uint8; }

inline std::ostream& operator<<(std::ostream& out, DType t) { return out << dtype_name(t); }

}  // namespace px
