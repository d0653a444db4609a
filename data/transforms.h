// Sample transforms: random crop with zero padding, horizontal flip, cutout, normalisation.
#pragma once

#include <cstdint>
#include <vector>

#include "proxima/data/dataset.h"

namespace px::data {

// Data augmentation for training (the usual CIFAR recipe: crop 4 + flip; cutout from DeVries &
// Taylor 2017, "Improved Regularization of Convolutional Neural Networks with Cutout").
struct Augment {
  bool crop = false;                // random crop of the image padded by crop_padding zeros
  std::int64_t crop_padding = 4;
  bool flip = false;                // horizontal flip with probability 1/2
  bool cutout = false;              // zero a cutout_size square (clipped at the borders)
  std::int64_t cutout_size = 16;
};

// Per-channel mean and standard deviation on the [0, 1] scale (pixel / 255).
struct Normalization {
  std::vector<double> mean, std;
};

// Exact per-channel mean and population standard deviation of a dataset's pixels / 255, except
// that a constant channel (std 0) gets std 1: normalised with these values it becomes 0.
Normalization channel_stats(const Dataset& ds);

// The random choices for one sample, a pure function of (seed, epoch, index) through Philox
// (stream "augment", key from seed and epoch, counters 2*index and 2*index+1), so any sample of
// any epoch can be reproduced alone, whatever the thread, batch or resume point.
struct AugmentDraw {
  std::int64_t crop_y = 0, crop_x = 0;      // offsets into the padded image, in [0, 2*padding]
  bool flip = false;
  bool cutout = false;
  std::int64_t cutout_y = 0, cutout_x = 0;  // square centre, uniform over the image
};
AugmentDraw draw_augment(const Augment& augment, std::int64_t height, std::int64_t width,
                         std::uint64_t seed, std::int64_t epoch, std::int64_t index);

// Converts one uint8 [C, H, W] sample into float32 [C, H, W]:
//   out[c, y, x] = (p / 255 - mean[c]) / std[c], where p = src[c, y + crop_y - P, xs + crop_x - P]
//   (0 outside the image, as torchvision pads before normalising), xs = W-1-x when flipped else x,
//   P = crop_padding when cropping (else offsets and P are 0); then, with cutout, out = 0 on
//   rows [cutout_y - s/2, cutout_y - s/2 + s) and the same columns around cutout_x (s = cutout_size).
// mean/inv_std hold C values each (inv_std = 1 / std).
void transform_sample(const std::uint8_t* src, std::int64_t channels, std::int64_t height, std::int64_t width,
                      const Augment& augment, const AugmentDraw& draw, const float* mean,
                      const float* inv_std, float* out);

// Throws ValueError unless the options make sense for images of this size.
void check_augment(const Augment& augment, std::int64_t height, std::int64_t width);

}  // namespace px::data
