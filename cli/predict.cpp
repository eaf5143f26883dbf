// imgcls predict: classify the user's own pictures with a trained model (--model, or a model
// file first among the paths), or the built-in digits model (builtin_model.hpp). Each PATH is a
// picture or a folder (its pictures, sorted by name). Pictures are prepared as the model file
// says (imgcls/preprocess.hpp: a digit model's MNIST-form preprocessing, or a resize to the
// model's input, stretched or cropped, grey or colour); --no-preprocess replaces digit
// preprocessing by a plain resize; --tta averages each picture's probabilities over it and
// its one-pixel shifts. They are classified in chunks and printed one line each, in order.
// A picture (or PATH) that cannot be used is reported on stderr and, with --json, as a line
// {"file", "error"} in its place, so a consumer sees every input; the others are still
// classified, and the exit code is then 1.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <set>
#include <span>

#include "builtin_model.hpp"
#include "commands.hpp"
#include "common.hpp"
#include "imgcls/error.hpp"
#include "imgcls/image.hpp"
#include "imgcls/io.hpp"
#include "imgcls/predictor.hpp"
#include "imgcls/preprocess.hpp"
#include "imgcls/runtime.hpp"
#include "imgcls/train.hpp"

namespace imgcls::cli {

namespace {

constexpr std::size_t kChunkSize = 256;  // pictures held in memory and classified together
constexpr double kJsonRounding = 1e6;    // probabilities in JSON keep 6 decimals

struct PredictOptions {
  std::string model_path;
  std::vector<std::string> paths;
  int top = 1;
  bool json = false;
  bool no_preprocess = false;
  std::string save_dir;
  // One thread by default: a few pictures are too little work to share, and a second
  // thread waiting on a busy machine costs more than it saves (process start to answer).
  int threads = 1;
  TtaChoice tta;
};

struct Ranked {
  std::int32_t label = 0;
  float probability = 0.0f;
};

void report(const InputError& error) { fmt::print(stderr, "imgcls: error: {}\n", error.what()); }

// One input in the order given: a picture file to classify, or a path or picture that could
// not be used (error set), or, for a model with a rejection rule, a picture digit
// preprocessing found no digit in (no_digit set: rejected without running the model).
struct Entry {
  std::string file;
  std::optional<InputError> error;
  std::optional<NoDigitError> no_digit;
};

// How pictures become model inputs: the model's shape and preprocessing, or a plain resize
// (stretch) instead of digit preprocessing with --no-preprocess.
struct InputPlan {
  Shape shape;  // [height, width, channels]
  Preprocessing preprocessing = Preprocessing::stretch;
};

InputPlan plan_inputs(const Sequential& model, const PredictOptions& options) {
  Preprocessing preprocessing = model.preprocessing();
  if (options.no_preprocess && preprocessing == Preprocessing::mnist_digit)
    preprocessing = Preprocessing::stretch;
  try {
    check_picture_input(model.input_shape(), preprocessing, model_name(options.model_path));
  } catch (const InputError& e) {
    if (preprocessing != Preprocessing::mnist_digit) throw;
    throw InputError(e.source(), e.problem(),
                     "use --no-preprocess to resize pictures to the model's input as they are");
  }
  return {model.input_shape(), preprocessing};
}

// The pictures in `folder`, by name; an error entry for a folder without any.
std::vector<Entry> pictures_in_folder(const std::string& folder) {
  std::error_code ec;
  const std::filesystem::directory_iterator listing(folder, ec);
  if (ec) return {{folder, InputError(folder, "cannot list the folder: " + ec.message())}};
  std::vector<std::string> files;
  for (const auto& entry : listing) {
    std::error_code entry_ec;
    if (entry.is_regular_file(entry_ec) && has_image_extension(entry.path().string()))
      files.push_back(entry.path().string());
  }
  if (files.empty())
    return {{folder, InputError(folder, "no pictures in this folder",
                                "imgcls reads .png .jpg .jpeg .bmp .pgm .ppm .pnm files")}};
  std::sort(files.begin(), files.end());
  std::vector<Entry> entries;
  entries.reserve(files.size());
  for (std::string& file : files) entries.push_back({std::move(file), std::nullopt});
  return entries;
}

// PATH arguments -> entries: a file as given, a folder as its pictures.
std::vector<Entry> list_pictures(const std::vector<std::string>& paths) {
  std::vector<Entry> entries;
  for (const std::string& path : paths) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      std::vector<Entry> found = pictures_in_folder(path);
      std::move(found.begin(), found.end(), std::back_inserter(entries));
    } else if (std::filesystem::exists(path, ec)) {
      entries.push_back({path, std::nullopt});
    } else {
      entries.push_back({path, InputError(path, "no such file or folder")});
    }
  }
  return entries;
}

