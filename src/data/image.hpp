// Internal steps of image decoding (include/imgcls/image.hpp), exposed for the tests.
#pragma once

#include <cstdint>
#include <span>

#include "imgcls/image.hpp"

namespace imgcls {

// Interleaved decoded samples [height, width, channels] -> grey (0 = black, 1 = white).
// channels: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA. Colour -> Rec. 601 luma; alpha
// composited over white: grey = alpha * value + (1 - alpha).
// Requires samples.size() == height * width * channels and 1 <= channels <= 4.
GreyImage samples_to_grey(std::span<const std::uint8_t> samples, std::int64_t height,
                          std::int64_t width, int channels);
GreyImage samples_to_grey(std::span<const std::uint16_t> samples, std::int64_t height,
                          std::int64_t width, int channels);

}  // namespace imgcls
