// The Trainer: one training run, step by step, with callbacks at its boundaries (as Keras's
// Model.fit and keras.callbacks).
//
//   imgcls::Adam adam;
//   imgcls::CsvLogger csv("run.csv");
//   imgcls::ModelCheckpoint checkpoint("run.checkpoint.safetensors", {.every_steps = 500});  //
//   io.hpp imgcls::Trainer trainer(model, adam, train, {.epochs = 5, .validation = &validation,
//                                                .early_stop_patience = 2, .callbacks = {&csv,
//                                                &checkpoint}});
//   imgcls::History history = trainer.run();
//
// A run is a sequence of steps (gather a batch, forward, loss, backward, optimizer step)
// grouped in epochs; an epoch ends with its statistics and validation. The trainer's
// TrainingState always names the next step to run, so a checkpoint taken at any boundary
// resumes exactly.
//
// Callback order, for a run of E epochs of S steps:
//   on_train_begin
//   for each epoch: on_epoch_begin, on_train_batch_end after each of its steps, on_epoch_end
//   on_train_end
// Each event goes to the callbacks in the order they were added (EarlyStopping from
// FitOptions::early_stop_patience first). A run resumed mid-epoch begins that epoch at its
// next step (on_epoch_begin is still called). A stop ends the run after the step or epoch end
// where it was requested: no further steps or epochs begin, on_train_end is called.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "imgcls/train.hpp"

namespace imgcls {

class Trainer;

// What on_train_batch_end reports about the step just done.
struct StepStats {
  int epoch = 0;            // 1-based
  std::int64_t step = 0;    // 1-based within the epoch
  std::int64_t steps = 0;   // steps per epoch
  double loss = 0.0;        // the step's mean loss over its (global) batch
  double epoch_loss = 0.0;  // mean loss over the epoch's images so far
  double epoch_accuracy = 0.0;
  double learning_rate = 0.0;  // the rate of this step
};

// A callback: override the hooks you need. Each gets the trainer, whose state() names the
// next step to run; a hook may read the model and optimizer, write files, or stop the run
// (Trainer::request_stop). Distributed runs call the hooks on every rank with the same
// values (the global batch's loss, the full validation set).
class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_begin(Trainer& /*trainer*/) {}
  // `epoch` is 1-based; a resumed run may begin it at a later step (trainer.state().step).
  virtual void on_epoch_begin(Trainer& /*trainer*/, int /*epoch*/) {}
  // After the optimizer step: the state already names the step after it.
  virtual void on_train_batch_end(Trainer& /*trainer*/, const StepStats& /*step*/) {}
  // After the epoch's statistics and validation; the state already names the next epoch's
  // first step and holds `epoch` in finished.
  virtual void on_epoch_end(Trainer& /*trainer*/, const EpochStats& /*epoch*/) {}
  // The run is over: every epoch trained, or stopped (Trainer::interrupted, stopped_early).
  // Not called when a step throws.
  virtual void on_train_end(Trainer& /*trainer*/) {}
};

// Collects what run() returns: the finished epochs of the whole run (those of earlier,
// resumed parts first), the training time and how the run ended (Keras's History).
class HistoryRecorder : public Callback {
 public:
  void on_train_begin(Trainer& trainer) override;
  void on_epoch_end(Trainer& trainer, const EpochStats& epoch) override;
  void on_train_end(Trainer& trainer) override;
  const History& history() const { return history_; }

 private:
  History history_;
};

struct EarlyStoppingOptions {
  int patience = 2;  // epochs without a lower validation loss before the run stops (>= 1)
};

// Watches the validation loss (the trainer needs a validation set). After `patience` epochs
// without a lower one, stops the run (Trainer::stop_early). At the epoch end that ends the
// run (this stop, or the last epoch) it restores the weights and buffers of the lowest
// validation loss, before the callbacks added after it see that epoch end: add it before a
// ModelCheckpoint so the last checkpoint holds them. Its state (best loss, epochs since, best
// weights) lives in the TrainingState, so checkpoints carry it.
class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(EarlyStoppingOptions options);
  void on_train_begin(Trainer& trainer) override;
  void on_epoch_end(Trainer& trainer, const EpochStats& epoch) override;

 private:
  EarlyStoppingOptions options_;
};

