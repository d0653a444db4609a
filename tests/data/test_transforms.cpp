// Transforms: augmentation draws, crop/flip/cutout/normalise against reference indexing, stats.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <set>

#include "data/data_helpers.h"
#include "proxima/data/transforms.h"

using namespace px;
using namespace px::data;
using namespace px_test;

namespace {

// Reference: pad with zeros, cut the window at the drawn offsets, mirror, normalise, cutout.
std::vector<float> reference_transform(const std::vector<std::uint8_t>& src, std::int64_t C, std::int64_t H,
                                       std::int64_t W, const Augment& aug, const AugmentDraw& d,
                                       const std::vector<double>& mean, const std::vector<double>& std) {
  std::int64_t P = aug.crop ? aug.crop_padding : 0, PH = H + 2 * P, PW = W + 2 * P;
  std::vector<int> padded(static_cast<std::size_t>(C * PH * PW), 0);
  for (std::int64_t c = 0; c < C; ++c)
    for (std::int64_t y = 0; y < H; ++y)
      for (std::int64_t x = 0; x < W; ++x) padded[(c * PH + y + P) * PW + x + P] = src[(c * H + y) * W + x];
  std::vector<float> out(static_cast<std::size_t>(C * H * W));
  for (std::int64_t c = 0; c < C; ++c)
    for (std::int64_t y = 0; y < H; ++y)
      for (std::int64_t x = 0; x < W; ++x) {
        std::int64_t cx = d.flip ? W - 1 - x : x;  // column of the cropped window
        int p = padded[(c * PH + y + d.crop_y) * PW + cx + d.crop_x];
        out[(c * H + y) * W + x] = static_cast<float>((p / 255.0 - mean[c]) / std[c]);
      }
  if (d.cutout) {
    std::int64_t s = aug.cutout_size;
    for (std::int64_t c = 0; c < C; ++c)
      for (std::int64_t y = 0; y < H; ++y)
        for (std::int64_t x = 0; x < W; ++x) {
          bool inside = y >= d.cutout_y - s / 2 && y < d.cutout_y - s / 2 + s && x >= d.cutout_x - s / 2 &&
                        x < d.cutout_x - s / 2 + s;
          if (inside) out[(c * H + y) * W + x] = 0;
        }
  }
  return out;
}

}  // namespace

TEST_CASE("transforms: draws are pure functions of (seed, epoch, index) and cover their ranges") {
  Augment aug{.crop = true, .crop_padding = 4, .flip = true, .cutout = true, .cutout_size = 8};
  std::set<std::int64_t> ys, xs, cys, cxs;
  int flips = 0, same_next_epoch = 0;
  const int n = 4000;
  for (int i = 0; i < n; ++i) {
    AugmentDraw d = draw_augment(aug, 32, 30, 7, 3, i);
    AugmentDraw again = draw_augment(aug, 32, 30, 7, 3, i);
    CHECK(d.crop_y == again.crop_y);
    CHECK(d.crop_x == again.crop_x);
    CHECK(d.flip == again.flip);
    CHECK(d.cutout_x == again.cutout_x);
    ys.insert(d.crop_y);
    xs.insert(d.crop_x);
    cys.insert(d.cutout_y);
    cxs.insert(d.cutout_x);
    flips += d.flip;
    CHECK(d.cutout);
    AugmentDraw other = draw_augment(aug, 32, 30, 7, 4, i);
    same_next_epoch += other.crop_y == d.crop_y && other.crop_x == d.crop_x && other.flip == d.flip;
  }
  CHECK(ys.size() == 9);  // every offset in [0, 8]
  CHECK(*ys.begin() == 0);
  CHECK(*ys.rbegin() == 8);
  CHECK(xs.size() == 9);
  CHECK(cys.size() == 32);  // every row as a cutout centre
  CHECK(cxs.size() == 30);
  CHECK(*cxs.rbegin() == 29);
  CHECK(flips > n * 0.45);
  CHECK(flips < n * 0.55);
  CHECK(same_next_epoch < n / 50);  // 1/162 expected by chance
  AugmentDraw none = draw_augment(Augment{}, 32, 32, 7, 3, 5);
  CHECK(none.crop_y == 0);
  CHECK(!none.flip);
  CHECK(!none.cutout);
  AugmentDraw flip_only = draw_augment(Augment{.flip = true}, 32, 32, 7, 3, 5);
  CHECK(flip_only.crop_x == 0);
}

