// imgcls train: train any architecture with the usual controls (optimizer, schedule,
// validation split, augmentation, early stopping), checkpoint as it goes, resume a stopped
// run exactly, and save the model with its history. SIGINT/SIGTERM finish the current step,
// write a checkpoint and say how to resume. Under mpirun with --distributed, every rank
// runs this command and trains its shard of each batch; rank 0 alone prints and writes.
#include <fmt/core.h>

#include <atomic>
#include <csignal>
#include <iostream>

#include "commands.hpp"
#include "common.hpp"
#include "imgcls/distributed.hpp"
#include "imgcls/error.hpp"
#include "imgcls/io.hpp"
#include "imgcls/runtime.hpp"

namespace imgcls::cli {

namespace {

std::atomic<bool> g_stop_requested{false};
extern "C" void request_stop(int) { g_stop_requested.store(true); }

// Installs the stop handlers for the lifetime of the object, restoring the defaults after.
class StopOnSignals {
 public:
  StopOnSignals() {
    g_stop_requested.store(false);
    std::signal(SIGINT, request_stop);
    std::signal(SIGTERM, request_stop);
  }
  ~StopOnSignals() {
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
  }
  StopOnSignals(const StopOnSignals&) = delete;
  StopOnSignals& operator=(const StopOnSignals&) = delete;
};

// The options that define a run; a checkpoint keeps them, so a resumed run is the same run.
struct RunDefinition {
  std::string arch = "seed";
  std::string data = "mnist";
  int epochs = 5;
  std::int64_t batch_size = 32;
  std::string optimizer = "adam";
  float learning_rate = 0.0f;  // 0: the optimizer's default
  float momentum = 0.0f;
  bool nesterov = false;
  float weight_decay = -1.0f;  // <0: the optimizer's default
  std::string schedule = "constant";
  float lr_min = 0.0f;
  std::uint64_t seed = 1;
  double val_split = 0.0;
  bool augment = false;
  int early_stop = 0;
  std::string precision = "fp32";
};

// A key missing from a checkpoint takes the default (checkpoints from before --precision).
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RunDefinition, arch, data, epochs, batch_size, optimizer,
                                                learning_rate, momentum, nesterov, weight_decay, schedule, lr_min,
                                                seed, val_split, augment, early_stop, precision)

struct TrainOptions {
  RunDefinition run;
  int threads = default_threads();
  std::int64_t checkpoint_every = 0;
  std::string checkpoint_path;  // empty: <out stem>.checkpoint.safetensors
  std::string resume_path;
  std::string out_path = "model.safetensors";
  bool json = false;
  bool distributed = false;
  double dist_timeout = 300.0;
  std::string loss_log;  // hidden: "epoch step loss" per step, for the distributed tests
};

float default_learning_rate(const std::string& optimizer) { return optimizer == "sgd" ? 0.01f : 1e-3f; }

std::unique_ptr<Optimizer> make_optimizer(const RunDefinition& r) {
  const float lr = r.learning_rate > 0.0f ? r.learning_rate : default_learning_rate(r.optimizer);
  if (r.optimizer == "sgd")
    return std::make_unique<Sgd>(SgdOptions{.learning_rate = lr, .momentum = r.momentum, .nesterov = r.nesterov,
                                            .weight_decay = std::max(r.weight_decay, 0.0f)});
  const bool decoupled = r.optimizer == "adamw";
  constexpr float kAdamWDefaultDecay = 0.01f;  // PyTorch's AdamW default
  const float decay = r.weight_decay >= 0.0f ? r.weight_decay : (decoupled ? kAdamWDefaultDecay : 0.0f);
  return std::make_unique<Adam>(AdamOptions{.learning_rate = lr, .weight_decay = decay,
                                            .decoupled_weight_decay = decoupled});
}

std::optional<ScheduleOptions> make_schedule(const RunDefinition& r) {
  if (r.schedule == "constant") return std::nullopt;
  ScheduleOptions s;
  s.lr_initial = r.learning_rate > 0.0f ? r.learning_rate : default_learning_rate(r.optimizer);
  s.lr_min = r.lr_min;
  s.kind = r.schedule == "step" ? ScheduleKind::step : r.schedule == "cosine" ? ScheduleKind::cosine
                                                                               : ScheduleKind::one_cycle;
  return s;
}

std::string default_checkpoint_path(const std::string& out_path) {
  const std::filesystem::path out(out_path);
  return (out.parent_path() / (out.stem().string() + ".checkpoint.safetensors")).string();
}

// Options given on the command line that contradict the checkpoint's run are refused: a
// resumed run must be the same run to end with the same weights.
void check_resume_matches(const CLI::App& cmd, const RunDefinition& given, const RunDefinition& saved,
                          const std::string& checkpoint) {
  const nlohmann::json a = given, b = saved;
  for (const auto& [key, value] : a.items()) {
    std::string flag = "--" + key;
    std::replace(flag.begin(), flag.end(), '_', '-');
    if (key == "learning_rate") flag = "--lr";
    if (key == "early_stop") flag = "--early-stop";
    if (key == "epochs" || key == "precision") continue;  // more epochs extend the run; precision may change
    if (cmd.count(flag) > 0 && value != b.at(key))
      throw InputError(flag, fmt::format("{} differs from the checkpoint's {} ({})", value.dump(), b.at(key).dump(), checkpoint),
                       "drop the option to continue the checkpoint's run, or start a new run without --resume");
  }
}

using FilePointer = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

int train(const CLI::App& cmd, TrainOptions options) {
  std::unique_ptr<Communicator> world;  // first in, last out: MPI outlives everything below
  if (options.distributed) {
    if (!mpi_built()) {
      fmt::print(stderr, "imgcls train: --distributed needs a build with MPI (scripts/setup.sh, then cmake -DIMGCLS_MPI=ON)\n");
      return kUsage;
    }
    if (!launched_by_mpi()) {
      fmt::print(stderr, "imgcls train: --distributed runs under an MPI launcher: mpirun -np N imgcls train ... --distributed\n");
      return kUsage;
    }
    world = make_mpi_communicator({.collective_timeout_seconds = options.dist_timeout});
  }
  const bool lead = !world || world->rank() == 0;  // prints, checkpoints and saves
  const FilePointer quiet(lead ? nullptr : std::fopen("/dev/null", "w"), &std::fclose);
  std::FILE* log = quiet ? quiet.get() : options.json ? stderr : stdout;
  FilePointer loss_log(lead && !options.loss_log.empty() ? std::fopen(options.loss_log.c_str(), "w") : nullptr, &std::fclose);
  if (lead && !options.loss_log.empty() && !loss_log) throw InputError(options.loss_log, "cannot write the file");
  set_num_threads(options.threads);
  if (options.checkpoint_path.empty()) options.checkpoint_path = default_checkpoint_path(options.out_path);

  std::optional<LoadedCheckpoint> checkpoint;
  if (!options.resume_path.empty()) {
    checkpoint = load_checkpoint(options.resume_path);
    RunDefinition saved;
    try {
      saved = checkpoint->run_config.get<RunDefinition>();
    } catch (const std::exception& e) {
      throw InputError(options.resume_path, std::string("the checkpoint's run options are unreadable: ") + e.what());
    }
    check_resume_matches(cmd, options.run, saved, options.resume_path);
    saved.epochs = cmd.count("--epochs") > 0 ? options.run.epochs : saved.epochs;
    saved.precision = cmd.count("--precision") > 0 ? options.run.precision : saved.precision;
    options.run = saved;
    fmt::print(log, "Resuming {} at epoch {}, step {}\n", options.resume_path, checkpoint->state.epoch,
               checkpoint->state.step);
  }
  const RunDefinition& r = options.run;
  const Precision precision = training_precision(r.precision);
  if (r.early_stop > 0 && r.val_split <= 0.0)
    throw InputError("--early-stop", "early stopping watches the validation loss", "add --val-split, e.g. 0.1");

  Sequential model = checkpoint ? std::move(checkpoint->model) : resolve_architecture(r.arch);
  fmt::print(log, "Loading data from {}\n", resolve_data_dir(r.data));
  FolderSplits data = load_data_for_model(resolve_data_dir(r.data), model, false);
  Dataset validation;
  if (r.val_split > 0.0) std::tie(data.train, validation) = split_validation(data.train, r.val_split, r.seed);
  fmt::print(log, "  {} training, {} validation and {} test images\n", data.train.size(), validation.size(),
             data.test.size());

  std::unique_ptr<Optimizer> optimizer = make_optimizer(r);
  TrainingState state;
  if (checkpoint) {
    if (checkpoint->optimizer_kind != optimizer->kind())
      throw InputError(options.resume_path, "the checkpoint's optimizer is " + checkpoint->optimizer_kind);
    optimizer->restore_state(checkpoint->optimizer_steps, std::move(checkpoint->optimizer_buffers));
    state = std::move(checkpoint->state);
  } else {
    model.initialize(r.seed);
  }
  model.set_training_precision(precision);
  if (!options.json) fmt::print(log, "\n{}\n", model.summary());

  const nlohmann::json run_json = r;
  Progress progress(log, r.epochs);
  FitOptions fit_options{.epochs = r.epochs, .batch_size = r.batch_size, .seed = r.seed};
  fit_options.schedule = make_schedule(r);
  fit_options.validation = r.val_split > 0.0 ? &validation : nullptr;
  fit_options.early_stop_patience = r.early_stop;
  if (r.augment) fit_options.augment = AugmentOptions{};
  fit_options.checkpoint_every = options.checkpoint_every;
  fit_options.communicator = world.get();
  if (loss_log)
    fit_options.on_step = [&](int epoch, std::int64_t step, double loss) {
      fmt::print(loss_log.get(), "{} {} {:.9g}\n", epoch, step, loss);
    };
  fit_options.on_checkpoint = [&](const TrainingState& s) {
    if (lead) save_checkpoint(options.checkpoint_path, model, *optimizer, s, run_json);
  };
  fit_options.stop_requested = &g_stop_requested;
  fit_options.on_progress = [&](int epoch, std::int64_t step, std::int64_t steps, double loss, double accuracy) {
    progress.on_step(epoch, step, steps, loss, accuracy);
  };
  fit_options.on_epoch_end = [&](const EpochStats& e) { progress.on_epoch_end(e, data.train.size()); };

  History history;
  {
    StopOnSignals stop_on_signals;
    history = fit(model, *optimizer, data.train, fit_options, &state);
  }
  if (world && lead)
    fmt::print(log, "Distributed over {} ranks: {:.2f} s of {:.2f} s in collectives ({:.1f}%)\n", world->size(),
               world->collective_seconds(), history.train_seconds,
               100.0 * world->collective_seconds() / std::max(history.train_seconds, 1e-9));
  if (history.interrupted) {
    if (lead)
      fmt::print(stderr,
                 "\nInterrupted: stopped at epoch {}, step {}; checkpoint written to {}\n"
                 "Resume with: imgcls train --resume {}\n",
                 state.epoch, state.step, options.checkpoint_path, options.checkpoint_path);
    return kInterrupted;
  }
  if (!lead) return kSuccess;  // rank 0 evaluates and writes the files
  if (history.stopped_early)
    fmt::print(log, "Early stopping after epoch {}: restored the weights of the lowest validation loss ({:.4f})\n",
               history.epochs.back().epoch, state.best_val_loss);

  History full = history;
  full.epochs = state.finished;
  nlohmann::json summary = {{"run", run_json},
                            {"epochs_trained", full.epochs.size()},
                            {"train_seconds", history.train_seconds}};
  if (data.test.size() > 0) {
    const Evaluation test = evaluate(model, data.test);
    fmt::print(log, "Test accuracy {:.4f}  test loss {:.4f}  ({} images)\n", test.accuracy, test.loss, test.count);
    summary["test_accuracy"] = test.accuracy;
    summary["test_loss"] = test.loss;
  } else {
    fmt::print(log, "No test split in {} (DIR/test/): not evaluated\n", resolve_data_dir(r.data));
  }
  save_model(model, options.out_path, summary);
  const std::string history_path = history_path_for(options.out_path);
  save_history(full, history_path);
  fmt::print(log, "Wrote {} and {} (checkpoint: {})\n", options.out_path, history_path, options.checkpoint_path);
  if (options.json) {
    nlohmann::json result = summary;
    result["model"] = options.out_path;
    result["history"] = history_to_json(full)["epochs"];
    result["stopped_early"] = history.stopped_early;
    std::cout << result.dump(2) << std::endl;
  }
  return kSuccess;
}

}  // namespace

