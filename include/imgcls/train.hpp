// Training and evaluation loops: fit, evaluate, predict.
//
//   imgcls::Adam adam;
//   imgcls::History h = imgcls::fit(model, adam, train, {.epochs = 5, .batch_size = 32});
//   imgcls::Evaluation e = imgcls::evaluate(model, test);
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "imgcls/data.hpp"
#include "imgcls/distributed.hpp"
#include "imgcls/model.hpp"
#include "imgcls/optim.hpp"
#include "imgcls/predictor.hpp"
#include "imgcls/runtime.hpp"

namespace imgcls {

struct EpochStats {
  int epoch = 0;                 // 1-based
  double loss = 0.0;             // mean training loss over the epoch
  double accuracy = 0.0;         // training accuracy over the epoch
  double seconds = 0.0;          // wall time of the epoch
  double learning_rate = 0.0;    // at the epoch's last step
  std::optional<double> validation_loss, validation_accuracy;  // when a validation set is given
};

struct History {
  std::vector<EpochStats> epochs;
  double train_seconds = 0.0;    // wall time of this fit call (not of earlier, resumed runs)
  bool stopped_early = false;    // early stopping ended the run
  bool interrupted = false;      // stop_requested ended the run before the last epoch
};

// Everything a checkpoint holds besides the weights and the optimizer: where training is,
// the running sums of the epoch in progress, finished epochs, and early-stopping state.
// Shuffles, augmentation and dropout are drawn from (seed, epoch, step), so resuming at
// (epoch, step) replays exactly what an uninterrupted run would have done.
struct TrainingState {
  int epoch = 1;                  // the epoch in progress (1-based)
  std::int64_t step = 0;          // steps of that epoch already done
  double epoch_loss_sum = 0.0;    // sum over the epoch's images so far
  std::int64_t epoch_correct = 0;
  std::int64_t epoch_seen = 0;
  std::vector<EpochStats> finished;  // epochs completed, in order
  double best_val_loss = 0.0;     // early stopping: the best validation loss so far
  int epochs_since_best = 0;
  std::vector<Tensor> best_weights;  // params_and_buffers() at the best validation loss (empty: none yet)
};

struct FitOptions {
  int epochs = 5;
  std::int64_t batch_size = 32;
  std::uint64_t seed = 1;                       // shuffles, augmentation, dropout
  Precision precision = Precision::fp32;        // the arithmetic of training steps (see Precision)
  std::optional<ScheduleOptions> schedule;      // none: the optimizer's rate stays as set
  const Dataset* validation = nullptr;          // evaluated after each epoch
  int early_stop_patience = 0;                  // >0: stop after that many epochs without a lower
                                                // validation loss, and restore the best weights
  std::optional<AugmentOptions> augment;
  std::int64_t checkpoint_every = 0;            // >0: also call on_checkpoint every N steps
  // Called at every epoch end and every checkpoint_every steps, and when a stop request
  // ends the run; the state is complete there (weights and optimizer are consistent with it).
  std::function<void(const TrainingState&)> on_checkpoint;
  // Checked after each step: when set, finish that step, call on_checkpoint, and return.
  // Distributed: checked before each gradient exchange, which tells every rank.
  const std::atomic<bool>* stop_requested = nullptr;
  // Called every `progress_every` steps and at the end of each epoch with the running means.
  std::function<void(int epoch, std::int64_t step, std::int64_t steps, double loss, double accuracy)> on_progress;
  std::int64_t progress_every = 50;
  std::function<void(const EpochStats&)> on_epoch_end;
  // Called after every step with the step's mean loss over its (global) batch.
  std::function<void(int epoch, std::int64_t step, double loss)> on_step;
  // Data-parallel training (see distributed.hpp); null: this process alone. Every rank
  // calls fit with the same arguments; each computes its shard of every batch, and the
  // weights start from rank 0's and stay identical. BatchNorm uses per-shard batch
  // statistics; the moving statistics are rank 0's, copied to every rank at each epoch
  // end. Dropout masks are drawn per rank. Validation runs on every rank, on the full set.
  Communicator* communicator = nullptr;
};

// Trains `model` with mini-batches drawn without replacement from a fresh permutation of
// `data` each epoch (the last batch is smaller when N is not a multiple). To resume, pass
// the state a checkpoint restored (with weights and optimizer restored too); otherwise
// pass nullptr. Throws InputError when the loss becomes NaN or Inf (naming the step);
// the weights are then not to be saved.
History fit(Sequential& model, Optimizer& optimizer, const Dataset& data,
            const FitOptions& options, TrainingState* resume = nullptr);

struct Evaluation {
  double loss = 0.0;
  double accuracy = 0.0;
  std::int64_t count = 0;
  Tensor probabilities;                 // [N, classes]
  std::vector<std::int32_t> predicted;  // [N]
};

// In batches of batch_size (see kInferenceBatch); the model is only read.
Evaluation evaluate(const Sequential& model, const Dataset& data, std::int64_t batch_size = kInferenceBatch);

// images [N, ...input_shape] -> probabilities [N, classes] (Predictor::predict).
Tensor predict(const Sequential& model, const Tensor& images, std::int64_t batch_size = kInferenceBatch);

// Splits off a seeded random `fraction` of `data` as a validation set: {train, validation}.
std::pair<Dataset, Dataset> split_validation(const Dataset& data, double fraction, std::uint64_t seed);

}  // namespace imgcls
