// GPU parity of views, shape ops, index_select, cat/stack/pad and device moves, with gradients.
#include <string>
#include <vector>

#include "parity_util.h"

namespace {

// Every shape op is followed by an elementwise product with x's own values so that the
// gradient depends on where each element went (a plain view would give all-w gradients).
Tensor probe(const Tensor& y) { return y * px::tanh(y); }
}  // namespace

TEST_CASE("cuda parity: views and shape ops carry gradients back to the right elements") {
  Generator gen(301);
  for (DType dtype : kFloats) {
    Tensor x = random_cpu({4, 1, 6, 5}, dtype, gen);
    auto tol = tol_for(dtype);
    auto run = [&](const std::string& name, const gpu_test::ParityFn& f) { check_parity(label(name, dtype), f, {x}, tol); };
    run("view", [](const Ts& in) { return probe(px::view(in[0], {4, 30})); });
    run("view -1", [](const Ts& in) { return probe(px::view(in[0], {-1, 5})); });
    run("reshape of a permuted input",
        [](const Ts& in) { return probe(px::reshape(px::permute(in[0], {3, 2, 1, 0}), {5, 24})); });
    run("flatten 1..", [](const Ts& in) { return probe(px::flatten(in[0], 1)); });
    run("flatten 1..2", [](const Ts& in) { return probe(px::flatten(in[0], 1, 2)); });
    run("permute", [](const Ts& in) { return probe(px::permute(in[0], {2, 0, 3, 1})); });
    run("transpose", [](const Ts& in) { return probe(px::transpose(in[0], 0, 3)); });
    run("squeeze all", [](const Ts& in) { return probe(px::squeeze(in[0])); });
    run("squeeze dim", [](const Ts& in) { return probe(px::squeeze(in[0], 1)); });
    run("unsqueeze", [](const Ts& in) { return probe(px::unsqueeze(in[0], 4)); });
    run("expand", [](const Ts& in) { return probe(px::expand(in[0], {2, 4, 3, 6, 5})); });
    run("expand -1", [](const Ts& in) { return probe(px::expand(in[0], {-1, 7, -1, -1})); });
    run("narrow", [](const Ts& in) { return probe(px::narrow(in[0], 2, 1, 4)); });
    run("slice step 2", [](const Ts& in) { return probe(px::slice(in[0], 3, 0, 5, 2)); });
    run("slice negative bounds step 3", [](const Ts& in) { return probe(px::slice(in[0], 2, -5, -1, 3)); });
    run("slice of a slice (ResNet shortcut)",
        [](const Ts& in) { return probe(px::slice(px::slice(in[0], 2, 0, 6, 2), 3, 0, 5, 2)); });
    run("contiguous of a transpose", [](const Ts& in) { return probe(px::contiguous(px::transpose(in[0], 1, 2))); });
    run("clone", [](const Ts& in) { return probe(px::clone(in[0])); });
  }
}

TEST_CASE("cuda parity: index_select with repeated indices accumulates gradients") {
  Generator gen(302);
  for (DType dtype : kFloats) {
    Tensor x = random_cpu({5, 6, 7}, dtype, gen);
    for (std::int64_t dim : {0, 1, 2}) {
      Tensor index = randint(0, x.size(dim), {11}, {.dtype = DType::int64}, &gen);  // repeats
      check_parity(label("index_select dim " + std::to_string(dim), dtype),
                   [dim](const Ts& in) { return probe(px::index_select(in[0], dim, in[1])); }, {x, index},
                   tol_for(dtype));
    }
  }
}

TEST_CASE("cuda parity: cat and stack along every dim split the gradient") {
  Generator gen(303);
  for (DType dtype : kFloats) {
    for (std::int64_t dim : {0, 1, 2, -1}) {
      Shape sa{3, 4, 5}, sb{3, 4, 5}, sc{3, 4, 5};
      std::int64_t d = dim < 0 ? 2 : dim;
      sb[static_cast<std::size_t>(d)] = 2;
      sc[static_cast<std::size_t>(d)] = 1;
      Tensor a = random_cpu(sa, dtype, gen), b = random_cpu(sb, dtype, gen), c = random_cpu(sc, dtype, gen);
      check_parity(label("cat dim " + std::to_string(dim), dtype),
                   [dim](const Ts& in) { return probe(px::cat({in[0], in[1], in[2]}, dim)); }, {a, b, c},
                   tol_for(dtype));
      Tensor e = random_cpu(sa, dtype, gen);
      check_parity(label("stack dim " + std::to_string(dim), dtype),
                   [dim](const Ts& in) { return probe(px::stack({in[0], in[1]}, dim)); }, {a, e}, tol_for(dtype));
    }
    // A transposed part (non-contiguous) and a mixed list with a part that needs no grad.
    Tensor a = random_cpu({6, 3}, dtype, gen), b = random_cpu({3, 2}, dtype, gen);
    check_parity(label("cat of a transposed part", dtype),
                 [](const Ts& in) { return probe(px::cat({px::transpose(in[0], 0, 1), in[1]}, 1)); }, {a, b},
                 tol_for(dtype), {1});
  }
}

