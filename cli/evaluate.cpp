// imgcls evaluate: accuracy, loss, per-class precision/recall/F1 and the confusion matrix
// of a saved model on a test set.
#include <fmt/core.h>

#include <algorithm>
#include <iostream>
#include <optional>

#include "commands.hpp"
#include "common.hpp"
#include "imgcls/io.hpp"
#include "imgcls/metrics.hpp"
#include "imgcls/runtime.hpp"

namespace imgcls::cli {

namespace {

struct EvaluateOptions {
  std::string model_path;
  std::optional<std::string> data;  // default: the data the model file records
  int threads = default_threads();
  bool json = false;
  PictureOptions pictures;
  TtaChoice tta;
};

int evaluate_command(const EvaluateOptions& options) {
  set_num_threads(options.threads);
  Sequential model = load_model(options.model_path);
  const std::string data = resolve_data_dir(data_for_model(options.data, options.model_path));
  const Dataset test =
      load_test_data(data, model, options.pictures, options.json ? stderr : stdout);
  const std::optional<TtaOptions> tta = options.tta.options();
  const Evaluation result = tta ? evaluate(model, test, *tta) : evaluate(model, test);
  const std::size_t views = tta ? tta->shifts.size() : 1;
  const std::vector<std::string> names = class_names(model);
  const auto classes = static_cast<std::int64_t>(names.size());
  const ConfusionMatrix matrix = confusion_matrix(test.labels, result.predicted, classes);
  const std::vector<ClassMetrics> per_class = per_class_metrics(matrix);

  if (options.json) {
    nlohmann::json classes_json = nlohmann::json::array();
    for (std::int64_t c = 0; c < classes; ++c) {
      const ClassMetrics& m = per_class[static_cast<std::size_t>(c)];
      classes_json.push_back({{"class", names[static_cast<std::size_t>(c)]},
                              {"precision", m.precision},
                              {"recall", m.recall},
                              {"f1", m.f1},
                              {"support", m.support}});
    }
    nlohmann::json confusion = nlohmann::json::array();
    for (std::int64_t t = 0; t < classes; ++t) {
      nlohmann::json row = nlohmann::json::array();
      for (std::int64_t p = 0; p < classes; ++p) row.push_back(matrix.count(t, p));
      confusion.push_back(row);
    }
    nlohmann::json report = {
        {"accuracy", result.accuracy}, {"loss", result.loss}, {"n", result.count},
        {"tta", tta.has_value()},      {"views", views},      {"per_class", classes_json},
        {"confusion", confusion}};
    if (model.rejection()) {
      report["rejected"] = result.rejected;
      report["reject_threshold"] = model.rejection()->threshold;
    }
    std::cout << report.dump(2) << std::endl;
    return kSuccess;
  }
  fmt::print("{}: {} test images{}\naccuracy {:.4f}  loss {:.4f}\n\n", options.model_path,
             result.count, tta ? fmt::format(", test-time augmentation over {} views", views) : "",
             result.accuracy, result.loss);
  if (model.rejection())
    fmt::print(
        "rejected as \"{}\": {} of {} ({:.2f}%; a picture is rejected from a probability of "
        "{:g})\n\n",
        names.back(), result.rejected, result.count,
        100.0 * double(result.rejected) / double(std::max<std::int64_t>(result.count, 1)),
        model.rejection()->threshold);
  // Columns as wide as the longest class name ("T-shirt/top"), at least the headings'.
  std::size_t longest = 0;
  for (const std::string& name : names) longest = std::max(longest, name.size());
  const std::size_t name_width = std::max<std::size_t>(10, longest);
  fmt::print("{:>{}} {:>10} {:>10} {:>10} {:>10}\n", "class", name_width, "precision", "recall",
             "f1", "support");
  for (std::int64_t c = 0; c < classes; ++c) {
    const ClassMetrics& m = per_class[static_cast<std::size_t>(c)];
    fmt::print("{:>{}} {:>10.4f} {:>10.4f} {:>10.4f} {:>10}\n", names[static_cast<std::size_t>(c)],
               name_width, m.precision, m.recall, m.f1, m.support);
  }
  const std::size_t row_width = std::max<std::size_t>(8, longest + 1);
  // Its columns also fit the largest count a cell can hold (every image in one cell).
  const std::size_t column_width =
      std::max({std::size_t{7}, longest + 1, fmt::format("{}", result.count).size() + 1});
  fmt::print("\nconfusion matrix (rows: true label, columns: predicted)\n{:>{}}", "", row_width);
  for (std::int64_t p = 0; p < classes; ++p)
    fmt::print("{:>{}}", names[static_cast<std::size_t>(p)], column_width);
  fmt::print("\n");
  for (std::int64_t t = 0; t < classes; ++t) {
    fmt::print("{:>{}}", names[static_cast<std::size_t>(t)], row_width);
    for (std::int64_t p = 0; p < classes; ++p)
      fmt::print("{:>{}}", matrix.count(t, p), column_width);
    fmt::print("\n");
  }
  return kSuccess;
}

}  // namespace

Action add_evaluate_command(CLI::App& app) {
  auto options = std::make_shared<EvaluateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "evaluate", "Accuracy, loss, per-class precision/recall/F1 and confusion matrix of a model");
  cmd->add_option("model", options->model_path, "Model file (.safetensors)")->required();
  cmd->add_option_function<std::string>(
      "--data", [options](const std::string& data) { options->data = data; },
      "mnist, fashion-mnist, a folder holding t10k-images-idx3-ubyte and "
      "t10k-labels-idx1-ubyte, a CIFAR-10/100 binary folder, or an image folder (DIR/<class>/, "
      "or its DIR/test/<class>/); default: the data the model was trained on, as its file "
      "records");
  add_picture_options(cmd, options->pictures, false);
  cmd->add_option("--threads", options->threads, "CPU threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  add_tta_options(cmd, options->tta);
  cmd->add_flag("--json", options->json,
                "Print exactly one JSON object: accuracy, loss, n, tta (true or false), views "
                "(per picture), per_class, confusion; and rejected, reject_threshold for a model "
                "with a rejection class");
  return [options] { return evaluate_command(*options); };
}

}  // namespace imgcls::cli
