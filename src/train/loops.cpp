// fit / evaluate / predict. A training step: gather a batch by shuffled index, forward,
// fused softmax cross-entropy, backward, optimizer step. Buffers are reused across steps.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <numeric>

#include "core/check.hpp"
#include "imgcls/loss.hpp"
#include "imgcls/train.hpp"

namespace imgcls {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Copies samples order[first, first + count) of `images` into batch [count, ...].
void gather(const Tensor& images, std::span<const std::int64_t> order, Tensor& batch) {
  const std::int64_t sample = images.size() / images.dim(0);
  Shape shape = images.shape();
  shape[0] = static_cast<std::int64_t>(order.size());
  batch.resize(shape);
  for (std::size_t i = 0; i < order.size(); ++i)
    std::memcpy(batch.data() + static_cast<std::int64_t>(i) * sample,
                images.data() + order[i] * sample, sizeof(float) * static_cast<std::size_t>(sample));
}

std::int32_t argmax_row(const float* row, std::int64_t classes) {
  return static_cast<std::int32_t>(std::max_element(row, row + classes) - row);
}

void check_dataset(const Sequential& model, const Dataset& data) {
  IMGCLS_CHECK(data.size() > 0, "empty dataset");
  IMGCLS_CHECK(data.images.dim(0) == data.size(), "{} images, {} labels", data.images.dim(0),
               data.size());
  const Shape sample(data.images.shape().begin() + 1, data.images.shape().end());
  if (sample != model.input_shape())
    throw InputError("dataset", "images are " + to_string(sample) + " but the model takes " +
                                    to_string(model.input_shape()));
  const std::int64_t classes = element_count(model.output_shape());
  for (std::int32_t label : data.labels)
    if (label < 0 || label >= classes)
      throw InputError("dataset", "label " + std::to_string(label) + " is outside the model's " +
                                      std::to_string(classes) + " classes");
}

}  // namespace

History fit(Sequential& model, Optimizer& optimizer, const Dataset& data,
            const FitOptions& options) {
  IMGCLS_CHECK(options.epochs >= 0 && options.batch_size >= 1, "epochs {} batch size {}",
               options.epochs, options.batch_size);
  check_dataset(model, data);
  const std::int64_t n = data.size();
  const std::int64_t steps = (n + options.batch_size - 1) / options.batch_size;
  const std::int64_t classes = element_count(model.output_shape());
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  Rng rng(options.seed);
  const std::vector<Param> params = model.params();
  Tensor batch, diff_logits;
  std::vector<std::int32_t> labels;
  History history;
  const auto fit_start = Clock::now();

  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    const auto epoch_start = Clock::now();
    for (std::int64_t i = n - 1; i > 0; --i)  // Fisher-Yates
      std::swap(order[static_cast<std::size_t>(i)],
                order[rng.uniform_index(static_cast<std::uint64_t>(i + 1))]);
    double loss_sum = 0.0;
    std::int64_t correct = 0;
    for (std::int64_t step = 0; step < steps; ++step) {
      const std::int64_t first = step * options.batch_size;
      const std::int64_t count = std::min(options.batch_size, n - first);
      const std::span<const std::int64_t> indices(order.data() + first, static_cast<std::size_t>(count));
      gather(data.images, indices, batch);
      labels.resize(static_cast<std::size_t>(count));
      for (std::int64_t i = 0; i < count; ++i)
        labels[static_cast<std::size_t>(i)] = data.labels[static_cast<std::size_t>(indices[static_cast<std::size_t>(i)])];

      const Tensor& logits = model.forward(batch, Mode::train);
      for (std::int64_t i = 0; i < count; ++i)
        correct += argmax_row(logits.data() + i * classes, classes) == labels[static_cast<std::size_t>(i)];
      loss_sum += softmax_cross_entropy(logits, labels, &diff_logits) * static_cast<double>(count);
      model.backward(diff_logits);
      optimizer.step(params);

      const bool last = step + 1 == steps;
      if (options.on_progress && ((step + 1) % options.progress_every == 0 || last))
        options.on_progress(epoch, step + 1, steps, loss_sum / static_cast<double>(first + count));
    }
    EpochStats stats{epoch, loss_sum / static_cast<double>(n),
                     static_cast<double>(correct) / static_cast<double>(n), seconds_since(epoch_start)};
    history.epochs.push_back(stats);
    if (options.on_epoch_end) options.on_epoch_end(stats);
  }
  history.train_seconds = seconds_since(fit_start);
  return history;
}

Evaluation evaluate(Sequential& model, const Dataset& data, std::int64_t batch_size) {
  check_dataset(model, data);
  Evaluation result;
  result.count = data.size();
  result.probabilities = predict(model, data.images, batch_size);
  const std::int64_t classes = result.probabilities.dim(1);
  double loss_sum = 0.0;
  std::int64_t correct = 0;
  constexpr double kMinProbability = 1e-30;
  for (std::int64_t i = 0; i < result.count; ++i) {
    const float* row = result.probabilities.data() + i * classes;
    const std::int32_t label = data.labels[static_cast<std::size_t>(i)];
    const std::int32_t predicted = argmax_row(row, classes);
    result.predicted.push_back(predicted);
    correct += predicted == label;
    loss_sum -= std::log(std::max(double(row[label]), kMinProbability));
  }
  result.loss = loss_sum / static_cast<double>(result.count);
  result.accuracy = static_cast<double>(correct) / static_cast<double>(result.count);
  return result;
}

Tensor predict(Sequential& model, const Tensor& images, std::int64_t batch_size) {
  IMGCLS_CHECK(batch_size >= 1, "batch size {}", batch_size);
  const std::int64_t n = images.dim(0);
  const std::int64_t classes = element_count(model.output_shape());
  Tensor probabilities({n, classes});
  Tensor batch, batch_probabilities;
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  for (std::int64_t first = 0; first < n; first += batch_size) {
    const std::int64_t count = std::min(batch_size, n - first);
    gather(images, std::span<const std::int64_t>(order.data() + first, static_cast<std::size_t>(count)), batch);
    softmax(model.forward(batch, Mode::infer), batch_probabilities);
    std::copy(batch_probabilities.data(), batch_probabilities.data() + batch_probabilities.size(),
              probabilities.data() + first * classes);
  }
  return probabilities;
}

}  // namespace imgcls
