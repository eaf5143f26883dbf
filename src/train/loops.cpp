// fit / evaluate / predict. A training step: gather a batch by shuffled index (augmenting
// each image when asked), forward, fused softmax cross-entropy, backward, optimizer step.
// Buffers are reused across steps. Every random draw comes from (seed, epoch, step), so a
// run resumed from a checkpoint replays exactly what the uninterrupted run would do.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fmt/core.h>
#include <numeric>

#include "core/check.hpp"
#include "core/parallel.hpp"
#include "data/augment.hpp"
#include "dist/gradient_reducer.hpp"
#include "imgcls/loss.hpp"
#include "imgcls/train.hpp"
#include "plan/training_plan.hpp"

namespace imgcls {

namespace {

using Clock = std::chrono::steady_clock;

// Streams of derive_seed(seed, stream, index): one per purpose.
enum Stream : std::uint64_t { kShuffle = 1, kAugment = 2, kNoise = 3, kSplit = 4 };

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::int64_t sample_size(const Tensor& images) { return images.size() / images.dim(0); }

// Copies samples `order` of `images` into batch [order.size(), ...].
void gather(const Tensor& images, std::span<const std::int64_t> order, Tensor& batch) {
  const std::int64_t sample = sample_size(images);
  Shape shape = images.shape();
  shape[0] = static_cast<std::int64_t>(order.size());
  batch.resize(shape);
  for (std::size_t i = 0; i < order.size(); ++i)
    std::memcpy(batch.data() + static_cast<std::int64_t>(i) * sample, images.data() + order[i] * sample,
                sizeof(float) * static_cast<std::size_t>(sample));
}

void gather_augmented(const Tensor& images, std::span<const std::int64_t> order,
                      const AugmentOptions& options, Rng& rng, Tensor& batch) {
  const std::int64_t sample = sample_size(images);
  Shape shape = images.shape();
  shape[0] = static_cast<std::int64_t>(order.size());
  batch.resize(shape);
  for (std::size_t i = 0; i < order.size(); ++i)
    augment_image(images.data() + order[i] * sample, batch.data() + static_cast<std::int64_t>(i) * sample,
                  shape[1], shape[2], shape.size() > 3 ? shape[3] : 1, options, rng);
}

std::int32_t argmax_row(const float* row, std::int64_t classes) {
  return static_cast<std::int32_t>(std::max_element(row, row + classes) - row);
}

void check_dataset(const Sequential& model, const Dataset& data, const char* what) {
  if (model.output_shape().size() != 1)
    throw InputError("model", "its output " + to_string(model.output_shape()) +
                                  " per image is not a flat list of class scores [classes]",
                     "end the model with Flatten (or GlobalAvgPool) and a Dense layer with one unit per class");
  if (data.size() == 0) throw InputError(what, "the dataset is empty");
  IMGCLS_CHECK(data.images.dim(0) == data.size(), "{} images, {} labels", data.images.dim(0), data.size());
  const Shape sample(data.images.shape().begin() + 1, data.images.shape().end());
  if (sample != model.input_shape())
    throw InputError(what, "images are " + to_string(sample) + " but the model takes " +
                               to_string(model.input_shape()));
  const std::int64_t classes = element_count(model.output_shape());
  for (std::int32_t label : data.labels)
    if (label < 0 || label >= classes)
      throw InputError(what, fmt::format("label {} is outside the model's {} classes", label, classes));
}

// A fresh permutation of [0, n) for the epoch, from (seed, epoch) alone.
void shuffle_for_epoch(std::vector<std::int64_t>& order, std::uint64_t seed, int epoch) {
  std::iota(order.begin(), order.end(), 0);
  Rng rng(derive_seed(seed, kShuffle, static_cast<std::uint64_t>(epoch)));
  for (std::size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[rng.uniform_index(i + 1)]);
}

// A NaN in the input can vanish from the loss (a fused ReLU maps it to 0) and still reach
// the gradients; stop before it reaches the weights.
// g * 0 is 0 for a finite g, NaN for NaN or Inf; the sum is 0 exactly when all are finite,
// in any order, so the loop may be vectorised.
IMGCLS_VECTOR_CLONES
float sum_of_zero_products(const float* g, std::int64_t count) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (std::int64_t i = 0; i < count; ++i) sum += g[i] * 0.0f;
  return sum;
}

void check_gradients_finite(const std::vector<Param>& params, int epoch, std::int64_t step) {
  for (const Param& p : params) {
    if (sum_of_zero_products(p.grad->data(), p.grad->size()) != 0.0f)
      throw InputError("training", fmt::format("the gradient of {} holds NaN or Inf at epoch {}, step {}", p.name, epoch, step),
                       "check the data for NaN or Inf values, or lower the learning rate (--lr)");
  }
}

std::vector<Tensor> copy_values(const std::vector<Param>& params) {
  std::vector<Tensor> values;
  for (const Param& p : params) values.push_back(*p.value);
  return values;
}

void restore_values(const std::vector<Param>& params, const std::vector<Tensor>& values) {
  IMGCLS_CHECK(values.size() == params.size(), "{} saved tensors for {} params", values.size(), params.size());
  for (std::size_t i = 0; i < params.size(); ++i) *params[i].value = values[i];
}

}  // namespace

