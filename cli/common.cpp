// Shared command-line pieces: data and architecture arguments, progress display.
#include "common.hpp"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>
#include <tuple>

#include "imgcls/error.hpp"
#include "imgcls/image.hpp"
#include "imgcls/io.hpp"

namespace imgcls::cli {

namespace {
double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

namespace {
constexpr const char* kMnist = "mnist";
constexpr const char* kFashionMnist = "fashion-mnist";

// `path` absolute and lexically normal; as given when it cannot be made absolute.
std::filesystem::path normal_path(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  return ec ? std::filesystem::path(path) : absolute.lexically_normal();
}

bool is_fashion_mnist_dir(const std::string& dir) {
  return normal_path(dir) == normal_path(kDebianFashionMnistDir);
}
}  // namespace

std::string resolve_data_dir(const std::string& spec) {
  if (spec == kMnist) return IMGCLS_DEFAULT_DATA_DIR;
  if (spec != kFashionMnist) return spec;
  std::error_code ec;
  if (!std::filesystem::is_directory(kDebianFashionMnistDir, ec))
    throw InputError(
        spec, fmt::format("not installed: there is no {}", kDebianFashionMnistDir),
        "install Debian's package dataset-fashion-mnist (scripts/setup.sh installs it)");
  return kDebianFashionMnistDir;
}

std::string data_record(const std::string& spec) {
  if (spec == kMnist || spec == kFashionMnist) return spec;
  const std::filesystem::path normal = normal_path(spec);
  if (normal == normal_path(IMGCLS_DEFAULT_DATA_DIR)) return kMnist;
  if (normal == normal_path(kDebianFashionMnistDir)) return kFashionMnist;
  return normal.string();
}

std::string data_for_model(const std::optional<std::string>& given, const std::string& model_path) {
  if (given) return *given;
  const nlohmann::json summary = read_model_metadata(model_path).training;
  if (summary.is_object() && summary.contains("data") && summary.at("data").is_string())
    return summary.at("data").get<std::string>();
  throw InputError(
      model_path, "the model file does not record the data it was trained on",
      "pass --data: mnist, fashion-mnist, a folder of IDX files or CIFAR binary files, "
      "or an image folder");
}

namespace {
std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}
}  // namespace

namespace {
// "a, b, c and 4 more": at most `shown` entries of a long list.
std::string listed(const std::vector<std::string>& items, std::size_t shown = 10) {
  std::string text;
  for (std::size_t i = 0; i < std::min(items.size(), shown); ++i)
    text += (i == 0 ? "" : ", ") + items[i];
  if (items.size() > shown) text += fmt::format(" and {} more", items.size() - shown);
  return text;
}

void warn_about_unused_files(const std::string& dir, const FolderSplits& data) {
  if (!data.ignored.empty())
    fmt::print(stderr,
               "imgcls: warning: {} entr{} in {} {} not read (pictures are .png .jpg .jpeg .bmp "
               ".pgm .ppm .pnm "
               "files in the class folders): {}\n",
               data.ignored.size(), data.ignored.size() == 1 ? "y" : "ies", dir,
               data.ignored.size() == 1 ? "is" : "are", listed(data.ignored));
  if (!data.skipped.empty()) {
    std::vector<std::string> reasons;
    for (const SkippedFile& file : data.skipped)
      reasons.push_back(file.path + " (" + file.reason + ")");
    fmt::print(
        stderr,
        "imgcls: warning: left out {} picture{} that did not decode (--skip-bad-files): {}\n",
        data.skipped.size(), data.skipped.size() == 1 ? "" : "s", listed(reasons));
  }
}
}  // namespace

std::optional<TtaOptions> TtaChoice::options() const {
  if (!enabled) return std::nullopt;
  constexpr int kEightNeighbours = 9;
  return views == kEightNeighbours ? TtaOptions::eight_neighbours() : TtaOptions::four_neighbours();
}

void add_tta_options(CLI::App* cmd, TtaChoice& choice) {
  CLI::Option* tta = cmd->add_flag(
      "--tta", choice.enabled,
      "Test-time augmentation: average the class probabilities over the picture and its "
      "one-pixel shifts (filled with 0), one forward pass per view");
  cmd->add_option("--tta-views", choice.views,
                  "With --tta: 5 (the picture and its shifts up, down, left, right) or 9 (the "
                  "diagonals too)")
      ->capture_default_str()
      ->check(CLI::IsMember({5, 9}))
      ->needs(tta);
}

void add_picture_options(CLI::App* cmd, PictureOptions& options, bool training) {
  const std::string from = training ? "the model's input for an architecture file, else " : "";
  cmd->add_option(
         "--channels", options.channels,
         "Image folders: 1 (grey) or 3 (colour) channels (default: " + from +
             (training ? "3 when any training picture has colour, else 1)" : "the model's)"))
      ->check(CLI::IsMember({1, 3}));
  if (training) {
    cmd->add_option_function<std::string>(
        "--image-size",
        [&options](const std::string& text) {
          // H, or H and W joined by an x: digits only, nothing around them.
          const auto number = [](std::string_view digits, std::int64_t& value) {
            const char* end = digits.data() + digits.size();
            const auto [stop, error] = std::from_chars(digits.data(), end, value);
            return !digits.empty() && error == std::errc{} && stop == end;
          };
          const std::size_t x = text.find('x');
          std::int64_t height = 0, width = 0;
          const std::string_view all(text);
          const bool read = x == std::string::npos ? number(all, height) && number(all, width)
                                                   : number(all.substr(0, x), height) &&
                                                         number(all.substr(x + 1), width);
          if (!read || height < 1 || width < 1 || height > 4096 || width > 4096)
            throw CLI::ValidationError("--image-size",
                                       "expected H or HxW (1 to 4096), got " + text);
          options.image_size = std::pair{height, width};
        },
        "Image folders: the size pictures are made, H or HxW (default: " + from +
            "the most common picture size)");
    cmd->add_option_function<std::string>(
           "--resize",
           [&options](const std::string& rule) {
             options.resize = rule == "crop" ? Preprocessing::crop : Preprocessing::stretch;
           },
           "Image folders: stretch (each axis to the size, as Keras) or crop (shorter side to the "
           "size, keeping the aspect ratio, then the centre); recorded in the model for predict "
           "and serve (default: stretch)")
        ->check(CLI::IsMember({"stretch", "crop"}));
  }
  cmd->add_flag("--skip-bad-files", options.skip_bad_files, kSkipBadFilesHelp);
}

namespace {

// Folder loading with a progress line on a terminal, and the CLI's hint on a bad picture.
FolderSplits load_folder(const std::string& dir, ImageFolderOptions folder, bool test_only,
                         bool skip_bad_files, std::FILE* log) {
  const bool interactive = log != nullptr && isatty(fileno(log)) != 0;
  if (interactive)
    folder.on_progress = [log](std::int64_t done, std::int64_t total) {
      fmt::print(log, "\r  decoding pictures: {}/{}{}", done, total, done == total ? "\n" : "");
      std::fflush(log);
    };
  FolderSplits data;
  try {
    data = test_only ? load_dataset_folder_test(dir, folder) : load_dataset_folder(dir, folder);
  } catch (const InputError& e) {
    if (skip_bad_files || !has_image_extension(e.source())) throw;
    throw InputError(e.source(), e.problem(),
                     "fix or remove the file, or pass --skip-bad-files to leave such pictures out");
  }
  warn_about_unused_files(dir, data);
  return data;
}

bool is_image_folder(const std::string& dir) {
  return !is_idx_folder(dir) && !cifar_folder_kind(dir) && std::filesystem::is_directory(dir);
}

Shape sample_shape(const PixelTensor& images) {
  return Shape(images.shape().begin() + 1, images.shape().end());
}

// IDX or CIFAR files (not an image folder), with Fashion-MNIST's class names when DIR is
// its installed folder.
FolderSplits load_data_files(const std::string& dir, bool test_only) {
  FolderSplits data = test_only ? load_dataset_folder_test(dir, {}) : load_dataset_folder(dir, {});
  if (data.class_names.empty() && is_fashion_mnist_dir(dir))
    data.class_names = fashion_mnist_class_names();
  return data;
}

// The resize rule of a model trained on data with class names: a resumed model's own, else
// --resize, else stretch.
Preprocessing resize_rule(std::optional<Preprocessing> model_resize,
                          const PictureOptions& options) {
  if (!model_resize || *model_resize == Preprocessing::mnist_digit)
    return options.resize.value_or(Preprocessing::stretch);
  if (options.resize && *options.resize != *model_resize)
    throw InputError("--resize",
                     fmt::format("{} for a model trained with {}", to_string(*options.resize),
                                 to_string(*model_resize)),
                     "drop --resize: the model's rule decides");
  return *model_resize;
}

// IDX and CIFAR images are used as they are: --channels and --image-size may only repeat them,
// and --resize (how predict prepares pictures) means nothing for digits.
void check_picture_options_for_files(const std::string& dir, const TrainingData& data,
                                     const PictureOptions& options) {
  const Shape& shape = data.input_shape;
  if (options.channels != 0 && options.channels != shape.at(2))
    throw InputError("--channels",
                     fmt::format("{} for the images of {}, which are {}", options.channels, dir,
                                 to_string(shape)),
                     "drop --channels: it converts the pictures of image folders");
  if (options.image_size &&
      (options.image_size->first != shape.at(0) || options.image_size->second != shape.at(1)))
    throw InputError(
        "--image-size",
        fmt::format("{}x{} for the images of {}, which are {}", options.image_size->first,
                    options.image_size->second, dir, to_string(shape)),
        "drop --image-size: it resizes the pictures of image folders");
  if (options.resize && data.splits.class_names.empty())
    throw InputError("--resize", fmt::format("the digits of {} are prepared as MNIST digits", dir),
                     "drop --resize: it applies to data with class names (image folders, CIFAR, "
                     "fashion-mnist)");
}

// "0", "1", ...: the classes of a model that does not name them.
std::vector<std::string> numbered(std::size_t count) {
  std::vector<std::string> names;
  for (std::size_t c = 0; c < count; ++c) names.push_back(std::to_string(c));
  return names;
}

}  // namespace

TrainingData load_training_data(const std::string& dir, const std::optional<Shape>& model_input,
                                std::optional<Preprocessing> model_resize,
                                const PictureOptions& options, std::FILE* log) {
  TrainingData data;
  if (!is_image_folder(dir)) {
    constexpr std::int64_t kDigitClasses = 10;
    data.splits = load_data_files(dir, false);
    data.input_shape = sample_shape(data.splits.train.images);
    const std::vector<std::string>& names = data.splits.class_names;
    data.classes = names.empty() ? kDigitClasses : static_cast<std::int64_t>(names.size());
    check_picture_options_for_files(dir, data, options);
    if (!names.empty()) data.resize = resize_rule(model_resize, options);
    return data;
  }
  ImageFolderOptions folder{.skip_bad_files = options.skip_bad_files};
  if (model_input) {
    if (model_input->size() != 3 || ((*model_input)[2] != 1 && (*model_input)[2] != 3))
      throw InputError(dir, "image folders give pictures [H, W, 1] or [H, W, 3]; the model takes " +
                                to_string(*model_input));
    const Shape& shape = *model_input;
    if (options.image_size &&
        (options.image_size->first != shape[0] || options.image_size->second != shape[1]))
      throw InputError("--image-size",
                       fmt::format("{}x{} for a model that takes {}", options.image_size->first,
                                   options.image_size->second, to_string(shape)),
                       "drop --image-size: the model's input decides");
    if (options.channels != 0 && options.channels != shape[2])
      throw InputError(
          "--channels",
          fmt::format("{} for a model that takes {}", options.channels, to_string(shape)),
          "drop --channels: the model's input decides");
    folder.height = shape[0];
    folder.width = shape[1];
    folder.channels = shape[2];
  } else {
    if (options.image_size) std::tie(folder.height, folder.width) = *options.image_size;
    folder.channels = options.channels;
  }
  folder.resize = resize_rule(model_resize, options);
  data.splits = load_folder(dir, folder, false, options.skip_bad_files, log);
  data.input_shape = sample_shape(data.splits.train.images);
  data.classes = static_cast<std::int64_t>(data.splits.class_names.size());
  data.resize = folder.resize;
  return data;
}

void add_negatives(TrainingData& data, const std::string& dir, const std::string& name,
                   const PictureOptions& options, std::FILE* log) {
  const bool digits = data.splits.class_names.empty();
  const std::vector<std::string> names =
      digits ? numbered(static_cast<std::size_t>(data.classes)) : data.splits.class_names;
  if (std::find(names.begin(), names.end(), name) != names.end())
    throw InputError("--negatives-name", "\"" + name + "\" is already a class of the data",
                     "name the negatives' class something else");
  const Preprocessing preprocessing = digits ? Preprocessing::mnist_digit : data.resize;
  check_picture_input(data.input_shape, preprocessing, dir);
  ImageFolderOptions folder{.skip_bad_files = options.skip_bad_files};
  if (log != nullptr && isatty(fileno(log)) != 0)
    folder.on_progress = [log](std::int64_t done, std::int64_t total) {
      fmt::print(log, "\r  preparing negatives: {}/{}{}", done, total, done == total ? "\n" : "");
      std::fflush(log);
    };
  NegativePictures negatives;
  try {
    negatives = read_negative_pictures(dir, data.input_shape, preprocessing,
                                       static_cast<std::int32_t>(data.classes), folder);
  } catch (const InputError& e) {
    if (options.skip_bad_files || !has_image_extension(e.source())) throw;
    throw InputError(e.source(), e.problem(),
                     "fix or remove the file, or pass --skip-bad-files to leave such pictures out");
  }
  for (const SkippedFile& file : negatives.skipped)
    fmt::print(stderr, "imgcls: warning: {}: left out: {}\n", file.path, file.reason);
  Dataset& train = data.splits.train;
  const std::int64_t before = train.size();
  std::vector<std::uint8_t> bytes(train.images.data(), train.images.data() + train.images.size());
  bytes.insert(bytes.end(), negatives.data.images.data(),
               negatives.data.images.data() + negatives.data.images.size());
  Shape shape = train.images.shape();
  shape[0] = before + negatives.data.size();
  train.images = PixelTensor(shape, std::move(bytes));
  train.labels.insert(train.labels.end(), negatives.data.labels.begin(),
                      negatives.data.labels.end());
  data.classes += 1;
  data.rejection_name = name;
  fmt::print(
      log, "  {} negatives (\"{}\", class {}) from {}{}{}\n", negatives.data.size(), name,
      data.classes - 1, dir,
      negatives.without_digit > 0
          ? fmt::format("; {} pictures without a digit to find left out", negatives.without_digit)
          : "",
      negatives.skipped.empty()
          ? ""
          : fmt::format("; {} that do not decode left out", negatives.skipped.size()));
}

void fit_model_to_data(Sequential& model, const TrainingData& data, const std::string& dir) {
  std::vector<std::string> names = data.splits.class_names;
  if (names.empty() && !data.rejection_name)
    return;  // digits: numbered classes, MNIST's preprocessing
  if (data.rejection_name) {
    if (names.empty()) names = numbered(static_cast<std::size_t>(data.classes - 1));
    names.push_back(*data.rejection_name);
  }
  if (static_cast<std::int64_t>(names.size()) != element_count(model.output_shape()))
    throw InputError(dir,
                     fmt::format("{} classes ({}) for a model with {} outputs", names.size(),
                                 joined(names), element_count(model.output_shape())),
                     "use a preset (--arch seed, fast, lenet5, strong, cifar: built for the data), "
                     "or an architecture file whose last layer has one unit per class");
  model.set_class_names(names);
  if (!data.splits.class_names.empty()) model.set_preprocessing(data.resize);
}

Dataset load_test_data(const std::string& dir, const Sequential& model,
                       const PictureOptions& options, std::FILE* log) {
  if (!is_image_folder(dir)) {
    FolderSplits data = load_data_files(dir, true);
    // Digits carry no names: any model that numbers its classes takes them. A model with a
    // rejection output is labelled in its other classes.
    const std::vector<std::string> model_names = answer_class_names(model);
    const std::vector<std::string> data_names =
        data.class_names.empty() ? numbered(model_names.size()) : data.class_names;
    if (data_names != model_names)
      throw InputError(dir,
                       "the data's classes [" + listed(data_names) + "] differ from the model's [" +
                           listed(model_names) + "]",
                       "evaluate on the data the model was trained on, which its file records: "
                       "leave out --data");
    return std::move(data.test);
  }
  const Shape& shape = model.input_shape();
  if (shape.size() != 3 || (shape[2] != 1 && shape[2] != 3))
    throw InputError(dir, "image folders give pictures [H, W, 1] or [H, W, 3]; the model takes " +
                              to_string(shape));
  if (options.channels != 0 && options.channels != shape[2])
    throw InputError(
        "--channels",
        fmt::format("{} for a model that takes {}", options.channels, to_string(shape)),
        "drop --channels: the model's input decides");
  const Preprocessing rule = model.preprocessing() == Preprocessing::mnist_digit
                                 ? Preprocessing::stretch
                                 : model.preprocessing();
  const ImageFolderOptions folder{.height = shape[0],
                                  .width = shape[1],
                                  .channels = shape[2],
                                  .resize = rule,
                                  .skip_bad_files = options.skip_bad_files};
  FolderSplits data = load_folder(dir, folder, true, options.skip_bad_files, log);
  // A model with a rejection output may be tested with or without pictures of that class.
  const std::vector<std::string> model_names = class_names(model);
  if (data.class_names != model_names && data.class_names != answer_class_names(model))
    throw InputError(dir,
                     "the folder's classes [" + joined(data.class_names) +
                         "] differ from the model's [" + joined(model_names) + "]",
                     "evaluate on a folder with one subfolder per class of the model, named as "
                     "the model names them");
  return std::move(data.test);
}

// A folder of the same name (say ./cifar) does not shadow a preset: only a file does.
bool is_architecture_file(const std::string& spec) {
  return spec.ends_with(".json") || std::filesystem::is_regular_file(spec);
}

Sequential resolve_architecture(const std::string& spec, const TrainingData& data) {
  if (is_architecture_file(spec)) return read_architecture(spec);
  return presets::by_name(spec,
                          {.input_shape = data.input_shape,
                           .classes = data.classes,
                           .normalize = data.input_shape.size() == 3 && data.input_shape[2] == 3});
}

History run_training(Trainer& trainer) {
  try {
    return trainer.run();
  } catch (const InputError& e) {
    if (e.source() != "training") throw;
    throw InputError(e.source(), e.problem(),
                     "check the data for NaN or Inf values, or lower the learning rate (--lr)");
  }
}

ProgressBar::ProgressBar(std::FILE* out, std::int64_t every)
    : out_(out), every_(every), interactive_(isatty(fileno(out)) != 0) {}

void ProgressBar::on_train_batch_end(Trainer& trainer, const StepStats& s) {
  if (!interactive_ || (s.step % every_ != 0 && s.step != s.steps)) return;
  constexpr int kBarWidth = 30;
  if (s.epoch != current_epoch_) {  // the first report of an epoch starts its clock
    current_epoch_ = s.epoch;
    first_step_ = s.step;
    epoch_started_ = now_seconds();
  }
  const double per_step =
      (now_seconds() - epoch_started_) / double(std::max<std::int64_t>(s.step - first_step_, 1));
  const double eta = per_step * double(s.steps - s.step);
  const int filled = static_cast<int>(double(kBarWidth) * double(s.step) / double(s.steps));
  std::string bar(static_cast<std::size_t>(filled), '=');
  if (filled < kBarWidth) bar += '>';
  bar.resize(kBarWidth, '.');
  fmt::print(out_, "\rEpoch {}/{} {:>6}/{} [{}] ETA {:>4.0f}s - loss {:.4f} - accuracy {:.4f} ",
             s.epoch, trainer.options().epochs, s.step, s.steps, bar, eta, s.epoch_loss,
             s.epoch_accuracy);
  std::fflush(out_);
}

void ProgressBar::on_epoch_end(Trainer& trainer, const EpochStats& e) {
  const double images = double(trainer.data().size());
  std::string line = fmt::format(
      "Epoch {}/{} - {:.1f}s ({:.0f} images/s) - loss {:.4f} - accuracy {:.4f}", e.epoch,
      trainer.options().epochs, e.seconds, images / e.seconds, e.loss, e.accuracy);
  if (e.validation_loss)
    line += fmt::format(" - val_loss {:.4f} - val_accuracy {:.4f}", *e.validation_loss,
                        *e.validation_accuracy);
  fmt::print(out_, "{}{}\n", interactive_ ? "\r\033[K" : "", line);
  std::fflush(out_);
}

Precision training_precision(const std::string& name) {
  if (name == "fp32") return Precision::fp32;
  if (name != "bf16") throw InputError("--precision", "must be fp32 or bf16, got \"" + name + "\"");
  if (!bf16_supported())
    throw InputError("--precision bf16",
                     "this CPU has no AVX512-BF16 instructions (as oneDNN sees it), so bf16 "
                     "would run emulated, slower than fp32",
                     "use --precision fp32 (the default)");
  return Precision::bf16;
}

}  // namespace imgcls::cli