// One CSV row per finished epoch (Keras's CSVLogger), with a header:
//   epoch,loss,accuracy,learning_rate,seconds[,val_loss,val_accuracy]
// the validation columns when the trainer has a validation set. The rows are the run's
// finished epochs (TrainingState::finished): a resumed run's file holds the earlier part's
// rows and continues after them, whether it is the file that part wrote or a new one; rows
// written after the checkpoint a run resumes from are replaced, not repeated. The file is
// replaced atomically when training begins and at each epoch end, so a crash leaves the file
// of the last finished epoch. Numbers are written in full (shortest exact form).
class CsvLogger : public Callback {
 public:
  explicit CsvLogger(std::string path);
  void on_train_begin(Trainer& trainer) override;
  void on_epoch_end(Trainer& trainer, const EpochStats& epoch) override;

 private:
  void write(const Trainer& trainer) const;

  std::string path_;
  bool validation_columns_ = false;
};

// A training run: the model, optimizer, data and options, and the state that names the next
// step. Construction checks the data against the model (InputError) and the options
// (UsageError); run() trains. The model, optimizer, data and validation set must outlive the
// trainer.
class Trainer {
 public:
  // `state`: where to start; a fresh state starts at epoch 1, step 0, and a checkpoint's
  // state (with the weights and optimizer it holds restored) resumes its run.
  Trainer(Sequential& model, Optimizer& optimizer, const Dataset& data, FitOptions options,
          TrainingState state = {});
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Appends a callback (not owned) after those of the options. Before run().
  void add(Callback& callback);

  // Trains until every epoch is done or a stop ends the run; returns the whole run's
  // history. Once per trainer. Throws InputError when the loss or a gradient becomes NaN or
  // Inf (naming the epoch and step) before that step changes the weights.
  History run();

  // Ends the run as interrupted, after the step being reported (from on_train_batch_end) or
  // at this epoch end (from on_epoch_end, or from the step that ends an epoch, whose end
  // still runs); the state then names where to resume. Every rank of a distributed run must
  // request it at the same step (decide from what every rank sees alike).
  void request_stop() { stop_requested_ = true; }
  // Ends the run as complete (History::stopped_early), as request_stop does.
  void stop_early() { stopped_early_ = true; }

  // How the run ended (final in on_train_end): a stop request with epochs left, or
  // stop_early.
  bool interrupted() const;
  bool stopped_early() const { return stopped_early_; }
  double train_seconds() const;  // since run() began

  Sequential& model() { return model_; }
  Optimizer& optimizer() { return optimizer_; }
  const Dataset& data() const { return data_; }
  const FitOptions& options() const { return options_; }
  const TrainingState& state() const { return state_; }
  // Callbacks that keep state for checkpoints (EarlyStopping) write their own fields here;
  // the position and running sums are the trainer's.
  TrainingState& state() { return state_; }
  std::int64_t steps_per_epoch() const { return steps_; }

 private:
  struct Workspace;  // the training plan, gradient exchange and batch buffers

  void begin_training();
  void run_epoch();
  void begin_epoch();
  void run_step();
  std::uint64_t step_seed(std::uint64_t stream) const;
  void gather_batch();
  void apply_schedule();
  void compute_gradients();
  void count_step();
  void finish_epoch();
  void validate(EpochStats& stats) const;
  void advance_to_next_epoch();
  bool outside_stop_requested() const;
  bool stopping() const { return stop_requested_ || stopped_early_; }
  bool epochs_done() const { return state_.epoch > options_.epochs; }

  Sequential& model_;
  Optimizer& optimizer_;
  const Dataset& data_;
  FitOptions options_;
  TrainingState state_;
  std::int64_t steps_ = 0;  // per epoch
  HistoryRecorder history_;
  std::unique_ptr<EarlyStopping> early_stopping_;  // from options_.early_stop_patience
  std::vector<Callback*> callbacks_;               // history_, early stopping, the options', added
  std::unique_ptr<Workspace> workspace_;
  bool ran_ = false;
  bool stop_requested_ = false;
  bool stopped_early_ = false;
  std::chrono::steady_clock::time_point started_{};  // run()'s start
  std::chrono::steady_clock::time_point epoch_started_{};
};

}  // namespace imgcls
