// LoaderOptions::allocate: batches in caller-provided memory (train_cifar's pinned buffers), the same
// values as the default allocation, in the thread that prepares them; bad allocations rejected.
#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "data/data_helpers.h"
#include "proxima/core/ops.h"
#include "proxima/data/loader.h"

using namespace px;
using namespace px::data;
using namespace px_test;

TEST_CASE("loader: allocate gives x and y their memory, with the default allocation's values") {
  const Dataset ds = coded_dataset(37, 3, 4, 5, 5);
  const Augment augment{.crop = true, .crop_padding = 1, .flip = true};
  for (const std::int64_t prefetch : {0, 2}) {
    CAPTURE(prefetch);
    std::mutex mutex;
    std::vector<std::pair<Shape, DType>> calls;
    std::set<std::thread::id> threads;
    LoaderOptions with{.batch_size = 8, .augment = augment, .seed = 5, .prefetch = prefetch};
    with.allocate = [&](const Shape& shape, DType dtype) {
      std::lock_guard lock(mutex);
      calls.emplace_back(shape, dtype);
      threads.insert(std::this_thread::get_id());
      return full(shape, -7.0, {.dtype = dtype});  // garbage that must be overwritten
    };
    LoaderOptions without = with;
    without.allocate = nullptr;
    DataLoader a(ds, with), b(ds, without);
    for (const std::int64_t epoch : {0, 1}) {
      a.start_epoch(epoch);
      b.start_epoch(epoch);
      std::int64_t batches = 0;
      for (Batch x, y; a.next(x);) {
        REQUIRE(b.next(y));
        CHECK(x.x.to_vector<float>() == y.x.to_vector<float>());
        CHECK(x.y.to_vector<std::int64_t>() == y.y.to_vector<std::int64_t>());
        CHECK(x.indices.to_vector<std::int64_t>() == y.indices.to_vector<std::int64_t>());
        ++batches;
      }
      CHECK(batches == 5);  // 37 = 4 x 8 + 5
    }
    // Two tensors per batch (x float32 [B, 3, 4, 5], y int64 [B]), the last batch smaller.
    REQUIRE(calls.size() == 20);
    CHECK(calls[0] == std::pair<Shape, DType>{Shape{8, 3, 4, 5}, DType::float32});
    CHECK(calls[1] == std::pair<Shape, DType>{Shape{8}, DType::int64});
    CHECK(calls[8] == std::pair<Shape, DType>{Shape{5, 3, 4, 5}, DType::float32});
    CHECK(calls[9] == std::pair<Shape, DType>{Shape{5}, DType::int64});
    // Called in the thread that prepares the batch: the worker when prefetching.
    CHECK(threads.size() == 1);
    CHECK((*threads.begin() == std::this_thread::get_id()) == (prefetch == 0));
  }
}

TEST_CASE("loader: an allocate that returns the wrong tensor is a ValueError naming it") {
  const Dataset ds = coded_dataset(10, 2, 3, 4, 4);
  const std::vector<std::pair<const char*, std::function<Tensor(const Shape&, DType)>>> bad = {
      {"undefined", [](const Shape&, DType) { return Tensor(); }},
      {"shape [1]", [](const Shape&, DType dtype) { return empty({1}, {.dtype = dtype}); }},
      {"float64", [](const Shape& shape, DType) { return empty(shape, {.dtype = DType::float64}); }},
      {"non-contiguous", [](const Shape& shape, DType dtype) {
         Shape wider = shape;
         wider.back() *= 2;
         return ops::narrow(empty(wider, {.dtype = dtype}), -1, 0, shape.back());
       }}};
  for (const auto& [expected, allocate] : bad) {
    CAPTURE(expected);
    DataLoader loader(ds, {.batch_size = 4, .prefetch = 0, .allocate = allocate});
    loader.start_epoch(0);
    Batch batch;
    try {
      (void)loader.next(batch);
      FAIL("no error");
    } catch (const ValueError& e) {
      CHECK(std::string(e.what()).find("LoaderOptions.allocate") != std::string::npos);
      CHECK(std::string(e.what()).find(expected) != std::string::npos);
    }
  }
}
