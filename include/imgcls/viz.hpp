// Pictures, drawn with cairo.
#pragma once

#include <cstdint>
#include <string>

#include "imgcls/tensor.hpp"

namespace imgcls {

struct SamplePicture {
  const float* image = nullptr;  // [height, width] grey values in [0, 1]
  std::int64_t height = 28, width = 28;
  int predicted = 0;
  int truth = 0;
  float confidence = 0.0f;
};

// A PNG with the digit drawn large (nearest-neighbour pixels) and, above it, the predicted
// label with its confidence and the true label; a wrong prediction is written in red.
void write_sample_png(const std::string& path, const SamplePicture& sample);

}  // namespace imgcls
