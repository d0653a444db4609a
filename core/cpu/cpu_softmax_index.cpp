// CpuBackend softmax / log_softmax over the last dim, index_select and index_add.
#include <cmath>
#include <cstring>

#include "proxima/core/cpu/cpu_backend.h"
#include "proxima/core/cpu/cpu_common.h"
#include "proxima/core/cpu/cpu_eigen.h"
#include "proxima/core/detail/dim_view.h"

namespace px::cpu {
namespace {

// Maximum of a row; NaN wins. Eight lanes of selects so the loop vectorises.
template <class T>
T row_max(const T* x, std::int64_t n) {
  T lane[8];
  for (int l = 0; l < 8; ++l) lane[l] = x[0];
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) {
      const T v = x[i + l];
      lane[l] = ((v > lane[l]) | (v != v)) ? v : lane[l];
    }
  for (; i < n; ++i) lane[0] = ((x[i] > lane[0]) | (x[i] != x[i])) ? x[i] : lane[0];
  T m = lane[0];
  for (int l = 1; l < 8; ++l) m = ((lane[l] > m) | (lane[l] != lane[l])) ? lane[l] : m;
  return m;
}

// Sum of a row in double, eight lanes.
template <class T>
double row_sum(const T* x, std::int64_t n) {
  double lane[8] = {};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) lane[l] += static_cast<double>(x[i + l]);
  for (; i < n; ++i) lane[0] += static_cast<double>(x[i]);
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

// One row: y = exp(x - max) / sum, or log_softmax = x - max - log(sum); exp vectorised by
// Eigen (y holds the exponentials first), the sum accumulated in double.
template <class T>
void softmax_row(const T* x, T* y, std::int64_t n, bool log) {
  const auto len = static_cast<Eigen::Index>(n);
  Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> in(x, len);
  Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> out(y, len);
  T mx = row_max(x, n);
  if (std::isinf(mx) && mx < 0) mx = 0;  // all -inf: avoid (-inf) - (-inf)
  out = (in - mx).exp();
  const double sum = row_sum(y, n);
  if (log) {
    out = in - static_cast<T>(mx + std::log(sum));
  } else {
    out *= static_cast<T>(1.0 / sum);
  }
}

using ::px::detail::DimView;
using ::px::detail::dim_view;

// Throws IndexError if any index is outside [0, size).
void check_indices(const std::int64_t* idx, std::int64_t count, std::int64_t size, std::int64_t dim,
                   const char* what) {
  for (std::int64_t i = 0; i < count; ++i)
    PX_CHECK(idx[i] >= 0 && idx[i] < size, IndexError, what, ": index[", i, "] = ", idx[i],
             " is out of range for dimension ", dim, " of size ", size);
}

}  // namespace

void CpuBackend::softmax(const Tensor& x, const Tensor& out, bool log) {
  dispatch_float(x.dtype(), "softmax", [&](auto tag) {
    using T = decltype(tag);
    const std::int64_t n = x.size(-1), rows = n > 0 ? x.numel() / n : 0;
    const T* px = static_cast<const T*>(x.data_ptr());
    T* py = static_cast<T*>(out.data_ptr());
    parallel_for(rows, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(n, 1)),
                 [&](std::int64_t r0, std::int64_t r1) {
                   for (std::int64_t r = r0; r < r1; ++r) softmax_row(px + r * n, py + r * n, n, log);
                 });
  });
}

void CpuBackend::index_select(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& out) {
  const DimView v = dim_view(x.shape(), dim);
  const std::int64_t count = index.numel();
  const auto* idx = static_cast<const std::int64_t*>(index.data_ptr());
  check_indices(idx, count, v.size, dim, "index_select");
  const std::size_t row_bytes = static_cast<std::size_t>(v.inner) * dtype_size(x.dtype());
  const char* src = static_cast<const char*>(x.data_ptr());
  char* dst = static_cast<char*>(out.data_ptr());
  parallel_for(v.outer * count, std::max<std::int64_t>(1, 65536 / std::max<std::int64_t>(row_bytes, 1)),
               [&](std::int64_t k0, std::int64_t k1) {
                 for (std::int64_t k = k0; k < k1; ++k) {
                   const std::int64_t o = k / count, i = k % count;
                   std::memcpy(dst + k * row_bytes, src + (o * v.size + idx[i]) * row_bytes, row_bytes);
                 }
               });
}

void CpuBackend::index_add(const Tensor& dst, std::int64_t dim, const Tensor& index, const Tensor& src) {
  const DimView v = dim_view(dst.shape(), dim);
  const std::int64_t count = index.numel();
  const auto* idx = static_cast<const std::int64_t*>(index.data_ptr());
  check_indices(idx, count, v.size, dim, "index_add");
  dispatch_dtype(dst.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* d = static_cast<T*>(dst.data_ptr());
    const T* s = static_cast<const T*>(src.data_ptr());
    // Threads split `outer`, or the inner columns when outer is small, never the index list:
    // repeated indices then never race, and each element sums in index order.
    auto add_block = [&](std::int64_t o, std::int64_t j0, std::int64_t j1) {
      for (std::int64_t i = 0; i < count; ++i) {
        T* drow = d + (o * v.size + idx[i]) * v.inner;
        const T* srow = s + (o * count + i) * v.inner;
        for (std::int64_t j = j0; j < j1; ++j) drow[j] += srow[j];
      }
    };
    const std::int64_t work = v.outer * count * v.inner;
    if (v.outer >= get_num_threads() || work < 32768) {
      parallel_for(v.outer, std::max<std::int64_t>(1, 32768 / std::max<std::int64_t>(count * v.inner, 1)),
                   [&](std::int64_t o0, std::int64_t o1) {
                     for (std::int64_t o = o0; o < o1; ++o) add_block(o, 0, v.inner);
                   });
    } else {
      constexpr std::int64_t kColumns = 64;
      const std::int64_t col_blocks = (v.inner + kColumns - 1) / kColumns;
      parallel_for(v.outer * col_blocks, 1, [&](std::int64_t t0, std::int64_t t1) {
        for (std::int64_t t = t0; t < t1; ++t) {
          const std::int64_t o = t / col_blocks, j0 = t % col_blocks * kColumns;
          add_block(o, j0, std::min(v.inner, j0 + kColumns));
        }
      });
    }
  });
}

}  // namespace px::cpu
