// Training and evaluation: fit, evaluate, predict.
//
//   imgcls::Adam adam;
//   imgcls::History h = imgcls::fit(model, adam, train, {.epochs = 5, .batch_size = 32});
//   imgcls::Evaluation e = imgcls::evaluate(model, test);
//   imgcls::Evaluation t = imgcls::evaluate(model, test, imgcls::TtaOptions{});  // 5 views
//
// fit runs a Trainer (trainer.hpp), which also takes callbacks: progress, checkpoints,
// early stopping, a CSV log, or your own.
#pragma once

#include <atomic>
#include <cstdint>
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
  int epoch = 0;                                               // 1-based
  double loss = 0.0;                                           // mean training loss over the epoch
  double accuracy = 0.0;                                       // training accuracy over the epoch
  double seconds = 0.0;                                        // wall time of the epoch
  double learning_rate = 0.0;                                  // at the epoch's last step
  std::optional<double> validation_loss, validation_accuracy;  // when a validation set is given
};

struct History {
  std::vector<EpochStats> epochs;
  double train_seconds = 0.0;  // wall time of this fit call (not of earlier, resumed runs)
  bool stopped_early = false;  // early stopping ended the run
  bool interrupted = false;    // a stop request ended the run before its last epoch
};

// Where a run is, and everything a checkpoint holds besides the weights and the optimizer.
// (epoch, step) names the next step to run: step `step` (0-based) of epoch `epoch`; step ==
// the steps per epoch means the epoch's steps are done and its end (validation) is next.
// Then the running sums of the epoch in progress, the finished epochs, and early stopping's
// state. Shuffles, augmentation and dropout are drawn from (seed, epoch, step), so resuming
// at (epoch, step) replays exactly what an uninterrupted run would have done.
struct TrainingState {
  int epoch = 1;                // the epoch in progress (1-based)
  std::int64_t step = 0;        // steps of that epoch already done: the next one's index
  double epoch_loss_sum = 0.0;  // sum over the epoch's images so far
  std::int64_t epoch_correct = 0;
  std::int64_t epoch_seen = 0;
  std::vector<EpochStats> finished;  // epochs completed, in order
  // Early stopping (EarlyStopping, trainer.hpp).
  double best_val_loss = 0.0;  // the best validation loss so far
  int epochs_since_best = 0;
  std::vector<Tensor>
      best_weights;  // params_and_buffers() at the best validation loss (empty: none yet)
};

class Callback;  // trainer.hpp

struct FitOptions {
  int epochs = 5;
  std::int64_t batch_size = 32;
  std::uint64_t seed = 1;                   // shuffles, augmentation, dropout
  Precision precision = Precision::fp32;    // the arithmetic of training steps (see Precision)
  std::optional<ScheduleOptions> schedule;  // none: the optimizer's rate stays as set
  const Dataset* validation = nullptr;      // evaluated after each epoch
  // >0: an EarlyStopping callback (trainer.hpp) with this patience, ahead of `callbacks`:
  // stop after that many epochs without a lower validation loss, and restore the best
  // weights. Needs a validation set.
  int early_stop_patience = 0;
  std::optional<AugmentOptions> augment;
  // Fine-tuning: the first `frozen_layers` layers stay as they are (at most the layer count,
  // leaving at least one layer with parameters after them). They run as in inference:
  // BatchNorm normalises with its moving statistics and does not update them (as Keras does
  // for a frozen BatchNormalization, and PyTorch after .eval()), Dropout passes everything.
  // No gradient is computed for their parameters, backward stops at the first trainable
  // layer, and the optimizer steps only trainable_params(model, frozen_layers), so it keeps
  // no state for the frozen ones. A resumed run must freeze as many layers as the run it
  // continues (checkpoints record it: LoadedCheckpoint::frozen_layers).
  std::size_t frozen_layers = 0;
  // Checked after each step: when set, the run ends after that step (at the epoch's end when
  // it was the epoch's last) as interrupted; see Trainer::request_stop. Distributed: checked
  // before each gradient exchange, which tells every rank. A signal handler may set it.
  const std::atomic<bool>* stop_requested = nullptr;
  // Data-parallel training (see distributed.hpp); null: this process alone. Every rank
  // calls fit with the same arguments; each computes its shard of every batch, and the
  // weights start from rank 0's and stay identical. BatchNorm uses per-shard batch
  // statistics; the moving statistics are rank 0's, copied to every rank at each epoch
  // end. Dropout masks are drawn per rank. Validation runs on every rank, on the full set.
  // Callbacks run on every rank (add those that write files on one rank only).
  Communicator* communicator = nullptr;
  // Called in this order at each event (see Callback); not owned: they must outlive the run.
  std::vector<Callback*> callbacks;
};

// Trains `model` with mini-batches drawn without replacement from a fresh permutation of
// `data` each epoch (the last batch is smaller when N is not a multiple): Trainer(model,
// optimizer, data, options, *resume).run(). To resume, pass the state a checkpoint restored
// (with weights and optimizer restored too); it is updated to where the run ended.
// Otherwise pass nullptr. Throws InputError when the loss or a gradient becomes NaN or Inf
// (naming the step); the weights are then not to be saved.
History fit(Sequential& model, Optimizer& optimizer, const Dataset& data, const FitOptions& options,
            TrainingState* resume = nullptr);

struct Evaluation {
  double loss = 0.0;
  double accuracy = 0.0;
  std::int64_t count = 0;
  Tensor probabilities;  // [N, classes]
  // [N]: the model's answers (answer(), predictor.hpp): the most probable class, or for a
  // model with a rejection rule the rejection output when it rejects the picture.
  std::vector<std::int32_t> predicted;
  std::int64_t rejected = 0;  // pictures the model's rejection rule rejected
};

// In batches of batch_size (see kInferenceBatch); the model is only read.
Evaluation evaluate(const Sequential& model, const Dataset& data,
                    std::int64_t batch_size = kInferenceBatch);

// With test-time augmentation: the probabilities are each image's mean over the views of
// `tta` (Predictor::predict(images, tta)); loss, accuracy and predictions follow from them.
Evaluation evaluate(const Sequential& model, const Dataset& data, const TtaOptions& tta,
                    std::int64_t batch_size = kInferenceBatch);

// images [N, ...input_shape] -> probabilities [N, classes] (Predictor::predict).
Tensor predict(const Sequential& model, const Tensor& images,
               std::int64_t batch_size = kInferenceBatch);
// The same averaged over the views of `tta` (Predictor::predict(images, tta)).
Tensor predict(const Sequential& model, const Tensor& images, const TtaOptions& tta,
               std::int64_t batch_size = kInferenceBatch);

// When the model's first layer is a Normalization (layers::Normalization), sets its mean and
// variance to those of each channel of `data`'s images, over every pixel (Keras's adapt), and
// returns true; otherwise changes nothing and returns false. Call it before training a new
// model; a trained or resumed model keeps its statistics.
bool adapt_normalization(Sequential& model, const Dataset& data);

// The parameters a run with FitOptions::frozen_layers trains and its optimizer steps: those
// of the layers after the first `frozen_layers` (<= the layer count), in layer order.
std::vector<Param> trainable_params(Sequential& model, std::size_t frozen_layers);

// Splits off a seeded random `fraction` of `data` as a validation set: {train, validation}.
// Throws InputError when the fraction is not in (0, 1) or leaves either part empty.
std::pair<Dataset, Dataset> split_validation(const Dataset& data, double fraction,
                                             std::uint64_t seed);

}  // namespace imgcls
