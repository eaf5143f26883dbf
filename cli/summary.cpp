// imgcls summary: the layer table (output shapes, parameter counts) of a saved model, a
// preset or an architecture file; for a model file also what the file says about it: its
// input, classes, preprocessing and the run that trained it.
#include <fmt/core.h>

#include "commands.hpp"
#include "common.hpp"
#include "imgcls/io.hpp"

namespace imgcls::cli {

namespace {

struct SummaryOptions {
  std::string model_path, arch;
  PictureOptions pictures;  // presets: the input they are built for
  std::int64_t classes = 10;
};

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

// The file's record beyond the layers.
void print_model_file(const std::string& path) {
  const ModelMetadata metadata = read_model_metadata(path);
  fmt::print("input: {} per image; preprocessing: {}\n", to_string(metadata.input_shape),
             metadata.preprocessing);
  fmt::print("classes ({}): {}\n", metadata.class_names.size(), joined(metadata.class_names));
  if (metadata.rejection)
    fmt::print("rejection: a picture is \"{}\" (rejected) from a probability of {:g} for it\n",
               metadata.class_names.back(), metadata.rejection->threshold);
  const nlohmann::json& training = metadata.training;
  if (training.empty()) {
    fmt::print("training: not recorded\n");
    return;
  }
  if (training.contains("data")) fmt::print("trained on: {}\n", training["data"].dump());
  if (training.contains("epochs_trained"))
    fmt::print("epochs: {}\n", training["epochs_trained"].dump());
  if (training.contains("test_accuracy"))
    fmt::print("test accuracy: {:.4f}, test loss {:.4f}\n", training["test_accuracy"].get<double>(),
               training.value("test_loss", 0.0));
  if (training.contains("run")) fmt::print("run: {}\n", training["run"].dump());
}

int summary(const SummaryOptions& options) {
  if (options.model_path.empty() && options.arch.empty()) {
    fmt::print(stderr, "imgcls summary: give a model file or --arch NAME|FILE.json (see --help)\n");
    return kUsage;
  }
  if (!options.model_path.empty()) {
    const Sequential model = load_model(options.model_path);
    fmt::print("{}", model.summary());
    print_model_file(options.model_path);
    return kSuccess;
  }
  if (is_architecture_file(options.arch)) {
    fmt::print("{}", read_architecture(options.arch).summary());
    return kSuccess;
  }
  const auto size =
      options.pictures.image_size.value_or(std::pair<std::int64_t, std::int64_t>{28, 28});
  const std::int64_t channels = options.pictures.channels != 0 ? options.pictures.channels : 1;
  fmt::print("{}",
             presets::by_name(options.arch, {.input_shape = {size.first, size.second, channels},
                                             .classes = options.classes,
                                             .normalize = channels == 3})
                 .summary());
  return kSuccess;
}

}  // namespace

Action add_summary_command(CLI::App& app) {
  auto options = std::make_shared<SummaryOptions>();
  CLI::App* cmd = app.add_subcommand(
      "summary",
      "Print a model's layers, output shapes and parameter counts; for a model file also its "
      "input, classes, preprocessing and training run");
  auto* model_option = cmd->add_option("model", options->model_path, "A model file (.safetensors)");
  auto* arch_option = cmd->add_option(
      "--arch", options->arch, "A preset (" + presets::names() + ") or an architecture JSON file");
  model_option->excludes(arch_option);
  cmd->add_option("--channels", options->pictures.channels,
                  "Presets: build for 1 (grey, default) or 3 (colour) channels")
      ->check(CLI::IsMember({1, 3}));
  cmd->add_option_function<std::int64_t>(
         "--image-size",
         [options](std::int64_t side) {
           options->pictures.image_size = std::pair{side, side};
         },
         "Presets: build for square images of this side (default 28)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--classes", options->classes, "Presets: build for this many classes")
      ->capture_default_str()
      ->check(CLI::Range(2, 100000));
  return [options] { return summary(*options); };
}

}  // namespace imgcls::cli
