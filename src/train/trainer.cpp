// The Trainer: a training run as epochs of steps. A step gathers a batch by shuffled index
// (augmenting each image when asked), runs forward, the fused softmax cross-entropy and
// backward through the training plan, sums the gradients over the ranks, and steps the
// optimizer. Buffers are reused across steps. Every random draw comes from (seed, epoch,
// step), so a run resumed from a checkpoint replays exactly what the uninterrupted run does.
#include "imgcls/trainer.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "core/check.hpp"
#include "core/parallel.hpp"
#include "dist/gradient_reducer.hpp"
#include "imgcls/loss.hpp"
#include "plan/training_plan.hpp"
#include "train/batches.hpp"

namespace imgcls {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The library's hint for a loss or gradient that is no longer finite.
constexpr const char* kNotFiniteHint =
    "check the data for NaN or Inf values, or lower the learning rate";

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
      throw InputError("training",
                       fmt::format("the gradient of {} holds NaN or Inf at epoch {}, step {}",
                                   p.name, epoch, step),
                       kNotFiniteHint);
  }
}

// Predictions of logits [count, classes] that match `labels`.
std::int64_t count_correct(const Tensor& logits, std::int64_t count,
                           const std::vector<std::int32_t>& labels) {
  const std::int64_t classes = logits.dim(1);
  std::int64_t correct = 0;
  for (std::int64_t i = 0; i < count; ++i)
    correct +=
        argmax_row(logits.data() + i * classes, classes) == labels[static_cast<std::size_t>(i)];
  return correct;
}

// An optimizer that has taken steps (a resumed run's) holds its buffers in turns over the
// parameters it stepped; they must be the ones this run trains.
void check_optimizer_state(Optimizer& optimizer, const std::vector<Param>& params) {
  const auto& buffers = optimizer.state_buffers();
  if (buffers.empty()) return;
  IMGCLS_CHECK(!params.empty() && buffers.size() % params.size() == 0,
               "the optimizer holds {} state buffers, not a multiple of the {} parameters trained: "
               "resume with the frozen layers of the run that saved it",
               buffers.size(), params.size());
  for (std::size_t i = 0; i < buffers.size(); ++i)
    IMGCLS_CHECK(
        static_cast<std::int64_t>(buffers[i].size()) == params[i % params.size()].value->size(),
        "the optimizer's state buffer {} holds {} values, {} holds {}: resume with the "
        "frozen layers of the run that saved it",
        i, buffers[i].size(), params[i % params.size()].name,
        params[i % params.size()].value->size());
}

}  // namespace

std::vector<Param> trainable_params(Sequential& model, std::size_t frozen_layers) {
  IMGCLS_CHECK(frozen_layers <= model.layer_count(), "{} frozen layers of {}", frozen_layers,
               model.layer_count());
  std::vector<Param> params;
  for (std::size_t i = frozen_layers; i < model.layer_count(); ++i)
    for (const Param& p : model.layer(i).params()) params.push_back(p);
  return params;
}

// What the steps reuse, and what the current step has gathered and computed.
struct Trainer::Workspace {
  Workspace(Sequential& model, const FitOptions& options, std::int64_t images)
      : plan(model, options.precision, options.frozen_layers),
        communicator(options.communicator ? *options.communicator : local),
        params(trainable_params(model, options.frozen_layers)),
        reducer(communicator, params),
        order(static_cast<std::size_t>(images)) {}

  bool distributed() const { return communicator.size() > 1; }

  plan::TrainingPlan plan;
  LocalCommunicator local;
  Communicator& communicator;  // the options' or `local`
  std::vector<Param> params;   // those trained: after the frozen layers
  GradientReducer reducer;
  std::vector<std::int64_t> order;  // the epoch's permutation of the training set
  // The current step.
  std::int64_t batch_count = 0;  // images in the (global) batch
  Shard shard;                   // this rank's part of it
  Tensor batch;                  // [shard.count, ...input] images
  Tensor
      global_batch;  // distributed with augmentation: the whole batch, drawn as one process would
  std::vector<std::int32_t> labels;  // [shard.count]
  Tensor diff_logits;
  StepTotals totals;  // the step's loss, correct count and stop request, summed over the ranks
};

