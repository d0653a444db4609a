// GPU parity of hard binarisation (optim::prox::binarize_, both sgn(0) conventions) and of
// freeze_regularized in the keep_zero mode, where 0 stays 0 (ProxQuant's code), against the CPU.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "gpu_util.h"
#include "proxima/optim/prox/metrics.h"
#include "proxima/optim/prox/proxgen.h"

namespace {

using namespace px;
using namespace px::gpu_test;

// Random values with the special points binarisation must decide: +-0, NaN, +-inf, denormals.
Tensor special_values(const Shape& shape, DType dtype, Generator& gen) {
  std::vector<double> v = random_cpu(shape, DType::float64, gen).to_vector<double>();
  const double specials[] = {0.0, -0.0, std::numeric_limits<double>::quiet_NaN(),
                             std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
                             1e-310, -1e-310, 1.0, -1.0};
  for (std::size_t i = 0; i < v.size(); i += 3) v[i] = specials[(i / 3) % std::size(specials)];
  return from_vector(v, shape).to(dtype);
}

}  // namespace

TEST_CASE("cuda parity: binarize_ with sgn(0) = +1 and with zero_stays, contiguous and strided") {
  Generator gen(4242);
  for (DType dtype : {DType::float32, DType::float64}) {
    for (const Shape& shape : {Shape{7}, Shape{33, 17}, Shape{4, 3, 5, 5}}) {
      for (bool zero_stays : {false, true}) {
        const std::string what = std::string(dtype_name(dtype)) + " " + shape_str(shape) +
                                 (zero_stays ? " zero_stays" : " plus_one");
        Tensor cpu = special_values(shape, dtype, gen), gpu_t = cpu.to(gpu());
        optim::prox::binarize_(cpu, zero_stays);
        optim::prox::binarize_(gpu_t, zero_stays);
        check_equal(cpu, gpu_t, what);
        // Every value is a binary point: +-1, or 0 only when zero_stays.
        const double zeros = ops::count_nonzero(ops::eq(gpu_t, 0.0)).item();
        CHECK_MESSAGE(ops::count_nonzero(ops::ne(ops::abs(gpu_t), 1.0)).item() == zeros, what);
        if (!zero_stays) CHECK_MESSAGE(zeros == 0, what);
        if (zero_stays) CHECK_MESSAGE(zeros > 0, what);  // the inputs hold +-0

        if (shape.size() < 2) continue;  // a strided view: only its elements change
        Tensor base = special_values(shape, dtype, gen), base_g = base.to(gpu());
        optim::prox::binarize_(ops::transpose(base, 0, 1), zero_stays);
        optim::prox::binarize_(ops::transpose(base_g, 0, 1), zero_stays);
        check_equal(base, base_g, what + " transposed view");
      }
    }
  }
}

TEST_CASE("cuda parity: freeze in the keep_zero binary mode keeps 0 at 0 on the GPU as on the CPU") {
  Generator gen(99);
  for (DType dtype : {DType::float32, DType::float64}) {
    Tensor w = special_values({6, 9}, dtype, gen), b = special_values({9}, dtype, gen);
    Tensor wg = w.to(gpu()), bg = b.to(gpu());
    auto make = [](Tensor weight, Tensor bias) {
      return optim::prox::ProxGen(
          {{.params = {weight}, .options = {{"regularizer", "bin-l1"}, {"lambda", 0.5}, {"binary_zero", "keep_zero"}}},
           {.params = {bias}}},
          {.lr = 0.01});
    };
    auto cpu_opt = make(w, b), gpu_opt = make(wg, bg);
    cpu_opt.freeze_regularized();
    gpu_opt.freeze_regularized();
    check_equal(w, wg, std::string(dtype_name(dtype)) + " frozen weight");
    check_equal(b, bg, std::string(dtype_name(dtype)) + " unregularised bias (untouched)");
    CHECK(ops::count_nonzero(ops::eq(wg, 0.0)).item() > 0);
  }
}
