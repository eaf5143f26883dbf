// Tensor storage and shape arithmetic.
#include "imgcls/tensor.hpp"

#include <algorithm>

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

}  // namespace imgcls