// Names for --save-preprocessed: the picture's stem + ".png", or stem-2.png, stem-3.png,
// ... when that name was already given out in this run.
class PreprocessedNames {
 public:
  explicit PreprocessedNames(std::string dir) : dir_(std::move(dir)) {}
  std::string path_for(const std::string& file) {
    const std::string stem = std::filesystem::path(file).stem().string();
    std::string name = stem + ".png";
    for (int n = 2; !used_.insert(name).second; ++n) name = fmt::format("{}-{}.png", stem, n);
    return (std::filesystem::path(dir_) / name).string();
  }

 private:
  std::string dir_;
  std::set<std::string> used_;
};

// Digit preprocessing's errors with the hint of this command.
InputError with_preprocessing_hint(const InputError& e) {
  return {e.source(), e.problem(), "use --no-preprocess for pictures already in MNIST form"};
}

// Throws NoDigitError as digit preprocessing does (the caller decides: a rejection or an
// error), and any other InputError with this command's hint.
Image model_input(const std::string& file, const InputPlan& plan) {
  const Image picture = read_picture(file);
  try {
    return picture_to_input(picture, plan.shape, plan.preprocessing, file);
  } catch (const NoDigitError&) {
    throw;
  } catch (const InputError& e) {
    if (plan.preprocessing != Preprocessing::mnist_digit) throw;
    throw with_preprocessing_hint(e);
  }
}

// The k most probable classes, best first.
std::vector<Ranked> top_classes(const float* probabilities, std::int64_t classes, std::int64_t k) {
  std::vector<std::int32_t> labels(static_cast<std::size_t>(classes));
  std::iota(labels.begin(), labels.end(), 0);
  const auto end = labels.begin() + std::min(k, classes);
  std::partial_sort(labels.begin(), end, labels.end(), [&](std::int32_t a, std::int32_t b) {
    return probabilities[a] > probabilities[b];
  });
  std::vector<Ranked> ranked;
  for (auto it = labels.begin(); it != end; ++it) ranked.push_back({*it, probabilities[*it]});
  return ranked;
}

double rounded_for_json(float probability) {
  return std::round(double(probability) * kJsonRounding) / kJsonRounding;
}

// The answer first (answer(): the class given, or the rejection output when rejected), then
// the other most probable outputs, k in all.
std::vector<Ranked> ranked_answer(const Answer& given, const float* probabilities,
                                  std::int64_t classes, std::int64_t k) {
  const Ranked first{.label = static_cast<std::int32_t>(given.output),
                     .probability = given.confidence};
  std::vector<Ranked> ranked = {first};
  for (const Ranked& r : top_classes(probabilities, classes, k))
    if (r.label != first.label && std::ssize(ranked) < k) ranked.push_back(r);
  return ranked;
}

// "digit.png  7  0.9987" and, with --top, "  1 0.0010  2 0.0002" after it (class names); a
// rejected picture gives the rejection output's name ("cat.png  not a digit  0.9712").
std::string text_line(const std::string& file, const std::vector<Ranked>& ranked,
                      const std::vector<std::string>& names) {
  const auto name = [&](const Ranked& r) { return names[static_cast<std::size_t>(r.label)]; };
  std::string line = fmt::format("{}  {}  {:.4f}", file, name(ranked[0]), ranked[0].probability);
  for (std::size_t i = 1; i < ranked.size(); ++i)
    line += fmt::format("  {} {:.4f}", name(ranked[i]), ranked[i].probability);
  return line;
}

