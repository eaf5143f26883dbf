// imgcls train: train any architecture with the usual controls (optimizer, schedule,
// validation split, augmentation, early stopping), checkpoint as it goes, resume a stopped
// run exactly, and save the model with its history. SIGINT/SIGTERM finish the current step,
// write a checkpoint and say how to resume. Under mpirun with --distributed, every rank
// runs this command and trains its shard of each batch; rank 0 alone prints and writes.
// Fine-tuning: --init starts from another model's matching layers, --freeze keeps the first
// layers fixed.
#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>
#include <string_view>
#include <utility>

#include "commands.hpp"
#include "common.hpp"
#include "imgcls/distributed.hpp"
#include "imgcls/error.hpp"
#include "imgcls/io.hpp"
#include "imgcls/runtime.hpp"
#include "stop_signals.hpp"

namespace imgcls::cli {

namespace {

std::atomic<bool> g_stop_requested{false};  // set by SIGINT or SIGTERM during training

// The options that define a run; a checkpoint keeps them, so a resumed run is the same run.
// Every value is the one used: defaults that depend on other options (the learning rate and
// weight decay follow the optimizer) are resolved before the run starts.
struct RunDefinition {
  std::string arch = "seed";
  std::string data = "mnist";  // "mnist", or a folder's absolute path
  int epochs = 5;
  std::int64_t batch_size = 32;
  std::string optimizer = "adam";
  double learning_rate = 1e-3;
  double momentum = 0.0;
  bool nesterov = false;
  double beta1 = 0.9;  // adam, adamw
  double beta2 = 0.999;
  double weight_decay = 0.0;
  std::string schedule = "constant";
  double lr_min = 0.0;
  std::uint64_t seed = 1;
  double val_split = 0.0;
  std::string augment;  // "", or names among digits, crop, flip: "digits", "crop,flip"
  int early_stop = 0;
  std::string precision = "fp32";
  // The images the model took: channels and "HxW" (also for IDX data), and how pictures of
  // an image folder were resized.
  std::int64_t channels = 1;
  std::string image_size;
  std::string resize = "stretch";
  // Fine-tuning: the model file the weights started from (absolute; "": none), and how many
  // leading layers stay fixed.
  std::string init;
  std::size_t freeze = 0;
  // Rejection: the folder of negatives (absolute; "": none), their class's name, and the
  // probability of that class from which a picture is rejected.
  std::string negatives;
  std::string negatives_name = "unknown";
  double reject_threshold = 0.5;
};

// A key missing from a checkpoint takes the default (checkpoints from before --precision).
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RunDefinition, arch, data, epochs, batch_size,
                                                optimizer, learning_rate, momentum, nesterov, beta1,
                                                beta2, weight_decay, schedule, lr_min, seed,
                                                val_split, augment, early_stop, precision, channels,
                                                image_size, resize, init, freeze, negatives,
                                                negatives_name, reject_threshold)

// The augmentations --augment names, in a fixed order: "digits" (the default of a bare
// --augment), "handwriting", "crop", "flip". Throws CLI::ValidationError on another name.
std::string augment_names(const std::string& given) {
  constexpr std::array<const char*, 4> kNames = {"digits", "handwriting", "crop", "flip"};
  std::array<bool, kNames.size()> on{};
  std::istringstream in(given.empty() ? "digits" : given);
  for (std::string name; std::getline(in, name, ',');) {
    const auto* known = std::find(kNames.begin(), kNames.end(), name);
    if (known == kNames.end())
      throw CLI::ValidationError("--augment",
                                 "\"" + name + "\" is not one of digits, handwriting, crop, flip");
    on[static_cast<std::size_t>(known - kNames.begin())] = true;
  }
  std::string names;
  for (std::size_t i = 0; i < kNames.size(); ++i)
    if (on[i]) names += (names.empty() ? "" : ",") + std::string(kNames[i]);
  return names;
}

std::optional<AugmentOptions> augment_options(const std::string& names) {
  if (names.empty()) return std::nullopt;
  const auto named = [&](const std::string& name) {
    std::istringstream in(names);
    for (std::string each; std::getline(in, each, ',');)
      if (each == name) return true;
    return false;
  };
  AugmentOptions options = AugmentOptions::natural();
  if (named("digits") || named("handwriting")) {
    const AugmentOptions digits =
        named("handwriting") ? AugmentOptions::handwriting() : AugmentOptions::digits();
    options.max_shift = digits.max_shift;
    options.max_rotation_degrees = digits.max_rotation_degrees;
    options.max_scale_change = digits.max_scale_change;
    options.elastic_alpha = digits.elastic_alpha;
    options.elastic_sigma = digits.elastic_sigma;
    options.stroke_change = digits.stroke_change;
  }
  if (!named("crop")) options.crop_padding = 0;
  if (!named("flip")) options.horizontal_flip = false;
  return options;
}

// A checkpoint's run options; older checkpoints kept --augment as true or false.
RunDefinition saved_run(nlohmann::json config, const std::string& checkpoint) {
  if (config.contains("augment") && config["augment"].is_boolean())
    config["augment"] = config["augment"].get<bool>() ? "digits" : "";
  try {
    return config.get<RunDefinition>();
  } catch (const std::exception& e) {
    throw InputError(checkpoint,
                     std::string("the checkpoint's run options are unreadable: ") + e.what());
  }
}

// The options of train as given on the command line: what was not given stays empty until
// it is resolved (from the optimizer's defaults, or from the checkpoint a run resumes).
struct TrainOptions {
  RunDefinition run;
  std::optional<double> learning_rate;
  std::optional<double> weight_decay;
  int threads = default_threads();
  std::int64_t checkpoint_every = 0;
  std::optional<std::string> checkpoint_path;  // default: <out stem>.checkpoint.safetensors
  std::string resume_path;
  std::string init_path;                    // --init MODEL
  std::optional<std::string> freeze;        // --freeze LAYER|N
  std::optional<std::string> out_path;      // default: model.safetensors, or the resumed run's
  std::optional<std::string> csv_log_path;  // default: none, or the resumed run's
  PictureOptions pictures;
  bool json = false;
  bool distributed = false;
  double dist_timeout = 300.0;
  std::string loss_log;  // hidden: "epoch step loss" per step, for the distributed tests
};

constexpr const char* kDefaultOut = "model.safetensors";
constexpr double kAdamWDefaultDecay = 0.01;  // PyTorch's AdamW default

double default_learning_rate(const std::string& optimizer) {
  return optimizer == "sgd" ? 0.01 : 1e-3;
}
double default_weight_decay(const std::string& optimizer) {
  return optimizer == "adamw" ? kAdamWDefaultDecay : 0.0;
}

// A preset's training recipe: the values its options take when not given. The fast preset's
// (README, "99% in seconds"; after tuomaso/train_mnist_fast): one epoch of batches of 256,
// Adam at a one-cycle peak of 0.01 with short memories (betas 0.7 and 0.9). Measured on
// MNIST, 2 cores (Intel Xeon, 2026-12-07): 99.08%, 99.05% and 98.96% test accuracy for seeds
// 1 to 3, 3.2 s of training each. Learning rate and betas are Adam's: with --optimizer sgd
// they are not applied.
void apply_recipe(const CLI::App& cmd, TrainOptions& options) {
  RunDefinition& r = options.run;
  if (r.arch != "fast") return;
  const auto given = [&](const char* flag) { return cmd.count(flag) > 0; };
  if (!given("--epochs")) r.epochs = 1;
  if (!given("--batch-size")) r.batch_size = 256;
  if (!given("--schedule")) r.schedule = "onecycle";
  if (r.optimizer == "sgd") return;
  if (!given("--lr")) options.learning_rate = 0.01;
  if (!given("--beta1")) r.beta1 = 0.7;
  if (!given("--beta2")) r.beta2 = 0.9;
}

// --lr and --weight-decay when given, else the optimizer's defaults.
void resolve_optimizer_defaults(const TrainOptions& given, RunDefinition& r) {
  r.learning_rate = given.learning_rate.value_or(default_learning_rate(r.optimizer));
  r.weight_decay = given.weight_decay.value_or(default_weight_decay(r.optimizer));
}

std::unique_ptr<Optimizer> make_optimizer(const RunDefinition& r) {
  if (r.optimizer == "sgd")
    return std::make_unique<Sgd>(SgdOptions{.learning_rate = static_cast<float>(r.learning_rate),
                                            .momentum = static_cast<float>(r.momentum),
                                            .nesterov = r.nesterov,
                                            .weight_decay = static_cast<float>(r.weight_decay)});
  return std::make_unique<Adam>(AdamOptions{.learning_rate = static_cast<float>(r.learning_rate),
                                            .beta1 = static_cast<float>(r.beta1),
                                            .beta2 = static_cast<float>(r.beta2),
                                            .weight_decay = static_cast<float>(r.weight_decay),
                                            .decoupled_weight_decay = r.optimizer == "adamw"});
}

std::optional<ScheduleOptions> make_schedule(const RunDefinition& r) {
  if (r.schedule == "constant") return std::nullopt;
  ScheduleOptions s;
  s.lr_initial = static_cast<float>(r.learning_rate);
  s.lr_min = static_cast<float>(r.lr_min);
  s.kind = r.schedule == "step"     ? ScheduleKind::step
           : r.schedule == "cosine" ? ScheduleKind::cosine
                                    : ScheduleKind::one_cycle;
  return s;
}

std::string default_checkpoint_path(const std::string& out_path) {
  const std::filesystem::path out(out_path);
  return (out.parent_path() / (out.stem().string() + ".checkpoint.safetensors")).string();
}

std::string absolute_path(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  return ec ? path : absolute.lexically_normal().string();
}

// Where a run writes: its model, its checkpoints and its CSV log (empty: none). A
// checkpoint records them (absolute), so a resumed run writes where the original run would
// have, from any folder. A checkpoint from before the CSV log was recorded has none.
struct RunOutputs {
  std::string out;
  std::string checkpoint;
  std::string csv_log;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RunOutputs, out, checkpoint, csv_log)

// The outputs of a resumed run: those the checkpoint records; a checkpoint from before they
// were recorded, X.checkpoint.safetensors, belongs to the model X.safetensors beside it.
RunOutputs recorded_outputs(const nlohmann::json& run_config, const std::string& checkpoint) {
  if (run_config.contains("out") && run_config.contains("checkpoint")) {
    try {
      return run_config.get<RunOutputs>();
    } catch (const std::exception& e) {
      throw InputError(checkpoint,
                       std::string("the checkpoint's output paths are unreadable: ") + e.what());
    }
  }
  const std::filesystem::path path(checkpoint);
  std::string stem = path.filename().string();
  constexpr std::string_view kSuffix = ".checkpoint.safetensors";
  stem =
      stem.ends_with(kSuffix) ? stem.substr(0, stem.size() - kSuffix.size()) : path.stem().string();
  return {.out = absolute_path((path.parent_path() / (stem + ".safetensors")).string()),
          .checkpoint = absolute_path(checkpoint)};
}

// Options given on the command line that contradict the checkpoint's run are refused: a
// resumed run must be the same run to end with the same weights.
void check_resume_matches(const CLI::App& cmd, const RunDefinition& given,
                          const RunDefinition& saved, const std::string& checkpoint) {
  const nlohmann::json a = given, b = saved;
  for (const auto& [key, value] : a.items()) {
    std::string flag = "--" + key;
    std::replace(flag.begin(), flag.end(), '_', '-');
    if (key == "learning_rate") flag = "--lr";
    if (key == "epochs" || key == "precision")
      continue;  // more epochs extend the run; precision may change
    // Numbers compare as the float the run uses (checkpoints written before the run kept
    // doubles held such values as floats).
    const bool same =
        value.is_number_float() && b.at(key).is_number()
            ? static_cast<float>(value.get<double>()) == static_cast<float>(b.at(key).get<double>())
            : value == b.at(key);
    if (cmd.count(flag) > 0 && !same)
      throw InputError(
          flag,
          fmt::format("{} differs from the checkpoint's {} ({})", value.dump(), b.at(key).dump(),
                      checkpoint),
          "drop the option to continue the checkpoint's run, or start a new run without --resume");
  }
}

using FilePointer = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

// The hidden --loss-log: "epoch step loss" per step, for the distributed tests.
class StepLossLog : public Callback {
 public:
  explicit StepLossLog(std::FILE* file) : file_(file) {}
  void on_train_batch_end(Trainer& /*trainer*/, const StepStats& step) override {
    fmt::print(file_, "{} {} {:.9g}\n", step.epoch, step.step, step.loss);
  }

