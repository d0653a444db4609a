// GPU suite: copy/casts, fill, random, unary, binary and where against the CPU backend.
#include <cstring>
#include <string>
#include <vector>

#include "gpu_util.h"

using namespace px;
using px::gpu_test::check_close;
using px::gpu_test::check_equal;
using px::gpu_test::gpu;
using px::gpu_test::random_cpu;

namespace {
const DType kAll[] = {DType::float32, DType::float64, DType::int64, DType::uint8};
const DType kFloats[] = {DType::float32, DType::float64};

std::string name(const char* op, DType dtype, const Shape& shape) {
  return std::string(op) + " " + std::string(dtype_name(dtype)) + " " + shape_str(shape);
}
}  // namespace

TEST_CASE("cuda: copy casts between all dtypes, from and into strided views") {
  Generator gen(11);
  for (DType from : kAll) {
    for (DType to : kAll) {
      Tensor x = random_cpu({6, 5, 4}, from, gen, 50.0);
      Tensor xt = ops::transpose(x, 0, 2);  // strided source
      check_equal(ops::to_dtype(xt, to), ops::to_dtype(ops::transpose(x.to(gpu()), 0, 2), to),
                  name("to_dtype from", from, x.shape()) + " to " + std::string(dtype_name(to)));
      // Into every second row of a bigger tensor (strided destination), broadcast source.
      Tensor row = random_cpu({1, 4}, from, gen, 50.0);
      Tensor dst_cpu = zeros({8, 4}, {.dtype = to});
      Tensor dst_gpu = zeros({8, 4}, {.dtype = to, .device = gpu()});
      ops::copy_(ops::slice(dst_cpu, 0, 0, 8, 2), row);
      ops::copy_(ops::slice(dst_gpu, 0, 0, 8, 2), row.to(gpu()));
      check_equal(dst_cpu, dst_gpu, "copy_ into a strided view");
    }
  }
}

TEST_CASE("cuda: fill writes every element of contiguous and strided views") {
  for (DType dtype : kAll) {
    Tensor cpu = zeros({5, 6}, {.dtype = dtype});
    Tensor dev = zeros({5, 6}, {.dtype = dtype, .device = gpu()});
    ops::fill_(ops::transpose(ops::slice(cpu, 1, 1, 6, 2), 0, 1), 3.75);
    ops::fill_(ops::transpose(ops::slice(dev, 1, 1, 6, 2), 0, 1), 3.75);
    check_equal(cpu, dev, name("fill strided", dtype, cpu.shape()));
    check_equal(full({130, 7}, -2.5, {.dtype = dtype}), full({130, 7}, -2.5, {.dtype = dtype, .device = gpu()}),
                name("full", dtype, {130, 7}));
  }
}

TEST_CASE("cuda: random draws equal the CPU's bit for bit") {
  for (DType dtype : kFloats) {
    for (const Shape& shape : {Shape{1}, Shape{7}, Shape{33, 65}, Shape{100003}}) {
      for (bool normal : {false, true}) {
        Generator cpu_gen(42), gpu_gen(42);
        cpu_gen.advance(5);  // a non-zero offset
        gpu_gen.advance(5);
        Tensor want = normal ? ops::normal(shape, 0.5, 2.0, {.dtype = dtype}, &cpu_gen)
                             : ops::uniform(shape, -3.0, 5.0, {.dtype = dtype}, &cpu_gen);
        Tensor got = normal ? ops::normal(shape, 0.5, 2.0, {.dtype = dtype, .device = gpu()}, &gpu_gen)
                            : ops::uniform(shape, -3.0, 5.0, {.dtype = dtype, .device = gpu()}, &gpu_gen);
        CHECK(cpu_gen.offset() == gpu_gen.offset());
        std::string what = name(normal ? "normal" : "uniform", dtype, shape);
        Tensor got_cpu = got.to(Device::cpu());
        std::size_t bytes = static_cast<std::size_t>(want.numel()) * dtype_size(dtype);
        if (dtype == DType::float64 && normal) {
          // Box-Muller calls log and cos: CUDA's and glibc's may differ in the last bit.
          check_close(want, got, 1e-14, 1e-14, what);
        } else {
          INFO(what);
          CHECK(std::memcmp(want.data_ptr(), got_cpu.data_ptr(), bytes) == 0);
        }
      }
    }
  }
}

