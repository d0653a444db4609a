// Printing a tensor: a header line (shape, dtype, device) and nested-bracket values.
#include <algorithm>
#include <sstream>

#include "proxima/core/ops.h"
#include "proxima/core/tensor.h"

namespace px {
namespace {

constexpr std::int64_t kMaxPrinted = 100;

struct Printer {
  const Shape& shape;
  const std::vector<double>& values;
  bool integral;
  std::ostringstream& out;
  std::int64_t next = 0;  // row-major index of the next value to print

  // Prints the sub-tensor at `depth`; returns false once the value budget is spent.
  bool print(std::size_t depth) {
    if (depth == shape.size()) {
      if (next >= static_cast<std::int64_t>(values.size())) { out << "..."; return false; }
      double v = values[static_cast<std::size_t>(next++)];
      if (integral) out << static_cast<std::int64_t>(v);
      else out << v;
      return true;
    }
    out << '[';
    for (std::int64_t i = 0; i < shape[depth]; ++i) {
      if (i > 0) {
        out << ',';
        if (depth + 1 < shape.size()) out << '\n' << std::string(depth + 1, ' ');
        else out << ' ';
      }
      if (!print(depth + 1)) { out << ']'; return false; }
    }
    out << ']';
    return true;
  }
};

}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "tensor(undefined)";
  std::ostringstream out;
  out << "tensor(shape=" << shape_str(shape()) << ", dtype=" << dtype_name(dtype())
      << ", device=" << device().str() << ")";
  if (numel() == 0) return out.str() + "\n[]";
  // Only the first kMaxPrinted values (row-major) are copied to the host.
  std::int64_t shown = std::min(numel(), kMaxPrinted);
  Tensor head = ops::narrow(ops::reshape(*this, {numel()}), 0, 0, shown).to(DType::float64);
  std::vector<double> values = head.to_vector<double>();
  out << '\n';
  Printer printer{shape(), values, !is_floating(dtype()), out};
  printer.print(0);
  return out.str();
}

std::ostream& operator<<(std::ostream& out, const Tensor& t) { return out << t.str(); }

}  // namespace px
