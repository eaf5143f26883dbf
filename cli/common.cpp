// Shared command-line pieces: data and architecture arguments, progress display.
#include "common.hpp"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "imgcls/error.hpp"
#include "imgcls/image.hpp"
#include "imgcls/io.hpp"

namespace imgcls::cli {

namespace {
double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

std::string resolve_data_dir(const std::string& spec) {
  return spec == "mnist" ? std::string(IMGCLS_DEFAULT_DATA_DIR) : spec;
}

std::string data_record(const std::string& spec) {
  if (spec == "mnist") return spec;
  std::error_code ec;
  const std::filesystem::path absolute = std::filesystem::absolute(spec, ec);
  if (ec) return spec;
  const std::filesystem::path normal = absolute.lexically_normal();
  const std::filesystem::path installed =
      std::filesystem::path(IMGCLS_DEFAULT_DATA_DIR).lexically_normal();
  return normal == installed ? "mnist" : normal.string();
}

std::string data_for_model(const std::optional<std::string>& given, const std::string& model_path) {
  if (given) return *given;
  const nlohmann::json summary = read_model_metadata(model_path).training;
  if (summary.is_object() && summary.contains("data") && summary.at("data").is_string())
    return summary.at("data").get<std::string>();
  throw InputError(model_path, "the model file does not record the data it was trained on",
                   "pass --data: mnist, a folder with the MNIST IDX files, or an image folder");
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

FolderSplits load_data_for_model(const std::string& dir, Sequential& model, bool test_only,
                                 bool skip_bad_files) {
  if (is_idx_folder(dir) || !std::filesystem::is_directory(dir))
    return test_only ? load_dataset_folder_test(dir, {}) : load_dataset_folder(dir, {});
  const Shape& shape = model.input_shape();
  if (shape.size() != 3 || shape[2] != 1)
    throw InputError(dir, "image folders give single-channel pictures [H, W, 1]; the model takes " +
                              to_string(shape));
  const ImageFolderOptions options{
      .height = shape[0], .width = shape[1], .skip_bad_files = skip_bad_files};
  FolderSplits data;
  try {
    data = test_only ? load_dataset_folder_test(dir, options) : load_dataset_folder(dir, options);
  } catch (const InputError& e) {
    if (skip_bad_files || !has_image_extension(e.source())) throw;
    throw InputError(e.source(), e.problem(),
                     "fix or remove the file, or pass --skip-bad-files to leave such pictures out");
  }
  warn_about_unused_files(dir, data);
  const std::vector<std::string> model_names = class_names(model);
  if (test_only) {
    if (data.class_names != model_names)
      throw InputError(dir,
                       "the folder's classes [" + joined(data.class_names) +
                           "] differ from the model's [" + joined(model_names) + "]",
                       "evaluate on a folder with one subfolder per class of the model, named as "
                       "the model names them");
    return data;
  }
  if (data.class_names.size() != model_names.size())
    throw InputError(
        dir,
        fmt::format("{} classes ({}) for a model with {} outputs", data.class_names.size(),
                    joined(data.class_names), model_names.size()),
        "use an architecture file (--arch) whose last layer has one unit per class");
  model.set_class_names(data.class_names);
  model.set_preprocessing("none");
  return data;
}

Sequential resolve_architecture(const std::string& spec) {
  if (spec.ends_with(".json") || std::filesystem::exists(spec)) return read_architecture(spec);
  return presets::by_name(spec);
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