Trainer::Trainer(Sequential& model, Optimizer& optimizer, const Dataset& data, FitOptions options,
                 TrainingState state)
    : model_(model),
      optimizer_(optimizer),
      data_(data),
      options_(std::move(options)),
      state_(std::move(state)) {
  IMGCLS_CHECK(options_.epochs >= 0 && options_.batch_size >= 1, "epochs {} batch size {}",
               options_.epochs, options_.batch_size);
  IMGCLS_CHECK(
      options_.frozen_layers == 0 || !trainable_params(model_, options_.frozen_layers).empty(),
      "{} frozen layers of {} leave no parameter to train", options_.frozen_layers,
      model_.layer_count());
  check_dataset(model_, data_, "training data");
  if (options_.validation) check_dataset(model_, *options_.validation, "validation data");
  steps_ = (data_.size() + options_.batch_size - 1) / options_.batch_size;
  workspace_ = std::make_unique<Workspace>(model_, options_, data_.size());
  check_optimizer_state(optimizer_, workspace_->params);
  callbacks_.push_back(&history_);
  if (options_.early_stop_patience > 0) {
    early_stopping_ = std::make_unique<EarlyStopping>(
        EarlyStoppingOptions{.patience = options_.early_stop_patience});
    callbacks_.push_back(early_stopping_.get());
  }
  for (Callback* callback : options_.callbacks) add(*callback);
}

Trainer::~Trainer() = default;

void Trainer::add(Callback& callback) {
  IMGCLS_CHECK(!ran_, "callbacks are added before run()");
  callbacks_.push_back(&callback);
}

History Trainer::run() {
  IMGCLS_CHECK(!ran_, "a Trainer runs once");
  ran_ = true;
  begin_training();
  while (!epochs_done() && !stopping()) run_epoch();
  for (Callback* callback : callbacks_) callback->on_train_end(*this);
  return history_.history();
}

bool Trainer::interrupted() const { return stop_requested_ && !stopped_early_ && !epochs_done(); }

double Trainer::train_seconds() const { return seconds_since(started_); }

void Trainer::begin_training() {
  started_ = Clock::now();
  Workspace& w = *workspace_;
  if (w.distributed())
    broadcast_values(w.communicator, model_.params_and_buffers());  // rank 0's weights
  for (Callback* callback : callbacks_) callback->on_train_begin(*this);
}

// The epoch's remaining steps, then its end (unless a stop came first).
void Trainer::run_epoch() {
  begin_epoch();
  while (state_.step < steps_ && !stopping()) run_step();
  if (state_.step == steps_) finish_epoch();
}

void Trainer::begin_epoch() {
  epoch_started_ = Clock::now();
  shuffle_for_epoch(workspace_->order, options_.seed, state_.epoch);
  for (Callback* callback : callbacks_) callback->on_epoch_begin(*this, state_.epoch);
}

void Trainer::run_step() {
  gather_batch();
  apply_schedule();
  compute_gradients();
  count_step();
  check_gradients_finite(workspace_->params, state_.epoch, state_.step + 1);
  optimizer_.step(workspace_->params);
  ++state_.step;
  const StepStats stats{.epoch = state_.epoch,
                        .step = state_.step,
                        .steps = steps_,
                        .loss = workspace_->totals.loss,
                        .epoch_loss = state_.epoch_loss_sum / double(state_.epoch_seen),
                        .epoch_accuracy = double(state_.epoch_correct) / double(state_.epoch_seen),
                        .learning_rate = optimizer_.learning_rate()};
  for (Callback* callback : callbacks_) callback->on_train_batch_end(*this, stats);
  if (outside_stop_requested()) request_stop();
}

std::uint64_t Trainer::step_seed(std::uint64_t stream) const {
  const auto epoch = static_cast<std::uint64_t>(state_.epoch);
  const auto step = static_cast<std::uint64_t>(state_.step);
  return derive_seed(options_.seed, stream, (epoch << 32) | step);
}

// The step's images and labels: its slice of the epoch's permutation, this rank's shard of it.
void Trainer::gather_batch() {
  Workspace& w = *workspace_;
  const std::int64_t first = state_.step * options_.batch_size;
  w.batch_count = std::min(options_.batch_size, data_.size() - first);
  w.shard = shard_of(w.batch_count, w.communicator.rank(), w.communicator.size());
  const std::span<const std::int64_t> batch(w.order.data() + first,
                                            static_cast<std::size_t>(w.batch_count));
  const std::span<const std::int64_t> shard = batch.subspan(
      static_cast<std::size_t>(w.shard.offset), static_cast<std::size_t>(w.shard.count));
  if (!options_.augment) {
    gather(data_.images, shard, w.batch);
  } else {
    // Augmentation draws from one stream per batch, image after image: each rank draws the
    // whole batch so its shard gets the images a single process would.
    Rng rng(step_seed(kAugment));
    if (!w.distributed()) {
      gather_augmented(data_.images, shard, *options_.augment, rng, w.batch);
    } else {
      gather_augmented(data_.images, batch, *options_.augment, rng, w.global_batch);
      const std::int64_t sample = w.global_batch.size() / w.batch_count;
      Shape shape = w.global_batch.shape();
      shape[0] = w.shard.count;
      w.batch.resize(shape);
      std::copy(w.global_batch.data() + w.shard.offset * sample,
                w.global_batch.data() + (w.shard.offset + w.shard.count) * sample, w.batch.data());
    }
  }
  w.labels.resize(shard.size());
  for (std::size_t i = 0; i < shard.size(); ++i)
    w.labels[i] = data_.labels[static_cast<std::size_t>(shard[i])];
}

