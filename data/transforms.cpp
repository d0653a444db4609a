// Sample transforms: random crop with zero padding, horizontal flip, cutout, normalisation.
#include "proxima/data/transforms.h"

#include <algorithm>
#include <cmath>

#include "proxima/data/detail/random.h"

namespace px::data {

Normalization channel_stats(const Dataset& ds) {
  check_dataset(ds, "channel_stats");
  std::int64_t channels = ds.channels(), plane = ds.height() * ds.width(), n = ds.size();
  PX_CHECK(n > 0, ValueError, "channel_stats: the dataset is empty");
  // A histogram of byte values per channel gives exact sums whatever the thread count.
  std::vector<std::int64_t> histogram(static_cast<std::size_t>(channels * 256), 0);
  const std::uint8_t* images = ds.images.data<std::uint8_t>();
#pragma omp parallel
  {
    std::vector<std::int64_t> local(histogram.size(), 0);
#pragma omp for schedule(static)
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t c = 0; c < channels; ++c) {
        const std::uint8_t* p = images + (i * channels + c) * plane;
        std::int64_t* h = local.data() + c * 256;
        for (std::int64_t k = 0; k < plane; ++k) ++h[p[k]];
      }
#pragma omp critical
    for (std::size_t k = 0; k < histogram.size(); ++k) histogram[k] += local[k];
  }
  // A constant channel (say, always 0) is legitimate data, but its std is 0 and cannot divide:
  // it gets std 1, so that normalising maps it to 0. Constant is tested exactly (one byte value
  // used), since the formula below can leave rounding noise (up to ~1e-8) for a constant channel,
  // and dividing by that would turn it into float32 garbage instead of 0.
  Normalization stats;
  double count = static_cast<double>(n * plane);
  for (std::int64_t c = 0; c < channels; ++c) {
    double sum = 0, sum_sq = 0;
    int values = 0;
    for (int v = 0; v < 256; ++v) {
      double value = v / 255.0, times = static_cast<double>(histogram[c * 256 + v]);
      sum += times * value;
      sum_sq += times * value * value;
      values += times > 0;
    }
    double mean = sum / count;
    stats.mean.push_back(mean);
    stats.std.push_back(values == 1 ? 1.0 : std::sqrt(std::max(0.0, sum_sq / count - mean * mean)));
  }
  return stats;
}

void check_augment(const Augment& augment, std::int64_t height, std::int64_t width) {
  PX_CHECK(!augment.crop || augment.crop_padding >= 0, ValueError, "Augment.crop_padding = ",
           augment.crop_padding, ", expected >= 0");
  PX_CHECK(!augment.cutout || augment.cutout_size >= 1, ValueError, "Augment.cutout_size = ",
           augment.cutout_size, ", expected >= 1");
  PX_CHECK(height >= 1 && width >= 1, ValueError, "augmentation needs images of at least 1x1, got ",
           height, "x", width);
}

AugmentDraw draw_augment(const Augment& augment, std::int64_t height, std::int64_t width,
                         std::uint64_t seed, std::int64_t epoch, std::int64_t index) {
  AugmentDraw draw;
  if (!augment.crop && !augment.flip && !augment.cutout) return draw;
  std::uint64_t key = detail::stream_key(seed, detail::Stream::augment, static_cast<std::uint64_t>(epoch));
  philox::U32x4 a = detail::stream_words(key, 2 * static_cast<std::uint64_t>(index));
  philox::U32x4 b = detail::stream_words(key, 2 * static_cast<std::uint64_t>(index) + 1);
  if (augment.crop) {
    auto range = static_cast<std::uint64_t>(2 * augment.crop_padding + 1);
    draw.crop_y = static_cast<std::int64_t>(detail::bounded(a.v[0], range));
    draw.crop_x = static_cast<std::int64_t>(detail::bounded(a.v[1], range));
  }
  draw.flip = augment.flip && (a.v[2] >> 31) != 0;
  if (augment.cutout) {
    draw.cutout = true;
    draw.cutout_y = static_cast<std::int64_t>(detail::bounded(a.v[3], static_cast<std::uint64_t>(height)));
    draw.cutout_x = static_cast<std::int64_t>(detail::bounded(b.v[0], static_cast<std::uint64_t>(width)));
  }
  return draw;
}

namespace {

// One output row of one channel: out[x] = scale * src_row[sx] + shift, sx = x + shift_x or
// W-1-x + shift_x (flipped), and `zero` (the value of a padded 0 pixel) where sx leaves the row.
void transform_row(const std::uint8_t* src_row, std::int64_t width, std::int64_t shift_x, bool flip,
                   float scale, float shift, float zero, float* out) {
  // Valid x: non-flipped [-shift_x, W - shift_x), flipped [shift_x, W + shift_x), within [0, W).
  std::int64_t lo = flip ? shift_x : -shift_x;
  std::int64_t hi = flip ? width + shift_x : width - shift_x;
  lo = std::clamp<std::int64_t>(lo, 0, width);
  hi = std::clamp<std::int64_t>(hi, lo, width);
  for (std::int64_t x = 0; x < lo; ++x) out[x] = zero;
  if (flip) {
    std::int64_t last = width - 1 + shift_x;
    for (std::int64_t x = lo; x < hi; ++x) out[x] = scale * static_cast<float>(src_row[last - x]) + shift;
  } else {
    for (std::int64_t x = lo; x < hi; ++x) out[x] = scale * static_cast<float>(src_row[x + shift_x]) + shift;
  }
  for (std::int64_t x = hi; x < width; ++x) out[x] = zero;
}

}  // namespace

void transform_sample(const std::uint8_t* src, std::int64_t channels, std::int64_t height, std::int64_t width,
                      const Augment& augment, const AugmentDraw& draw, const float* mean,
                      const float* inv_std, float* out) {
  std::int64_t padding = augment.crop ? augment.crop_padding : 0;
  std::int64_t shift_y = draw.crop_y - padding, shift_x = draw.crop_x - padding;
  std::int64_t plane = height * width;
  for (std::int64_t c = 0; c < channels; ++c) {
    float scale = inv_std[c] / 255.0f, shift = -mean[c] * inv_std[c], zero = shift;
    for (std::int64_t y = 0; y < height; ++y) {
      float* row = out + c * plane + y * width;
      std::int64_t sy = y + shift_y;
      if (sy < 0 || sy >= height) {
        std::fill(row, row + width, zero);
        continue;
      }
      transform_row(src + c * plane + sy * width, width, shift_x, draw.flip, scale, shift, zero, row);
    }
  }
  if (!draw.cutout) return;
  std::int64_t half = augment.cutout_size / 2;
  std::int64_t y0 = std::max<std::int64_t>(draw.cutout_y - half, 0);
  std::int64_t y1 = std::min<std::int64_t>(draw.cutout_y - half + augment.cutout_size, height);
  std::int64_t x0 = std::max<std::int64_t>(draw.cutout_x - half, 0);
  std::int64_t x1 = std::min<std::int64_t>(draw.cutout_x - half + augment.cutout_size, width);
  for (std::int64_t c = 0; c < channels; ++c)
    for (std::int64_t y = y0; y < y1; ++y)
      for (std::int64_t x = x0; x < x1; ++x) out[c * plane + y * width + x] = 0.0f;
}

}  // namespace px::data
