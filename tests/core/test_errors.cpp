// Bad shapes, dtypes, devices and dims: the right exception type and a message naming the argument.
#include <doctest/doctest.h>

#include <string>

#include "core/reference.h"

using namespace px;

namespace {

// Runs f, expects an E whose message contains every one of `parts`.
template <class E, class F>
void expect_error(F&& f, std::initializer_list<const char*> parts) {
  try {
    f();
    FAIL("no exception thrown");
  } catch (const E& e) {
    std::string message = e.what();
    for (const char* part : parts) {
      INFO("message: " << message << "\nmissing: " << part);
      CHECK(message.find(part) != std::string::npos);
    }
  } catch (const std::exception& e) {
    FAIL("wrong exception type: " << e.what());
  }
}

// A tensor claiming to live on cuda:0: its storage is host memory that nothing reads.
Tensor fake_cuda(const Shape& shape) {
  auto bytes = static_cast<std::size_t>(shape_numel(shape)) * 4;
  auto storage = std::make_shared<Storage>(std::malloc(bytes + 4), bytes, Device::cuda(0), [](void* p) { std::free(p); });
  return Tensor(storage, shape, contiguous_strides(shape), 0, DType::float32);
}

}  // namespace

TEST_CASE("shape errors name both shapes") {
  expect_error<ShapeError>([] { ops::add(zeros({2, 3}), zeros({4})); }, {"add", "[2, 3]", "[4]"});
  expect_error<ShapeError>([] { ops::matmul(zeros({2, 3}), zeros({4, 5})); }, {"matmul", "[2, 3]", "[4, 5]"});
  expect_error<ShapeError>([] { ops::bmm(zeros({2, 3}), zeros({2, 3, 4})); }, {"bmm", "'a'", "3-d"});
  expect_error<ShapeError>([] { ops::bmm(zeros({2, 3, 4}), zeros({3, 4, 5})); }, {"bmm", "[2, 3, 4]", "[3, 4, 5]"});
  expect_error<ShapeError>([] { ops::view(zeros({2, 3}), {4, -1}); }, {"view", "[4, -1]", "6"});
  expect_error<ShapeError>([] { ops::expand(zeros({3}), {2, 4}); }, {"expand", "[3]", "[2, 4]"});
  expect_error<ShapeError>([] { ops::where(zeros({3}), zeros({4}), zeros({3})); }, {"where", "[3]", "[4]"});
  expect_error<ShapeError>([] { ops::copy_(zeros({3}), zeros({2})); }, {"copy_", "[2]", "[3]"});
}

TEST_CASE("dtype errors name the op and dtype") {
  expect_error<DTypeError>([] { ops::exp(arange(3)); }, {"exp", "int64"});
  expect_error<DTypeError>([] { ops::mean(arange(3)); }, {"mean", "'x'", "int64"});
  expect_error<DTypeError>([] { ops::matmul(zeros({2, 2}), zeros({2, 2}, {.dtype = DType::float64})); },
                           {"matmul", "float32", "float64"});
  expect_error<DTypeError>([] { ops::matmul(arange(2), arange(2)); }, {"matmul", "'a'", "int64"});
  expect_error<DTypeError>([] { ops::index_select(zeros({3}), 0, zeros({1})); }, {"index_select", "'index'", "float32"});
  expect_error<DTypeError>([] { zeros({2}).data<double>(); }, {"float64", "float32"});
  expect_error<DTypeError>([] { rand({2}, {.dtype = DType::uint8}); }, {"rand", "uint8"});
}

TEST_CASE("device errors name both devices") {
  Tensor gpu = fake_cuda({3});
  expect_error<DeviceError>([&] { ops::add(zeros({3}), gpu); }, {"add", "cpu", "cuda:0", "'a'", "'b'"});
  expect_error<DeviceError>([&] { ops::matmul(gpu, zeros({3})); }, {"matmul", "cpu", "cuda:0"});
  expect_error<DeviceError>([&] { ops::cat({zeros({3}), gpu}); }, {"cat", "cpu", "cuda:0"});
  expect_error<DeviceError>([&] { ops::where(zeros({3}), zeros({3}), gpu); }, {"where", "cpu", "cuda:0"});
  expect_error<DeviceError>([&] { ops::conv2d(zeros({1, 1, 3, 3}), fake_cuda({1, 1, 2, 2}), {}); },
                            {"conv2d", "cpu", "cuda:0"});
  expect_error<DeviceError>([&] { gpu.data<float>(); }, {"cuda:0", "cpu"});
}

TEST_CASE("dim errors name the argument and the range") {
  expect_error<IndexError>([] { ops::sum(zeros({2, 3}), {3}); }, {"dims", "3", "[-2, 1]"});
  expect_error<IndexError>([] { ops::sum(zeros({2, 3}), {1, -1}); }, {"sum", "repeats"});
  expect_error<IndexError>([] { ops::transpose(zeros({2, 3}), 0, 5); }, {"dim1", "5"});
  expect_error<IndexError>([] { ops::softmax(zeros({2, 3}), -3); }, {"dim", "-3"});
  expect_error<IndexError>([] { ops::narrow(zeros({4}), 0, 3, 2); }, {"narrow", "start", "length"});
  expect_error<IndexError>([] { ops::unsqueeze(zeros({2}), 3); }, {"unsqueeze", "3"});
  expect_error<IndexError>([] { zeros({2}).size(1); }, {"dim", "1"});
}

