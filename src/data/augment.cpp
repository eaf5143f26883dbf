// Affine jitter by inverse mapping: for each output pixel, find where it comes from in the
// source and interpolate bilinearly.
#include "data/augment.hpp"

#include <cmath>
#include <numbers>

namespace imgcls {

void augment_image(const float* src, float* dst, std::int64_t height, std::int64_t width,
                   std::int64_t channels, const AugmentOptions& options, Rng& rng) {
  const float angle = rng.uniform(-options.max_rotation_degrees, options.max_rotation_degrees) *
                      std::numbers::pi_v<float> / 180.0f;
  const float scale = 1.0f + rng.uniform(-options.max_scale_change, options.max_scale_change);
  const float shift_x = rng.uniform(-options.max_shift, options.max_shift);
  const float shift_y = rng.uniform(-options.max_shift, options.max_shift);
  const float cx = static_cast<float>(width - 1) / 2.0f, cy = static_cast<float>(height - 1) / 2.0f;
  const float cos_a = std::cos(angle) / scale, sin_a = std::sin(angle) / scale;
  const auto at = [&](std::int64_t y, std::int64_t x, std::int64_t c) {
    if (y < 0 || y >= height || x < 0 || x >= width) return 0.0f;
    return src[(y * width + x) * channels + c];
  };
  for (std::int64_t y = 0; y < height; ++y)
    for (std::int64_t x = 0; x < width; ++x) {
      // Output (x, y) = centre + shift + R(angle) * scale * (source - centre), inverted.
      const float dx = static_cast<float>(x) - cx - shift_x,
                  dy = static_cast<float>(y) - cy - shift_y;
      const float sx = cos_a * dx + sin_a * dy + cx;
      const float sy = -sin_a * dx + cos_a * dy + cy;
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

}  // namespace imgcls
