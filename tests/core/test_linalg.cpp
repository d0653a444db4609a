// matmul (1-D, 2-D, batched with broadcast batch dims) and bmm with transposes vs naive loops.
#include <doctest/doctest.h>

#include "core/reference.h"

using namespace px;
using ref::Index;

namespace {

// Naive torch.matmul semantics on host values.
std::vector<double> reference_matmul(const Tensor& a, const Tensor& b, Shape& out_shape) {
  Shape sa = a.shape(), sb = b.shape();
  if (sa.size() == 1) sa.insert(sa.begin(), 1);
  if (sb.size() == 1) sb.push_back(1);
  std::int64_t m = sa[sa.size() - 2], k = sa.back(), n = sb.back();
  Shape ba(sa.begin(), sa.end() - 2), bb(sb.begin(), sb.end() - 2);
  Shape batch = broadcast_shapes(ba, bb);
  std::vector<double> av = ref::values(a), bv = ref::values(b), out;
  Shape full = batch;
  full.push_back(m);
  full.push_back(n);
  ref::for_each_index(full, [&](const Index& i) {
    Index bi(i.begin(), i.end() - 2);
    Index ia = ref::broadcast_source(bi, ba), ib = ref::broadcast_source(bi, bb);
    double s = 0;
    for (std::int64_t p = 0; p < k; ++p) {
      Index x = ia, y = ib;
      x.push_back(i[i.size() - 2]); x.push_back(p);
      y.push_back(p); y.push_back(i.back());
      s += ref::at(av, sa, x) * ref::at(bv, sb, y);
    }
    out.push_back(s);
  });
  out_shape = batch;
  if (a.dim() > 1) out_shape.push_back(m);
  if (b.dim() > 1) out_shape.push_back(n);
  return out;
}

}  // namespace

TEST_CASE("matmul against a naive triple loop") {
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{5}, {5}},           {{3, 4}, {4, 6}},       {{4}, {4, 3}},          {{3, 4}, {4}},
      {{2, 3, 4}, {4, 5}},  {{2, 3, 4}, {2, 4, 5}}, {{2, 1, 3, 4}, {5, 4, 2}}, {{4}, {2, 4, 3}},
      {{2, 3, 4}, {4}},     {{1, 7}, {7, 1}},       {{3, 0}, {0, 2}},       {{0, 3}, {3, 2}}};
  for (DType dt : {DType::float32, DType::float64}) {
    for (auto [sa, sb] : cases) {
      Tensor a = ref::random_tensor(sa, dt, 51), b = ref::random_tensor(sb, dt, 52);
      Shape out_shape;
      std::vector<double> expected = reference_matmul(a, b, out_shape);
      for (const Tensor& la : ref::layouts(a))
        for (const Tensor& lb : ref::layouts(b)) {
          CAPTURE(shape_str(sa));
          CAPTURE(shape_str(sb));
          Tensor out = ops::matmul(la, lb);
          CHECK(out.dtype() == dt);
          ref::check_close(out, out_shape, expected, 10 * ref::tolerance(dt));
        }
    }
  }
}

TEST_CASE("matmul of a transposed view (the linear-layer case)") {
  Tensor x = ref::random_tensor({6, 8}, DType::float64, 53), w = ref::random_tensor({5, 8}, DType::float64, 54);
  Tensor wt = ops::transpose(w, 0, 1);
  Shape out_shape;
  std::vector<double> expected = reference_matmul(x, wt, out_shape);
  ref::check_close(ops::matmul(x, wt), {6, 5}, expected, 1e-12);
  ref::check_close(ops::matmul(ops::transpose(ops::contiguous(ops::transpose(x, 0, 1)), 0, 1), wt), {6, 5}, expected, 1e-12);
}

TEST_CASE("bmm with every transpose combination") {
  for (DType dt : {DType::float32, DType::float64}) {
    const std::int64_t B = 3, M = 4, K = 5, N = 2;
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        Tensor a = ref::random_tensor(ta ? Shape{B, K, M} : Shape{B, M, K}, dt, 55);
        Tensor b = ref::random_tensor(tb ? Shape{B, N, K} : Shape{B, K, N}, dt, 56);
        // Reference: transpose explicitly, then the plain loop.
        Tensor ea = ta ? ops::transpose(a, 1, 2) : a, eb = tb ? ops::transpose(b, 1, 2) : b;
        Shape out_shape;
        std::vector<double> expected = reference_matmul(ea, eb, out_shape);
        for (const Tensor& la : ref::layouts(a)) {
          Tensor out = ops::bmm(la, ref::non_contiguous(b, false), ta, tb);
          ref::check_close(out, {B, M, N}, expected, 10 * ref::tolerance(dt));
        }
      }
  }
}
