// Predictor (imgcls/predictor.hpp): inference plans for the batch size and for the last,
// smaller chunk, made on first use; test-time augmentation runs each chunk once per shifted
// view through the same plans.
#include "imgcls/predictor.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <type_traits>

#include "core/check.hpp"
#include "imgcls/error.hpp"
#include "imgcls/loss.hpp"
#include "plan/inference_plan.hpp"

namespace imgcls {

namespace {

// images [N, H, W, C] (src) -> the same moved by `shift` (dst), 0 where the source is outside.
void shift_into(const float* src, float* dst, std::int64_t count, std::int64_t height,
                std::int64_t width, std::int64_t channels, PixelShift shift) {
  const std::int64_t row = width * channels;
  // The columns x whose source x - right lies inside: [x_first, x_end).
  const std::int64_t x_first = std::clamp<std::int64_t>(shift.right, 0, width);
  const std::int64_t x_end = std::clamp<std::int64_t>(width + shift.right, 0, width);
  for (std::int64_t n = 0; n < count; ++n)
    for (std::int64_t y = 0; y < height; ++y) {
      float* dst_row = dst + (n * height + y) * row;
      const std::int64_t source_y = y - shift.down;
      if (source_y < 0 || source_y >= height || x_first >= x_end) {
        std::fill(dst_row, dst_row + row, 0.0f);
        continue;
      }
      const float* src_row = src + (n * height + source_y) * row;
      std::fill(dst_row, dst_row + x_first * channels, 0.0f);
      std::copy(src_row + (x_first - shift.right) * channels,
                src_row + (x_end - shift.right) * channels, dst_row + x_first * channels);
      std::fill(dst_row + x_end * channels, dst_row + row, 0.0f);
    }
}

}  // namespace

Answer answer(const Sequential& model, std::span<const float> probabilities) {
  const std::int64_t outputs = element_count(model.output_shape());
  IMGCLS_CHECK(std::ssize(probabilities) == outputs, "{} probabilities for {} outputs",
               probabilities.size(), outputs);
  const std::int64_t rejection = model.rejection_class();
  const std::int64_t classes = rejection >= 0 ? rejection : outputs;
  const auto best = std::max_element(probabilities.begin(), probabilities.begin() + classes);
  const std::int64_t label = best - probabilities.begin();
  Answer result{.label = label, .output = label, .confidence = *best};
  if (rejection < 0) return result;
  result.rejection_score = probabilities[static_cast<std::size_t>(rejection)];
  if (result.rejection_score >= model.rejection()->threshold) {
    result.rejected = true;
    result.label = -1;
    result.output = rejection;
    result.confidence = result.rejection_score;
  }
  return result;
}

std::optional<Answer> no_digit_answer(const Sequential& model) {
  if (!model.rejection()) return std::nullopt;
  return Answer{.label = -1,
                .output = model.rejection_class(),
                .confidence = 1.0f,
                .rejected = true,
                .rejection_score = 1.0f};
}

Tensor shift_images(const Tensor& images, PixelShift shift) {
  IMGCLS_CHECK(images.rank() == 4, "images {} are not [N, H, W, C]", to_string(images.shape()));
  Tensor shifted(images.shape());
  shift_into(images.data(), shifted.data(), images.dim(0), images.dim(1), images.dim(2),
             images.dim(3), shift);
  return shifted;
}

struct Predictor::Impl {
  const Sequential& model;
  std::int64_t batch_size;
  std::map<std::int64_t, plan::InferencePlan> plans;
  Tensor chunk;

  Tensor view;                // one shifted view of the chunk (test-time augmentation)
  Tensor view_probabilities;  // its softmax probabilities [count, classes]

  plan::InferencePlan& plan_for(std::int64_t batch) {
    auto found = plans.find(batch);
    if (found == plans.end()) found = plans.try_emplace(batch, model, batch).first;
    return found->second;
  }
};

Predictor::Predictor(const Sequential& model, std::int64_t batch_size)
    : impl_(std::make_unique<Impl>(Impl{model, batch_size, {}, {}, {}, {}})) {
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

template <typename Images, typename OnChunk>
void Predictor::for_each_chunk(const Images& images, OnChunk on_chunk) {
  check_images(images.shape());
  const std::int64_t n = images.dim(0);
  const std::int64_t sample = element_count(impl_->model.input_shape());
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
    on_chunk(first, chunk);
  }
}

template <typename Images>
Tensor Predictor::logits_of(const Images& images) {
  const std::int64_t classes = element_count(impl_->model.output_shape());
  Tensor logits({images.dim(0), classes});
  for_each_chunk(images, [&](std::int64_t first, const Tensor& chunk) {
    const Tensor& out = impl_->plan_for(chunk.dim(0)).forward(chunk);
    std::copy(out.data(), out.data() + out.size(), logits.data() + first * classes);
  });
  return logits;
}

template <typename Images>
Tensor Predictor::averaged_over_views(const Images& images, const TtaOptions& tta) {
  IMGCLS_CHECK(!tta.shifts.empty(), "test-time augmentation without views");
  const Shape& input = impl_->model.input_shape();
  if (input.size() != 3)
    throw InputError("test-time augmentation",
                     fmt::format("the model's input {} is not a picture [height, width, "
                                 "channels], so it cannot be shifted",
                                 to_string(input)));
  const std::int64_t classes = element_count(impl_->model.output_shape());
  Tensor sum({images.dim(0), classes});  // zeros: the sum over views so far
  for_each_chunk(images, [&](std::int64_t first, const Tensor& chunk) {
    const std::int64_t count = chunk.dim(0);
    float* sum_rows = sum.data() + first * classes;
    for (const PixelShift& shift : tta.shifts) {
      impl_->view.resize(chunk.shape());
      shift_into(chunk.data(), impl_->view.data(), count, input[0], input[1], input[2], shift);
      softmax(impl_->plan_for(count).forward(impl_->view), impl_->view_probabilities);
      const float* p = impl_->view_probabilities.data();
      for (std::int64_t i = 0; i < count * classes; ++i) sum_rows[i] += p[i];
    }
  });
  const auto views = static_cast<float>(tta.shifts.size());
  for (std::int64_t i = 0; i < sum.size(); ++i) sum.data()[i] /= views;
  return sum;
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

Tensor Predictor::predict(const Tensor& images, const TtaOptions& tta) {
  return averaged_over_views(images, tta);
}

Tensor Predictor::predict(const PixelTensor& images, const TtaOptions& tta) {
  return averaged_over_views(images, tta);
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
