// imgcls show: draw one picture of a trained model: a grid of classified test images, its
// most confident mistakes, its confusion matrix (these three evaluate the model on a test
// set: --data, else the data its file records), or its training curves (from the
// <model>.history.json saved beside it). PNG, or SVG when --out ends in .svg.
#include <fmt/core.h>

#include <filesystem>
#include <optional>
#include <thread>

#include "commands.hpp"
#include "common.hpp"
#include "imgcls/data.hpp"
#include "imgcls/error.hpp"
#include "imgcls/io.hpp"
#include "imgcls/metrics.hpp"
#include "imgcls/model.hpp"
#include "imgcls/runtime.hpp"
#include "imgcls/train.hpp"
#include "imgcls/viz.hpp"

namespace imgcls::cli {

namespace {

struct ShowOptions {
  std::string model_path;
  std::string kind;
  std::string out_path;
  std::optional<std::string> data;  // default: the data the model file records
  std::string history_path;         // empty: <model>.history.json beside the model
  std::int64_t first = 0;
  int threads = default_threads();
  PictureOptions pictures;
};

Picture curves(const ShowOptions& options) {
  const bool beside_model = options.history_path.empty();
  const std::string path =
      beside_model ? history_path_for(options.model_path) : options.history_path;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw InputError(
        path, "no training history there",
        beside_model
            ? "`imgcls run` and `imgcls train` write <model>.history.json beside the model; "
              "pass --history FILE to use another file"
            : "check the --history path");
  const History history = load_history(path);
  fmt::print("Training history: {} epoch{} from {}\n", history.epochs.size(),
             history.epochs.size() == 1 ? "" : "s", path);
  return draw_training_curves(history);
}

Picture evaluated(const ShowOptions& options) {
  set_num_threads(options.threads);
  Sequential model = load_model(options.model_path);
  const std::string dir = resolve_data_dir(data_for_model(options.data, options.model_path));
  const Dataset test = load_test_data(dir, model, options.pictures, stdout);
  if (options.first >= test.size())
    throw InputError("--first", fmt::format("image {} does not exist: the test set has {} images",
                                            options.first, test.size()));
  const Evaluation result = evaluate(model, test);
  fmt::print("Test accuracy {:.4f}  test loss {:.4f}  ({} images from {})\n", result.accuracy,
             result.loss, result.count, dir);
  const std::vector<std::string> names = class_names(model);
  if (options.kind == "samples")
    return draw_sample_grid(test, result.probabilities, names, {.first = options.first});
  if (options.kind == "errors") return draw_error_gallery(test, result.probabilities, names);
  const auto classes = static_cast<std::int64_t>(names.size());
  return draw_confusion_matrix(confusion_matrix(test.labels, result.predicted, classes), names);
}

int show(const ShowOptions& options) {
  const Picture picture = options.kind == "curves" ? curves(options) : evaluated(options);
  picture.save(options.out_path);
  fmt::print("Wrote {} ({}, {}x{})\n", options.out_path,
             picture_format_for(options.out_path) == PictureFormat::svg ? "SVG" : "PNG",
             picture.width(), picture.height());
  return kSuccess;
}

}  // namespace

Action add_show_command(CLI::App& app) {
  auto options = std::make_shared<ShowOptions>();
  CLI::App* cmd = app.add_subcommand(
      "show",
      "Draw a picture of a trained model: sample predictions, its most confident mistakes, "
      "its confusion matrix or its training curves (PNG, or SVG for a .svg --out)");
  cmd->add_option("model", options->model_path, "The model file (model.safetensors)")->required();
  cmd->add_option("--kind", options->kind,
                  "samples: a grid of test images with predicted and true labels; errors: the most "
                  "confident mistakes; confusion: the confusion matrix; curves: loss and accuracy "
                  "per epoch")
      ->required()
      ->check(CLI::IsMember({"samples", "errors", "confusion", "curves"}));
  cmd->add_option("--out", options->out_path,
                  "The picture file; SVG when it ends in .svg, else PNG")
      ->required();
  cmd->add_option_function<std::string>(
      "--data", [options](const std::string& data) { options->data = data; },
      "For samples, errors, confusion: mnist, fashion-mnist, a folder with the MNIST test "
      "files t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (plain or .gz), a CIFAR-10/100 "
      "binary folder, or an image folder (DIR/<class>/, or its DIR/test/<class>/); default: "
      "the data the model was trained on, as its file records");
  add_picture_options(cmd, options->pictures, false);
  cmd->add_option("--history", options->history_path,
                  "For --kind curves: the training history (default: <model stem>.history.json "
                  "beside the model)");
  cmd->add_option("--first", options->first, "For --kind samples: index of the first test image")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads", options->threads, "CPU threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  return [options] { return show(*options); };
}

}  // namespace imgcls::cli
