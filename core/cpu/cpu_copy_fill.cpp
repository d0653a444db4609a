// CpuBackend copy (with dtype casts), fill and counter-based random draws.
#include <cmath>
#include <cstring>

#include "proxima/core/cpu/cpu_backend.h"
#include "proxima/core/cpu/cpu_common.h"
#include "proxima/core/cpu/strided_loop.h"
#include "proxima/core/elementwise_math.h"
#include "proxima/core/philox.h"

namespace px::cpu {
namespace {

template <class To, class From>
void copy_typed(const Tensor& src, const Tensor& dst) {
  strided_loop<2>({&dst, &src}, [](std::array<char*, 2> p, std::array<std::int64_t, 2> s,
                                   std::int64_t n) {
    To* out = reinterpret_cast<To*>(p[0]);
    const From* in = reinterpret_cast<const From*>(p[1]);
    if (s[0] == sizeof(To) && s[1] == sizeof(From)) {
      if constexpr (std::is_same_v<To, From>) {
        std::memcpy(out, in, static_cast<std::size_t>(n) * sizeof(To));
      } else {
        for (std::int64_t i = 0; i < n; ++i) out[i] = math::cast<To>(in[i]);
      }
      return;
    }
    for (std::int64_t i = 0; i < n; ++i)
      *reinterpret_cast<To*>(p[0] + i * s[0]) = math::cast<To>(*reinterpret_cast<const From*>(p[1] + i * s[1]));
  });
}

}  // namespace

void CpuBackend::copy(const Tensor& src, const Tensor& dst) {
  dispatch_dtype(dst.dtype(), [&](auto to_tag) {
    dispatch_dtype(src.dtype(), [&](auto from_tag) {
      copy_typed<decltype(to_tag), decltype(from_tag)>(src, dst);
    });
  });
}

void CpuBackend::fill(const Tensor& dst, double value) {
  dispatch_dtype(dst.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T v = math::cast<T>(value);
    strided_loop<1>({&dst}, [v](std::array<char*, 1> p, std::array<std::int64_t, 1> s, std::int64_t n) {
      if (s[0] == sizeof(T)) {
        T* out = reinterpret_cast<T*>(p[0]);
        for (std::int64_t i = 0; i < n; ++i) out[i] = v;
      } else {
        for (std::int64_t i = 0; i < n; ++i) *reinterpret_cast<T*>(p[0] + i * s[0]) = v;
      }
    });
  });
}

void CpuBackend::random(const Tensor& dst, RandomKind kind, double a, double b, std::uint64_t seed,
                        std::uint64_t offset) {
  dispatch_float(dst.dtype(), "random", [&](auto tag) {
    using T = decltype(tag);
    T* out = static_cast<T*>(dst.data_ptr());
    parallel_for(dst.numel(), 4096, [&](std::int64_t b0, std::int64_t e0) {
      for (std::int64_t i = b0; i < e0; ++i) {
        const auto k = static_cast<std::uint64_t>(i);
        if (kind == RandomKind::uniform) {
          // Same transform and rounding as the CUDA kernel, so draws match bit for bit.
          out[i] = static_cast<T>(math::uniform_transform(philox::uniform_at(seed, offset, k), a, b));
        } else {
          out[i] = static_cast<T>(math::normal_transform(philox::normal_at(seed, offset, k), a, b));
        }
      }
    });
  });
}

}  // namespace px::cpu
