// GPU parity of reductions, norms, softmax and the losses: values and gradients against the CPU.
#include <cmath>
#include <string>
#include <vector>

#include "parity_util.h"

namespace {

struct Layout {
  Shape shape;
  std::vector<std::int64_t> dims;
};
// All elements, inner, outer, middle and split dims, a long row, a size-1 reduced dim.
const Layout kLayouts[] = {{{1000}, {}},      {{37, 129}, {1}},     {{37, 129}, {0}},  {{4, 300, 3}, {1}},
                           {{2, 3, 4, 5}, {0, 2}}, {{3, 20000}, {-1}}, {{3, 1, 2}, {1}}, {{6, 5}, {0, 1}}};

std::string layout_name(const char* op, const Layout& l, DType dtype, bool keepdim) {
  return label(std::string(op) + " " + shape_str(l.shape) + " dims " + shape_str(l.dims) +
                   (keepdim ? " keepdim" : ""),
               dtype);
}
}  // namespace

TEST_CASE("cuda parity: sum, mean, var and the norms over every layout, with gradients") {
  Generator gen(201);
  for (DType dtype : kFloats) {
    for (const Layout& l : kLayouts) {
      for (bool keepdim : {false, true}) {
        Tensor x = random_cpu(l.shape, dtype, gen);
        auto dims = l.dims;
        auto tol = tol_for(dtype);
        check_parity(layout_name("sum", l, dtype, keepdim), [&](const Ts& in) { return px::sum(in[0], dims, keepdim); },
                     {x}, tol);
        check_parity(layout_name("mean", l, dtype, keepdim),
                     [&](const Ts& in) { return px::mean(in[0], dims, keepdim); }, {x}, tol);
        check_parity(layout_name("var", l, dtype, keepdim),
                     [&](const Ts& in) { return px::var(in[0], dims, 1, keepdim); }, {x}, tol);
        check_parity(layout_name("var biased", l, dtype, keepdim),
                     [&](const Ts& in) { return px::var(in[0], dims, 0, keepdim); }, {x}, tol);
        check_parity(layout_name("norm_l1", l, dtype, keepdim),
                     [&](const Ts& in) { return px::norm_l1(in[0], dims, keepdim); }, {x}, tol);
        check_parity(layout_name("norm_l2", l, dtype, keepdim),
                     [&](const Ts& in) { return px::norm_l2(in[0], dims, keepdim); }, {x}, tol);
      }
    }
  }
}

TEST_CASE("cuda parity: var of a shifted input is not hurt by cancellation") {
  Generator gen(202);
  for (DType dtype : kFloats) {
    // mean 100, std 1: a naive E[x^2] - E[x]^2 in float32 would lose ~4 digits.
    Tensor x = ops::add(random_cpu({64, 500}, dtype, gen), 100.0);
    check_parity(label("var shifted", dtype), [](const Ts& in) { return px::var(in[0], {1}); }, {x},
                 tol_for(dtype));
  }
}

TEST_CASE("cuda parity: norm_l2 of an all-zero slice has a zero gradient, as on the CPU") {
  for (DType dtype : kFloats) {
    Generator gen(203);
    Tensor x = random_cpu({4, 6}, dtype, gen);
    ops::fill_(ops::narrow(x, 0, 1, 1), 0.0);  // row 1 is zero
    check_parity(label("norm_l2 zero row", dtype), [](const Ts& in) { return px::norm_l2(in[0], {1}); }, {x},
                 tol_for(dtype));
    check_parity(label("norm_l1 zero row", dtype), [](const Ts& in) { return px::norm_l1(in[0], {1}); }, {x},
                 tol_for(dtype));
  }
}

TEST_CASE("cuda parity: amax and amin share the gradient among ties like the CPU") {
  Generator gen(204);
  for (DType dtype : kFloats) {
    for (const Layout& l : kLayouts) {
      Tensor x = random_cpu(l.shape, dtype, gen);
      auto dims = l.dims;
      check_parity(layout_name("amax", l, dtype, false), [&](const Ts& in) { return px::amax(in[0], dims); }, {x},
                   tol_for(dtype));
      check_parity(layout_name("amin", l, dtype, true), [&](const Ts& in) { return px::amin(in[0], dims, true); },
                   {x}, tol_for(dtype));
    }
    Tensor ties = randint(0, 3, {30, 40}, {.dtype = DType::int64}, &gen).to(dtype);
    for (std::int64_t d : {0, 1}) {
      check_parity(label("amax ties dim " + std::to_string(d), dtype),
                   [d](const Ts& in) { return px::amax(in[0], {d}); }, {ties}, tol_for(dtype));
      check_parity(label("amin ties dim " + std::to_string(d), dtype),
                   [d](const Ts& in) { return px::amin(in[0], {d}); }, {ties}, tol_for(dtype));
    }
  }
}

