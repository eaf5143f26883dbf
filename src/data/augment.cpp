// Augmentation: the affine jitter and the elastic field by inverse mapping (for each output
// pixel, find where it comes from in the source and interpolate bilinearly), then a change of
// pen width, integer shifts and a mirror.
#include "data/augment.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

namespace imgcls {

namespace {

// One axis of an elastic displacement field: uniform noise in [-1, 1] per pixel, smoothed by a
// Gaussian of `sigma` (separable, cut at 3 sigma, the image's edge as the end), times `alpha`.
std::vector<float> elastic_field(std::int64_t height, std::int64_t width, float alpha, float sigma,
                                 Rng& rng) {
  const auto size = static_cast<std::size_t>(height * width);
  std::vector<float> noise(size), across(size), field(size);
  for (float& value : noise) value = rng.uniform(-1.0f, 1.0f);
  const auto radius = static_cast<std::int64_t>(std::ceil(3.0f * sigma));
  std::vector<float> kernel(static_cast<std::size_t>(2 * radius + 1));
  float total = 0.0f;
  for (std::int64_t k = -radius; k <= radius; ++k) {
    const auto d = static_cast<float>(k);
    total += kernel[static_cast<std::size_t>(k + radius)] = std::exp(-d * d / (2 * sigma * sigma));
  }
  for (float& weight : kernel) weight /= total;
  const auto blur = [&](const std::vector<float>& in, std::vector<float>& out, bool rows) {
    for (std::int64_t y = 0; y < height; ++y)
      for (std::int64_t x = 0; x < width; ++x) {
        float sum = 0.0f;
        for (std::int64_t k = -radius; k <= radius; ++k) {
          const std::int64_t yy = rows ? y : y + k, xx = rows ? x + k : x;
          if (yy < 0 || yy >= height || xx < 0 || xx >= width) continue;
          sum += kernel[static_cast<std::size_t>(k + radius)] *
                 in[static_cast<std::size_t>(yy * width + xx)];
        }
        out[static_cast<std::size_t>(y * width + x)] = sum;
      }
  };
  blur(noise, across, true);
  blur(across, field, false);
  for (float& value : field) value *= alpha;
  return field;
}

// Thickens (a grey-level dilation: the maximum over a 3x3 cross) or thins (the minimum) the
// strokes of `image` in place.
void change_stroke(float* image, std::int64_t height, std::int64_t width, std::int64_t channels,
                   bool thicken) {
  const std::vector<float> source(image, image + height * width * channels);
  constexpr std::int64_t kCross[5][2] = {{0, 0}, {-1, 0}, {1, 0}, {0, -1}, {0, 1}};
  for (std::int64_t y = 0; y < height; ++y)
    for (std::int64_t x = 0; x < width; ++x)
      for (std::int64_t c = 0; c < channels; ++c) {
        float value = source[static_cast<std::size_t>((y * width + x) * channels + c)];
        for (const auto& [dy, dx] : kCross) {
          const std::int64_t yy = y + dy, xx = x + dx;
          const float neighbour =
              yy < 0 || yy >= height || xx < 0 || xx >= width
                  ? 0.0f
                  : source[static_cast<std::size_t>((yy * width + xx) * channels + c)];
          value = thicken ? std::max(value, neighbour) : std::min(value, neighbour);
        }
        image[(y * width + x) * channels + c] = value;
      }
}

void jitter(const float* src, float* dst, std::int64_t height, std::int64_t width,
            std::int64_t channels, const AugmentOptions& options, Rng& rng) {
  const float angle = rng.uniform(-options.max_rotation_degrees, options.max_rotation_degrees) *
                      std::numbers::pi_v<float> / 180.0f;
  const float scale = 1.0f + rng.uniform(-options.max_scale_change, options.max_scale_change);
  const float shift_x = rng.uniform(-options.max_shift, options.max_shift);
  const float shift_y = rng.uniform(-options.max_shift, options.max_shift);
  const float cx = static_cast<float>(width - 1) / 2.0f, cy = static_cast<float>(height - 1) / 2.0f;
  const float cos_a = std::cos(angle) / scale, sin_a = std::sin(angle) / scale;
  std::vector<float> field_x, field_y;
  if (options.elastic_alpha > 0.0f) {
    field_x = elastic_field(height, width, options.elastic_alpha, options.elastic_sigma, rng);
    field_y = elastic_field(height, width, options.elastic_alpha, options.elastic_sigma, rng);
  }
  const auto at = [&](std::int64_t y, std::int64_t x, std::int64_t c) {
    if (y < 0 || y >= height || x < 0 || x >= width) return 0.0f;
    return src[(y * width + x) * channels + c];
  };
  for (std::int64_t y = 0; y < height; ++y)
    for (std::int64_t x = 0; x < width; ++x) {
      // Output (x, y) = centre + shift + R(angle) * scale * (source - centre), inverted.
      const float dx = static_cast<float>(x) - cx - shift_x,
                  dy = static_cast<float>(y) - cy - shift_y;
      float sx = cos_a * dx + sin_a * dy + cx;
      float sy = -sin_a * dx + cos_a * dy + cy;
      if (!field_x.empty()) {
        sx += field_x[static_cast<std::size_t>(y * width + x)];
        sy += field_y[static_cast<std::size_t>(y * width + x)];
      }
      const auto x0 = static_cast<std::int64_t>(std::floor(sx)),
                 y0 = static_cast<std::int64_t>(std::floor(sy));
      const float fx = sx - static_cast<float>(x0), fy = sy - static_cast<float>(y0);
      for (std::int64_t c = 0; c < channels; ++c) {
        const float top = at(y0, x0, c) * (1 - fx) + at(y0, x0 + 1, c) * fx;
        const float bottom = at(y0 + 1, x0, c) * (1 - fx) + at(y0 + 1, x0 + 1, c) * fx;
        dst[(y * width + x) * channels + c] = top * (1 - fy) + bottom * fy;
      }
    }
}

// A random window of the image padded with `padding` zeros each side: the image shifted by
// (dy, dx) in [-padding, padding], zeros where it leaves the frame.
void random_crop(float* image, std::int64_t height, std::int64_t width, std::int64_t channels,
                 std::int64_t padding, Rng& rng) {
  const auto span = static_cast<std::uint64_t>(2 * padding + 1);
  const std::int64_t dy = static_cast<std::int64_t>(rng.uniform_index(span)) - padding;
  const std::int64_t dx = static_cast<std::int64_t>(rng.uniform_index(span)) - padding;
  const std::vector<float> source(image, image + height * width * channels);
  for (std::int64_t y = 0; y < height; ++y)
    for (std::int64_t x = 0; x < width; ++x) {
      const std::int64_t sy = y + dy, sx = x + dx;
      const bool inside = sy >= 0 && sy < height && sx >= 0 && sx < width;
      for (std::int64_t c = 0; c < channels; ++c)
        image[(y * width + x) * channels + c] =
            inside ? source[static_cast<std::size_t>((sy * width + sx) * channels + c)] : 0.0f;
    }
}

void mirror(float* image, std::int64_t height, std::int64_t width, std::int64_t channels) {
  for (std::int64_t y = 0; y < height; ++y)
    for (std::int64_t x = 0; x < width / 2; ++x)
      std::swap_ranges(image + (y * width + x) * channels, image + (y * width + x + 1) * channels,
                       image + (y * width + width - 1 - x) * channels);
}

}  // namespace

void augment_image(const float* src, float* dst, std::int64_t height, std::int64_t width,
                   std::int64_t channels, const AugmentOptions& options, Rng& rng) {
  const bool moved = options.max_shift > 0.0f || options.max_rotation_degrees > 0.0f ||
                     options.max_scale_change > 0.0f || options.elastic_alpha > 0.0f;
  if (moved)
    jitter(src, dst, height, width, channels, options, rng);
  else
    std::copy(src, src + height * width * channels, dst);
  if (options.stroke_change > 0.0f && rng.uniform(0.0f, 1.0f) < options.stroke_change)
    change_stroke(dst, height, width, channels, rng.uniform(0.0f, 1.0f) < 0.5f);
  if (options.crop_padding > 0)
    random_crop(dst, height, width, channels, options.crop_padding, rng);
  constexpr float kHalf = 0.5f;
  if (options.horizontal_flip && rng.uniform(0.0f, 1.0f) < kHalf)
    mirror(dst, height, width, channels);
}

}  // namespace imgcls
