// GPU suite: host/device copies, the caching allocator, out-of-memory and device errors.
#include <string>

#include "gpu_util.h"
#include "proxima/core/backend.h"
#include "proxima/cuda/cuda.h"

using namespace px;
using px::gpu_test::gpu;

TEST_CASE("cuda: host -> device -> host round trips are exact for every dtype and shape") {
  Generator gen(1);
  for (DType dtype : {DType::float32, DType::float64, DType::int64, DType::uint8}) {
    for (const Shape& shape : {Shape{}, Shape{0}, Shape{1}, Shape{7}, Shape{3, 4, 5}, Shape{1000, 33}}) {
      Tensor x = gpu_test::random_cpu(shape, dtype, gen);
      Tensor y = x.to(gpu());
      CHECK(y.device() == gpu());
      gpu_test::check_equal(x, y, std::string(dtype_name(dtype)) + " " + shape_str(shape));
    }
  }
}

TEST_CASE("cuda: the caching allocator reuses freed blocks and keeps statistics") {
  Backend& cuda = cuda_backend();
  cuda::empty_cache(0);
  MemoryStats before = cuda.memory_stats(gpu());
  CHECK(before.cached_bytes == 0);
  const std::int64_t n = 1 << 20;  // 4 MiB of float32
  void* first = nullptr;
  {
    Tensor a = empty({n}, {.device = gpu()});
    first = a.data_ptr();
    MemoryStats live = cuda.memory_stats(gpu());
    CHECK(live.current_bytes >= before.current_bytes + 4 * n);
    CHECK(live.peak_bytes >= live.current_bytes);
  }
  MemoryStats freed = cuda.memory_stats(gpu());
  CHECK(freed.current_bytes == before.current_bytes);
  CHECK(freed.cached_bytes >= static_cast<std::size_t>(4 * n));
  CHECK(freed.peak_bytes >= before.current_bytes + 4 * n);
  {
    Tensor b = empty({n}, {.device = gpu()});
    CHECK(b.data_ptr() == first);  // same size class: the cached block comes back
    MemoryStats reused = cuda.memory_stats(gpu());
    std::size_t block = reused.current_bytes - before.current_bytes;
    CHECK(reused.cached_bytes == freed.cached_bytes - block);
  }
  {
    Tensor c = empty({n - 1000}, {.device = gpu()});  // 4 MiB - 4000 B rounds to the same class
    CHECK(c.data_ptr() == first);
  }
  cuda::empty_cache(0);
  CHECK(cuda.memory_stats(gpu()).cached_bytes == 0);
  // Many short-lived temporaries of one size hold one block, not one each.
  Generator gen(3);
  Tensor x = gpu_test::random_cpu({256, 256}, DType::float32, gen).to(gpu());
  cuda::reset_peak_memory_stats(0);
  MemoryStats start = cuda.memory_stats(gpu());
  CHECK(start.peak_bytes == start.current_bytes);
  for (int i = 0; i < 50; ++i) x = ops::add(ops::mul(x, 0.5), 1.0);
  cuda.synchronize(gpu());
  MemoryStats end = cuda.memory_stats(gpu());
  CHECK(end.current_bytes == start.current_bytes);
  CHECK(end.peak_bytes - start.current_bytes <= 3u * 256 * 256 * 4);
}

TEST_CASE("cuda: out of memory throws OutOfMemoryError naming the request, and recovers") {
  const std::int64_t elements = std::int64_t(1) << 48;  // 1 PiB of float32
  std::string message;
  try {
    Tensor huge = empty({elements}, {.device = gpu()});
    FAIL("allocating 1 PiB succeeded");
  } catch (const OutOfMemoryError& e) {
    message = e.what();
  }
  INFO(message);
  CHECK(message.find("1125899906842624 bytes") != std::string::npos);
  CHECK(message.find("in use") != std::string::npos);
  CHECK(message.find("cached") != std::string::npos);
  CHECK(message.find("cuda:0") != std::string::npos);
  Tensor ok = ones({1000}, {.device = gpu()});  // the device still works
  CHECK(ops::sum(ok).item() == 1000.0);
}

TEST_CASE("cuda: a device index that does not exist throws DeviceError naming it") {
  Device missing = Device::cuda(cuda_device_count());
  std::string message;
  try {
    Tensor t = zeros({4}, {.device = missing});
    FAIL("allocating on a missing device succeeded");
  } catch (const DeviceError& e) {
    message = e.what();
  }
  INFO(message);
  CHECK(message.find("no CUDA device is available") != std::string::npos);
  CHECK(message.find(missing.str()) != std::string::npos);
}

TEST_CASE("cuda: the backend is the real one") {
  CHECK(cuda_backend().name() == "cuda");
  CHECK(cuda_available());
}
