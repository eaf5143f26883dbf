// Augmentation of one image (AugmentOptions, imgcls/data.hpp): a random affine jitter (shift,
// rotation, scale about the centre) with an elastic distortion, bilinear; then a change of pen
// width, a random crop of the padded image, a horizontal flip; outside the source is 0
// (MNIST's background). Each step draws from `rng` only when it is on, in that order.
#pragma once

#include <cstdint>

#include "imgcls/data.hpp"
#include "imgcls/rng.hpp"

namespace imgcls {

// src, dst: [height, width, channels]; distinct buffers.
void augment_image(const float* src, float* dst, std::int64_t height, std::int64_t width,
                   std::int64_t channels, const AugmentOptions& options, Rng& rng);

}  // namespace imgcls
