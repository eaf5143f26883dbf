// Model files: the architecture (as JSON, in the metadata) and every parameter and buffer
// (BatchNorm's moving statistics), named and shaped, in a safetensors container. Training
// histories: per-epoch statistics as JSON. Both written atomically; read with every field checked.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "imgcls/model.hpp"
#include "imgcls/train.hpp"
#include "imgcls/trainer.hpp"

namespace imgcls {

// Checks, before any long work, that a file can later be written at `path` (every writer
// here replaces files atomically): the path is not a folder, its folder exists (it is
// created, with its parents, when missing) and is writable. Throws InputError naming the
// path and the reason.
void prepare_output_file(const std::string& path);

// Metadata: format, version, architecture, input_shape, class_names, preprocessing,
// rejection ({"threshold": t}, for a model with a rejection rule), the caller's training
// summary (JSON), and data_crc32. Refuses weights holding NaN or Inf.
void save_model(Sequential& model, const std::string& path,
                const nlohmann::json& training_summary = nlohmann::json::object());
// Throws InputError naming the file and the problem (bad container, unknown architecture,
// missing, extra or misshapen parameters).
Sequential load_model(const std::string& path);

// What a model file says about itself besides its weights (the file is checked as
// load_model checks it).
struct ModelMetadata {
  Shape input_shape;
  std::vector<std::string> class_names;
  std::string preprocessing;
  std::optional<RejectionRule> rejection;  // the model's "none of these" rule, if it has one
  // The training summary save_model was given (the CLI records "data", "run", test
  // accuracy...); an empty object when there is none.
  nlohmann::json training = nlohmann::json::object();
};
ModelMetadata read_model_metadata(const std::string& path);

// Fine-tuning: a model starts from another model's weights (Keras's load_weights with
// skip_mismatch, PyTorch's load_state_dict of the matching entries).
//
//   imgcls::Sequential model = imgcls::presets::seed({.classes = 5});
//   model.initialize(seed);
//   imgcls::InitReport report = imgcls::init_from(model, imgcls::load_model("digits.safetensors"));
//
// What init_from did with one layer of the model that has parameters or buffers.
struct LayerInit {
  std::string layer;    // "conv2d_0"
  bool loaded = false;  // every parameter and buffer of the layer was copied from the source
  // When not loaded, why: "the source has no conv2d_4.weight", or "dense_6.weight is [5, 64]
  // here, [10, 64] in the source".
  std::string reason;
};
struct InitReport {
  std::vector<LayerInit> layers;  // the model's layers with parameters or buffers, in order
  // The source's layers with parameters or buffers that gave the model nothing, in order.
  std::vector<std::string> unused;
  std::size_t loaded_count() const;
  bool loaded(const std::string& layer) const;  // a layer of `layers` that was loaded
};
// Copies into `model` the layers of `source` that match: a layer is loaded when the source
// has, for each of its parameters and buffers, a tensor of the same name and shape
// ("conv2d_0.weight" [32, 1, 3, 3]); BatchNorm's moving statistics and Normalization's mean
// and variance are buffers, so they come too. Any other layer (a classification head of
// another class count, a layer the source does not have) keeps what it holds: initialise
// the model first. A layer is loaded whole or not at all. Class names and preprocessing are
// not copied (they belong to the model's own data).
InitReport init_from(Sequential& model, const Sequential& source);

// An architecture file: {"input_shape": [28, 28, 1], "layers": [{"type": "Conv2D", ...}, ...]}
// (the format of Sequential::config()). At most 1 MiB, nested at most 16 deep; the model is
// built (shapes inferred and checked) but not initialised. Throws InputError naming the
// file and the key or layer at fault.
Sequential read_architecture(const std::string& path);

// Where a model's training history lives: beside it, "<dir>/<stem>.history.json"
// (out/model.safetensors -> out/model.history.json).
std::string history_path_for(const std::string& model_path);

// Training history files (`imgcls run` and `imgcls train` write one beside the model):
//   {"format": "imgcls-history", "version": 1, "train_seconds": 81.2,
//    "stopped_early": false, "interrupted": false,
//    "epochs": [{"epoch": 1, "loss": 0.16, "accuracy": 0.95, "seconds": 16.3,
//                "learning_rate": 0.001, "validation_loss": 0.06,
//                "validation_accuracy": 0.98}, ...]}
// The validation fields appear only for epochs that have them; reading, learning_rate,
// stopped_early and interrupted may be absent (0, false).
nlohmann::json history_to_json(const History& history);
// Written atomically.
void save_history(const History& history, const std::string& path);
// Throws InputError naming the file and the problem (missing file, bad JSON, a missing or
// mistyped field, no epochs).
History load_history(const std::string& path);
// The same checks on JSON already parsed; `path` names its source in errors.
History history_from_json(const nlohmann::json& json, const std::string& path);

// Checkpoints: everything needed to continue training exactly where it stopped: the model
// (architecture and weights), the frozen layers (FitOptions::frozen_layers), the optimizer's
// kind, step count and buffers (those of trainable_params(model, frozen_layers): none for a
// frozen parameter), the training state (epoch, step, running sums, finished epochs,
// early-stopping best weights) and the caller's run configuration (JSON; the CLI keeps its
// options there to check a resume). Written atomically with a CRC-32 of the tensor data, so
// a crash mid-write leaves the previous checkpoint intact and a damaged one is refused.
void save_checkpoint(const std::string& path, Sequential& model, Optimizer& optimizer,
                     const TrainingState& state, const nlohmann::json& run_config,
                     std::size_t frozen_layers = 0);

struct LoadedCheckpoint {
  Sequential model;
  TrainingState state;
  nlohmann::json run_config;
  std::size_t frozen_layers = 0;  // 0 for checkpoints from before fine-tuning
  std::string optimizer_kind;
  std::int64_t optimizer_steps = 0;
  std::vector<std::vector<float>> optimizer_buffers;
};
// Throws InputError naming the file and the problem (among them optimizer buffers that do
// not fit the parameters the frozen layers leave to train).
LoadedCheckpoint load_checkpoint(const std::string& path);

struct ModelCheckpointOptions {
  std::int64_t every_steps = 0;  // >0: also every that many steps of an epoch
};

// A Trainer callback (trainer.hpp) that keeps the run's checkpoint at `path` current
// (save_checkpoint with `run_config` and the trainer's frozen layers): at every epoch end, every
// `every_steps` steps (but not at an epoch's last step, whose epoch end follows), and when a stop
// request ends the run mid-epoch. Each is written where the state names the next step, so loading
// it and running on continues the run exactly. Add it after EarlyStopping (see there). In a
// distributed run, add it on one rank.
class ModelCheckpoint : public Callback {
 public:
  explicit ModelCheckpoint(std::string path, ModelCheckpointOptions options = {},
                           nlohmann::json run_config = nlohmann::json::object());
  void on_train_batch_end(Trainer& trainer, const StepStats& step) override;
  void on_epoch_end(Trainer& trainer, const EpochStats& epoch) override;
  void on_train_end(Trainer& trainer) override;

 private:
  void save(Trainer& trainer);

  std::string path_;
  nlohmann::json run_config_;
  ModelCheckpointOptions options_;
  std::optional<std::pair<int, std::int64_t>> saved_at_;  // (epoch, step) of the last save
};

}  // namespace imgcls