TEST_CASE("cuda parity: count_nonzero and the mean/var of int inputs") {
  Generator gen(205);
  Tensor x = randint(-1, 2, {30, 17}, {.dtype = DType::int64}, &gen);  // a third zeros
  for (const std::vector<std::int64_t>& dims : {std::vector<std::int64_t>{}, {0}, {1}, {0, 1}}) {
    check_equal(px::count_nonzero(x, dims), px::count_nonzero(x.to(gpu()), dims), "count_nonzero " + shape_str(dims));
    check_equal(px::count_nonzero(x.to(DType::float32), dims), px::count_nonzero(x.to(DType::float32).to(gpu()), dims),
                "count_nonzero float32 " + shape_str(dims));
  }
}

TEST_CASE("cuda parity: softmax and log_softmax gradients along every dim") {
  Generator gen(206);
  struct Case {
    Shape shape;
    std::int64_t dim;
  };
  for (DType dtype : kFloats) {
    for (const Case& c : {Case{{5, 10}, 1}, Case{{3, 2000}, -1}, Case{{4, 7, 3}, 1}, Case{{4, 7, 3}, 0},
                          Case{{1, 1}, 0}, Case{{600, 33}, 1}}) {
      Tensor x = random_cpu(c.shape, dtype, gen, 4.0);
      std::string what = shape_str(c.shape) + " dim " + std::to_string(c.dim);
      check_parity(label("softmax " + what, dtype), [&](const Ts& in) { return px::softmax(in[0], c.dim); }, {x},
                   tol_for(dtype));
      check_parity(label("log_softmax " + what, dtype), [&](const Ts& in) { return px::log_softmax(in[0], c.dim); },
                   {x}, tol_for(dtype));
    }
  }
}

TEST_CASE("cuda parity: cross_entropy, nll_loss and mse_loss for every reduction") {
  Generator gen(207);
  for (DType dtype : kFloats) {
    for (auto [n, c] : {std::pair<std::int64_t, std::int64_t>{1, 2}, {7, 10}, {128, 10}, {33, 100}}) {
      Tensor logits = random_cpu({n, c}, dtype, gen, 3.0);
      Tensor target = randint(0, c, {n}, {.dtype = DType::int64}, &gen);
      for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::none}) {
        std::string what = "[" + std::to_string(n) + ", " + std::to_string(c) + "] reduction " +
                           std::to_string(static_cast<int>(r));
        for (double smoothing : {0.0, 0.1}) {
          check_parity(label("cross_entropy " + what + " smoothing " + std::to_string(smoothing), dtype),
                       [&](const Ts& in) { return px::cross_entropy(in[0], in[1], r, smoothing); }, {logits, target},
                       tol_for(dtype));
        }
        check_parity(label("nll_loss " + what, dtype),
                     [&](const Ts& in) { return px::nll_loss(px::log_softmax(in[0], 1), in[1], r); }, {logits, target},
                     tol_for(dtype));
        Tensor goal = random_cpu({n, c}, dtype, gen);
        check_parity(label("mse_loss " + what, dtype), [&](const Ts& in) { return px::mse_loss(in[0], in[1], r); },
                     {logits, goal}, tol_for(dtype));
      }
    }
  }
}

TEST_CASE("cuda parity: argmax and argmin of the differentiable API on a recorded input") {
  Generator gen(208);
  Tensor x = random_cpu({9, 21}, DType::float32, gen);
  Tensor g = x.to(gpu());
  g.set_requires_grad();
  for (std::int64_t d : {0, 1}) {
    check_equal(px::argmax(x, d), px::argmax(g, d), "argmax dim " + std::to_string(d));
    check_equal(px::argmin(x, d, true), px::argmin(g, d, true), "argmin dim " + std::to_string(d));
  }
  check_equal(px::argmax(x), px::argmax(g), "argmax all");
}
