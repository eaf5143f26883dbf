// Internal steps of image decoding (include/imgcls/image.hpp), exposed for the tests.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "imgcls/image.hpp"

namespace imgcls {

// Interleaved decoded samples [height, width, channels] -> a picture: 1 channel for grey
// (+ alpha), 3 for RGB(A); each value sample / 255, composited over white.
Image samples_to_picture(std::span<const std::uint8_t> samples, std::int64_t height,
                         std::int64_t width, int channels);
// Interleaved decoded samples [height, width, channels] -> grey (0 = black, 1 = white).
// channels: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA. Colour -> Rec. 601 luma; alpha
// composited over white: grey = alpha * value + (1 - alpha).
// Requires samples.size() == height * width * channels and 1 <= channels <= 4.
GreyImage samples_to_grey(std::span<const std::uint8_t> samples, std::int64_t height,
                          std::int64_t width, int channels);
GreyImage samples_to_grey(std::span<const std::uint16_t> samples, std::int64_t height,
                          std::int64_t width, int channels);

// What in a PNG's chunk structure stb_image 2.27 would turn into a huge allocation: a
// chunk longer than the rest of the file, or image data inflating to more than twice (plus
// 64 KiB) what the IHDR size needs. Nothing when the structure is sound; other damage (a
// broken stream, a missing chunk) is left for stb_image to report. Call it once the IHDR
// size is known to be within the limits: it inflates the image data once to count it.
std::optional<std::string> png_structure_problem(std::span<const std::uint8_t> bytes);

// True when bytes start like a JPEG (0xff 0xd8 0xff).
bool is_jpeg(std::span<const std::uint8_t> bytes);
// decode_picture for JPEG files (libjpeg-turbo): grey or colour (YCbCr, RGB) JPEGs, baseline or
// progressive, at most 500 scans; the size is checked against `limits` before any pixel
// is decoded. CMYK JPEGs, and files with corrupt or missing data (libjpeg's warnings),
// are refused with an InputError naming `source`.
Image decode_jpeg(std::span<const std::uint8_t> bytes, const std::string& source,
                  const ImageLimits& limits);
// A JPEG's size from its header (libjpeg reads no scan); the same errors as decode_jpeg.
PictureSize probe_jpeg(std::span<const std::uint8_t> bytes, const std::string& source,
                       const ImageLimits& limits);

}  // namespace imgcls
