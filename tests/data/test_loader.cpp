// DataLoader: batches against per-sample transforms, determinism, prefetch, resume, errors, speed.
#include <doctest/doctest.h>

#include <chrono>
#include <cstring>
#include <limits>
#include <random>
#include <set>

#include "data/data_helpers.h"
#include "proxima/data/loader.h"

using namespace px;
using namespace px::data;
using namespace px_test;

namespace {

std::vector<Batch> run_epoch(DataLoader& loader, std::int64_t epoch, std::int64_t first_batch = 0) {
  loader.start_epoch(epoch, first_batch);
  std::vector<Batch> batches;
  for (Batch b; loader.next(b);) batches.push_back(b);
  return batches;
}

bool same_batch(const Batch& a, const Batch& b) {
  return a.x.shape() == b.x.shape() && a.x.to_vector<float>() == b.x.to_vector<float>() &&
         a.y.to_vector<std::int64_t>() == b.y.to_vector<std::int64_t>() &&
         a.indices.to_vector<std::int64_t>() == b.indices.to_vector<std::int64_t>();
}

bool same_epoch(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t k = 0; k < a.size(); ++k)
    if (!same_batch(a[k], b[k])) return false;
  return true;
}

std::vector<std::int64_t> order_of(const std::vector<Batch>& batches) {
  std::vector<std::int64_t> order;
  for (const Batch& b : batches)
    for (std::int64_t i : b.indices.to_vector<std::int64_t>()) order.push_back(i);
  return order;
}

const Augment kAugment{.crop = true, .crop_padding = 2, .flip = true, .cutout = true, .cutout_size = 3};

}  // namespace

TEST_CASE("loader: every sample once per epoch, labels and pixels from the per-sample transform") {
  Dataset ds = coded_dataset(50, 3, 6, 5, 5);
  LoaderOptions options{.batch_size = 8, .shuffle = true, .augment = kAugment, .seed = 3};
  DataLoader loader(ds, options);
  CHECK(loader.batches_per_epoch() == 7);
  std::vector<Batch> batches = run_epoch(loader, 4);
  REQUIRE(batches.size() == 7);
  CHECK(batches.back().x.shape() == Shape{2, 3, 6, 5});
  std::vector<std::int64_t> order = order_of(batches);
  CHECK(std::set<std::int64_t>(order.begin(), order.end()).size() == 50);
  CHECK(order == loader.epoch_order(4));
  Normalization norm = loader.normalization();
  std::vector<float> mean, inv_std;
  for (int c = 0; c < 3; ++c) {
    mean.push_back(static_cast<float>(norm.mean[c]));
    inv_std.push_back(static_cast<float>(1 / norm.std[c]));
  }
  std::int64_t sample = 3 * 6 * 5, wrong = 0;
  for (const Batch& b : batches) {
    CHECK(b.x.dtype() == DType::float32);
    CHECK(b.y.dtype() == DType::int64);
    for (std::int64_t k = 0; k < b.y.numel(); ++k) {
      std::int64_t i = b.indices.data<std::int64_t>()[k];
      CHECK(b.y.data<std::int64_t>()[k] == i % 5);
      std::vector<float> expect(static_cast<std::size_t>(sample));
      transform_sample(ds.images.data<std::uint8_t>() + i * sample, 3, 6, 5, kAugment,
                       draw_augment(kAugment, 6, 5, 3, 4, i), mean.data(), inv_std.data(), expect.data());
      wrong += std::memcmp(expect.data(), b.x.data<float>() + k * sample, sizeof(float) * sample) != 0;
    }
  }
  CHECK(wrong == 0);
}

TEST_CASE("loader: same seed same batches, prefetch on or off - epochs and seeds differ") {
  Dataset ds = coded_dataset(37, 1, 4, 4, 3);
  LoaderOptions options{.batch_size = 5, .augment = kAugment, .seed = 11, .prefetch = 0};
  DataLoader sync(ds, options);
  std::vector<Batch> reference = run_epoch(sync, 2);
  for (std::int64_t prefetch : {1, 2, 6}) {
    options.prefetch = prefetch;
    DataLoader loader(ds, options);
    CHECK(same_epoch(run_epoch(loader, 2), reference));
    CHECK(same_epoch(run_epoch(loader, 2), reference));  // again, same loader
  }
  CHECK(!same_epoch(run_epoch(sync, 3), reference));
  CHECK(order_of(run_epoch(sync, 3)) != order_of(reference));
  options.seed = 12;
  DataLoader other_seed(ds, options);
  CHECK(order_of(run_epoch(other_seed, 2)) != order_of(reference));
  options.shuffle = false;
  DataLoader ordered(ds, options);
  std::vector<std::int64_t> identity(37);
  for (int i = 0; i < 37; ++i) identity[i] = i;
  CHECK(order_of(run_epoch(ordered, 5)) == identity);
}