Action add_train_command(CLI::App& app) {
  auto options = std::make_shared<TrainOptions>();
  RunDefinition& r = options->run;
  CLI::App* cmd = app.add_subcommand("train", "Train a model (a preset or an architecture file) and save it");
  cmd->add_option("--arch", r.arch, "Preset (seed, lenet5, strong) or architecture JSON file")->capture_default_str();
  cmd->add_option("--data", r.data, "mnist, a folder with the four MNIST-format IDX files (plain or .gz), or an image folder: "
                                    "DIR/<class>/ or DIR/train/<class>/ + DIR/test/<class>/ (see README)")
      ->capture_default_str();
  cmd->add_option("--epochs", r.epochs, "Passes over the training set")->capture_default_str()->check(CLI::Range(1, 100000));
  cmd->add_option("--batch-size", r.batch_size, "Images per step")->capture_default_str()->check(CLI::Range(1, 65536));
  cmd->add_option("--optimizer", r.optimizer, "adam, adamw or sgd")->capture_default_str()
      ->check(CLI::IsMember({"adam", "adamw", "sgd"}));
  cmd->add_option("--lr", r.learning_rate, "Learning rate (default: 0.001 for adam/adamw, 0.01 for sgd; the peak for onecycle)")
      ->check(CLI::Range(1e-9, 10.0));
  cmd->add_option("--momentum", r.momentum, "SGD momentum")->capture_default_str()->check(CLI::Range(0.0, 0.999));
  cmd->add_flag("--nesterov", r.nesterov, "SGD: Nesterov momentum");
  cmd->add_option("--weight-decay", r.weight_decay, "L2 for adam/sgd, decoupled for adamw (default 0; adamw 0.01)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--schedule", r.schedule, "Learning-rate schedule: constant, step (halve every 2 epochs), cosine, onecycle")
      ->capture_default_str()->check(CLI::IsMember({"constant", "step", "cosine", "onecycle"}));
  cmd->add_option("--lr-min", r.lr_min, "cosine: the final learning rate")->capture_default_str()->check(CLI::Range(0.0, 10.0));
  cmd->add_option("--seed", r.seed, "Seed for weights, shuffles, validation split, augmentation, dropout")->capture_default_str();
  cmd->add_option("--threads", options->threads, "CPU threads")->capture_default_str()->check(CLI::Range(1, 1024));
  cmd->add_option("--precision", r.precision, kPrecisionHelp)->capture_default_str()->check(CLI::IsMember({"fp32", "bf16"}));
  cmd->add_option("--val-split", r.val_split, "Hold out this fraction of the training set for validation")
      ->capture_default_str()->check(CLI::Range(0.0, 0.9));
  cmd->add_flag("--augment", r.augment, "Random shift (2 px), rotation (10 deg) and scale (10%) of training images");
  cmd->add_option("--early-stop", r.early_stop, "Stop after this many epochs without a lower validation loss; keep the best weights")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--checkpoint-every", options->checkpoint_every, "Also checkpoint every N steps (always at each epoch end)")
      ->check(CLI::Range(1, 1 << 30));
  cmd->add_option("--checkpoint", options->checkpoint_path, "Checkpoint file (default: <out stem>.checkpoint.safetensors)");
  cmd->add_option("--resume", options->resume_path, "Continue the run saved in this checkpoint");
  cmd->add_option("--out", options->out_path, "Model file to write")->capture_default_str();
  cmd->add_flag("--json", options->json, "Print one JSON object with the results on stdout; progress goes to stderr");
  cmd->add_flag("--distributed", options->distributed,
                "Data-parallel over the ranks of mpirun: each trains its shard of every batch (see README)");
  cmd->add_option("--dist-timeout", options->dist_timeout,
                  "--distributed: end the job when a gradient exchange waits longer than this (seconds)")
      ->capture_default_str()->check(CLI::Range(1.0, 86400.0));
  cmd->add_option("--loss-log", options->loss_log, "Write each step's loss to this file")->group("");
  return [options, cmd] { return train(*cmd, *options); };
}

}  // namespace imgcls::cli