TEST_CASE("value errors name the argument") {
  expect_error<ValueError>([] { zeros({2, 3}).item(); }, {"item", "[2, 3]"});
  expect_error<ValueError>([] { ops::slice(zeros({4}), 0, 0, 4, 0); }, {"step", "0"});
  expect_error<ValueError>([] { ops::amax(zeros({0})); }, {"amax", "zero elements"});
  expect_error<ValueError>([] { randint(5, 2, {3}); }, {"high", "low"});
  expect_error<ValueError>([] { ops::normal({2}, 0.0, -1.0, {}); }, {"std", "-1"});
  expect_error<ValueError>([] { Device::parse("tpu"); }, {"tpu"});
  expect_error<ValueError>([] { ops::add(Tensor(), zeros({1})); }, {"add", "'a'", "undefined"});
}

TEST_CASE("conv2d and pooling parameter checks") {
  Tensor x = zeros({2, 4, 8, 8}), w = zeros({6, 2, 3, 3});
  expect_error<ValueError>([&] { ops::conv2d(x, w, {.stride_h = 0}); }, {"conv2d", "stride", "positive"});
  expect_error<ValueError>([&] { ops::conv2d(x, w, {.pad_w = -1}); }, {"conv2d", "padding"});
  expect_error<ValueError>([&] { ops::conv2d(x, w, {.dilation_h = 0}); }, {"conv2d", "dilation"});
  expect_error<ValueError>([&] { ops::conv2d(x, zeros({6, 1, 3, 3}), {.groups = 3}); }, {"conv2d", "channels", "groups = 3"});
  expect_error<ValueError>([&] { ops::conv2d(x, zeros({5, 2, 3, 3}), {.groups = 2}); }, {"conv2d", "out-channels", "groups"});
  expect_error<ShapeError>([&] { ops::conv2d(x, w, {}); }, {"conv2d", "weight", "[6, 2, 3, 3]", "input channels"});
  expect_error<ShapeError>([&] { ops::conv2d(x, zeros({6, 4, 9, 3}), {}); }, {"conv2d", "kernel height", "9"});
  expect_error<ShapeError>([&] { ops::conv2d(zeros({4, 8, 8}), w, {}); }, {"conv2d", "input", "4-d"});
  expect_error<ShapeError>([&] { ops::conv2d(x, zeros({6, 4, 3}), {}); }, {"conv2d", "weight", "4-d"});
  expect_error<DTypeError>([&] { ops::conv2d(x, zeros({6, 4, 3, 3}, {.dtype = DType::float64}), {}); }, {"conv2d", "float64"});
  expect_error<ShapeError>([&] { ops::conv2d_backward_input(zeros({2, 6, 5, 5}), zeros({6, 4, 3, 3}), x.shape(), {}); },
                           {"conv2d_backward_input", "grad_out", "[2, 6, 5, 5]", "[2, 6, 6, 6]"});
  expect_error<ShapeError>([&] { ops::conv2d_backward_weight(zeros({2, 6, 6, 6}), x, {6, 4, 2, 2}, {}); },
                           {"conv2d_backward_weight", "grad_out", "[2, 6, 7, 7]"});
  expect_error<ValueError>([&] { ops::max_pool2d(x, {.kernel_h = 0}); }, {"max_pool2d", "kernel"});
  expect_error<ValueError>([&] { ops::avg_pool2d(x, {.stride_w = -1}); }, {"avg_pool2d", "stride"});
  expect_error<ValueError>([&] { ops::max_pool2d(x, {.pad_h = 2}); }, {"max_pool2d", "padding", "half"});
  expect_error<ShapeError>([&] { ops::max_pool2d(zeros({1, 1, 3, 3}), {.kernel_h = 4, .kernel_w = 4}); },
                           {"max_pool2d", "kernel", "larger"});
  expect_error<ShapeError>([&] { ops::avg_pool2d(zeros({3, 3}), {}); }, {"avg_pool2d", "4-d"});
  expect_error<DTypeError>([&] { ops::max_pool2d_backward(zeros({2, 4, 4, 4}), zeros({2, 4, 4, 4}), x.shape(), {}); },
                           {"max_pool2d_backward", "'indices'", "int64"});
  expect_error<ShapeError>([&] { ops::avg_pool2d_backward(zeros({2, 4, 3, 3}), x.shape(), {}); },
                           {"avg_pool2d_backward", "grad_out", "[2, 4, 4, 4]"});
}

TEST_CASE("pool and conv output sizes follow PyTorch's formulas") {
  // Reference: floor/ceil((in + 2 pad - k) / s) + 1, dropping a last ceil window that starts in the right padding.
  for (std::int64_t in = 1; in <= 12; ++in)
    for (std::int64_t k = 1; k <= 4; ++k)
      for (std::int64_t s = 1; s <= 3; ++s)
        for (std::int64_t p = 0; 2 * p <= k; ++p)
          for (bool ceil_mode : {false, true}) {
            if (in + 2 * p < k) continue;
            double q = double(in + 2 * p - k) / s;
            std::int64_t expected = static_cast<std::int64_t>(ceil_mode ? std::ceil(q) : std::floor(q)) + 1;
            if (ceil_mode && (expected - 1) * s >= in + p) --expected;
            CHECK(ops::pool_output_size(in, k, s, p, ceil_mode) == expected);
          }
  Tensor out = ops::conv2d(zeros({1, 2, 9, 7}), zeros({4, 2, 3, 2}), {.stride_h = 2, .pad_w = 1, .dilation_h = 2});
  CHECK(out.shape() == Shape{1, 4, (9 - 5) / 2 + 1, (7 + 2 - 2) + 1});
}
