// Tensor: a dense, row-major float array with a shape. Image batches are NHWC
// ([N, H, W, C]); dense activations are [N, F]; conv weights are OIHW ([K, C, kh, kw]);
// dense weights are [out, in]. PixelTensor: 8-bit pixels with a shape, how datasets hold
// their images (a quarter of the memory), turned into floats a batch at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace imgcls {

using Shape = std::vector<std::int64_t>;

// Number of elements of a shape (1 for an empty shape).
std::int64_t element_count(const Shape& shape);
// "[32, 28, 28, 1]"
std::string to_string(const Shape& shape);

class Tensor {
 public:
  Tensor() = default;
  // A zero-filled tensor of the given shape.
  explicit Tensor(Shape shape);
  Tensor(Shape shape, std::vector<float> values);

  const Shape& shape() const { return shape_; }
  std::int64_t dim(std::size_t axis) const { return shape_.at(axis); }
  std::int64_t rank() const { return static_cast<std::int64_t>(shape_.size()); }
  std::int64_t size() const { return static_cast<std::int64_t>(data_.size()); }

  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }
  float& operator[](std::int64_t i) { return data_[static_cast<std::size_t>(i)]; }
  float operator[](std::int64_t i) const { return data_[static_cast<std::size_t>(i)]; }
  const std::vector<float>& values() const { return data_; }

  // Changes the shape; storage is kept when large enough, so reshaping a buffer to the
  // same size every step does not allocate. New elements are zero; old values are kept.
  void resize(const Shape& shape);
  // Same elements, another shape of equal element count.
  void reshape(const Shape& shape);
  void fill(float value);

 private:
  Shape shape_;
  std::vector<float> data_;
};

// Images as 8-bit pixels, row-major, usually [N, H, W, C]: the byte v stands for the value
// v / 255 in [0, 1] that a model takes (IDX files, pictures and CIFAR files all store bytes).
class PixelTensor {
 public:
  PixelTensor() = default;
  // A zero-filled tensor of the given shape.
  explicit PixelTensor(Shape shape);
  PixelTensor(Shape shape, std::vector<std::uint8_t> values);
  // Values in [0, 1] (clamped), each rounded to the nearest level v / 255.
  static PixelTensor from_unit(const Tensor& values);

  const Shape& shape() const { return shape_; }
  std::int64_t dim(std::size_t axis) const { return shape_.at(axis); }
  std::int64_t rank() const { return static_cast<std::int64_t>(shape_.size()); }
  std::int64_t size() const { return static_cast<std::int64_t>(data_.size()); }
  // Values per item of the first axis (one image).
  std::int64_t item_size() const;

  std::uint8_t* data() { return data_.data(); }
  const std::uint8_t* data() const { return data_.data(); }
  const std::vector<std::uint8_t>& values() const { return data_; }

  // The value of byte v: v / 255, computed as v * (1 / 255.0f) everywhere, so that every
  // path from bytes to floats gives the same floats.
  static float unit(std::uint8_t v) { return static_cast<float>(v) * kUnitScale; }
  // The byte of a value in [0, 1] (clamped): the nearest level v / 255, as from_unit rounds.
  static std::uint8_t level(float value);
  // Items [first, first + count) of the first axis as values in [0, 1], into `out`
  // (count * item_size() floats).
  void to_unit(std::int64_t first, std::int64_t count, float* out) const;
  // Everything as values in [0, 1], a Tensor of the same shape.
  Tensor to_unit() const;

 private:
  static constexpr float kUnitScale = 1.0f / 255.0f;
  Shape shape_;
  std::vector<std::uint8_t> data_;
};

}  // namespace imgcls
