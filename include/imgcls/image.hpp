// Pictures from files: decoding PNG, JPEG, BMP and PGM/PPM (with stb_image; JPEG with
// libjpeg-turbo) into float images, colour kept (Image) or turned grey (GreyImage), and
// writing grey images back out as PNG.
//
//   imgcls::Image photo = imgcls::read_picture("cat.jpg");      // RGB, 0 = black
//   imgcls::GreyImage digit = imgcls::read_image("digit.jpg");  // 1 = white paper
//
// Every read is bounded: the file size, then the width and height from the header, are
// checked before any pixel is decoded, so a file claiming a huge canvas costs nothing.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace imgcls {

// One channel, row-major, values in [0, 1]. What the values mean depends on the stage:
// decoded pictures have 0 = black and 1 = white; model inputs (MNIST form) have
// 0 = background and 1 = full ink.
struct GreyImage {
  std::int64_t height = 0;
  std::int64_t width = 0;
  std::vector<float> pixels;  // [height, width]

  GreyImage() = default;
  // A rows x columns image filled with `value`.
  GreyImage(std::int64_t rows, std::int64_t columns, float value = 0.0f);

  float& at(std::int64_t y, std::int64_t x) {
    return pixels[static_cast<std::size_t>(y * width + x)];
  }
  float at(std::int64_t y, std::int64_t x) const {
    return pixels[static_cast<std::size_t>(y * width + x)];
  }
  std::int64_t size() const { return height * width; }
};

// A picture of 1 (grey) or 3 (red, green, blue) channels, row-major with the channels of a
// pixel side by side ([height, width, channels]), values in [0, 1], 0 = black.
struct Image {
  std::int64_t height = 0;
  std::int64_t width = 0;
  std::int64_t channels = 1;
  std::vector<float> pixels;  // [height, width, channels]

  Image() = default;
  // A rows x columns image of `channels` (1 or 3) filled with `value`.
  Image(std::int64_t rows, std::int64_t columns, std::int64_t channels, float value = 0.0f);
  std::int64_t size() const { return height * width * channels; }
};

// The grey picture as a one-channel Image, and back (GreyImage requires one channel).
Image to_image(const GreyImage& grey);
GreyImage to_grey_image(const Image& image);
// The same picture with `channels` (1 or 3): colour to grey by Rec. 601 luma
// (0.299 R + 0.587 G + 0.114 B), grey to colour by repeating it.
Image with_channels(const Image& image, std::int64_t channels);
// True when some pixel of a 3-channel image is not grey (its channels differ by more than
// half a level of 8 bits).
bool has_colour(const Image& image);

// Bounds checked before decoding; anything beyond them is rejected as bad input.
struct ImageLimits {
  std::int64_t max_side = 8192;             // width and height, each
  std::int64_t max_pixels = 40'000'000;     // width * height
  std::int64_t max_file_bytes = 256 << 20;  // 256 MiB
};

// Decodes one picture into grey values (0 = black, 1 = white).
//   Formats (by content, not by name): PNG (grey, grey+alpha, RGB, RGBA, palette, with or
//   without tRNS transparency; 8 or 16 bits per sample), JPEG (grey or colour, baseline or
//   progressive; not CMYK), BMP (uncompressed), binary PGM (P5) and PPM (P6) with 8 or 16
//   bits. Anything else is refused by its signature, before a decoder sees it: ASCII
//   PGM/PPM (P2/P3), and the GIF, TGA, PSD, HDR and PIC files stb_image would also try.
//   Colour becomes grey by Rec. 601 luma (0.299 R + 0.587 G + 0.114 B); transparency is
//   composited over white, so a transparent background reads as white paper; 16-bit
//   samples keep their precision.
// Throws InputError naming `path` (or `source`) when the file cannot be read, is empty, is
// not one of those formats, is truncated or corrupt, or exceeds `limits`.
GreyImage read_image(const std::string& path, const ImageLimits& limits = {});
GreyImage decode_image(std::span<const std::uint8_t> bytes, const std::string& source,
                       const ImageLimits& limits = {});
// The same formats and checks, colour kept: 3 channels (RGB) for colour pictures (RGB, RGBA,
// palette), 1 for grey ones; transparency composited over white. read_image is
// with_channels(read_picture(...), 1).
Image read_picture(const std::string& path, const ImageLimits& limits = {});
Image decode_picture(std::span<const std::uint8_t> bytes, const std::string& source,
                     const ImageLimits& limits = {});

// A picture's size read from its header alone, with decoding's checks on what is read (a
// cheap first look at many files).
struct PictureSize {
  std::int64_t height = 0;
  std::int64_t width = 0;
};
PictureSize probe_picture(const std::string& path, const ImageLimits& limits = {});

// True when the name ends in .png, .jpg, .jpeg, .bmp, .pgm, .ppm or .pnm (any case): the
// files a folder scan picks up. Files named explicitly are decoded whatever their name.
bool has_image_extension(const std::string& path);

// An 8-bit PNG of `image` (grey or RGB; values clamped to [0, 1], 1 -> 255), as bytes.
std::string encode_png(const Image& image);
std::string encode_png(const GreyImage& image);
// The same, written atomically to `path`; throws InputError naming `path` on failure.
void write_png(const std::string& path, const Image& image);
void write_png(const std::string& path, const GreyImage& image);

}  // namespace imgcls
