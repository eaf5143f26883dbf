// imgcls explain: what a model looked at. For each picture, prepared as predict prepares it,
// a heat map of the pixels that made the model give a class its score (imgcls/explain.hpp),
// drawn as a PNG (the input the model saw, the map over it, the map over the picture) and,
// with --json, printed as numbers. The output path is checked before any work: a FILE.png
// takes one picture, a folder (created if needed) gets <stem>-<method>.png per picture.
// A picture that cannot be used is reported (on stderr, and as {"file", "error"} with
// --json) and the others are still explained; the exit code is then 1.
#include "imgcls/explain.hpp"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "commands.hpp"
#include "imgcls/error.hpp"
#include "imgcls/image.hpp"
#include "imgcls/io.hpp"
#include "imgcls/preprocess.hpp"
#include "imgcls/runtime.hpp"
#include "imgcls/viz.hpp"

namespace imgcls::cli {

namespace {

// The names --method takes: the library's, and grad-cam for gradcam.
const std::vector<std::string> kMethodChoices = {"saliency", "gradxinput", "integrated-gradients",
                                                 "gradcam",  "grad-cam",   "occlusion"};

struct ExplainCommandOptions {
  std::string model_path;
  std::vector<std::string> pictures;
  std::string method = "saliency";
  std::int64_t target_class = -1;
  std::int64_t steps = 32;
  std::string layer;
  std::string out;
  bool json = false;
  int threads = 1;
};

// A usage error found after parsing: the message, then exit code 2.
int usage_error(const std::string& message) {
  fmt::print(stderr, "imgcls explain: {} (see imgcls explain --help)\n", message);
  return kUsage;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Where the PNGs go: one file, or a folder.
struct Destination {
  bool none = true;  // --json alone
  bool single_file = false;
  std::string path;
};

// Checks --out before any work. Usage errors (a FILE.png for several pictures, another
// picture extension) return their message; a folder that cannot be made or written, or a
// FILE.png in a missing or read-only folder, throws InputError naming the path.
std::optional<std::string> plan_destination(const ExplainCommandOptions& options,
                                            Destination& destination) {
  if (options.out.empty()) {
    if (!options.json) return "give --out DIR or --out FILE.png for the pictures, or --json";
    return std::nullopt;
  }
  destination.none = false;
  destination.path = options.out;
  const std::filesystem::path out(options.out);
  const std::string extension = lower(out.extension().string());
  std::error_code ec;
  const bool is_folder = std::filesystem::is_directory(out, ec);
  if (!is_folder && extension == ".png") {
    if (options.pictures.size() != 1)
      return fmt::format("--out {} is one file, for {} pictures: give a folder instead",
                         options.out, options.pictures.size());
    destination.single_file = true;
    const std::filesystem::path parent =
        out.parent_path().empty() ? std::filesystem::path(".") : out.parent_path();
    if (!std::filesystem::is_directory(parent, ec))
      throw InputError(options.out, "its folder " + parent.string() + " does not exist");
    if (::access(parent.c_str(), W_OK) != 0)
      throw InputError(options.out, "its folder " + parent.string() + " cannot be written");
    return std::nullopt;
  }
  if (!is_folder && has_image_extension(options.out))
    return fmt::format("--out {}: explanations are PNG files; give FILE.png or a folder",
                       options.out);
  if (!is_folder && std::filesystem::exists(out, ec))
    throw InputError(options.out, "exists and is not a folder");
  std::filesystem::create_directories(out, ec);
  if (ec) throw InputError(options.out, "cannot create the folder: " + ec.message());
  if (::access(out.c_str(), W_OK) != 0)
    throw InputError(options.out, "the folder cannot be written");
  return std::nullopt;
}

// <stem>-<method>.png in the folder, or <stem>-<method>-2.png, ... when that name was given
// out already in this run.
class OutputNames {
 public:
  OutputNames(Destination destination, std::string method)
      : destination_(std::move(destination)), method_(std::move(method)) {}
  std::string path_for(const std::string& picture) {
    if (destination_.single_file) return destination_.path;
    const std::string stem = std::filesystem::path(picture).stem().string() + "-" + method_;
    std::string name = stem + ".png";
    for (int n = 2; !used_.insert(name).second; ++n) name = fmt::format("{}-{}.png", stem, n);
    return (std::filesystem::path(destination_.path) / name).string();
  }

 private:
  Destination destination_;
  std::string method_;
  std::set<std::string> used_;
};

// A float as the shortest decimal that reads back as the same float (JSON numbers are
// doubles; 0.1f would otherwise print as 0.10000000149011612).
double json_number(float value) { return std::stod(fmt::format("{}", value)); }

// {"file", "out" (the PNG, or null), "method", "layer" (gradcam), "class" and "class_name"
// (the class explained), "probability", "predicted", "predicted_name",
// "predicted_probability", "signed", "placement" {top, left, height, width} (where the input
// lies in the picture, in its pixels), "map" [H][W]}.
std::string json_line(const std::string& file, const std::optional<std::string>& out,
                      const Explanation& e, const InputPlacement& placement,
                      const std::vector<std::string>& names) {
  nlohmann::json line = {{"file", file},
                         {"out", out ? nlohmann::json(*out) : nlohmann::json(nullptr)},
                         {"method", std::string(to_string(e.method))},
                         {"class", e.target_class},
                         {"class_name", names[static_cast<std::size_t>(e.target_class)]},
                         {"probability", json_number(e.probability)},
                         {"predicted", e.predicted_class},
                         {"predicted_name", names[static_cast<std::size_t>(e.predicted_class)]},
                         {"predicted_probability", json_number(e.predicted_probability)},
                         {"signed", e.is_signed},
                         {"placement",
                          {{"top", placement.top},
                           {"left", placement.left},
                           {"height", placement.height},
                           {"width", placement.width}}},
                         {"map", map_rows(e.map)}};
  if (e.method == ExplainMethod::gradcam) line["layer"] = e.layer;
  return line.dump();
}

int explain_pictures(const ExplainCommandOptions& options) {
  Destination destination;
  if (const std::optional<std::string> problem = plan_destination(options, destination))
    return usage_error(*problem);
  set_num_threads(options.threads);
  const Sequential model = load_model(options.model_path);
  check_picture_input(model.input_shape(), model.preprocessing(), options.model_path);
  const std::vector<std::string> names = class_names(model);
  if (options.target_class >= std::int64_t(names.size()))
    return usage_error(fmt::format("--class {}: the model has {} classes, 0 to {}",
                                   options.target_class, names.size(), names.size() - 1));
  const ExplainOptions explain_options{.method = parse_explain_method(options.method, "--method"),
                                       .target_class = options.target_class,
                                       .steps = options.steps,
                                       .layer = options.layer};
  Explainer explainer(model);
  OutputNames outputs(destination, std::string(to_string(explain_options.method)));

  bool failed = false;
  for (const std::string& file : options.pictures) {
    try {
      const Image picture = read_picture(file);
      const PreparedInput prepared =
          prepare_picture(picture, model.input_shape(), model.preprocessing(), file);
      const Explanation e = explainer.explain(prepared.input, explain_options);
      std::optional<std::string> out;
      if (!destination.none) {
        out = outputs.path_for(file);
        draw_explanation(e, prepared.input, picture, prepared.placement, names,
                         std::filesystem::path(file).filename().string())
            .save(*out);
      }
      if (options.json)
        fmt::print("{}\n", json_line(file, out, e, prepared.placement, names));
      else
        fmt::print("{}  {}  {:.4f}  {} {}{}\n", file,
                   names[static_cast<std::size_t>(e.predicted_class)], e.predicted_probability,
                   to_string(e.method), names[static_cast<std::size_t>(e.target_class)],
                   out ? "  -> " + *out : "");
    } catch (const InputError& error) {
      fmt::print(stderr, "imgcls: error: {}\n", error.what());
      if (options.json)
        fmt::print("{}\n", nlohmann::json{{"file", file}, {"error", error.what()}}.dump());
      failed = true;
    }
    std::fflush(stdout);
  }
  return failed ? kBadInput : kSuccess;
}

}  // namespace

Action add_explain_command(CLI::App& app) {
  auto options = std::make_shared<ExplainCommandOptions>();
  CLI::App* cmd = app.add_subcommand(
      "explain",
      "Show what a model looked at: for each picture, a PNG with the input the model saw, a heat "
      "map of the pixels that made its score, and the map over the picture, with the predicted "
      "class and its probability");
  cmd->add_option("model", options->model_path,
                  "A model file written by imgcls (model.safetensors)")
      ->required();
  cmd->add_option("pictures", options->pictures, "Pictures (PNG, JPEG, BMP, PGM, PPM)")->required();
  cmd->add_option("--method", options->method,
                  "saliency: |gradient| of the score; gradxinput: gradient x input; "
                  "integrated-gradients: from a black picture to this one, sums to the score's "
                  "change; gradcam (or grad-cam): the last convolution's activations weighted by "
                  "their gradients; occlusion: the score's drop when a patch is blacked out")
      ->capture_default_str()
      ->check(CLI::IsMember(kMethodChoices));
  cmd->add_option("--class", options->target_class,
                  "The class to explain (its number); default: the predicted class")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--out", options->out,
                  "A folder (created if needed) for <picture>-<method>.png, or FILE.png for one "
                  "picture");
  cmd->add_flag("--json", options->json,
                "One JSON object per line and picture: the classes, probabilities and the map as "
                "numbers (rows of the model input), or file and error");
  cmd->add_option("--steps", options->steps, "integrated-gradients: points along the path")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--layer", options->layer,
                  "gradcam: the layer to weigh, by the name summary prints (default: the last "
                  "convolution, before its pooling)");
  cmd->add_option("--threads", options->threads, "CPU threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  return [options] { return explain_pictures(*options); };
}

}  // namespace imgcls::cli