// {"file", "label" (class index; null when rejected), "class" (its name, or the rejection
// output's), "confidence", "rejected", "probabilities": [one per output]}, and for a model
// with a rejection rule "rejection_score" (the rejection output's probability); with --top >
// 1, "top": [{"label", "probability"}, ...]; with --tta, "tta": true and "views" (the views
// averaged).
std::string json_line(const std::string& file, const float* probabilities, std::int64_t classes,
                      const Answer& given, const std::vector<Ranked>& ranked,
                      const std::vector<std::string>& names, bool rejection_rule,
                      const std::optional<TtaOptions>& tta) {
  nlohmann::json all = nlohmann::json::array();
  for (std::int64_t c = 0; c < classes; ++c) all.push_back(rounded_for_json(probabilities[c]));
  nlohmann::json line = {
      {"file", file},
      {"label", given.rejected ? nlohmann::json(nullptr) : nlohmann::json(given.label)},
      {"class", names[static_cast<std::size_t>(ranked[0].label)]},
      {"confidence", rounded_for_json(ranked[0].probability)},
      {"rejected", given.rejected}};
  if (rejection_rule) line["rejection_score"] = rounded_for_json(given.rejection_score);
  line["probabilities"] = all;
  if (ranked.size() > 1) {
    nlohmann::json top = nlohmann::json::array();
    for (const Ranked& r : ranked)
      top.push_back({{"label", r.label}, {"probability", rounded_for_json(r.probability)}});
    line["top"] = top;
  }
  if (tta) {
    line["tta"] = true;
    line["views"] = tta->shifts.size();
  }
  return line.dump();
}

// {"file", "error"}: the line of an input that could not be classified.
std::string json_error_line(const std::string& file, const InputError& error) {
  return nlohmann::json{{"file", file}, {"error", error.what()}}.dump();
}

// The line of a picture a model with a rejection rule rejects because digit preprocessing
// found no digit in it (no_digit_answer): {"file", "label": null, "class", "confidence": 1,
// "rejected": true, "rejection_score": 1, "reason"}, or "blank.png  not a digit  1.0000
// (found no digit...)".
std::string no_digit_line(const std::string& file, const NoDigitError& why, const Answer& given,
                          const std::vector<std::string>& names, bool json) {
  const std::string& name = names[static_cast<std::size_t>(given.output)];
  if (!json)
    return fmt::format("{}  {}  {:.4f}  ({})", file, name, given.confidence, why.problem());
  return nlohmann::json{
      {"file", file},           {"label", nullptr},
      {"class", name},          {"confidence", rounded_for_json(given.confidence)},
      {"rejected", true},       {"rejection_score", rounded_for_json(given.rejection_score)},
      {"reason", why.problem()}}
      .dump();
}

// Classifies the entries that have an input and prints one line per entry, in order: a
// prediction, or with --json the error of an entry that has none (errors were already
// reported on stderr).
void print_predictions(Sequential& model, const std::vector<Entry>& entries,
                       const std::vector<Image>& inputs, const PredictOptions& options) {
  if (entries.empty()) return;
  const std::optional<TtaOptions> tta = options.tta.options();
  Tensor probabilities;
  if (!inputs.empty())
    probabilities = tta ? predict(model, to_batch(inputs), *tta) : predict(model, to_batch(inputs));
  const std::int64_t classes = inputs.empty() ? 0 : probabilities.dim(1);
  const std::vector<std::string> names = class_names(model);
  std::int64_t row_index = 0;
  for (const Entry& entry : entries) {
    if (entry.error) {
      if (options.json) fmt::print("{}\n", json_error_line(entry.file, *entry.error));
      continue;
    }
    if (entry.no_digit) {
      fmt::print("{}\n", no_digit_line(entry.file, *entry.no_digit, *no_digit_answer(model), names,
                                       options.json));
      continue;
    }
    const float* row = probabilities.data() + row_index++ * classes;
    const Answer given =
        answer(model, std::span<const float>(row, static_cast<std::size_t>(classes)));
    const std::vector<Ranked> ranked = ranked_answer(given, row, classes, options.top);
    const std::string line = options.json ? json_line(entry.file, row, classes, given, ranked,
                                                      names, model.rejection().has_value(), tta)
                                          : text_line(entry.file, ranked, names);
    fmt::print("{}\n", line);
  }
  std::fflush(stdout);
}

