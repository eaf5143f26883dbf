// Tensor storage and shape arithmetic.
#include "imgcls/tensor.hpp"

#include <algorithm>
#include <cmath>

#include "core/check.hpp"

namespace imgcls {

std::int64_t element_count(const Shape& shape) {
  std::int64_t count = 1;
  for (std::int64_t d : shape) {
    IMGCLS_CHECK(d >= 0, "negative dimension in {}", to_string(shape));
    count *= d;
  }
  return count;
}

std::string to_string(const Shape& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

Tensor::Tensor(Shape shape) : shape_(std::move(shape)), data_(element_count(shape_), 0.0f) {}

Tensor::Tensor(Shape shape, std::vector<float> values)
    : shape_(std::move(shape)), data_(std::move(values)) {
  IMGCLS_CHECK(element_count(shape_) == size(), "shape {} needs {} values, got {}",
               to_string(shape_), element_count(shape_), size());
}

void Tensor::resize(const Shape& shape) {
  shape_ = shape;
  data_.resize(static_cast<std::size_t>(element_count(shape_)), 0.0f);
}

void Tensor::reshape(const Shape& shape) {
  IMGCLS_CHECK(element_count(shape) == size(), "cannot reshape {} to {}", to_string(shape_),
               to_string(shape));
  shape_ = shape;
}

void Tensor::fill(float value) { std::fill(data_.begin(), data_.end(), value); }

PixelTensor::PixelTensor(Shape shape) : shape_(std::move(shape)), data_(element_count(shape_), 0) {}

PixelTensor::PixelTensor(Shape shape, std::vector<std::uint8_t> values)
    : shape_(std::move(shape)), data_(std::move(values)) {
  IMGCLS_CHECK(element_count(shape_) == size(), "shape {} needs {} values, got {}",
               to_string(shape_), element_count(shape_), size());
}

std::uint8_t PixelTensor::level(float value) {
  constexpr float kLevels = 255.0f;
  return static_cast<std::uint8_t>(std::lround(kLevels * std::clamp(value, 0.0f, 1.0f)));
}

PixelTensor PixelTensor::from_unit(const Tensor& values) {
  PixelTensor pixels(values.shape());
  for (std::int64_t i = 0; i < values.size(); ++i)
    pixels.data_[static_cast<std::size_t>(i)] = level(values[i]);
  return pixels;
}

std::int64_t PixelTensor::item_size() const {
  IMGCLS_CHECK(!shape_.empty() && shape_[0] > 0, "no items in {}", to_string(shape_));
  return size() / shape_[0];
}

void PixelTensor::to_unit(std::int64_t first, std::int64_t count, float* out) const {
  const std::int64_t item = item_size();
  IMGCLS_CHECK(first >= 0 && count >= 0 && first + count <= shape_[0], "items [{}, {}) of {}",
               first, first + count, shape_[0]);
  const std::uint8_t* in = data_.data() + first * item;
  for (std::int64_t i = 0; i < count * item; ++i) out[i] = unit(in[i]);
}

Tensor PixelTensor::to_unit() const {
  Tensor values(shape_);
  if (!data_.empty()) to_unit(0, shape_[0], values.data());
  return values;
}

}  // namespace imgcls
