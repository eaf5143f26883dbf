// Test support: a small colour model with named classes, and seeded colour pictures, for the
// tests of the ways a model meets pictures (serve, the C API). The model is untrained (seeded
// Glorot weights): the tests compare answers with the C++ library's, they do not judge them.
// Its input is not square (kColourHeight x kColourWidth x 3), so that a height/width mix-up
// shows.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "imgcls/image.hpp"
#include "imgcls/io.hpp"
#include "imgcls/layers.hpp"
#include "imgcls/model.hpp"
#include "imgcls/rng.hpp"

namespace imgcls::testing_support {

inline constexpr std::int64_t kColourHeight = 20;
inline constexpr std::int64_t kColourWidth = 24;
inline const std::vector<std::string> kColourClasses = {"apple", "blue sky", "cherry", "dandelion"};

// Conv2D 8 3x3 relu, MaxPool 2, Flatten, Dense 4 over [20, 24, 3]; class names
// kColourClasses, preprocessing `preprocessing`; weights from `seed`.
inline Sequential colour_model(Preprocessing preprocessing = Preprocessing::stretch,
                               std::uint64_t seed = 3) {
  Sequential model({kColourHeight, kColourWidth, 3});
  model.add(layers::Conv2D({.filters = 8, .kernel_size = 3, .activation = Activation::relu}));
  model.add(layers::MaxPool2D({.pool_size = 2}));
  model.add(layers::Flatten());
  model.add(layers::Dense({.units = std::int64_t(kColourClasses.size())}));
  model.initialize(seed);
  model.set_class_names(kColourClasses);
  model.set_preprocessing(preprocessing);
  return model;
}

// The model written to `path` (a model file, as `imgcls train` writes one).
inline void write_colour_model(const std::string& path,
                               Preprocessing preprocessing = Preprocessing::stretch) {
  Sequential model = colour_model(preprocessing);
  save_model(model, path);
}

// A height x width picture of `channels` (1 or 3), values in [0, 1] on the 8-bit grid
// (k / 255), so that it survives a PNG round trip exactly: a gradient per channel (each
// channel's runs another way) plus seeded noise.
inline Image seeded_picture(std::int64_t height, std::int64_t width, std::int64_t channels,
                            std::uint64_t seed) {
  constexpr float kLevels = 255.0f;
  Image picture(height, width, channels);
  Rng rng(seed);
  for (std::int64_t y = 0; y < height; ++y)
    for (std::int64_t x = 0; x < width; ++x)
      for (std::int64_t c = 0; c < channels; ++c) {
        // in [0, 1]: a mix of y / height and x / width, weighted by channel
        const float gradient = (float(c + 1) * float(y) / float(height) +
                                float(channels - c) * float(x) / float(width)) /
                               float(channels + 1);
        const float value = 0.7f * gradient + rng.uniform(0.0f, 0.3f);
        picture.pixels[std::size_t((y * width + x) * channels + c)] =
            std::round(value * kLevels) / kLevels;
      }
  return picture;
}

}  // namespace imgcls::testing_support