 private:
  std::FILE* file_;
};

// split_validation's errors, in the command line's terms.
std::pair<Dataset, Dataset> split_off_validation(const Dataset& data, double fraction,
                                                 std::uint64_t seed) {
  try {
    return split_validation(data, fraction, seed);
  } catch (const InputError& e) {
    throw InputError("--val-split", e.problem(),
                     "choose a fraction that leaves images on both sides");
  }
}

// --freeze LAYER|N: how many leading layers of `model` stay fixed. N counts layers (0: none);
// LAYER freezes the layers up to and including the one of that name. Some layer with
// parameters must be left to train.
std::size_t frozen_layer_count(const std::string& spec, Sequential& model) {
  const std::size_t layers = model.layer_count();
  std::string names;
  for (std::size_t i = 0; i < layers; ++i) names += (i ? ", " : "") + model.layer(i).name();
  std::size_t count = 0;
  const bool number =
      !spec.empty() && spec.size() <= 9 &&
      std::all_of(spec.begin(), spec.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (number) {
    count = std::stoul(spec);
    if (count > layers)
      throw InputError("--freeze", fmt::format("{} layers, but the model has {}", count, layers),
                       "its layers are " + names);
  } else {
    std::size_t i = 0;
    while (i < layers && model.layer(i).name() != spec) ++i;
    if (i == layers)
      throw InputError("--freeze", fmt::format("the model has no layer \"{}\"", spec),
                       "give a layer count or one of " + names);
    count = i + 1;
  }
  if (count > 0 && trainable_params(model, count).empty()) {
    std::string last = "none";
    for (std::size_t i = 0; i < layers; ++i)
      if (!model.layer(i).params().empty()) last = model.layer(i).name();
    throw InputError(
        "--freeze",
        fmt::format("freezing {} of {} layers leaves no parameter to train", count, layers),
        "freeze the layers before the last one with parameters (" + last + ")");
  }
  return count;
}

// The --init report: one line per layer with weights, loaded or new (and why), then the
// source's layers that gave nothing.
void print_init_report(std::FILE* log, const InitReport& report, const std::string& source) {
  fmt::print(log, "Initialised from {}: {} of {} layers with weights loaded\n", source,
             report.loaded_count(), report.layers.size());
  for (const LayerInit& layer : report.layers) {
    if (layer.loaded)
      fmt::print(log, "  loaded  {}\n", layer.layer);
    else
      fmt::print(log, "  new     {:<16} {}\n", layer.layer, layer.reason);
  }
  for (const std::string& name : report.unused)
    fmt::print(log, "  unused  {:<16} (the source's; no layer here takes it)\n", name);
}

// --init SOURCE for `model`: a source that takes pictures of another channel count is refused
// (its first convolution cannot be loaded, and the layers after it learnt from grey or colour
// features); another picture size is said, since the layers after Flatten will not match.
void check_init_input(const Sequential& source, const Sequential& model,
                      const std::string& source_path, std::FILE* log) {
  const Shape& from = source.input_shape();
  const Shape& to = model.input_shape();
  if (from.size() != 3 || to.size() != 3) return;
  const auto described = [](std::int64_t channels) {
    return fmt::format("{} channel{} ({})", channels, channels == 1 ? "" : "s",
                       channels == 1   ? "grey"
                       : channels == 3 ? "colour"
                                       : "other");
  };
  if (from[2] != to[2])
    throw InputError(
        source_path,
        fmt::format("the model takes pictures of {}, the data here has {}: its first layer "
                    "cannot be loaded and the layers after it learnt from other features",
                    described(from[2]), described(to[2])),
        fmt::format("read an image folder with --channels {} ({}), or start from a model "
                    "trained on pictures of {}",
                    from[2],
                    from[2] == 1 ? "colour pictures become grey"
                                 : "grey pictures are repeated in the three channels",
                    described(to[2])));
  if (from[0] != to[0] || from[1] != to[1])
    fmt::print(log,
               "  note: {} takes {}x{} pictures, the data here is {}x{}: the convolutions can "
               "load, the layers after Flatten cannot (an image folder read with --image-size "
               "{}x{} would match)\n",
               source_path, from[0], from[1], to[0], to[1], from[0], from[1]);
}

nlohmann::json init_report_json(const InitReport& report, const std::string& source) {
  nlohmann::json loaded = nlohmann::json::array(), fresh = nlohmann::json::array();
  for (const LayerInit& layer : report.layers) {
    if (layer.loaded)
      loaded.push_back(layer.layer);
    else
      fresh.push_back({{"layer", layer.layer}, {"reason", layer.reason}});
  }
  return {{"model", source}, {"loaded", loaded}, {"new", fresh}, {"unused", report.unused}};
}

int train(const CLI::App& cmd, TrainOptions options) {
  g_stop_requested.store(false);
  // Before MPI or any other thread starts, so that every thread blocks the stop signals.
  StopSignals stop_signals(g_stop_requested);
  std::unique_ptr<Communicator> world;  // first in, last out: MPI outlives everything below
  if (options.distributed) {
    if (!mpi_built()) {
      fmt::print(stderr,
                 "imgcls train: --distributed needs a build with MPI (scripts/setup.sh, then cmake "
                 "-DIMGCLS_MPI=ON)\n");
      return kUsage;
    }
    if (!launched_by_mpi()) {
      fmt::print(stderr,
                 "imgcls train: --distributed runs under an MPI launcher: mpirun -np N imgcls "
                 "train ... --distributed\n");
      return kUsage;
    }
    world = make_mpi_communicator({.collective_timeout_seconds = options.dist_timeout});
  }
  const bool lead = !world || world->rank() == 0;  // prints, checkpoints and saves
  const FilePointer quiet(lead ? nullptr : std::fopen("/dev/null", "w"), &std::fclose);
  std::FILE* log = quiet ? quiet.get() : options.json ? stderr : stdout;
  FilePointer loss_log(
      lead && !options.loss_log.empty() ? std::fopen(options.loss_log.c_str(), "w") : nullptr,
      &std::fclose);
  if (lead && !options.loss_log.empty() && !loss_log)
    throw InputError(options.loss_log, "cannot write the file");
  set_num_threads(options.threads);
  options.run.data = data_record(options.run.data);
  if (!options.run.negatives.empty()) options.run.negatives = absolute_path(options.run.negatives);
  apply_recipe(cmd, options);
  resolve_optimizer_defaults(options, options.run);
  // The picture flags as the run records them (compared with a resumed run's).
  const PictureOptions& pictures = options.pictures;
  if (pictures.channels != 0) options.run.channels = pictures.channels;
  if (pictures.image_size)
    options.run.image_size =
        fmt::format("{}x{}", pictures.image_size->first, pictures.image_size->second);
  if (pictures.resize) options.run.resize = std::string(to_string(*pictures.resize));

  std::optional<LoadedCheckpoint> checkpoint;
  RunOutputs outputs;
  if (!options.resume_path.empty()) {
    checkpoint = load_checkpoint(options.resume_path);
    RunDefinition saved = saved_run(checkpoint->run_config, options.resume_path);
    // Checkpoints from before the run recorded the values it used left these out.
    if (saved.learning_rate <= 0.0) saved.learning_rate = default_learning_rate(saved.optimizer);
    if (saved.weight_decay < 0.0) saved.weight_decay = default_weight_decay(saved.optimizer);
    saved.data = data_record(saved.data);
    saved.freeze = checkpoint->frozen_layers;  // the optimizer's state follows it
    if (options.freeze) options.run.freeze = frozen_layer_count(*options.freeze, checkpoint->model);
    check_resume_matches(cmd, options.run, saved, options.resume_path);
    saved.epochs = cmd.count("--epochs") > 0 ? options.run.epochs : saved.epochs;
    saved.precision = cmd.count("--precision") > 0 ? options.run.precision : saved.precision;
    options.run = saved;
    outputs = recorded_outputs(checkpoint->run_config, options.resume_path);
    fmt::print(log, "Resuming {} at epoch {}, step {}\n", options.resume_path,
               checkpoint->state.epoch, checkpoint->state.step);
  }
  // An explicit --out or --checkpoint wins over the resumed run's.
  if (options.out_path) outputs.out = *options.out_path;
  if (outputs.out.empty()) outputs.out = kDefaultOut;
  if (options.checkpoint_path) outputs.checkpoint = *options.checkpoint_path;
  if (outputs.checkpoint.empty() || (checkpoint && options.out_path && !options.checkpoint_path))
    outputs.checkpoint = default_checkpoint_path(outputs.out);
  if (options.csv_log_path) outputs.csv_log = *options.csv_log_path;
  const RunDefinition& r = options.run;
  const Precision precision = training_precision(r.precision);
  if (r.early_stop > 0 && r.val_split <= 0.0)
    throw InputError("--early-stop", "early stopping watches the validation loss",
                     "add --val-split, e.g. 0.1");
  // The model exists before the data when it is resumed or read from a file; a preset is
  // built for the data.
  std::optional<Sequential> model;
  if (checkpoint)
    model = std::move(checkpoint->model);
  else if (is_architecture_file(r.arch))
    model = read_architecture(r.arch);
  // The model to start from is read now, so that a bad file stops the run before the data
  // is loaded.
  std::optional<Sequential> init_source;
  if (!options.init_path.empty()) {
    init_source = load_model(options.init_path);
    options.run.init = absolute_path(options.init_path);
  }
  const std::string history_path = history_path_for(outputs.out);
  // Every file the run will write is checked now, not after hours of training.
  if (lead) {
    prepare_output_file(outputs.out);
    prepare_output_file(history_path);
    prepare_output_file(outputs.checkpoint);
    if (!outputs.csv_log.empty()) prepare_output_file(outputs.csv_log);
    fmt::print(log, "Writing {} (history {}, checkpoints {}{})\n", outputs.out, history_path,
               outputs.checkpoint, outputs.csv_log.empty() ? "" : ", CSV log " + outputs.csv_log);
  }

  const std::string data_dir = resolve_data_dir(r.data);
  fmt::print(log, "Loading data from {}\n", data_dir);
  TrainingData loaded = load_training_data(
      data_dir, model ? std::optional(model->input_shape()) : std::nullopt,
      checkpoint ? std::optional(model->preprocessing()) : std::nullopt, options.pictures, log);
  if (!r.negatives.empty()) add_negatives(loaded, r.negatives, r.negatives_name, pictures, log);
  if (!model) model = resolve_architecture(r.arch, loaded);
  fit_model_to_data(*model, loaded, data_dir);
  if (!r.negatives.empty())
    model->set_rejection(RejectionRule{.threshold = static_cast<float>(r.reject_threshold)});
  if (init_source) check_init_input(*init_source, *model, options.init_path, log);
  if (!checkpoint)
    options.run.freeze = options.freeze ? frozen_layer_count(*options.freeze, *model) : 0;
  options.run.channels = loaded.input_shape.size() == 3 ? loaded.input_shape[2] : 1;
  options.run.image_size = loaded.input_shape.size() == 3
                               ? fmt::format("{}x{}", loaded.input_shape[0], loaded.input_shape[1])
                               : std::string();
  options.run.resize = std::string(to_string(loaded.resize));
  FolderSplits& data = loaded.splits;
  Dataset validation;
  if (r.val_split > 0.0)
    std::tie(data.train, validation) = split_off_validation(data.train, r.val_split, r.seed);
  fmt::print(log, "  {} training, {} validation and {} test images of {}\n", data.train.size(),
             validation.size(), data.test.size(), to_string(loaded.input_shape));

  std::unique_ptr<Optimizer> optimizer = make_optimizer(r);
  nlohmann::json init_json;  // the --init report, for the model file and --json
  TrainingState state;
  if (checkpoint) {
    if (checkpoint->optimizer_kind != optimizer->kind())
      throw InputError(options.resume_path,
                       "the checkpoint's optimizer is " + checkpoint->optimizer_kind);
    optimizer->restore_state(checkpoint->optimizer_steps, std::move(checkpoint->optimizer_buffers));
    state = std::move(checkpoint->state);
  } else {
    model->initialize(r.seed);
    std::optional<InitReport> init;
    if (init_source) {
      init = init_from(*model, *init_source);
      print_init_report(log, *init, options.init_path);
      if (init->loaded_count() == 0)
        throw InputError(options.init_path,
                         "none of its layers matches a layer of the architecture by name and shape",
                         "train the architecture (--arch) the model file holds, or one that "
                         "shares its first layers");
      // Freezing a layer that was not loaded keeps its random start: allowed, but said.
      for (std::size_t i = 0; i < r.freeze; ++i) {
        Layer& layer = model->layer(i);
        if (!layer.params().empty() && !init->loaded(layer.name()))
          fmt::print(log, "  warning: {} is frozen but was not loaded: it keeps its random start\n",
                     layer.name());
      }
    }
    // A Normalization layer loaded with the model's weights keeps its statistics: the layers
    // after it learnt on inputs normalised by them.
    const Layer* first = model->layer_count() > 0 ? &model->layer(0) : nullptr;
    if (first && first->kind() == "Normalization" && init && init->loaded(first->name()))
      fmt::print(
          log, "  the Normalization layer keeps the statistics of {} (not adapted to this data)\n",
          options.init_path);
    else if (adapt_normalization(*model, data.train))
      fmt::print(log,
                 "  the Normalization layer takes each channel's mean and variance over the "
                 "training images\n");
    if (init) init_json = init_report_json(*init, r.init);
  }
  if (!options.json) fmt::print(log, "\n{}\n", model->summary(r.freeze));
  std::vector<std::string> frozen_names;
  for (std::size_t i = 0; i < r.freeze; ++i) frozen_names.push_back(model->layer(i).name());
  if (r.freeze > 0) {
    std::int64_t fixed = 0;
    for (std::size_t i = 0; i < r.freeze; ++i)
      for (const Param& p : model->layer(i).params()) fixed += p.value->size();
    fmt::print(log, "Frozen: the first {} layers ({} to {}), {} of {} parameters fixed\n", r.freeze,
               frozen_names.front(), frozen_names.back(), fixed, model->parameter_count());
  }

  const nlohmann::json run_json = r;
  nlohmann::json checkpoint_config = run_json;
  checkpoint_config.update(nlohmann::json(
      RunOutputs{.out = absolute_path(outputs.out),
                 .checkpoint = absolute_path(outputs.checkpoint),
                 .csv_log = outputs.csv_log.empty() ? "" : absolute_path(outputs.csv_log)}));
  FitOptions fit_options{
      .epochs = r.epochs, .batch_size = r.batch_size, .seed = r.seed, .precision = precision};
  fit_options.frozen_layers = r.freeze;
  fit_options.schedule = make_schedule(r);
  fit_options.validation = r.val_split > 0.0 ? &validation : nullptr;
  fit_options.early_stop_patience = r.early_stop;
  fit_options.augment = augment_options(r.augment);
  fit_options.stop_requested = &g_stop_requested;
  fit_options.communicator = world.get();
  Trainer trainer(*model, *optimizer, data.train, fit_options, std::move(state));
  // Every rank runs the same steps; rank 0 alone prints (the others print to /dev/null) and writes.
  ProgressBar progress(log);
  trainer.add(progress);
  std::optional<StepLossLog> step_loss_log;
  if (loss_log) trainer.add(step_loss_log.emplace(loss_log.get()));
  std::optional<CsvLogger> csv_logger;
  if (lead && !outputs.csv_log.empty()) trainer.add(csv_logger.emplace(outputs.csv_log));
  std::optional<ModelCheckpoint> checkpointer;
  if (lead)
    trainer.add(checkpointer.emplace(
        outputs.checkpoint, ModelCheckpointOptions{.every_steps = options.checkpoint_every},
        checkpoint_config));

  stop_signals.set_catching(true);  // meanwhile a stop signal ends the run with a checkpoint
  const History history = run_training(trainer);
  stop_signals.set_catching(false);
  const TrainingState& end = trainer.state();
  if (world && lead)
    fmt::print(log, "Distributed over {} ranks: {:.2f} s of {:.2f} s in collectives ({:.1f}%)\n",
               world->size(), world->collective_seconds(), history.train_seconds,
               100.0 * world->collective_seconds() / std::max(history.train_seconds, 1e-9));
  if (history.interrupted) {
    if (lead)
      fmt::print(stderr,
                 "\nInterrupted: stopped at epoch {}, step {}; checkpoint written to {}\n"
                 "Resume with: imgcls train --resume {}\n",
                 end.epoch, end.step, outputs.checkpoint, outputs.checkpoint);
    return kInterrupted;
  }
  if (!lead) return kSuccess;  // rank 0 evaluates and writes the files
  if (history.stopped_early)
    fmt::print(log,
               "Early stopping after epoch {}: restored the weights of the lowest validation loss "
               "({:.4f})\n",
               history.epochs.back().epoch, end.best_val_loss);

  nlohmann::json summary = {{"run", run_json},
                            {"data", r.data},
                            {"epochs_trained", history.epochs.size()},
                            {"train_seconds", history.train_seconds}};
  if (!init_json.is_null()) summary["init"] = init_json;
  if (r.freeze > 0) summary["frozen"] = frozen_names;
  if (data.test.size() > 0) {
    const Evaluation test = evaluate(*model, data.test);
    fmt::print(log, "Test accuracy {:.4f}  test loss {:.4f}  ({} images)\n", test.accuracy,
               test.loss, test.count);
    summary["test_accuracy"] = test.accuracy;
    summary["test_loss"] = test.loss;
  } else {
    fmt::print(log, "No test split in {} (DIR/test/): not evaluated\n", data_dir);
  }
  save_model(*model, outputs.out, summary);
  save_history(history, history_path);
  fmt::print(log, "Wrote {} and {} (checkpoint: {})\n", outputs.out, history_path,
             outputs.checkpoint);
  if (options.json) {
    nlohmann::json result = summary;
    result["model"] = outputs.out;
    result["history"] = history_to_json(history)["epochs"];
    result["stopped_early"] = history.stopped_early;
    std::cout << result.dump(2) << std::endl;
  }
  return kSuccess;
}

}  // namespace

Action add_train_command(CLI::App& app) {
  auto options = std::make_shared<TrainOptions>();
  RunDefinition& r = options->run;
  CLI::App* cmd =
      app.add_subcommand("train", "Train a model (a preset or an architecture file) and save it");
  cmd->add_option(
         "--arch", r.arch,
         "Preset (seed, fast, lenet5, strong, cifar: built for the data's image size, channels "
         "and classes) or architecture JSON file. fast brings its recipe for what is not given: "
         "--epochs 1 --batch-size 256 --schedule onecycle, and for adam/adamw --lr 0.01 --beta1 "
         "0.7 --beta2 0.9")
      ->capture_default_str();
  cmd->add_option(
         "--data", r.data,
         "mnist, fashion-mnist, a folder with the four MNIST-format IDX files (plain or .gz), a "
         "CIFAR-10/100 binary folder, or an image folder: DIR/<class>/ or DIR/train/<class>/ + "
         "DIR/test/<class>/ (see README)")
      ->capture_default_str();
  cmd->add_option("--epochs", r.epochs, "Passes over the training set")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--batch-size", r.batch_size, "Images per step")
      ->capture_default_str()
      ->check(CLI::Range(1, 65536));
  cmd->add_option("--optimizer", r.optimizer, "adam, adamw or sgd")
      ->capture_default_str()
      ->check(CLI::IsMember({"adam", "adamw", "sgd"}));
  cmd->add_option_function<double>(
         "--lr", [options](double lr) { options->learning_rate = lr; },
         "Learning rate (default: 0.001 for adam/adamw, 0.01 for sgd; the peak for onecycle)")
      ->check(CLI::Range(1e-9, 10.0));
  cmd->add_option("--momentum", r.momentum, "SGD momentum")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.999));
  cmd->add_flag("--nesterov", r.nesterov, "SGD: Nesterov momentum");
  cmd->add_option("--beta1", r.beta1,
                  "adam/adamw: decay of the gradients' running mean (Keras's beta_1)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.999));
  cmd->add_option("--beta2", r.beta2,
                  "adam/adamw: decay of the squared gradients' running mean (Keras's beta_2)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.99999));
  cmd->add_option_function<double>(
         "--weight-decay", [options](double decay) { options->weight_decay = decay; },
         "L2 for adam/sgd, decoupled for adamw (default 0; adamw 0.01)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--schedule", r.schedule,
                  "Learning-rate schedule: constant, step (halve every 2 epochs), cosine, onecycle")
      ->capture_default_str()
      ->check(CLI::IsMember({"constant", "step", "cosine", "onecycle"}));
  cmd->add_option("--lr-min", r.lr_min, "cosine: the final learning rate")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 10.0));
  cmd->add_option("--seed", r.seed,
                  "Seed for weights, shuffles, validation split, augmentation, dropout")
      ->capture_default_str();
  cmd->add_option("--threads", options->threads, "CPU threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--precision", r.precision, kPrecisionHelp)
      ->capture_default_str()
      ->check(CLI::IsMember({"fp32", "bf16"}));
  cmd->add_option("--val-split", r.val_split,
                  "Hold out this fraction of the training set for validation")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.9));
  cmd->add_option_function<std::string>(
         "--augment",
         [options](const std::string& names) { options->run.augment = augment_names(names); },
         "Augment training images, by names: digits (random shift of 2 px, rotation of 10 deg and "
         "scale of 10%: for digits; a bare --augment means this), handwriting (digits plus an "
         "elastic distortion and a thicker or thinner pen in 4 images of 10), crop (a random crop "
         "of the image padded by 4 px), flip (a horizontal mirror, half of the time): e.g. "
         "--augment crop,flip")
      ->expected(0, 1);
  cmd->add_option(
         "--early-stop", r.early_stop,
         "Stop after this many epochs without a lower validation loss; keep the best weights")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--checkpoint-every", options->checkpoint_every,
                  "Also checkpoint every N steps (always at each epoch end)")
      ->check(CLI::Range(1, 1 << 30));
  cmd->add_option_function<std::string>(
      "--checkpoint", [options](const std::string& path) { options->checkpoint_path = path; },
      "Checkpoint file (default: <out stem>.checkpoint.safetensors; when resuming, the run's own)");
  CLI::Option* resume =
      cmd->add_option("--resume", options->resume_path,
                      "Continue the run saved in this checkpoint; it writes where the original run "
                      "would have, unless --out is given");
  cmd->add_option("--init", options->init_path,
                  "Start from this model file's weights (fine-tuning): each layer whose parameters "
                  "and buffers have the same names (conv2d_0: kind and position) and shapes is "
                  "loaded, the others (a head of another class count) start from --seed; prints "
                  "which and why. Refused when no layer matches or the model's input channels "
                  "differ from the data's; a new run only")
      ->excludes(resume);
  cmd->add_option_function<std::string>(
      "--freeze", [options](const std::string& spec) { options->freeze = spec; },
      "Keep the first layers fixed: a count N, or a layer name (conv2d_2: up to and including it); "
      "frozen layers run as in inference (BatchNorm keeps its moving statistics); a layer with "
      "parameters must be left to train. A resumed run keeps the checkpoint's");
  cmd->add_option_function<std::string>(
      "--out", [options](const std::string& path) { options->out_path = path; },
      "Model file to write (default: model.safetensors; when resuming, the run's own)");
  cmd->add_option_function<std::string>(
      "--csv-log", [options](const std::string& path) { options->csv_log_path = path; },
      "Write one CSV row per epoch (loss, accuracy, learning rate, seconds, validation) to "
      "this file; a resumed run continues its own log");
  CLI::Option* negatives = cmd->add_option(
      "--negatives", r.negatives,
      "A folder of pictures that are none of the data's classes (and its subfolders): trained "
      "as one more class, the last, so that the model answers such pictures \"rejected\" "
      "(predict, serve, the C interface). Each is prepared as predict prepares a picture; "
      "those in which digit preprocessing finds no digit are left out (a digits model rejects "
      "them without running)");
  cmd->add_option("--negatives-name", r.negatives_name,
                  "The name of the negatives' class (e.g. \"not a digit\")")
      ->capture_default_str()
      ->needs(negatives);
  cmd->add_option("--reject-threshold", r.reject_threshold,
                  "Reject a picture when its probability of the negatives' class is at least this")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 1.0))
      ->needs(negatives);
  add_picture_options(cmd, options->pictures, true);
  cmd->add_flag("--json", options->json,
                "Print one JSON object with the results on stdout; progress goes to stderr");
  cmd->add_flag(
      "--distributed", options->distributed,
      "Data-parallel over the ranks of mpirun: each trains its shard of every batch (see README)");
  cmd->add_option(
         "--dist-timeout", options->dist_timeout,
         "--distributed: end the job when a gradient exchange waits longer than this (seconds)")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 86400.0));
  cmd->add_option("--loss-log", options->loss_log, "Write each step's loss to this file")
      ->group("");
  return [options, cmd] { return train(*cmd, *options); };
}

}  // namespace imgcls::cli