TEST_CASE("cuda parity: constant pad (and negative crop) in PyTorch's order") {
  Generator gen(304);
  for (DType dtype : kFloats) {
    Tensor x = random_cpu({2, 3, 5, 4}, dtype, gen);
    const std::vector<std::vector<std::int64_t>> pads = {
        {1, 2}, {0, 0, 2, 1}, {0, 0, 0, 0, 4, 4}, {1, 1, 1, 1}, {-1, 2, 0, -2}, {1, 0, 0, 0, 0, 0, 1, 1}};
    for (const auto& p : pads) {
      for (double value : {0.0, -1.5}) {
        check_parity(label("pad " + shape_str(p) + " value " + std::to_string(value), dtype),
                     [&p, value](const Ts& in) { return probe(px::pad(in[0], p, value)); }, {x}, tol_for(dtype));
      }
    }
  }
}

TEST_CASE("cuda parity: to_dtype and to_device are differentiable across devices") {
  Generator gen(305);
  for (DType dtype : kFloats) {
    Tensor x = random_cpu({7, 9}, dtype, gen);
    DType other = dtype == DType::float32 ? DType::float64 : DType::float32;
    check_parity(label("to_dtype round trip", dtype),
                 [other, dtype](const Ts& in) { return probe(px::to_dtype(px::to_dtype(in[0], other), dtype)); }, {x},
                 tol_for(DType::float32));
    // A CPU leaf -> GPU -> op -> CPU: the gradient comes back to the CPU leaf.
    Tensor want_leaf = x.clone(), got_leaf = x.clone();
    want_leaf.set_requires_grad();
    got_leaf.set_requires_grad();
    Tensor w = random_cpu({7, 9}, dtype, gen);
    backward(probe(want_leaf), w);
    Tensor y = px::to_device(probe(px::to_device(got_leaf, gpu())), Device::cpu());
    CHECK(y.device() == Device::cpu());
    backward(y, w);
    REQUIRE(got_leaf.grad().defined());
    CHECK(got_leaf.grad().device() == Device::cpu());
    check_close(want_leaf.grad(), got_leaf.grad().to(gpu()), tol_for(dtype).rtol, tol_for(dtype).atol,
                label("to_device round trip gradient", dtype));
  }
}

TEST_CASE("cuda parity: core view ops (as_strided, expand, copy_ of views) match the CPU") {
  Generator gen(306);
  for (DType dtype : {DType::float32, DType::float64, DType::int64, DType::uint8}) {
    Tensor x = random_cpu({6, 10}, dtype, gen);
    Tensor g = x.to(gpu());
    std::string d = std::string(dtype_name(dtype));
    // Overlapping windows: rows of 4 starting every 3 elements.
    check_equal(ops::contiguous(ops::as_strided(x, {5, 4}, {3, 1}, 2)),
                ops::contiguous(ops::as_strided(g, {5, 4}, {3, 1}, 2)), "as_strided " + d);
    check_equal(ops::contiguous(ops::expand(ops::slice(x, 0, 1, 2), {3, 6, 10})),
                ops::contiguous(ops::expand(ops::slice(g, 0, 1, 2), {3, 6, 10})), "expand " + d);
    check_equal(ops::stack({x, x}, 1), ops::stack({g, g}, 1), "ops::stack " + d);
    check_equal(ops::pad(x, {2, 1, 1, 0}, 3.0), ops::pad(g, {2, 1, 1, 0}, 3.0), "ops::pad " + d);
    check_equal(ops::cat({x, ops::transpose(ops::slice(x, 1, 0, 6), 0, 1)}, 1),
                ops::cat({g, ops::transpose(ops::slice(g, 1, 0, 6), 0, 1)}, 1), "ops::cat " + d);
    Tensor dst_cpu = zeros({6, 10}, {.dtype = dtype}), dst_gpu = zeros({6, 10}, {.dtype = dtype, .device = gpu()});
    ops::copy_(ops::transpose(ops::slice(dst_cpu, 1, 0, 10, 2), 0, 1), ops::slice(ops::transpose(x, 0, 1), 0, 0, 5));
    ops::copy_(ops::transpose(ops::slice(dst_gpu, 1, 0, 10, 2), 0, 1), ops::slice(ops::transpose(g, 0, 1), 0, 0, 5));
    check_equal(dst_cpu, dst_gpu, "copy_ between views " + d);
  }
}
