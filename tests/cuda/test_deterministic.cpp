// GPU suite: set_deterministic_algorithms(true) (train_cifar --deterministic) picks, on ResNet-20's
// convolution shapes, algorithms that repeat bit for bit, never one cuDNN documents as
// non-deterministic, and the same one every time it chooses (heuristics, not timings); and makes
// index_add_ sum repeated indices in the CPU's order (bitwise equal to the CPU) instead of atomics.
#include <string>
#include <vector>

#include "gpu_util.h"
#include "proxima/cuda/conv_probe.h"
#include "proxima/cuda/cuda.h"

using namespace px;
using px::gpu_test::check_equal;
using px::gpu_test::gpu;
using px::gpu_test::random_cpu;

namespace {

// TF32 off and deterministic algorithms for one scope (as --deterministic --tf32 off), restored
// even when a REQUIRE fails.
struct DeterministicStrictScope {
  bool tf32 = cuda::allow_tf32(), deterministic = cuda::deterministic_algorithms();
  DeterministicStrictScope() {
    cuda::set_allow_tf32(false);
    cuda::set_deterministic_algorithms(true);
  }
  ~DeterministicStrictScope() {
    cuda::set_allow_tf32(tf32);
    cuda::set_deterministic_algorithms(deterministic);
  }
};

struct ResnetConv {
  std::int64_t c, k, hw, stride;  // x [16, c, hw, hw], w [k, c, 3, 3], padding 1
};
const ResnetConv kConvs[] = {{3, 16, 32, 1}, {16, 16, 32, 1}, {16, 32, 32, 2},
                             {32, 32, 16, 1}, {32, 64, 16, 2}, {64, 64, 8, 1}};

// cuDNN's documentation lists these as non-deterministic (atomic adds): backward data algo 0,
// backward filter algos 0 and 3.
bool documented_nondeterministic(int direction, int algo) {
  return (direction == 1 && algo == 0) || (direction == 2 && (algo == 0 || algo == 3));
}

}  // namespace

TEST_CASE("cuda: deterministic convolutions on ResNet-20's shapes repeat bit for bit and avoid "
          "cuDNN's non-deterministic algorithms") {
  DeterministicStrictScope scope;
  Generator gen(700);
  for (const ResnetConv& s : kConvs) {
    const Conv2dParams p{.stride_h = s.stride, .stride_w = s.stride, .pad_h = 1, .pad_w = 1};
    const std::string name = std::to_string(s.c) + "->" + std::to_string(s.k) + " " + std::to_string(s.hw) + "px";
    CAPTURE(name);
    const Tensor x = random_cpu({16, s.c, s.hw, s.hw}, DType::float32, gen).to(gpu());
    const Tensor w = random_cpu({s.k, s.c, 3, 3}, DType::float32, gen).to(gpu());
    const Tensor gy = random_cpu({16, s.k, s.hw / s.stride, s.hw / s.stride}, DType::float32, gen).to(gpu());
    for (int direction = 0; direction < 3; ++direction) {
      CAPTURE(direction);
      const int chosen = cuda::conv_algorithm(direction, x, w, gy, p);
      CHECK_FALSE(documented_nondeterministic(direction, chosen));
      CHECK(cuda::conv_algorithm(direction, x, w, gy, p, /*fresh=*/true) == chosen);  // no timing involved
    }
    // Three calls per direction through the public ops (the cached choices above), each into a
    // fresh output: bitwise equal. Atomic float sums over 16 images of 32x32 would differ.
    const Tensor y = ops::conv2d(x, w, p).to(Device::cpu());
    const Tensor gx = ops::conv2d_backward_input(gy, w, x.shape(), p).to(Device::cpu());
    const Tensor gw = ops::conv2d_backward_weight(gy, x, w.shape(), p).to(Device::cpu());
    for (int again = 0; again < 2; ++again) {
      check_equal(y, ops::conv2d(x, w, p), "forward again");
      check_equal(gx, ops::conv2d_backward_input(gy, w, x.shape(), p), "backward_input again");
      check_equal(gw, ops::conv2d_backward_weight(gy, x, w.shape(), p), "backward_weight again");
    }
  }
}

TEST_CASE("cuda: probe_conv_algorithms runs cuDNN's algorithms and finds the chosen one repeatable") {
  DeterministicStrictScope scope;
  Generator gen(701);
  const Conv2dParams p{.pad_h = 1, .pad_w = 1};
  const Tensor x = random_cpu({16, 16, 32, 32}, DType::float32, gen).to(gpu());
  const Tensor w = random_cpu({16, 16, 3, 3}, DType::float32, gen).to(gpu());
  const Tensor gy = random_cpu({16, 16, 32, 32}, DType::float32, gen).to(gpu());
  for (int direction = 0; direction < 3; ++direction) {
    CAPTURE(direction);
    const std::vector<cuda::ConvAlgoProbe> probes = cuda::probe_conv_algorithms(direction, x, w, gy, p);
    const int chosen = cuda::conv_algorithm(direction, x, w, gy, p);
    int ran = 0;
    bool chosen_seen = false;
    for (const cuda::ConvAlgoProbe& a : probes) {
      CAPTURE(a.algo);
      CAPTURE(a.failure);
      ran += a.ran;
      CHECK(a.documented_nondeterministic == documented_nondeterministic(direction, a.algo));
      if (a.algo != chosen) continue;
      chosen_seen = true;
      CHECK(a.ran);
      CHECK(a.flagged_deterministic);
      CHECK(a.repeatable);
    }
    CHECK(chosen_seen);
    CHECK(ran >= 1);
  }
  CHECK_THROWS_AS(cuda::probe_conv_algorithms(3, x, w, gy, p), ValueError);
}

TEST_CASE("cuda: deterministic index_add_ sums repeated indices in the CPU's order, bit for bit") {
  DeterministicStrictScope scope;
  Generator gen(702);
  // dim 0 (embedding-like gradient), a middle dim, the last dim; many repeats of few rows.
  struct Case {
    Shape dst;
    std::int64_t dim, count;
  };
  for (const Case& c : {Case{{7, 33}, 0, 500}, Case{{3, 5, 17}, 1, 200}, Case{{4, 6}, 1, 300}}) {
    for (const DType dtype : {DType::float32, DType::float64, DType::int64}) {
      CAPTURE(shape_str(c.dst));
      CAPTURE(dtype_name(dtype));
      Shape src_shape = c.dst;
      src_shape[static_cast<std::size_t>(c.dim)] = c.count;
      const Tensor dst = random_cpu(c.dst, dtype, gen), src = random_cpu(src_shape, dtype, gen, 1e3);
      const Tensor index = randint(0, c.dst[static_cast<std::size_t>(c.dim)], {c.count}, {.dtype = DType::int64}, &gen);
      const Tensor want = ops::index_add_(dst.clone(), c.dim, index, src);  // the CPU: index order
      for (int run = 0; run < 2; ++run) {
        const Tensor got = dst.to(gpu());
        ops::index_add_(got, c.dim, index.to(gpu()), src.to(gpu()));
        check_equal(want, got, "index_add_ run " + std::to_string(run));
      }
    }
  }
  // A bad index is still reported at the next synchronisation.
  const Tensor dst = zeros({4, 3}, {.device = gpu()});
  ops::index_add_(dst, 0, from_vector(std::vector<std::int64_t>{1, 9, 2}, {3}, gpu()), ones({3, 3}, {.device = gpu()}));
  CHECK_THROWS_AS(dst.to(Device::cpu()), IndexError);
}
