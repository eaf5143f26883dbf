// Pieces shared by the subcommands: thread defaults, dataset and architecture arguments,
// and the training progress display.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "imgcls/data.hpp"
#include "imgcls/model.hpp"
#include "imgcls/runtime.hpp"
#include "imgcls/train.hpp"
#include "imgcls/trainer.hpp"

namespace imgcls::cli {

inline int default_threads() {
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// The folder --data names: "mnist" (the data scripts/setup.sh installed in data/mnist),
// "fashion-mnist" (Debian's package dataset-fashion-mnist, in kDebianFashionMnistDir; an
// InputError saying how to install it when it is missing), or the folder given (IDX files,
// CIFAR binary files or an image folder: load_dataset_folder).
std::string resolve_data_dir(const std::string& spec);
// How a run records its data (in checkpoints and model files): "mnist" or "fashion-mnist"
// for the installed datasets (named, or given by their folder), else the folder's absolute
// path, so the record means the same folder from any working directory.
std::string data_record(const std::string& spec);
// The data to evaluate a model on: `given` (--data) when there is one, else the data the
// model file records (data_record of its training run). Throws InputError naming the model
// file when it records none.
std::string data_for_model(const std::optional<std::string>& given, const std::string& model_path);

// How the pictures of an image folder become images (--channels, --image-size, --resize,
// --skip-bad-files): what a command line gives; what it leaves unset, the model or the
// folder decides.
struct PictureOptions {
  std::int64_t channels = 0;                                        // 1, 3; 0: not given
  std::optional<std::pair<std::int64_t, std::int64_t>> image_size;  // --image-size H[xW]
  std::optional<Preprocessing> resize;                              // --resize stretch|crop
  bool skip_bad_files = false;
};
// Adds those options to a command; `training`: with the help of train (defaults from the
// folder) rather than of evaluate and show (the model's own).
void add_picture_options(CLI::App* cmd, PictureOptions& options, bool training);

// Test-time augmentation (--tta, --tta-views), as evaluate and predict take it.
struct TtaChoice {
  bool enabled = false;
  int views = 5;  // 5: the picture and its 4 one-pixel shifts; 9: its 8
  // The views to average over; none without --tta.
  std::optional<TtaOptions> options() const;
};
void add_tta_options(CLI::App* cmd, TtaChoice& choice);

// The data of a training run and what the model must take to learn from it.
//
// Data comes as digits or with class names. Digits are IDX folders (MNIST, or any folder of
// the four IDX files) other than Fashion-MNIST's: the model keeps numbered classes and the
// mnist-digit preprocessing, so predict turns a picture of a digit into an MNIST digit.
// Everything else has class names: an image folder (its subfolders), CIFAR (its names file or
// the standard names) and Fashion-MNIST (its ten kinds of clothing, known by its installed
// folder). The model records those names and, as its preprocessing, the resize rule (stretch,
// or crop with --resize crop): a picture of a shoe must not be made a digit.
struct TrainingData {
  FolderSplits splits;       // splits.class_names: empty for digits
  Shape input_shape;         // one image, [H, W, C]
  std::int64_t classes = 0;  // label range: the data's classes, or 10 for digits
  Preprocessing resize = Preprocessing::stretch;  // data with class names: the model's rule
  // With negatives (add_negatives): the name of their class, the last of `classes`.
  std::optional<std::string> rejection_name;
};
// --data DIR of train: IDX or CIFAR files as they are (--channels and --image-size, when
// given, must describe them), or an image folder (imgcls/data.hpp) whose pictures are made
// `model_input`'s size and channels when the model exists already (an architecture file, a
// resumed run), else those of `options`, else the folder's most common size, in colour when
// any picture has colour. Decoding shows progress on `log` when it is a terminal. Files the
// folder holds that are not read are listed in a warning on stderr; with skip_bad_files,
// pictures that do not decode are left out and listed too (otherwise the first one is an
// error naming it). --resize is refused for digits.
TrainingData load_training_data(const std::string& dir, const std::optional<Shape>& model_input,
                                std::optional<Preprocessing> model_resize,
                                const PictureOptions& options, std::FILE* log);
// --negatives DIR of train: the pictures of DIR (and its subfolders) that are none of the
// data's classes, made inputs as predict would make them for the model the data trains (a
// digits model: digit preprocessing; else the resize rule), appended to the training split
// as one more class, `name`, the last (read_negative_pictures, imgcls/data.hpp). Pictures
// without a digit to find are left out and counted; the counts are printed on `log`.
void add_negatives(TrainingData& data, const std::string& dir, const std::string& name,
                   const PictureOptions& options, std::FILE* log);
// Data with class names gives the model its class names and resize rule (digits leave the
// model's preprocessing as it is; with negatives they are named "0", "1", ... and the
// negatives' name); refuses a model whose output count differs from the class count.
void fit_model_to_data(Sequential& model, const TrainingData& data, const std::string& dir);
// --data DIR of evaluate and show: the test split (IDX t10k-*, CIFAR's test file, DIR/test/,
// or DIR), pictures of an image folder made the model's input by the model's resize rule.
// Refuses data whose class names differ from the model's (digits: a model that names its
// classes other than 0, 1, ...).
Dataset load_test_data(const std::string& dir, const Sequential& model,
                       const PictureOptions& options, std::FILE* log);
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

// True when `spec` names an architecture JSON file rather than a preset.
bool is_architecture_file(const std::string& spec);
// A preset name (seed, fast, lenet5, strong, cifar), built for the data, or an architecture JSON
// file (its own input). Presets on colour images start with a Normalization layer.
Sequential resolve_architecture(const std::string& spec, const TrainingData& data);

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