TEST_CASE("loader: a batch size larger than the set is one batch, up to INT64_MAX") {
  Dataset ds = coded_dataset(37, 2, 4, 3, 4);
  for (std::int64_t batch : {std::int64_t{38}, std::int64_t{1} << 62, std::numeric_limits<std::int64_t>::max()}) {
    CAPTURE(batch);
    DataLoader loader(ds, LoaderOptions{.batch_size = batch, .augment = kAugment});
    CHECK(loader.batches_per_epoch() == 1);  // n + b - 1 overflowed at INT64_MAX: 0 batches
    const std::vector<Batch> epoch = run_epoch(loader, 0);
    REQUIRE(epoch.size() == 1);
    CHECK(epoch[0].y.numel() == 37);
    CHECK(DataLoader(ds, LoaderOptions{.batch_size = batch, .drop_last = true}).batches_per_epoch() == 0);
  }
}

TEST_CASE("loader: drop_last, resume mid-epoch, abandoned epochs, destruction mid-epoch") {
  Dataset ds = coded_dataset(37, 2, 4, 3, 4);
  for (bool drop_last : {false, true})
    for (std::int64_t prefetch : {0, 3}) {
      LoaderOptions options{.batch_size = 5, .drop_last = drop_last, .augment = kAugment, .prefetch = prefetch};
      DataLoader loader(ds, options);
      CHECK(loader.batches_per_epoch() == (drop_last ? 7 : 8));
      std::vector<Batch> full = run_epoch(loader, 1);
      REQUIRE(full.size() == static_cast<std::size_t>(loader.batches_per_epoch()));
      for (const Batch& b : full) CHECK(b.y.numel() == (drop_last || &b != &full.back() ? 5 : 2));
      std::vector<Batch> resumed = run_epoch(loader, 1, 3);
      CHECK(same_epoch(resumed, std::vector<Batch>(full.begin() + 3, full.end())));
      CHECK(run_epoch(loader, 1, loader.batches_per_epoch()).empty());
      loader.start_epoch(0);  // abandon epoch 0 after one batch
      Batch b;
      CHECK(loader.next(b));
      CHECK(same_epoch(run_epoch(loader, 1), full));
      loader.start_epoch(2);
      CHECK(loader.next(b));
      Batch after_end;
      run_epoch(loader, 2);
      CHECK(!loader.next(after_end));  // stays over
      CHECK(!after_end.x.defined());
    }
  // A big loader destroyed right after starting (worker blocked on a full queue) must not hang.
  Dataset big = coded_dataset(400, 3, 16, 16, 10);
  for (int k = 0; k < 5; ++k) {
    DataLoader loader(big, {.batch_size = 10, .augment = kAugment, .prefetch = 2});
    loader.start_epoch(k);
    Batch b;
    if (k % 2) CHECK(loader.next(b));
  }
}

TEST_CASE("loader: errors while preparing a batch reach next() - bad options are rejected") {
  Dataset ds = coded_dataset(30, 1, 3, 3, 3);
  for (std::int64_t prefetch : {0, 2}) {
    LoaderOptions options{.batch_size = 4, .prefetch = prefetch};
    options.on_batch = [](Batch&, std::int64_t, std::int64_t b) {
      if (b == 2) throw ValueError("batch 2 is cursed");
    };
    DataLoader loader(ds, options);
    loader.start_epoch(0);
    Batch b;
    CHECK(loader.next(b));
    CHECK(loader.next(b));
    CHECK_THROWS_WITH_AS(loader.next(b), "batch 2 is cursed", ValueError);
  }
  DataLoader fresh(ds, {.batch_size = 4});
  Batch b;
  CHECK_THROWS_AS(fresh.next(b), ValueError);  // no start_epoch yet
  CHECK_THROWS_AS(fresh.start_epoch(-1), ValueError);
  CHECK_THROWS_AS(fresh.start_epoch(0, 9), ValueError);
  CHECK_THROWS_AS(DataLoader(ds, {.batch_size = 0}), ValueError);
  CHECK_THROWS_AS(DataLoader(ds, {.prefetch = -1}), ValueError);
  CHECK_THROWS_AS(DataLoader(ds, {.mean = {0.5, 0.5}, .std = {0.2, 0.2}}), ValueError);
  CHECK_THROWS_AS(DataLoader(ds, {.mean = {0.5}, .std = {0.0}}), ValueError);
  Dataset bad = ds;
  bad.labels = zeros({30});  // float labels
  CHECK_THROWS_AS(DataLoader(bad, {}), ValueError);
}

