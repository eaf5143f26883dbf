// ModelCheckpoint: the Trainer callback that writes checkpoints as a run goes.
#include "imgcls/io.hpp"

namespace imgcls {

ModelCheckpoint::ModelCheckpoint(std::string path, ModelCheckpointOptions options,
                                 nlohmann::json run_config)
    : path_(std::move(path)), run_config_(std::move(run_config)), options_(options) {}

void ModelCheckpoint::on_train_batch_end(Trainer& trainer, const StepStats& step) {
  const bool periodic = options_.every_steps > 0 && step.step % options_.every_steps == 0;
  if (periodic && step.step < step.steps) save(trainer);
}

void ModelCheckpoint::on_epoch_end(Trainer& trainer, const EpochStats& /*epoch*/) { save(trainer); }

// A run stopped mid-epoch: its state names the step to resume at. (One stopped at an epoch
// end was saved there.)
void ModelCheckpoint::on_train_end(Trainer& trainer) {
  const std::pair<int, std::int64_t> position{trainer.state().epoch, trainer.state().step};
  if (trainer.interrupted() && saved_at_ != position) save(trainer);
}

void ModelCheckpoint::save(Trainer& trainer) {
  save_checkpoint(path_, trainer.model(), trainer.optimizer(), trainer.state(), run_config_,
                  trainer.options().frozen_layers);
  saved_at_ = std::pair<int, std::int64_t>{trainer.state().epoch, trainer.state().step};
}

}  // namespace imgcls
