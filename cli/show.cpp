// imgcls show: draw one picture of a trained model: a grid of classified test images, its
// most confident mistakes, its confusion matrix (these three evaluate the model on a test
// set: --data, else the data its file records), its training curves (from the
// <model>.history.json saved beside it), or for a model with a rejection class its rejection
// curve (the test set against a folder of --negatives). PNG, or SVG when --out ends in .svg.
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
#include "imgcls/predictor.hpp"
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
  std::string negatives;            // --kind rejection: pictures that are none of the classes
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

// The rejection output's probability for each row of probabilities [N, outputs].
std::vector<float> rejection_scores(const Tensor& probabilities, std::int64_t rejection_class) {
  std::vector<float> scores;
  for (std::int64_t i = 0; i < probabilities.dim(0); ++i)
    scores.push_back(probabilities.data()[i * probabilities.dim(1) + rejection_class]);
  return scores;
}

Picture rejection(const ShowOptions& options) {
  set_num_threads(options.threads);
  const Sequential model = load_model(options.model_path);
  if (!model.rejection())
    throw InputError(options.model_path, "the model has no rejection class",
                     "train one with --negatives DIR (README, \"Not a digit\")");
  if (options.negatives.empty())
    throw InputError("--negatives",
                     "--kind rejection needs a folder of pictures that are none "
                     "of the model's classes");
  const std::string dir = resolve_data_dir(data_for_model(options.data, options.model_path));
  const Dataset test = load_test_data(dir, model, options.pictures, stdout);
  const std::int64_t rejection_class = model.rejection_class();
  const NegativePictures others = read_negative_pictures(
      options.negatives, model.input_shape(), model.preprocessing(), 0,
      {.skip_bad_files = options.pictures.skip_bad_files, .threads = options.threads});
  RejectionScores scores{
      .known = rejection_scores(evaluate(model, test).probabilities, rejection_class),
      .unknown = rejection_scores(Predictor(model).predict(others.data.images), rejection_class),
      .known_source = fmt::format("{} test images of {}", test.size(), dir),
      .unknown_source = fmt::format("{} pictures of {}", others.data.size() + others.without_digit,
                                    options.negatives),
      .rejection_class = class_names(model).back(),
      .threshold = model.rejection()->threshold};
  // A picture without a digit to find is rejected before the model runs: a score of 1.
  scores.unknown.insert(scores.unknown.end(), static_cast<std::size_t>(others.without_digit), 1.0f);
  const RejectionRates at = rejection_rates(scores, scores.threshold);
  fmt::print("Rejected as \"{}\" at the model's threshold {:g}:\n", scores.rejection_class,
             scores.threshold);
  fmt::print("  {:.2f}% of {}\n", 100 * at.known, scores.known_source);
  fmt::print("  {:.2f}% of {} ({} without a digit to find, rejected before the model runs)\n",
             100 * at.unknown, scores.unknown_source, others.without_digit);
  return draw_rejection_curve(scores);
}

int show(const ShowOptions& options) {
  const Picture picture = options.kind == "curves"      ? curves(options)
                          : options.kind == "rejection" ? rejection(options)
                                                        : evaluated(options);
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
                  "per epoch; rejection: for a model with a rejection class, the share of test "
                  "images against the share of --negatives pictures rejected, threshold by "
                  "threshold")
      ->required()
      ->check(CLI::IsMember({"samples", "errors", "confusion", "curves", "rejection"}));
  cmd->add_option("--out", options->out_path,
                  "The picture file; SVG when it ends in .svg, else PNG")
      ->required();
  cmd->add_option_function<std::string>(
      "--data", [options](const std::string& data) { options->data = data; },
      "For samples, errors, confusion, rejection: mnist, fashion-mnist, a folder with the MNIST "
      "test "
      "files t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (plain or .gz), a CIFAR-10/100 "
      "binary folder, or an image folder (DIR/<class>/, or its DIR/test/<class>/); default: "
      "the data the model was trained on, as its file records");
  add_picture_options(cmd, options->pictures, false);
  cmd->add_option("--history", options->history_path,
                  "For --kind curves: the training history (default: <model stem>.history.json "
                  "beside the model)");
  cmd->add_option("--negatives", options->negatives,
                  "For --kind rejection: a folder of pictures that are none of the model's classes "
                  "(and its subfolders), prepared as predict prepares pictures");
  cmd->add_option("--first", options->first, "For --kind samples: index of the first test image")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads", options->threads, "CPU threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  return [options] { return show(*options); };
}

}  // namespace imgcls::cli
