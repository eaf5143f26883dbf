// fit (a Trainer's run, src/train/trainer.cpp), evaluate, predict and the validation split.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <span>

#include "imgcls/train.hpp"
#include "imgcls/trainer.hpp"
#include "train/batches.hpp"

namespace imgcls {

History fit(Sequential& model, Optimizer& optimizer, const Dataset& data, const FitOptions& options,
            TrainingState* resume) {
  Trainer trainer(model, optimizer, data, options, resume ? *resume : TrainingState{});
  History history = trainer.run();
  if (resume) *resume = std::move(trainer.state());
  return history;
}

namespace {

// Loss, accuracy and predictions of `probabilities` [N, classes] against data's labels. A
// prediction is the model's answer (answer(): a rejected picture is predicted as the
// rejection output, and is wrong unless labelled so).
Evaluation scored(const Sequential& model, Tensor probabilities, const Dataset& data) {
  Evaluation result;
  result.count = data.size();
  result.probabilities = std::move(probabilities);
  const std::int64_t classes = result.probabilities.dim(1);
  double loss_sum = 0.0;
  std::int64_t correct = 0;
  constexpr double kMinProbability = 1e-30;
  for (std::int64_t i = 0; i < result.count; ++i) {
    const float* row = result.probabilities.data() + i * classes;
    const std::int32_t label = data.labels[static_cast<std::size_t>(i)];
    const Answer given =
        answer(model, std::span<const float>(row, static_cast<std::size_t>(classes)));
    const auto predicted = static_cast<std::int32_t>(given.output);
    result.rejected += given.rejected ? 1 : 0;
    result.predicted.push_back(predicted);
    correct += predicted == label;
    loss_sum -= std::log(std::max(double(row[label]), kMinProbability));
  }
  result.loss = loss_sum / static_cast<double>(result.count);
  result.accuracy = static_cast<double>(correct) / static_cast<double>(result.count);
  return result;
}

}  // namespace

Evaluation evaluate(const Sequential& model, const Dataset& data, std::int64_t batch_size) {
  check_dataset(model, data, "evaluation data");
  return scored(model, Predictor(model, batch_size).predict(data.images), data);
}

Evaluation evaluate(const Sequential& model, const Dataset& data, const TtaOptions& tta,
                    std::int64_t batch_size) {
  check_dataset(model, data, "evaluation data");
  return scored(model, Predictor(model, batch_size).predict(data.images, tta), data);
}

Tensor predict(const Sequential& model, const Tensor& images, std::int64_t batch_size) {
  return Predictor(model, batch_size).predict(images);
}

Tensor predict(const Sequential& model, const Tensor& images, const TtaOptions& tta,
               std::int64_t batch_size) {
  return Predictor(model, batch_size).predict(images, tta);
}

std::pair<Dataset, Dataset> split_validation(const Dataset& data, double fraction,
                                             std::uint64_t seed) {
  if (!(fraction > 0.0 && fraction < 1.0))
    throw InputError("validation split",
                     fmt::format("the fraction {} is not between 0 and 1", fraction));
  const std::int64_t n = data.size();
  const auto n_val = static_cast<std::int64_t>(std::llround(double(n) * fraction));
  if (n_val < 1 || n_val >= n)
    throw InputError(
        "validation split",
        fmt::format("a fraction of {} of {} images leaves an empty split", fraction, n));
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  shuffle_for_epoch(order, derive_seed(seed, kSplit), 0);
  const std::span<const std::int64_t> all(order);
  const auto take = [&](std::span<const std::int64_t> indices) {
    Dataset part;
    part.images = gather_pixels(data.images, indices);
    for (std::int64_t i : indices) part.labels.push_back(data.labels[static_cast<std::size_t>(i)]);
    return part;
  };
  return {take(all.subspan(static_cast<std::size_t>(n_val))),
          take(all.first(static_cast<std::size_t>(n_val)))};
}

}  // namespace imgcls
