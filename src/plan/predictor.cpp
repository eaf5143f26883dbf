// Predictor (imgcls/predictor.hpp): inference plans for the batch size and for the last,
// smaller chunk, made on first use.
#include "imgcls/predictor.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <type_traits>

#include "core/check.hpp"
#include "imgcls/loss.hpp"
#include "plan/inference_plan.hpp"

namespace imgcls {

struct Predictor::Impl {
  const Sequential& model;
  std::int64_t batch_size;
  std::map<std::int64_t, plan::InferencePlan> plans;
  Tensor chunk;

  plan::InferencePlan& plan_for(std::int64_t batch) {
    auto found = plans.find(batch);
    if (found == plans.end()) found = plans.try_emplace(batch, model, batch).first;
    return found->second;
  }
};

Predictor::Predictor(const Sequential& model, std::int64_t batch_size)
    : impl_(std::make_unique<Impl>(Impl{model, batch_size, {}, {}})) {
  IMGCLS_CHECK(batch_size >= 1, "batch size {}", batch_size);
}

Predictor::~Predictor() = default;
Predictor::Predictor(Predictor&&) noexcept = default;

void Predictor::check_images(const Shape& shape) const {
  const Sequential& model = impl_->model;
  IMGCLS_CHECK(shape.size() == model.input_shape().size() + 1 &&
                   Shape(shape.begin() + 1, shape.end()) == model.input_shape(),
               "images {} do not match the model input {}", to_string(shape),
               to_string(model.input_shape()));
}

template <typename Images>
Tensor Predictor::logits_of(const Images& images) {
  check_images(images.shape());
  const Sequential& model = impl_->model;
  const std::int64_t n = images.dim(0);
  const std::int64_t classes = element_count(model.output_shape());
  const std::int64_t sample = element_count(model.input_shape());
  Tensor logits({n, classes});
  Tensor& chunk = impl_->chunk;
  for (std::int64_t first = 0; first < n; first += impl_->batch_size) {
    const std::int64_t count = std::min(impl_->batch_size, n - first);
    Shape shape = images.shape();
    shape[0] = count;
    chunk.resize(shape);
    if constexpr (std::is_same_v<Images, PixelTensor>)
      images.to_unit(first, count, chunk.data());
    else
      std::memcpy(chunk.data(), images.data() + first * sample,
                  sizeof(float) * static_cast<std::size_t>(count * sample));
    const Tensor& out = impl_->plan_for(count).forward(chunk);
    std::copy(out.data(), out.data() + out.size(), logits.data() + first * classes);
  }
  return logits;
}

Tensor Predictor::logits(const Tensor& images) { return logits_of(images); }
Tensor Predictor::logits(const PixelTensor& images) { return logits_of(images); }

Tensor Predictor::predict(const PixelTensor& images) {
  Tensor probabilities;
  softmax(logits(images), probabilities);
  return probabilities;
}

Tensor Predictor::predict(const Tensor& images) {
  Tensor probabilities;
  softmax(logits(images), probabilities);
  return probabilities;
}

PredictorPool::PredictorPool(const Sequential& model, std::int64_t batch_size)
    : model_(model), batch_size_(batch_size) {}

std::unique_ptr<Predictor> PredictorPool::borrow() {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (!free_.empty()) {
      std::unique_ptr<Predictor> predictor = std::move(free_.back());
      free_.pop_back();
      return predictor;
    }
    ++made_;
  }
  return std::make_unique<Predictor>(model_, batch_size_);
}

void PredictorPool::give_back(std::unique_ptr<Predictor> predictor) {
  const std::lock_guard<std::mutex> lock(mutex_);
  free_.push_back(std::move(predictor));
}

Tensor PredictorPool::predict(const Tensor& images) {
  std::unique_ptr<Predictor> predictor = borrow();
  Tensor probabilities = predictor->predict(images);  // a throw drops this predictor
  give_back(std::move(predictor));
  return probabilities;
}

std::size_t PredictorPool::size() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return made_;
}

}  // namespace imgcls
