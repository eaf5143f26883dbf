// libFuzzer harness for picture loading as `imgcls predict` does it: decode from memory
// (stb_image behind imgcls's header checks), then MNIST-style preprocessing and a plain
// resize. The limits are smaller than the defaults (1 Mpixel, 2048 a side) so that one
// input costs milliseconds; the default limits are the same code with other numbers, and
// tests/image_test.cpp holds them to absurd headers.
#include <cmath>
#include <cstdint>
#include <span>

#include "fuzz_common.hpp"
#include "imgcls/image.hpp"
#include "imgcls/preprocess.hpp"

namespace {
constexpr imgcls::ImageLimits kLimits{
    .max_side = 2048, .max_pixels = 1 << 20, .max_file_bytes = 1 << 20};
constexpr std::int64_t kModelSide = 28;

void require_grey(const imgcls::GreyImage& image, std::int64_t height, std::int64_t width) {
  using imgcls::fuzz::require;
  require(image.height == height && image.width == width, "the size asked for");
  require(std::ssize(image.pixels) == height * width, "one value per pixel");
  for (float v : image.pixels)
    require(std::isfinite(v) && v >= -1e-5f && v <= 1.0f + 1e-5f, "values in [0, 1]");
}
void require_picture(const imgcls::Image& image, const imgcls::Shape& shape) {
  using imgcls::fuzz::require;
  require(image.height == shape[0] && image.width == shape[1] && image.channels == shape[2],
          "the shape asked for");
  require(std::ssize(image.pixels) == image.size(), "one value per channel and pixel");
  for (float v : image.pixels)
    require(std::isfinite(v) && v >= -1e-5f && v <= 1.0f + 1e-5f, "values in [0, 1]");
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace imgcls;
  fuzz::expect_success_or_input_error([&] {
    const GreyImage picture = decode_image(std::span(data, size), fuzz::kSource, kLimits);
    fuzz::require(picture.height >= 1 && picture.width >= 1 && picture.height <= kLimits.max_side &&
                      picture.width <= kLimits.max_side && picture.size() <= kLimits.max_pixels,
                  "a decoded picture within the limits");
    require_grey(picture, picture.height, picture.width);
    require_grey(resize_image(picture, kModelSide, kModelSide), kModelSide, kModelSide);
    require_grey(preprocess_digit(picture, {}, fuzz::kSource), kModelSide, kModelSide);
  });
  // The colour path: what image folders and colour models read.
  fuzz::expect_success_or_input_error([&] {
    const Image picture = decode_picture(std::span(data, size), fuzz::kSource, kLimits);
    fuzz::require(picture.channels == 1 || picture.channels == 3, "grey or colour");
    require_picture(picture, {picture.height, picture.width, picture.channels});
    for (const Preprocessing rule : {Preprocessing::stretch, Preprocessing::crop})
      for (const std::int64_t channels : {1, 3}) {
        const Shape shape{kModelSide, kModelSide + 4, channels};
        require_picture(picture_to_input(picture, shape, rule, fuzz::kSource), shape);
      }
  });
  return 0;
}
