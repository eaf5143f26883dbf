// Test support: a small learnable dataset of 28x28x1 images. Class c is a bright 6x6 block
// at a position that depends on c, over seeded noise, so a model can learn it in an epoch.
// Also writes it as MNIST-named IDX files for command-line tests.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "imgcls/data.hpp"
#include "imgcls/rng.hpp"

namespace imgcls::testing_support {

inline Dataset synthetic_digits(std::int64_t count, std::uint64_t seed) {
  constexpr std::int64_t kSide = 28, kBlock = 6;
  Tensor values({count, kSide, kSide, 1});
  Dataset data;
  Rng rng(seed);
  for (std::int64_t n = 0; n < count; ++n) {
    const auto label = static_cast<std::int32_t>(n % 10);
    data.labels.push_back(label);
    float* image = values.data() + n * kSide * kSide;
    for (std::int64_t i = 0; i < kSide * kSide; ++i) image[i] = rng.uniform(0.0f, 0.3f);
    const std::int64_t top = 2 + (label / 5) * 12, left = 1 + (label % 5) * 5;
    for (std::int64_t y = top; y < top + kBlock; ++y)
      for (std::int64_t x = left; x < left + kBlock && x < kSide; ++x) image[y * kSide + x] = 1.0f;
  }
  data.images = PixelTensor::from_unit(values);
  return data;
}

inline void write_idx_pair(const Dataset& data, const std::filesystem::path& images_path,
                           const std::filesystem::path& labels_path) {
  const auto put_u32 = [](std::ofstream& out, std::uint32_t v) {
    const unsigned char bytes[4] = {
        static_cast<unsigned char>(v >> 24), static_cast<unsigned char>(v >> 16),
        static_cast<unsigned char>(v >> 8), static_cast<unsigned char>(v)};
    out.write(reinterpret_cast<const char*>(bytes), 4);
  };
  const auto n = static_cast<std::uint32_t>(data.size());
  std::ofstream images(images_path, std::ios::binary);
  put_u32(images, 0x803);
  put_u32(images, n);
  put_u32(images, 28);
  put_u32(images, 28);
  images.write(reinterpret_cast<const char*>(data.images.data()), data.images.size());
  std::ofstream labels(labels_path, std::ios::binary);
  put_u32(labels, 0x801);
  put_u32(labels, n);
  for (std::int32_t label : data.labels) labels.put(static_cast<char>(label));
}

// Writes train (count images) and test (count / 4) splits under dir with MNIST's file names.
inline void write_synthetic_mnist(const std::filesystem::path& dir, std::int64_t count) {
  std::filesystem::create_directories(dir);
  write_idx_pair(synthetic_digits(count, 11), dir / "train-images-idx3-ubyte",
                 dir / "train-labels-idx1-ubyte");
  write_idx_pair(synthetic_digits(count / 4, 12), dir / "t10k-images-idx3-ubyte",
                 dir / "t10k-labels-idx1-ubyte");
}

}  // namespace imgcls::testing_support
