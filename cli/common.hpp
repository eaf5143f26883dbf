// Pieces shared by the subcommands: thread defaults, dataset and architecture arguments,
// and the training progress display.
#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <thread>

#include "imgcls/data.hpp"
#include "imgcls/model.hpp"
#include "imgcls/runtime.hpp"
#include "imgcls/train.hpp"
#include "imgcls/trainer.hpp"

namespace imgcls::cli {

inline int default_threads() {
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// "mnist" (the data scripts/setup.sh installed) or a folder holding the four IDX files.
std::string resolve_data_dir(const std::string& spec);
// How a run records its data (in checkpoints and model files): "mnist" for the installed
// MNIST, else the folder's absolute path, so the record means the same folder from any
// working directory.
std::string data_record(const std::string& spec);
// The data to evaluate a model on: `given` (--data) when there is one, else the data the
// model file records (data_record of its training run). Throws InputError naming the model
// file when it records none.
std::string data_for_model(const std::optional<std::string>& given, const std::string& model_path);

// --data DIR of train (test_only false), evaluate and show (test_only true): IDX files or an
// image folder (imgcls/data.hpp), the pictures resized to the model's input [H, W, 1]. For an
// image folder, training gives the model the folder's class names and preprocessing "none"
// (so `imgcls predict` feeds pictures as the folder did: resized, not digit-preprocessed),
// and refuses a model whose output count differs from the class count; evaluation refuses a
// folder whose class names differ from the model's. Files the folder holds that are not read
// are listed in a warning on stderr; with skip_bad_files, pictures that do not decode are
// left out and listed too (otherwise the first one is an error naming it).
FolderSplits load_data_for_model(const std::string& dir, Sequential& model, bool test_only,
                                 bool skip_bad_files = false);
inline constexpr const char* kSkipBadFilesHelp =
    "Image folders: leave out pictures that do not decode (they are counted and named) instead of "
    "stopping";

// --precision of train and run: "fp32" or "bf16". bf16 is refused with an InputError on a
// CPU without AVX512-BF16, where oneDNN would emulate it more slowly than fp32.
Precision training_precision(const std::string& name);
inline constexpr const char* kPrecisionHelp =
    "Arithmetic of training steps: fp32, or bf16 (convolutions over 8+ channels and dense layers "
    "multiply in "
    "bfloat16; weights, optimizer and loss stay fp32; needs AVX512-BF16). Evaluation is fp32";

// A preset name (seed, lenet5, strong) or an architecture JSON file.
Sequential resolve_architecture(const std::string& spec);

// trainer.run(), with the error for a loss or gradient that stops being finite naming the
// option that helps (--lr).
History run_training(Trainer& trainer);

// Keras-like progress (a Trainer callback): on a terminal, a bar per epoch redrawn in place
// every `every` steps (step count, ETA, running loss and accuracy); otherwise one plain
// line per epoch, so logs stay readable.
class ProgressBar : public Callback {
 public:
  explicit ProgressBar(std::FILE* out, std::int64_t every = 50);
  void on_train_batch_end(Trainer& trainer, const StepStats& step) override;
  void on_epoch_end(Trainer& trainer, const EpochStats& epoch) override;

 private:
  std::FILE* out_;
  std::int64_t every_;
  bool interactive_;
  int current_epoch_ = 0;
  std::int64_t first_step_ = 0;
  double epoch_started_ = 0.0;
};

}  // namespace imgcls::cli
