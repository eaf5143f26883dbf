// Tensor: a dense, row-major float array with a shape. Image batches are NHWC
// ([N, H, W, C]); dense activations are [N, F]; conv weights are OIHW ([K, C, kh, kw]);
// dense weights are [out, in].
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

}  // namespace imgcls
