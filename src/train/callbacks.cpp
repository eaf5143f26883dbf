// The built-in callbacks of the Trainer: the history it returns, early stopping, the CSV log.
#include <fmt/core.h>

#include "core/atomic_file.hpp"
#include "core/check.hpp"
#include "imgcls/trainer.hpp"

namespace imgcls {

namespace {

std::vector<Tensor> copy_values(const std::vector<Param>& params) {
  std::vector<Tensor> values;
  values.reserve(params.size());
  for (const Param& p : params) values.push_back(*p.value);
  return values;
}

void restore_values(const std::vector<Param>& params, const std::vector<Tensor>& values) {
  IMGCLS_CHECK(values.size() == params.size(), "{} saved tensors for {} params", values.size(),
               params.size());
  for (std::size_t i = 0; i < params.size(); ++i) *params[i].value = values[i];
}

}  // namespace

void HistoryRecorder::on_train_begin(Trainer& trainer) {
  history_ = History{};
  history_.epochs = trainer.state().finished;  // a resumed run's earlier epochs
}

void HistoryRecorder::on_epoch_end(Trainer& /*trainer*/, const EpochStats& epoch) {
  history_.epochs.push_back(epoch);
}

void HistoryRecorder::on_train_end(Trainer& trainer) {
  history_.train_seconds = trainer.train_seconds();
  history_.stopped_early = trainer.stopped_early();
  history_.interrupted = trainer.interrupted();
}

EarlyStopping::EarlyStopping(EarlyStoppingOptions options) : options_(options) {
  IMGCLS_CHECK(options_.patience >= 1, "early stopping patience {}", options_.patience);
}

void EarlyStopping::on_train_begin(Trainer& trainer) {
  IMGCLS_CHECK(trainer.options().validation != nullptr, "early stopping needs a validation set");
}

void EarlyStopping::on_epoch_end(Trainer& trainer, const EpochStats& epoch) {
  IMGCLS_CHECK(epoch.validation_loss.has_value(), "epoch {} has no validation loss", epoch.epoch);
  TrainingState& state = trainer.state();
  const std::vector<Param> weights = trainer.model().params_and_buffers();
  if (state.best_weights.empty() || *epoch.validation_loss < state.best_val_loss) {
    state.best_val_loss = *epoch.validation_loss;
    state.epochs_since_best = 0;
    state.best_weights = copy_values(weights);
  } else if (++state.epochs_since_best >= options_.patience) {
    trainer.stop_early();
  }
  const bool last_epoch = state.epoch > trainer.options().epochs;  // the state names the next epoch
  if (trainer.stopped_early() || last_epoch) restore_values(weights, state.best_weights);
}

CsvLogger::CsvLogger(std::string path) : path_(std::move(path)) {}

void CsvLogger::on_train_begin(Trainer& trainer) {
  validation_columns_ = trainer.options().validation != nullptr;
  write(trainer);
}

void CsvLogger::on_epoch_end(Trainer& trainer, const EpochStats& /*epoch*/) { write(trainer); }

void CsvLogger::write(const Trainer& trainer) const {
  std::string csv = "epoch,loss,accuracy,learning_rate,seconds";
  if (validation_columns_) csv += ",val_loss,val_accuracy";
  csv += '\n';
  for (const EpochStats& e : trainer.state().finished) {
    // The rate is the optimizer's float: written as that float, 0.001 rather than
    // 0.0010000000474974513.
    csv += fmt::format("{},{},{},{},{}", e.epoch, e.loss, e.accuracy,
                       static_cast<float>(e.learning_rate), e.seconds);
    if (validation_columns_) {
      // An epoch of an earlier part of the run that had no validation leaves its cells empty.
      csv += e.validation_loss ? fmt::format(",{}", *e.validation_loss) : ",";
      csv += e.validation_accuracy ? fmt::format(",{}", *e.validation_accuracy) : ",";
    }
    csv += '\n';
  }
  write_file_atomically(path_, csv);
}

}  // namespace imgcls
