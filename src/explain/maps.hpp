// Heat-map arithmetic shared by the explanation methods. Internal to src/explain (and its
// tests).
#pragma once

#include <cstdint>

#include "imgcls/tensor.hpp"

namespace imgcls::maps {

// map [h, w] -> [height, width], bilinear with pixel centres aligned: output pixel (i, j)
// samples the map at ((i + 0.5) * h / height - 0.5, (j + 0.5) * w / width - 0.5), clamped to
// the map's edge pixels (PyTorch's interpolate, mode "bilinear", align_corners=False).
// Requires a non-empty map and sizes >= 1.
Tensor resize_bilinear(const Tensor& map, std::int64_t height, std::int64_t width);

}  // namespace imgcls::maps
