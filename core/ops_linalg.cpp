// Matrix products (matmul with torch.matmul semantics, batched bmm) and (log-)softmax.
#include "proxima/core/detail/ops_util.h"
#include "proxima/core/ops.h"

namespace px::ops {
namespace {

void check_operands(const char* op, const Tensor& a, const Tensor& b) {
  detail::check_defined(a, op, "a");
  detail::check_defined(b, op, "b");
  detail::check_same_device(op, "a", a, "b", b);
  detail::check_float(a, op, "a");
  detail::check_float(b, op, "b");
  PX_CHECK(a.dtype() == b.dtype(), DTypeError, op, ": 'a' is ", dtype_name(a.dtype()), " but 'b' is ",
           dtype_name(b.dtype()), "; convert one of them");
}

// A contiguous [B, rows, cols] operand for Backend::matmul and whether it is passed transposed:
// a tensor whose last two dims are swapped from a contiguous layout is used without a copy.
std::pair<Tensor, bool> gemm_operand(const Tensor& t, bool trans) {
  if (t.is_contiguous()) return {t, trans};
  Tensor swapped = transpose(t, 1, 2);
  if (swapped.is_contiguous()) return {swapped, !trans};
  return {contiguous(t), trans};
}

// Batched product on 3-D operands already checked: [B, M, K] x [B, K, N] (after transposes).
Tensor gemm(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  std::int64_t batch = a.shape()[0];
  std::int64_t m = trans_a ? a.shape()[2] : a.shape()[1];
  std::int64_t k = trans_a ? a.shape()[1] : a.shape()[2];
  std::int64_t n = trans_b ? b.shape()[1] : b.shape()[2];
  Tensor out = detail::alloc_like(a, {batch, m, n});
  if (out.numel() == 0) return out;
  if (k == 0) { fill_(out, 0.0); return out; }
  auto [ca, ta] = gemm_operand(a, trans_a);
  auto [cb, tb] = gemm_operand(b, trans_b);
  detail::backend_of(a).matmul(ca, cb, out, ta, tb);
  return out;
}

}  // namespace

Tensor bmm(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  check_operands("bmm", a, b);
  detail::check_ndim(a, 3, "bmm", "a");
  detail::check_ndim(b, 3, "bmm", "b");
  std::int64_t ka = trans_a ? a.shape()[1] : a.shape()[2];
  std::int64_t kb = trans_b ? b.shape()[2] : b.shape()[1];
  PX_CHECK(a.shape()[0] == b.shape()[0] && ka == kb, ShapeError, "bmm: 'a' of shape ", shape_str(a.shape()),
           (trans_a ? " (transposed)" : ""), " and 'b' of shape ", shape_str(b.shape()),
           (trans_b ? " (transposed)" : ""), " need equal batch sizes and inner sizes (", ka, " vs ", kb, ")");
  return gemm(a, b, trans_a, trans_b);
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_operands("matmul", a, b);
  PX_CHECK(a.dim() >= 1 && b.dim() >= 1, ShapeError, "matmul: operands must be at least 1-d, got shapes ",
           shape_str(a.shape()), " and ", shape_str(b.shape()));
  // Promote 1-d operands to matrices (a row vector on the left, a column on the right).
  Tensor a2 = a.dim() == 1 ? unsqueeze(a, 0) : a;
  Tensor b2 = b.dim() == 1 ? unsqueeze(b, 1) : b;
  std::int64_t m = a2.size(-2), k = a2.size(-1), kb = b2.size(-2), n = b2.size(-1);
  PX_CHECK(k == kb, ShapeError, "matmul: shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()),
           " cannot be multiplied (inner sizes ", k, " and ", kb, ")");
  Shape batch_a(a2.shape().begin(), a2.shape().end() - 2), batch_b(b2.shape().begin(), b2.shape().end() - 2);
  if (b2.dim() == 2 && a2.dim() > 2) {  // one matrix on the right: fold a's batch into its rows
    Tensor out = gemm(reshape(a2, {1, shape_numel(batch_a) * m, k}), unsqueeze(b2, 0), false, false);
    Shape shape = batch_a;
    shape.push_back(m);
    if (b.dim() > 1) shape.push_back(n);
    return reshape(out, shape);
  }
  Shape batch = broadcast_shapes(batch_a, batch_b, "matmul (batch dims)");
  std::int64_t count = shape_numel(batch);
  auto as_3d = [&](const Tensor& t, std::int64_t rows, std::int64_t cols) {
    Shape full = batch;
    full.push_back(rows);
    full.push_back(cols);
    return reshape(expand(t, full), {count, rows, cols});
  };
  Tensor out = gemm(as_3d(a2, m, k), as_3d(b2, k, n), false, false);
  Shape shape = batch;
  if (a.dim() > 1) shape.push_back(m);
  if (b.dim() > 1) shape.push_back(n);
  return reshape(out, shape);
}

namespace {

Tensor softmax_impl(const char* op, const Tensor& x, std::int64_t dim, bool log) {
  detail::check_defined(x, op, "x");
  detail::check_float(x, op, "x");
  std::int64_t d = normalize_dim(dim, x.dim(), "dim");
  if (x.numel() == 0) return detail::alloc_like(x, x.shape());
  if (x.dim() == 0) {  // a single element: softmax 1, log_softmax 0
    return full({}, log ? 0.0 : 1.0, {.dtype = x.dtype(), .device = x.device()});
  }
  bool last = d == x.dim() - 1;
  Tensor moved = contiguous(last ? x : transpose(x, d, -1));
  Tensor out = detail::alloc_like(x, moved.shape());
  std::int64_t n = moved.shape().back();
  detail::backend_of(x).softmax(reshape(moved, {moved.numel() / n, n}), reshape(out, {out.numel() / n, n}), log);
  return last ? out : contiguous(transpose(out, d, -1));
}

}  // namespace

Tensor softmax(const Tensor& x, std::int64_t dim) { return softmax_impl("softmax", x, dim, false); }
Tensor log_softmax(const Tensor& x, std::int64_t dim) { return softmax_impl("log_softmax", x, dim, true); }

}  // namespace px::ops