History fit(Sequential& model, Optimizer& optimizer, const Dataset& data, const FitOptions& options,
            TrainingState* resume) {
  IMGCLS_CHECK(options.epochs >= 0 && options.batch_size >= 1, "epochs {} batch size {}",
               options.epochs, options.batch_size);
  check_dataset(model, data, "training data");
  if (options.validation) check_dataset(model, *options.validation, "validation data");
  IMGCLS_CHECK(options.early_stop_patience == 0 || options.validation != nullptr,
               "early stopping needs a validation set");
  TrainingState fresh;
  TrainingState& state = resume ? *resume : fresh;

  const std::int64_t n = data.size();
  const std::int64_t steps = (n + options.batch_size - 1) / options.batch_size;
  const std::int64_t total_steps = steps * std::max(options.epochs, 1);
  const std::int64_t classes = element_count(model.output_shape());
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  const std::vector<Param> params = model.params();
  plan::TrainingPlan plan(model, options.precision);
  Tensor batch, diff_logits;
  std::vector<std::int32_t> labels;
  LocalCommunicator local;
  Communicator& communicator = options.communicator ? *options.communicator : local;
  const bool distributed = communicator.size() > 1;
  GradientReducer reducer(communicator, params);
  if (distributed) broadcast_values(communicator, model.params_and_buffers());
  Tensor global_batch;  // distributed with augmentation: the whole batch, drawn as one process would
  bool stop_agreed = false;  // distributed: a stop request of any rank, as of the last step
  History history;
  history.epochs = state.finished;
  const auto fit_start = Clock::now();

  const auto checkpoint = [&] {
    if (options.on_checkpoint) options.on_checkpoint(state);
  };

  for (; state.epoch <= options.epochs; ++state.epoch) {
    const auto epoch_start = Clock::now();
    shuffle_for_epoch(order, options.seed, state.epoch);
    for (; state.step < steps; ++state.step) {
      const std::int64_t first = state.step * options.batch_size;
      const std::int64_t count = std::min(options.batch_size, n - first);
      const Shard shard = shard_of(count, communicator.rank(), communicator.size());
      const std::span<const std::int64_t> indices(order.data() + first + shard.offset,
                                                  static_cast<std::size_t>(shard.count));
      const auto epoch_index = static_cast<std::uint64_t>(state.epoch);
      const auto step_index = static_cast<std::uint64_t>(state.step);
      if (options.augment) {
        // Augmentation draws from one stream per batch, image after image: each rank draws
        // the whole batch so its shard gets the images a single process would.
        Rng rng(derive_seed(options.seed, kAugment, (epoch_index << 32) | step_index));
        if (!distributed) {
          gather_augmented(data.images, indices, *options.augment, rng, batch);
        } else {
          gather_augmented(data.images, std::span<const std::int64_t>(order.data() + first, static_cast<std::size_t>(count)),
                           *options.augment, rng, global_batch);
          const std::int64_t sample = sample_size(data.images);
          Shape shape = global_batch.shape();
          shape[0] = shard.count;
          batch.resize(shape);
          std::copy(global_batch.data() + shard.offset * sample, global_batch.data() + (shard.offset + shard.count) * sample,
                    batch.data());
        }
      } else {
        gather(data.images, indices, batch);
      }
      labels.resize(indices.size());
      for (std::size_t i = 0; i < indices.size(); ++i)
        labels[i] = data.labels[static_cast<std::size_t>(indices[i])];
      if (options.schedule)
        optimizer.set_learning_rate(scheduled_learning_rate(
            *options.schedule, (state.epoch - 1) * steps + state.step, total_steps, steps));

      std::uint64_t noise_seed = derive_seed(options.seed, kNoise, (epoch_index << 32) | step_index);
      if (distributed) noise_seed = derive_seed(noise_seed, static_cast<std::uint64_t>(communicator.rank()));
      double shard_loss = 0.0;
      std::int64_t shard_correct = 0;
      if (shard.count > 0) {
        const Tensor& logits = plan.forward(batch, noise_seed);
        for (std::int64_t i = 0; i < shard.count; ++i)
          shard_correct += argmax_row(logits.data() + i * classes, classes) == labels[static_cast<std::size_t>(i)];
        shard_loss = softmax_cross_entropy(logits, labels, &diff_logits);
        plan.backward(diff_logits);
      } else {
        for (const Param& p : params) p.grad->fill(0.0f);  // a batch smaller than the ranks
      }
      const bool stop_here = options.stop_requested && options.stop_requested->load();
      const StepTotals totals = reducer.reduce(shard_loss, shard_correct, shard.count, count, stop_here);
      const double loss = totals.loss;
      state.epoch_correct += totals.correct;
      if (!std::isfinite(loss))
        throw InputError("training", fmt::format("the loss became {} at epoch {}, step {}", loss,
                                                 state.epoch, state.step + 1),
                         "lower the learning rate (--lr), or check the data for bad values");
      state.epoch_loss_sum += loss * static_cast<double>(count);
      state.epoch_seen += count;
      check_gradients_finite(params, state.epoch, state.step + 1);
      optimizer.step(params);
      if (options.on_step) options.on_step(state.epoch, state.step + 1, loss);

      const std::int64_t done = state.step + 1;
      if (options.on_progress && (done % options.progress_every == 0 || done == steps))
        options.on_progress(state.epoch, done, steps, state.epoch_loss_sum / double(state.epoch_seen),
                            double(state.epoch_correct) / double(state.epoch_seen));
      // Distributed, every rank must stop after the same step: the one whose exchange first
      // carried a request.
      const bool stop = distributed ? totals.stop_requested : options.stop_requested && options.stop_requested->load();
      stop_agreed = stop;
      const bool periodic = options.checkpoint_every > 0 && done % options.checkpoint_every == 0;
      if ((stop || periodic) && done < steps) {
        ++state.step;  // the state names the next step to run
        checkpoint();
        --state.step;
      }
      if (stop && done < steps) {
        history.interrupted = true;
        ++state.step;
        history.train_seconds = seconds_since(fit_start);
        return history;
      }
    }

    EpochStats stats;
    stats.epoch = state.epoch;
    stats.loss = state.epoch_loss_sum / double(state.epoch_seen);
    stats.accuracy = double(state.epoch_correct) / double(state.epoch_seen);
    stats.learning_rate = optimizer.learning_rate();
    bool stop_early = false;
    if (distributed) broadcast_values(communicator, model.buffers());  // BatchNorm: rank 0's moving statistics
    if (options.validation) {
      const Evaluation val = evaluate(model, *options.validation);
      stats.validation_loss = val.loss;
      stats.validation_accuracy = val.accuracy;
      if (options.early_stop_patience > 0) {
        if (state.best_weights.empty() || val.loss < state.best_val_loss) {
          state.best_val_loss = val.loss;
          state.epochs_since_best = 0;
          state.best_weights = copy_values(model.params_and_buffers());
        } else if (++state.epochs_since_best >= options.early_stop_patience) {
          stop_early = true;
        }
      }
    }
    stats.seconds = seconds_since(epoch_start);
    state.finished.push_back(stats);
    history.epochs.push_back(stats);
    state.step = 0;
    state.epoch_loss_sum = 0.0;
    state.epoch_correct = state.epoch_seen = 0;
    if (options.on_epoch_end) options.on_epoch_end(stats);
    const bool stop = distributed ? stop_agreed : options.stop_requested && options.stop_requested->load();
    if (stop_early || stop || state.epoch == options.epochs) {
      ++state.epoch;
      if (options.early_stop_patience > 0 && !state.best_weights.empty() && !stop)
        restore_values(model.params_and_buffers(), state.best_weights);
      history.stopped_early = stop_early;
      history.interrupted = stop && !stop_early && state.epoch <= options.epochs;
      checkpoint();
      break;
    }
    ++state.epoch;
    checkpoint();
    --state.epoch;  // the loop's ++ moves to the next epoch
  }
  history.train_seconds = seconds_since(fit_start);
  return history;
}

