// Heat-map arithmetic (see maps.hpp).
#include "explain/maps.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/check.hpp"

namespace imgcls::maps {

namespace {

// One output index along an axis: the two source indices it blends and the weight of the
// second.
struct Blend {
  std::int64_t first = 0, second = 0;
  float weight = 0.0f;
};

std::vector<Blend> axis_blends(std::int64_t in, std::int64_t out) {
  const double scale = double(in) / double(out);
  std::vector<Blend> blends(static_cast<std::size_t>(out));
  for (std::int64_t o = 0; o < out; ++o) {
    const double at = std::clamp((double(o) + 0.5) * scale - 0.5, 0.0, double(in - 1));
    const auto first = static_cast<std::int64_t>(std::floor(at));
    blends[static_cast<std::size_t>(o)] = {first, std::min(first + 1, in - 1),
                                           static_cast<float>(at - double(first))};
  }
  return blends;
}

}  // namespace

Tensor resize_bilinear(const Tensor& map, std::int64_t height, std::int64_t width) {
  IMGCLS_CHECK(map.rank() == 2 && map.size() > 0 && height >= 1 && width >= 1, "map {} to {}x{}",
               to_string(map.shape()), height, width);
  const std::int64_t in_w = map.dim(1);
  const std::vector<Blend> rows = axis_blends(map.dim(0), height);
  const std::vector<Blend> columns = axis_blends(in_w, width);
  Tensor out({height, width});
  for (std::int64_t y = 0; y < height; ++y) {
    const Blend& r = rows[static_cast<std::size_t>(y)];
    for (std::int64_t x = 0; x < width; ++x) {
      const Blend& c = columns[static_cast<std::size_t>(x)];
      const float top = (1.0f - c.weight) * map[r.first * in_w + c.first] +
                        c.weight * map[r.first * in_w + c.second];
      const float bottom = (1.0f - c.weight) * map[r.second * in_w + c.first] +
                           c.weight * map[r.second * in_w + c.second];
      out[y * width + x] = (1.0f - r.weight) * top + r.weight * bottom;
    }
  }
  return out;
}

}  // namespace imgcls::maps