TEST_CASE("transforms: crop, flip, cutout and normalisation match reference indexing") {
  std::mt19937 rng(5);
  struct Case { std::int64_t c, h, w; Augment aug; };
  std::vector<Case> cases = {
      {3, 32, 32, {.crop = true, .crop_padding = 4, .flip = true}},
      {1, 28, 28, {.crop = true, .crop_padding = 2, .flip = false}},
      {2, 5, 7, {.crop = true, .crop_padding = 6, .flip = true, .cutout = true, .cutout_size = 3}},
      {3, 9, 6, {.flip = true, .cutout = true, .cutout_size = 4}},
      {3, 8, 8, {}},
  };
  for (const Case& k : cases) {
    CAPTURE(k.h);
    CAPTURE(k.w);
    std::vector<std::uint8_t> src(static_cast<std::size_t>(k.c * k.h * k.w));
    for (auto& v : src) v = static_cast<std::uint8_t>(rng() & 0xFF);
    std::vector<double> mean, std;
    std::vector<float> meanf, inv_std;
    for (std::int64_t c = 0; c < k.c; ++c) {
      mean.push_back(0.2 + 0.1 * c);
      std.push_back(0.15 + 0.05 * c);
      meanf.push_back(static_cast<float>(mean.back()));
      inv_std.push_back(static_cast<float>(1.0 / std.back()));
    }
    for (int index = 0; index < 60; ++index) {
      AugmentDraw d = draw_augment(k.aug, k.h, k.w, 11, 2, index);
      std::vector<float> out(src.size());
      transform_sample(src.data(), k.c, k.h, k.w, k.aug, d, meanf.data(), inv_std.data(), out.data());
      std::vector<float> ref = reference_transform(src, k.c, k.h, k.w, k.aug, d, mean, std);
      double worst = 0;
      for (std::size_t e = 0; e < out.size(); ++e) worst = std::max(worst, std::abs(double(out[e]) - ref[e]));
      CHECK(worst < 1e-5);
    }
  }
}

TEST_CASE("transforms: a hand-checked crop and flip") {
  // 1 channel 2x3 image 1..6, padding 1, offsets (0, 2): rows y-1, columns x+1.
  std::vector<std::uint8_t> src = {1, 2, 3, 4, 5, 6};
  Augment aug{.crop = true, .crop_padding = 1};
  float mean = 0, inv_std = 255;  // out = pixel value
  std::vector<float> out(6);
  transform_sample(src.data(), 1, 2, 3, aug, {.crop_y = 0, .crop_x = 2}, &mean, &inv_std, out.data());
  CHECK(out == std::vector<float>{0, 0, 0, 2, 3, 0});
  transform_sample(src.data(), 1, 2, 3, aug, {.crop_y = 1, .crop_x = 1, .flip = true}, &mean, &inv_std,
                   out.data());
  CHECK(out == std::vector<float>{3, 2, 1, 6, 5, 4});
  transform_sample(src.data(), 1, 2, 3, aug, {.crop_y = 2, .crop_x = 0, .flip = true}, &mean, &inv_std,
                   out.data());
  CHECK(out == std::vector<float>{5, 4, 0, 0, 0, 0});
}

TEST_CASE("transforms: channel statistics match a direct computation - bad options rejected") {
  std::mt19937 rng(9);
  for (auto [n, c, h, w] : {std::tuple{7, 3, 4, 5}, std::tuple{20, 1, 6, 6}, std::tuple{3, 2, 1, 9}}) {
    Dataset ds = coded_dataset(n, c, h, w, 2);
    auto* img = ds.images.data<std::uint8_t>();
    for (std::int64_t k = 0; k < ds.images.numel(); ++k) img[k] = static_cast<std::uint8_t>(rng() % 256);
    Normalization stats = channel_stats(ds);
    REQUIRE(stats.mean.size() == static_cast<std::size_t>(c));
    for (int ch = 0; ch < c; ++ch) {
      double sum = 0, sq = 0, count = n * h * w;
      for (int i = 0; i < n; ++i)
        for (int p = 0; p < h * w; ++p) sum += img[(i * c + ch) * h * w + p] / 255.0;
      double mean = sum / count;
      for (int i = 0; i < n; ++i)
        for (int p = 0; p < h * w; ++p) sq += std::pow(img[(i * c + ch) * h * w + p] / 255.0 - mean, 2);
      CHECK(stats.mean[ch] == doctest::Approx(mean).epsilon(1e-12));
      CHECK(stats.std[ch] == doctest::Approx(std::sqrt(sq / count)).epsilon(1e-9));
    }
  }
  CHECK_THROWS_AS(check_augment({.crop = true, .crop_padding = -1}, 8, 8), ValueError);
  CHECK_THROWS_AS(check_augment({.cutout = true, .cutout_size = 0}, 8, 8), ValueError);
  CHECK_NOTHROW(check_augment({.crop = true, .crop_padding = 40}, 8, 8));
}