TEST_CASE("loader: given and default normalisation, normalize off") {
  Dataset ds = coded_dataset(12, 2, 3, 4, 2);
  DataLoader given(ds, {.batch_size = 12, .shuffle = false, .mean = {0.25, 0.5}, .std = {0.5, 0.25}, .prefetch = 0});
  DataLoader raw(ds, {.batch_size = 12, .shuffle = false, .normalize = false, .prefetch = 0});
  DataLoader stats(ds, {.batch_size = 12, .shuffle = false, .prefetch = 0});
  Normalization norm = channel_stats(ds);
  CHECK(stats.normalization().mean == norm.mean);
  Batch g, r, s;
  given.start_epoch(0);
  raw.start_epoch(0);
  stats.start_epoch(0);
  REQUIRE((given.next(g) && raw.next(r) && stats.next(s)));
  const auto* img = ds.images.data<std::uint8_t>();
  double worst = 0;
  for (std::int64_t e = 0; e < ds.images.numel(); ++e) {
    std::int64_t c = (e / 12) % 2;
    double p = img[e] / 255.0;
    worst = std::max(worst, std::abs(g.x.data<float>()[e] - (p - (c ? 0.5 : 0.25)) / (c ? 0.25 : 0.5)));
    worst = std::max(worst, std::abs(r.x.data<float>()[e] - p));
    worst = std::max(worst, std::abs(s.x.data<float>()[e] - (p - norm.mean[c]) / norm.std[c]));
  }
  CHECK(worst < 1e-5);
}

TEST_CASE("loader: a constant channel (std 0) gets std 1 and normalises to 0") {
  Dataset ds = coded_dataset(12, 3, 3, 4, 2);
  auto* img = ds.images.data<std::uint8_t>();
  for (std::int64_t e = 0; e < ds.images.numel(); ++e) {
    std::int64_t c = (e / 12) % 3;
    if (c < 2) img[e] = c == 0 ? 0 : 128;  // channel 0 always 0, channel 1 always 128
  }
  Normalization norm = channel_stats(ds);
  CHECK(norm.std == std::vector<double>{1.0, 1.0, norm.std[2]});
  CHECK(norm.std[2] > 0.1);  // a varying channel keeps its std
  CHECK(norm.mean[1] == doctest::Approx(128 / 255.0).epsilon(1e-12));
  DataLoader loader(ds, {.batch_size = 12, .shuffle = false, .prefetch = 0});
  CHECK(loader.normalization().std == norm.std);
  Batch b;
  loader.start_epoch(0);
  REQUIRE(loader.next(b));
  double worst = 0;
  for (std::int64_t e = 0; e < b.x.numel(); ++e)
    if ((e / 12) % 3 < 2) worst = std::max(worst, std::abs(static_cast<double>(b.x.data<float>()[e])));
  CHECK(worst < 1e-6);
}

TEST_CASE("loader: speed of CIFAR-sized batches of 128 with crop, flip and normalisation") {
  Dataset ds = coded_dataset(128 * 20, 3, 32, 32, 10);
  DataLoader loader(ds, {.batch_size = 128, .augment = {.crop = true, .flip = true}, .prefetch = 2});
  std::vector<std::int64_t> order = loader.epoch_order(0);
  auto start = std::chrono::steady_clock::now();
  for (int b = 0; b < 20; ++b) loader.make_batch(0, order, b);
  double per_image = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / (20 * 128);
  start = std::chrono::steady_clock::now();
  std::int64_t seen = 0;
  loader.start_epoch(1);
  for (Batch b; loader.next(b);) seen += b.y.numel();
  double epoch_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(seen == 128 * 20);
  MESSAGE("batch preparation: " << per_image * 1e6 << " us per 3x32x32 image (crop + flip + normalise), "
                                << epoch_s * 1e3 / 20 << " ms per batch of 128 through next() with prefetch");
  CHECK(per_image < 1e-3);
}
