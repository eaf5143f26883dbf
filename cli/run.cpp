// imgcls run: the seed's job. Train the seed CNN on MNIST, evaluate on the test set, print
// the results, and write into --out the model (model.safetensors), its training history
// (model.history.json) and three pictures: output_sample.png (a grid of classified test digits),
// confusion.png and curves.png.
#include <fmt/core.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "commands.hpp"
#include "common.hpp"
#include "imgcls/data.hpp"
#include "imgcls/error.hpp"
#include "imgcls/io.hpp"
#include "imgcls/loss.hpp"
#include "imgcls/metrics.hpp"
#include "imgcls/model.hpp"
#include "imgcls/runtime.hpp"
#include "imgcls/train.hpp"
#include "imgcls/trainer.hpp"
#include "imgcls/viz.hpp"

namespace imgcls::cli {

namespace {

struct RunOptions {
  int epochs = 5;
  std::int64_t batch_size = 32;
  double learning_rate = 1e-3;
  std::uint64_t seed = 1;
  int threads = default_threads();
  std::string data_dir = IMGCLS_DEFAULT_DATA_DIR;
  std::string out_dir = ".";
  bool json = false;
  std::int64_t sample_index = 0;
  std::string precision = "fp32";
  std::optional<std::int64_t> limit_train;  // the first N training images only
  std::optional<std::int64_t> limit_test;   // the first N test images only
  std::optional<std::string> csv_log;       // one row per epoch
};

// The first `limit` images of `data` (all of them when it holds fewer).
Dataset first_images(Dataset data, std::optional<std::int64_t> limit) {
  if (!limit || *limit >= data.size()) return data;
  return take_first(data, *limit);
}

int run(const RunOptions& options) {
  std::FILE* log = options.json ? stderr : stdout;
  set_num_threads(options.threads);
  const Precision precision = training_precision(options.precision);

  std::error_code ec;
  std::filesystem::create_directories(options.out_dir, ec);
  if (ec) throw InputError(options.out_dir, "cannot create the output folder: " + ec.message());
  const auto out = std::filesystem::path(options.out_dir);
  const std::string model_path = (out / "model.safetensors").string();
  const std::string history_path = history_path_for(model_path);
  const std::string sample_path = (out / "output_sample.png").string();
  const std::string confusion_path = (out / "confusion.png").string();
  const std::string curves_path = (out / "curves.png").string();
  for (const std::string& path :
       {model_path, history_path, sample_path, confusion_path, curves_path})
    prepare_output_file(path);
  if (options.csv_log) prepare_output_file(*options.csv_log);

  fmt::print(log, "Loading MNIST from {}\n", options.data_dir);
  MnistSplits mnist = load_mnist(options.data_dir);
  mnist.train = first_images(std::move(mnist.train), options.limit_train);
  mnist.test = first_images(std::move(mnist.test), options.limit_test);
  if (options.sample_index >= mnist.test.size())
    throw InputError("--sample",
                     fmt::format("test image {} does not exist: the test set has {} images",
                                 options.sample_index, mnist.test.size()));
  fmt::print(log, "  {} training and {} test images\n", mnist.train.size(), mnist.test.size());

  Sequential model = presets::seed();
  model.initialize(options.seed);
  if (!options.json) fmt::print(log, "\n{}\n", model.summary());
  Adam optimizer({.learning_rate = static_cast<float>(options.learning_rate)});

  Trainer trainer(model, optimizer, mnist.train,
                  {.epochs = options.epochs,
                   .batch_size = options.batch_size,
                   .seed = options.seed,
                   .precision = precision});
  ProgressBar progress(log);
  trainer.add(progress);
  std::optional<CsvLogger> csv_logger;
  if (options.csv_log) trainer.add(csv_logger.emplace(*options.csv_log));
  const History history = run_training(trainer);

  const Evaluation test = evaluate(model, mnist.test);
  fmt::print(log, "Test accuracy {:.4f}  test loss {:.4f}  ({} images; trained in {:.1f} s)\n",
             test.accuracy, test.loss, test.count, history.train_seconds);

  save_model(model, model_path,
             {{"data", data_record(options.data_dir)},
              {"test_accuracy", test.accuracy},
              {"test_loss", test.loss},
              {"train_seconds", history.train_seconds}});
  save_history(history, history_path);
  const std::vector<std::string> names = class_names(model);
  draw_sample_grid(mnist.test, test.probabilities, names, {.first = options.sample_index})
      .save(sample_path);
  draw_confusion_matrix(
      confusion_matrix(mnist.test.labels, test.predicted, static_cast<std::int64_t>(names.size())),
      names)
      .save(confusion_path);
  draw_training_curves(history).save(curves_path);
  fmt::print(log, "Wrote {}, {}, {}, {} and {}\n", model_path, history_path, sample_path,
             confusion_path, curves_path);

  if (options.json) {
    const nlohmann::json result = {{"test_accuracy", test.accuracy},
                                   {"test_loss", test.loss},
                                   {"epochs", options.epochs},
                                   {"batch_size", options.batch_size},
                                   {"learning_rate", options.learning_rate},
                                   {"seed", options.seed},
                                   {"threads", options.threads},
                                   {"precision", options.precision},
                                   {"train_images", mnist.train.size()},
                                   {"test_images", mnist.test.size()},
                                   {"train_seconds", history.train_seconds},
                                   {"history", history_to_json(history)["epochs"]},
                                   {"model", model_path},
                                   {"history_file", history_path},
                                   {"sample_picture", sample_path},
                                   {"confusion_picture", confusion_path},
                                   {"curves_picture", curves_path}};
    std::cout << result.dump(2) << std::endl;
  }
  return kSuccess;
}

}  // namespace

Action add_run_command(CLI::App& app) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand(
      "run",
      "The seed job: train the seed CNN on MNIST, evaluate it on the test set, and write "
      "the model, its training history and pictures (samples, confusion matrix, curves)");
  cmd->add_option("--epochs", options->epochs, "Passes over the 60,000 training images")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--batch-size", options->batch_size, "Images per training step")
      ->capture_default_str()
      ->check(CLI::Range(1, 60000));
  cmd->add_option("--lr", options->learning_rate, "Adam learning rate")
      ->capture_default_str()
      ->check(CLI::Range(1e-8, 10.0));
  cmd->add_option("--seed", options->seed, "Seed for initial weights and shuffling")
      ->capture_default_str();
  cmd->add_option("--threads", options->threads, "CPU threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--precision", options->precision, kPrecisionHelp)
      ->capture_default_str()
      ->check(CLI::IsMember({"fp32", "bf16"}));
  cmd->add_option("--data", options->data_dir,
                  "Folder with the four MNIST IDX files (plain or .gz); default: the data "
                  "scripts/setup.sh installed")
      ->capture_default_str();
  cmd->add_option("--out", options->out_dir,
                  "Folder for model.safetensors, history.json, output_sample.png, confusion.png "
                  "and curves.png")
      ->capture_default_str();
  cmd->add_option("--sample", options->sample_index,
                  "Index of the first test image in the output_sample.png grid")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option_function<std::int64_t>(
         "--limit-train", [options](std::int64_t n) { options->limit_train = n; },
         "Train on the first N training images only (a quick run)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 40));
  cmd->add_option_function<std::int64_t>(
         "--limit-test", [options](std::int64_t n) { options->limit_test = n; },
         "Evaluate on the first N test images only")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1} << 40));
  cmd->add_option_function<std::string>(
      "--csv-log", [options](const std::string& path) { options->csv_log = path; },
      "Also write one CSV row per epoch (loss, accuracy, learning rate, seconds) to this file");
  cmd->add_flag("--json", options->json,
                "Print one JSON object with the results on stdout; progress goes to stderr");
  return [options] { return run(*options); };
}

}  // namespace imgcls::cli