void Trainer::apply_schedule() {
  if (!options_.schedule) return;
  const std::int64_t total_steps = steps_ * std::max(options_.epochs, 1);
  const std::int64_t index = (state_.epoch - 1) * steps_ + state_.step;  // of this step in the run
  optimizer_.set_learning_rate(
      scheduled_learning_rate(*options_.schedule, index, total_steps, steps_));
}

// Forward, loss and backward on this rank's shard; then every rank's gradients, loss and
// correct count summed, weighted by shard size, into the global batch's (workspace totals).
void Trainer::compute_gradients() {
  Workspace& w = *workspace_;
  double shard_loss = 0.0;
  std::int64_t shard_correct = 0;
  if (w.shard.count > 0) {
    std::uint64_t noise_seed = step_seed(kNoise);
    if (w.distributed())
      noise_seed = derive_seed(noise_seed, static_cast<std::uint64_t>(w.communicator.rank()));
    const Tensor& logits = w.plan.forward(w.batch, noise_seed);
    shard_correct = count_correct(logits, w.shard.count, w.labels);
    shard_loss = softmax_cross_entropy(logits, w.labels, &w.diff_logits);
    w.plan.backward(w.diff_logits);
  } else {
    for (const Param& p : w.params) p.grad->fill(0.0f);  // a batch smaller than the ranks
  }
  const bool stop_here = options_.stop_requested && options_.stop_requested->load();
  w.totals = w.reducer.reduce(shard_loss, shard_correct, w.shard.count, w.batch_count, stop_here);
}

// The step's loss and correct count into the epoch's running sums.
void Trainer::count_step() {
  const Workspace& w = *workspace_;
  const double loss = w.totals.loss;
  if (!std::isfinite(loss))
    throw InputError(
        "training",
        fmt::format("the loss became {} at epoch {}, step {}", loss, state_.epoch, state_.step + 1),
        kNotFiniteHint);
  state_.epoch_loss_sum += loss * static_cast<double>(w.batch_count);
  state_.epoch_correct += w.totals.correct;
  state_.epoch_seen += w.batch_count;
}

// The epoch's statistics and validation; the state moves to the next epoch's first step.
void Trainer::finish_epoch() {
  EpochStats stats;
  stats.epoch = state_.epoch;
  stats.loss = state_.epoch_loss_sum / double(state_.epoch_seen);
  stats.accuracy = double(state_.epoch_correct) / double(state_.epoch_seen);
  stats.learning_rate = optimizer_.learning_rate();
  Workspace& w = *workspace_;
  if (w.distributed())
    broadcast_values(w.communicator, model_.buffers());  // BatchNorm: rank 0's moving statistics
  if (options_.validation) validate(stats);
  stats.seconds = seconds_since(epoch_started_);
  state_.finished.push_back(stats);
  advance_to_next_epoch();
  for (Callback* callback : callbacks_) callback->on_epoch_end(*this, stats);
  if (outside_stop_requested()) request_stop();
}

void Trainer::validate(EpochStats& stats) const {
  const Evaluation validation = evaluate(model_, *options_.validation);
  stats.validation_loss = validation.loss;
  stats.validation_accuracy = validation.accuracy;
}

void Trainer::advance_to_next_epoch() {
  ++state_.epoch;
  state_.step = 0;
  state_.epoch_loss_sum = 0.0;
  state_.epoch_correct = state_.epoch_seen = 0;
}

// FitOptions::stop_requested. Distributed, every rank must stop after the same step: the one
// whose gradient exchange first carried a request (at an epoch end: the epoch's last step's).
bool Trainer::outside_stop_requested() const {
  if (workspace_->distributed()) return workspace_->totals.stop_requested;
  return options_.stop_requested && options_.stop_requested->load();
}

}  // namespace imgcls