TEST_CASE("cuda: unary ops match the CPU on contiguous and strided inputs") {
  const UnaryOp float_ops[] = {UnaryOp::neg, UnaryOp::abs, UnaryOp::sign, UnaryOp::exp, UnaryOp::log,
                               UnaryOp::sqrt, UnaryOp::rsqrt, UnaryOp::relu, UnaryOp::sigmoid, UnaryOp::tanh};
  Generator gen(5);
  for (DType dtype : {DType::float32, DType::float64, DType::int64}) {
    for (UnaryOp op : float_ops) {
      bool int_ok = op == UnaryOp::neg || op == UnaryOp::abs || op == UnaryOp::sign;
      if (dtype == DType::int64 && !int_ok) continue;
      bool positive = op == UnaryOp::log || op == UnaryOp::sqrt || op == UnaryOp::rsqrt;
      for (const Shape& shape : {Shape{}, Shape{9}, Shape{4, 6, 5}, Shape{2000}}) {
        Tensor x = random_cpu(shape, dtype, gen, 3.0);
        if (positive) x = ops::add(ops::abs(x), 0.1);
        std::string what = name("unary op", dtype, shape) + " #" + std::to_string(static_cast<int>(op));
        check_close(ops::unary(op, x), ops::unary(op, x.to(gpu())), gpu_test::rtol_for(dtype), 0.0, what);
        if (x.dim() == 3) {
          Tensor xp = ops::permute(x, {2, 0, 1});
          check_close(ops::unary(op, xp), ops::unary(op, ops::permute(x.to(gpu()), {2, 0, 1})),
                      gpu_test::rtol_for(dtype), 0.0, what + " permuted");
        }
      }
    }
  }
}

TEST_CASE("cuda: binary ops match the CPU with broadcasting and strided inputs") {
  const BinaryOp ops_list[] = {BinaryOp::add, BinaryOp::sub, BinaryOp::mul, BinaryOp::div, BinaryOp::pow,
                               BinaryOp::minimum, BinaryOp::maximum, BinaryOp::eq, BinaryOp::ne,
                               BinaryOp::lt, BinaryOp::le, BinaryOp::gt, BinaryOp::ge};
  const std::pair<Shape, Shape> shapes[] = {{{4, 5}, {4, 5}}, {{3, 1, 5}, {4, 5}}, {{1}, {6, 2}},
                                            {{2, 3}, {}}, {{257, 3}, {257, 1}}};
  Generator gen(7);
  for (DType dtype : kAll) {
    for (BinaryOp op : ops_list) {
      bool compare = is_comparison(op);
      if (dtype == DType::uint8 && !compare) continue;
      if (op == BinaryOp::pow && !is_floating(dtype)) continue;
      for (const auto& [sa, sb] : shapes) {
        Tensor a = random_cpu(sa, dtype, gen, 2.0), b = random_cpu(sb, dtype, gen, 2.0);
        if (op == BinaryOp::pow) a = ops::add(ops::abs(a), 0.5);
        std::string what = name("binary op", dtype, sa) + " with " + shape_str(sb) + " #" +
                           std::to_string(static_cast<int>(op));
        check_close(ops::binary(op, a, b), ops::binary(op, a.to(gpu()), b.to(gpu())),
                    gpu_test::rtol_for(dtype), 0.0, what);
      }
      // Transposed (non-contiguous) operands.
      Tensor a = random_cpu({5, 7}, dtype, gen, 2.0), b = random_cpu({7, 5}, dtype, gen, 2.0);
      if (op == BinaryOp::pow) a = ops::add(ops::abs(a), 0.5);
      check_close(ops::binary(op, ops::transpose(a, 0, 1), b),
                  ops::binary(op, ops::transpose(a.to(gpu()), 0, 1), b.to(gpu())), gpu_test::rtol_for(dtype),
                  0.0, name("binary op transposed", dtype, {7, 5}));
    }
  }
}

TEST_CASE("cuda: where selects like the CPU with broadcast operands") {
  Generator gen(9);
  for (DType dtype : kAll) {
    Tensor cond = random_cpu({4, 1, 6}, DType::uint8, gen);
    Tensor a = random_cpu({3, 6}, dtype, gen), b = random_cpu({4, 3, 1}, dtype, gen);
    check_equal(ops::where(cond, a, b), ops::where(cond.to(gpu()), a.to(gpu()), b.to(gpu())),
                name("where", dtype, {4, 3, 6}));
  }
}

TEST_CASE("cuda: tensors of more than 8 non-mergeable dims are handled") {
  Generator gen(13);
  Shape shape(10, 2);  // 10 dims of size 2
  Tensor x = random_cpu(shape, DType::float32, gen);
  std::vector<std::int64_t> reversed;
  for (int d = 9; d >= 0; --d) reversed.push_back(d);
  Tensor xp = ops::permute(x, reversed);
  check_equal(ops::contiguous(xp), ops::contiguous(ops::permute(x.to(gpu()), reversed)), "10-d permute copy");
}