void create_save_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    throw InputError(dir, "cannot create the folder for --save-preprocessed: " + ec.message());
}

// The model is --model, or a model file given first among the paths (the form imgcls predict
// MODEL PICTURE... of earlier versions), or the built-in digits model. False: only a model
// was given.
bool take_model_from_paths(PredictOptions& options) {
  if (!options.model_path.empty() || !options.paths.front().ends_with(".safetensors")) return true;
  options.model_path = options.paths.front();
  options.paths.erase(options.paths.begin());
  return !options.paths.empty();
}

int predict_pictures(PredictOptions options) {
  if (!take_model_from_paths(options)) {
    fmt::print(stderr,
               "imgcls predict: no pictures after the model {}\nUsage: imgcls predict [--model "
               "MODEL] PICTURE...\n",
               options.model_path);
    return kUsage;
  }
  set_num_threads(options.threads);
  Sequential model = load_model_or_builtin(options.model_path);
  const InputPlan plan = plan_inputs(model, options);
  if (!options.save_dir.empty()) create_save_dir(options.save_dir);
  PreprocessedNames names(options.save_dir);

  bool failed = false;
  std::vector<Entry> chunk_entries;
  std::vector<Image> chunk_inputs;
  for (Entry& entry : list_pictures(options.paths)) {
    if (!entry.error) {
      try {
        Image input = model_input(entry.file, plan);
        if (!options.save_dir.empty()) write_png(names.path_for(entry.file), input);
        chunk_inputs.push_back(std::move(input));
      } catch (const NoDigitError& error) {
        if (no_digit_answer(model))
          entry.no_digit = error;
        else
          entry.error = with_preprocessing_hint(error);
      } catch (const InputError& error) {
        entry.error = error;
      }
    }
    if (entry.error) {
      report(*entry.error);
      failed = true;
    }
    chunk_entries.push_back(std::move(entry));
    if (chunk_entries.size() == kChunkSize) {
      print_predictions(model, chunk_entries, chunk_inputs, options);
      chunk_entries.clear();
      chunk_inputs.clear();
    }
  }
  print_predictions(model, chunk_entries, chunk_inputs, options);
  return failed ? kBadInput : kSuccess;
}

}  // namespace

Action add_predict_command(CLI::App& app) {
  auto options = std::make_shared<PredictOptions>();
  CLI::App* cmd = app.add_subcommand(
      "predict",
      "Classify your own pictures (PNG, JPEG, BMP, PGM, PPM) with a trained model, or the "
      "built-in digits model when none is named; prints one line per picture: file, label, "
      "confidence");
  cmd->add_option("paths", options->paths,
                  "Pictures, or folders whose pictures (by extension, sorted by name) are read. "
                  "A model file (.safetensors) first, as in imgcls predict MODEL PICTURE..., is "
                  "the same as --model MODEL")
      ->required();
  cmd->add_option("--model", options->model_path,
                  "A model file written by imgcls (model.safetensors); default: the built-in "
                  "digits model (models/digits.safetensors)");
  cmd->add_option("--top", options->top,
                  "Also list the K most probable classes with their probabilities")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_flag("--json", options->json,
                "One JSON object per line and input: file, label (null when rejected), class, "
                "confidence, rejected, rejection_score (models with a rejection class), "
                "probabilities (and tta, views with --tta); or file and error for an input that "
                "could not be classified");
  cmd->add_flag("--no-preprocess", options->no_preprocess,
                "Digit models: only resize to the model's input (no inversion, cropping or "
                "centring), for pictures already in MNIST form, white digit on black. Other models "
                "are always fed by their own resize rule (stretch or crop)");
  add_tta_options(cmd, options->tta);
  cmd->add_option("--save-preprocessed", options->save_dir,
                  "Write the image the model saw, as PNG, into this folder (created if needed)");
  cmd->add_option("--threads", options->threads,
                  "CPU threads (one is the faster for a single picture)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  return [options] { return predict_pictures(*options); };
}

}  // namespace imgcls::cli
