// The CUDA backend of a build without CUDA: every method throws CudaUnavailableError.
#include "proxima/core/backend.h"

namespace px {
namespace {

[[noreturn]] void unavailable(Device device, const char* what) {
  throw CudaUnavailableError(detail::str(
      "proxima was built without CUDA (PX_CUDA=OFF or CUDA not found): cannot use device ",
      device.str(), " for ", what, "; rebuild with -DPX_CUDA=ON or use Device::cpu()"));
}

// Device of a tensor argument; cuda:0 when the tensor is undefined.
Device device_of(const Tensor& t) { return t.defined() ? t.device() : Device::cuda(0); }

class NoCudaBackend final : public Backend {
 public:
  std::string name() const override { return "cuda (unavailable)"; }

  std::shared_ptr<Storage> allocate(std::size_t, Device d) override { unavailable(d, "allocate"); }
  void copy_from_host(const Tensor& dst, const void*) override {
    unavailable(device_of(dst), "copy_from_host");
  }
  void copy_to_host(void*, const Tensor& src) override { unavailable(device_of(src), "copy_to_host"); }
  void synchronize(Device d) override { unavailable(d, "synchronize"); }
  MemoryStats memory_stats(Device d) override { unavailable(d, "memory_stats"); }

  void copy(const Tensor& src, const Tensor& dst) override {
    unavailable(src.device().is_cuda() ? src.device() : device_of(dst), "copy");
  }
  void fill(const Tensor& dst, double) override { unavailable(device_of(dst), "fill"); }
  void random(const Tensor& dst, RandomKind, double, double, std::uint64_t, std::uint64_t) override {
    unavailable(device_of(dst), "random");
  }
  void unary(UnaryOp, const Tensor& x, const Tensor&) override { unavailable(device_of(x), "unary"); }
  void binary(BinaryOp, const Tensor& a, const Tensor&, const Tensor&) override {
    unavailable(device_of(a), "binary");
  }
  void where(const Tensor& c, const Tensor&, const Tensor&, const Tensor&) override {
    unavailable(device_of(c), "where");
  }
  void reduce(ReduceOp, const Tensor& x, const Tensor&, std::int64_t, std::int64_t,
              std::int64_t) override {
    unavailable(device_of(x), "reduce");
  }
  void matmul(const Tensor& a, const Tensor&, const Tensor&, bool, bool) override {
    unavailable(device_of(a), "matmul");
  }
  void conv2d(const Tensor& x, const Tensor&, const Tensor&, const Conv2dParams&) override {
    unavailable(device_of(x), "conv2d");
  }
  void conv2d_backward_input(const Tensor& g, const Tensor&, const Tensor&,
                             const Conv2dParams&) override {
    unavailable(device_of(g), "conv2d_backward_input");
  }
  void conv2d_backward_weight(const Tensor& g, const Tensor&, const Tensor&,
                              const Conv2dParams&) override {
    unavailable(device_of(g), "conv2d_backward_weight");
  }
  void max_pool2d(const Tensor& x, const Tensor&, const Tensor&, const Pool2dParams&) override {
    unavailable(device_of(x), "max_pool2d");
  }
  void max_pool2d_backward(const Tensor& g, const Tensor&, const Tensor&,
                           const Pool2dParams&) override {
    unavailable(device_of(g), "max_pool2d_backward");
  }
  void avg_pool2d(const Tensor& x, const Tensor&, const Pool2dParams&) override {
    unavailable(device_of(x), "avg_pool2d");
  }
  void avg_pool2d_backward(const Tensor& g, const Tensor&, const Pool2dParams&) override {
    unavailable(device_of(g), "avg_pool2d_backward");
  }
  void softmax(const Tensor& x, const Tensor&, bool) override { unavailable(device_of(x), "softmax"); }
  void index_select(const Tensor& x, std::int64_t, const Tensor&, const Tensor&) override {
    unavailable(device_of(x), "index_select");
  }
  void index_add(const Tensor& dst, std::int64_t, const Tensor&, const Tensor&) override {
    unavailable(device_of(dst), "index_add");
  }
};

}  // namespace

Backend& cuda_backend() {
  static NoCudaBackend backend;
  return backend;
}

bool cuda_available() { return false; }
int cuda_device_count() { return 0; }

}  // namespace px
