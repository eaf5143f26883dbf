// Datasets: images as a float tensor [N, H, W, C] scaled to [0, 1] plus integer labels.
// Readers validate every header field against the file before trusting it, and throw
// InputError naming the file and the problem.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "imgcls/tensor.hpp"

namespace imgcls {

struct Dataset {
  Tensor images;                      // [N, H, W, C], values in [0, 1]
  std::vector<std::int32_t> labels;   // [N]
  std::int64_t size() const { return static_cast<std::int64_t>(labels.size()); }
};

// IDX files (the MNIST format), plain or gzip-compressed (detected by content).
// Images: magic 0x00000803, [N, rows, cols] unsigned bytes -> [N, rows, cols, 1] / 255.
Tensor read_idx_images(const std::string& path);
// Labels: magic 0x00000801, [N] unsigned bytes.
std::vector<std::int32_t> read_idx_labels(const std::string& path);
// Both, checking that the counts match.
Dataset read_idx_dataset(const std::string& images_path, const std::string& labels_path);

struct MnistSplits {
  Dataset train;  // 60,000 images for the genuine MNIST
  Dataset test;   // 10,000
};
// dir holds train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
// t10k-labels-idx1-ubyte, each either plain or with a .gz suffix.
MnistSplits load_mnist(const std::string& dir);
// Only the test split (t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, plain or .gz).
Dataset load_mnist_test(const std::string& dir);

}  // namespace imgcls