Evaluation evaluate(const Sequential& model, const Dataset& data, std::int64_t batch_size) {
  check_dataset(model, data, "evaluation data");
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

Tensor predict(const Sequential& model, const Tensor& images, std::int64_t batch_size) {
  return Predictor(model, batch_size).predict(images);
}

std::pair<Dataset, Dataset> split_validation(const Dataset& data, double fraction, std::uint64_t seed) {
  if (!(fraction > 0.0 && fraction < 1.0))
    throw InputError("--val-split", fmt::format("{} is not a fraction between 0 and 1", fraction));
  const std::int64_t n = data.size();
  const auto n_val = static_cast<std::int64_t>(std::llround(double(n) * fraction));
  if (n_val < 1 || n_val >= n)
    throw InputError("--val-split", fmt::format("{} of {} images leaves an empty split", fraction, n));
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  shuffle_for_epoch(order, derive_seed(seed, kSplit), 0);
  const std::span<const std::int64_t> all(order);
  const auto take = [&](std::span<const std::int64_t> indices) {
    Dataset part;
    gather(data.images, indices, part.images);
    for (std::int64_t i : indices) part.labels.push_back(data.labels[static_cast<std::size_t>(i)]);
    return part;
  };
  return {take(all.subspan(static_cast<std::size_t>(n_val))), take(all.first(static_cast<std::size_t>(n_val)))};
}

}  // namespace imgcls
