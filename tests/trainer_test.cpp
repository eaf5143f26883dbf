// The Trainer and its callbacks: the hooks come in the documented order with the state naming
// the next step and the step and epoch statistics they report; a callback can stop the run
// (interrupted, resumable to the uninterrupted run's weights, or complete); the CSV log's rows
// and how a resumed run continues it; early stopping as an option and as a callback, with the
// last checkpoint holding the best weights; when ModelCheckpoint writes; library errors in
// library terms; and `imgcls train/run --csv-log`.
#include "imgcls/trainer.hpp"

#include <fmt/core.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "imgcls/io.hpp"
#include "imgcls/runtime.hpp"
#include "support/process.hpp"
#include "support/synthetic.hpp"

namespace imgcls {
namespace {

namespace fs = std::filesystem;
using testing::ElementsAre;
using testing::HasSubstr;
using testing::Not;
using testing_support::Outcome;
using testing_support::synthetic_digits;

fs::path temp_dir(const std::string& name) {
  const auto dir =
      fs::temp_directory_path() / ("imgcls_trainer_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

Sequential seed_model() {
  Sequential model = presets::seed();
  model.initialize(3);
  return model;
}

std::vector<std::vector<float>> weights_of(Sequential& model) {
  std::vector<std::vector<float>> values;
  for (const Param& p : model.params_and_buffers()) values.push_back(p.value->values());
  return values;
}

std::string position(const Trainer& trainer) {
  return fmt::format("{}:{}", trainer.state().epoch, trainer.state().step);
}

// Writes every hook it gets to a shared log as "<name> <event> ... at <epoch>:<step>" (the
// position the trainer's state names), and keeps the statistics reported.
class Recorder : public Callback {
 public:
  Recorder(std::string name, std::vector<std::string>& log) : name_(std::move(name)), log_(log) {}
  void on_train_begin(Trainer& trainer) override { note("train_begin at " + position(trainer)); }
  void on_epoch_begin(Trainer& trainer, int epoch) override {
    note(fmt::format("epoch_begin {} at {}", epoch, position(trainer)));
  }
  void on_train_batch_end(Trainer& trainer, const StepStats& step) override {
    note(fmt::format("batch_end {}:{}/{} at {}", step.epoch, step.step, step.steps,
                     position(trainer)));
    steps.push_back(step);
  }
  void on_epoch_end(Trainer& trainer, const EpochStats& epoch) override {
    note(fmt::format("epoch_end {} at {} finished {}", epoch.epoch, position(trainer),
                     trainer.state().finished.size()));
    epochs.push_back(epoch);
  }
  void on_train_end(Trainer& trainer) override { note("train_end at " + position(trainer)); }

  std::vector<StepStats> steps;
  std::vector<EpochStats> epochs;

 private:
  void note(const std::string& event) { log_.push_back(name_ + " " + event); }
  std::string name_;
  std::vector<std::string>& log_;
};

// Calls request_stop (or stop_early) after step `step` of epoch `epoch`; step 0: at that
// epoch's end.
class StopAt : public Callback {
 public:
  StopAt(int epoch, std::int64_t step, bool early = false)
      : epoch_(epoch), step_(step), early_(early) {}
  void on_train_batch_end(Trainer& trainer, const StepStats& s) override {
    if (s.epoch == epoch_ && s.step == step_) stop(trainer);
  }
  void on_epoch_end(Trainer& trainer, const EpochStats& e) override {
    if (e.epoch == epoch_ && step_ == 0) stop(trainer);
  }

 private:
  void stop(Trainer& trainer) const { early_ ? trainer.stop_early() : trainer.request_stop(); }
  int epoch_;
  std::int64_t step_;
  bool early_;
};

// 40 images in batches of 16: three steps per epoch (16, 16, 8).
constexpr std::int64_t kImages = 40;
constexpr std::int64_t kBatch = 16;
constexpr std::int64_t kSteps = 3;

TEST(Callbacks, AreCalledInTheDocumentedOrderWithTheRightArguments) {
  set_num_threads(2);
  const Dataset data = synthetic_digits(kImages, 1), validation = synthetic_digits(20, 2);
  Sequential model = seed_model();
  Adam adam;
  std::vector<std::string> log;
  Recorder first("A", log), second("B", log);
  const ScheduleOptions cosine{.kind = ScheduleKind::cosine, .lr_initial = 2e-3f, .lr_min = 1e-4f};
  Trainer trainer(model, adam, data,
                  {.epochs = 2,
                   .batch_size = kBatch,
                   .seed = 5,
                   .schedule = cosine,
                   .validation = &validation,
                   .callbacks = {&first}});
  trainer.add(second);
  const History history = trainer.run();

  std::vector<std::string> events = {"train_begin at 1:0"};
  for (int epoch = 1; epoch <= 2; ++epoch) {
    events.push_back(fmt::format("epoch_begin {} at {}:0", epoch, epoch));
    for (int step = 1; step <= kSteps; ++step)
      events.push_back(
          fmt::format("batch_end {}:{}/{} at {}:{}", epoch, step, kSteps, epoch, step));
    events.push_back(fmt::format("epoch_end {} at {}:0 finished {}", epoch, epoch + 1, epoch));
  }
  events.push_back("train_end at 3:0");
  std::vector<std::string> expected;
  for (const std::string& event : events) {
    expected.push_back("A " +
                       event);  // each event reaches the callbacks in the order they were added
    expected.push_back("B " + event);
  }
  EXPECT_EQ(log, expected);

  ASSERT_EQ(first.steps.size(), 2u * kSteps);
  ASSERT_EQ(first.epochs.size(), 2u);
  ASSERT_EQ(history.epochs.size(), 2u);
  for (int epoch = 1; epoch <= 2; ++epoch) {
    SCOPED_TRACE(epoch);
    const EpochStats& reported = first.epochs[static_cast<std::size_t>(epoch - 1)];
    const EpochStats& kept = history.epochs[static_cast<std::size_t>(epoch - 1)];
    EXPECT_EQ(reported.epoch, epoch);
    EXPECT_EQ(reported.loss, kept.loss);
    EXPECT_EQ(reported.accuracy, kept.accuracy);
    ASSERT_TRUE(reported.validation_loss.has_value());
    EXPECT_EQ(*reported.validation_loss, *kept.validation_loss);
    double loss_sum = 0.0;  // the steps' losses, weighted by batch size, make the epoch's mean
    for (std::int64_t step = 1; step <= kSteps; ++step) {
      const StepStats& s = first.steps[static_cast<std::size_t>((epoch - 1) * kSteps + step - 1)];
      const std::int64_t count = std::min(kBatch, kImages - (step - 1) * kBatch);
      loss_sum += s.loss * double(count);
      EXPECT_TRUE(std::isfinite(s.loss) && s.loss > 0.0) << s.loss;
      const std::int64_t index = (epoch - 1) * kSteps + step - 1;
      EXPECT_EQ(s.learning_rate, scheduled_learning_rate(cosine, index, 2 * kSteps, kSteps))
          << "step " << step;
    }
    const StepStats& last = first.steps[static_cast<std::size_t>(epoch * kSteps - 1)];
    EXPECT_DOUBLE_EQ(loss_sum / double(kImages), reported.loss);
    EXPECT_EQ(last.epoch_loss, reported.loss);
    EXPECT_EQ(last.epoch_accuracy, reported.accuracy);
    EXPECT_EQ(reported.learning_rate, last.learning_rate);
  }
  EXPECT_EQ(first.steps[0].loss,
            first.steps[0].epoch_loss);  // one step: the running mean is its loss
  EXPECT_FALSE(history.interrupted);
  EXPECT_FALSE(history.stopped_early);
}

// A callback's stop request ends the run after that step; the state names the next step, and
// a trainer started from it ends with the uninterrupted run's weights.
TEST(Callbacks, ACustomCallbackCanStopTheRunAndItResumesExactly) {
  set_num_threads(2);
  const Dataset data = synthetic_digits(kImages, 1);
  const FitOptions options{
      .epochs = 3, .batch_size = kBatch, .seed = 7, .augment = AugmentOptions{}};
  Sequential reference = seed_model();
  Adam reference_adam;
  fit(reference, reference_adam, data, options);

  Sequential model = seed_model();
  Adam adam;
  std::vector<std::string> log;
  Recorder recorder("R", log);
  StopAt stop(2, 2);
  FitOptions stopping = options;
  stopping.callbacks = {&stop, &recorder};
  Trainer first(model, adam, data, stopping);
  const History partial = first.run();
  EXPECT_TRUE(partial.interrupted);
  EXPECT_FALSE(partial.stopped_early);
  EXPECT_EQ(partial.epochs.size(), 1u);
  EXPECT_EQ(position(first), "2:2");
  // The step that asked is reported; no step, and no epoch end, follows it.
  const std::vector<std::string> tail(log.end() - 3, log.end());
  EXPECT_THAT(tail, ElementsAre("R batch_end 2:1/3 at 2:1", "R batch_end 2:2/3 at 2:2",
                                "R train_end at 2:2"));

  log.clear();
  Trainer rest(model, adam, data,
               {.epochs = 3,
                .batch_size = kBatch,
                .seed = 7,
                .augment = AugmentOptions{},
                .callbacks = {&recorder}},
               first.state());
  const History whole = rest.run();
  EXPECT_FALSE(whole.interrupted);
  EXPECT_EQ(whole.epochs.size(), 3u);
  ASSERT_GE(log.size(), 3u);
  EXPECT_EQ(log[1], "R epoch_begin 2 at 2:2");  // the resumed epoch begins at its next step
  EXPECT_EQ(log[2], "R batch_end 2:3/3 at 2:3");
  EXPECT_EQ(weights_of(model), weights_of(reference));
}

TEST(Callbacks, AStopAtAnEpochEndOrAnEarlyStopEndsTheRunThere) {
  set_num_threads(2);
  const Dataset data = synthetic_digits(kImages, 1);
  for (const bool early : {false, true}) {
    SCOPED_TRACE(early ? "stop_early" : "request_stop");
    Sequential model = seed_model();
    Adam adam;
    StopAt stop(1, 0, early);
    Trainer trainer(model, adam, data, {.epochs = 3, .batch_size = kBatch, .callbacks = {&stop}});
    const History history = trainer.run();
    EXPECT_EQ(history.epochs.size(), 1u);
    EXPECT_EQ(position(trainer), "2:0");
    EXPECT_EQ(history.interrupted, !early);
    EXPECT_EQ(history.stopped_early, early);
  }
}

std::vector<std::string> lines_of(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> cells_of(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream in(line);
  for (std::string cell; std::getline(in, cell, ',');) cells.push_back(cell);
  return cells;
}

// Reads the log at every point where it must be whole: training's begin and each epoch end.
class CsvWatcher : public Callback {
 public:
  explicit CsvWatcher(fs::path path) : path_(std::move(path)) {}
  void on_train_begin(Trainer& /*trainer*/) override { seen.push_back(lines_of(path_).size()); }
  void on_epoch_end(Trainer& /*trainer*/, const EpochStats& /*epoch*/) override {
    seen.push_back(lines_of(path_).size());
  }
  std::vector<std::size_t> seen;  // lines in the file each time

 private:
  fs::path path_;
};

TEST(CsvLog, HasAHeaderAndOneRowPerEpochWithTheHistorysNumbers) {
  set_num_threads(2);
  const auto dir = temp_dir("csv");
  const Dataset data = synthetic_digits(kImages, 1), validation = synthetic_digits(20, 2);
  for (const bool with_validation : {true, false}) {
    SCOPED_TRACE(with_validation);
    const fs::path path = dir / (with_validation ? "val.csv" : "plain.csv");
    Sequential model = seed_model();
    Adam adam({.learning_rate = 1e-3f});
    CsvLogger csv(path.string());
    CsvWatcher watcher(path);
    const History history = fit(model, adam, data,
                                {.epochs = 3,
                                 .batch_size = kBatch,
                                 .validation = with_validation ? &validation : nullptr,
                                 .callbacks = {&csv, &watcher}});
    EXPECT_THAT(watcher.seen, ElementsAre(1u, 2u, 3u, 4u));  // the header, then a row per epoch end
    const std::vector<std::string> lines = lines_of(path);
    ASSERT_EQ(lines.size(), 4u);
    EXPECT_EQ(lines[0], with_validation
                            ? "epoch,loss,accuracy,learning_rate,seconds,val_loss,val_accuracy"
                            : "epoch,loss,accuracy,learning_rate,seconds");
    for (std::size_t i = 0; i < 3; ++i) {
      SCOPED_TRACE(lines[i + 1]);
      const std::vector<std::string> cells = cells_of(lines[i + 1]);
      const EpochStats& e = history.epochs[i];
      ASSERT_EQ(cells.size(), with_validation ? 7u : 5u);
      EXPECT_EQ(cells[0], std::to_string(i + 1));
      EXPECT_EQ(std::stod(cells[1]), e.loss);  // written in full: read back exactly
      EXPECT_EQ(std::stod(cells[2]), e.accuracy);
      EXPECT_EQ(cells[3], "0.001");
      EXPECT_EQ(std::stod(cells[4]), e.seconds);
      if (with_validation) {
        EXPECT_EQ(std::stod(cells[5]), *e.validation_loss);
        EXPECT_EQ(std::stod(cells[6]), *e.validation_accuracy);
      }
    }
  }
  fs::remove_all(dir);
}

// A run stopped in epoch 2 of 3 and resumed from its checkpoint: the log keeps epoch 1's row
// as written and goes on with epochs 2 and 3; a row written after the checkpoint (a crash
// between the two writes) is replaced, not repeated.
TEST(CsvLog, AResumedRunContinuesTheLog) {
  set_num_threads(2);
  const auto dir = temp_dir("csv_resume");
  const fs::path csv_path = dir / "log.csv", checkpoint = dir / "run.checkpoint.safetensors";
  const Dataset data = synthetic_digits(kImages, 1), validation = synthetic_digits(20, 2);
  const FitOptions options{.epochs = 3, .batch_size = kBatch, .seed = 4, .validation = &validation};

  Sequential model = seed_model();
  Adam adam;
  CsvLogger csv(csv_path.string());
  ModelCheckpoint checkpointer(checkpoint.string());
  StopAt stop(2, 1);
  FitOptions stopping = options;
  stopping.callbacks = {&csv, &checkpointer, &stop};
  ASSERT_TRUE(fit(model, adam, data, stopping).interrupted);
  const std::vector<std::string> before = lines_of(csv_path);
  ASSERT_EQ(before.size(), 2u);
  std::ofstream(csv_path, std::ios::app)
      << "2,9,9,0.001,9,9,9\n";  // as if written, then the process died

  LoadedCheckpoint loaded = load_checkpoint(checkpoint.string());
  ASSERT_EQ(loaded.state.epoch, 2);
  ASSERT_EQ(loaded.state.step, 1);
  Adam resumed_adam;
  resumed_adam.restore_state(loaded.optimizer_steps, loaded.optimizer_buffers);
  CsvLogger continued(csv_path.string());
  FitOptions resumed = options;
  resumed.callbacks = {&continued};
  const History history = fit(loaded.model, resumed_adam, data, resumed, &loaded.state);

  const std::vector<std::string> after = lines_of(csv_path);
  ASSERT_EQ(after.size(), 4u);
  EXPECT_EQ(after[0], before[0]);
  EXPECT_EQ(after[1], before[1]);  // byte for byte, through the checkpoint
  for (std::size_t i = 1; i < 4; ++i) {
    const std::vector<std::string> cells = cells_of(after[i]);
    ASSERT_EQ(cells.size(), 7u);
    EXPECT_EQ(cells[0], std::to_string(i));
    EXPECT_EQ(std::stod(cells[1]), history.epochs[i - 1].loss);
  }
  EXPECT_THAT(after[2], Not(HasSubstr(",9,9")));
  fs::remove_all(dir);
}

// Random labels: nothing generalises, so the validation loss rises once the model overfits.
struct Overfitting {
  Overfitting() : data(synthetic_digits(200, 3)), validation(synthetic_digits(100, 4)) {
    Rng rng(9);
    for (auto& label : data.labels) label = static_cast<std::int32_t>(rng.uniform_index(10));
    for (auto& label : validation.labels) label = static_cast<std::int32_t>(rng.uniform_index(10));
  }
  Dataset data, validation;
};

TEST(EarlyStoppingCallback, StopsRestoresTheBestWeightsAndTheLastCheckpointHoldsThem) {
  set_num_threads(2);
  const auto dir = temp_dir("early");
  const Overfitting sets;
  const FitOptions options{
      .epochs = 30, .batch_size = 20, .seed = 2, .validation = &sets.validation};

  // As FitOptions::early_stop_patience.
  Sequential by_option = seed_model();
  Adam adam_a({.learning_rate = 3e-3f});
  ModelCheckpoint checkpointer((dir / "a.checkpoint.safetensors").string());
  FitOptions with_patience = options;
  with_patience.early_stop_patience = 2;
  with_patience.callbacks = {&checkpointer};
  TrainingState state;
  const History stopped = fit(by_option, adam_a, sets.data, with_patience, &state);
  ASSERT_TRUE(stopped.stopped_early);
  EXPECT_FALSE(stopped.interrupted);
  ASSERT_LT(stopped.epochs.size(), 30u);
  double best = 1e30;
  for (const EpochStats& e : stopped.epochs) best = std::min(best, *e.validation_loss);
  EXPECT_EQ(state.best_val_loss, best);
  EXPECT_EQ(state.epochs_since_best, 2);
  EXPECT_NEAR(evaluate(by_option, sets.validation).loss, best, 1e-6);  // the best weights are back
  LoadedCheckpoint last = load_checkpoint((dir / "a.checkpoint.safetensors").string());
  EXPECT_EQ(last.state.epoch, static_cast<int>(stopped.epochs.size()) + 1);
  EXPECT_EQ(weights_of(last.model), weights_of(by_option));

  // As a callback the caller adds: the same run.
  Sequential by_callback = seed_model();
  Adam adam_b({.learning_rate = 3e-3f});
  EarlyStopping early_stopping({.patience = 2});
  FitOptions with_callback = options;
  with_callback.callbacks = {&early_stopping};
  const History same = fit(by_callback, adam_b, sets.data, with_callback);
  EXPECT_TRUE(same.stopped_early);
  EXPECT_EQ(same.epochs.size(), stopped.epochs.size());
  EXPECT_EQ(weights_of(by_callback), weights_of(by_option));

  // It needs a validation set.
  Sequential unwatched = seed_model();
  Adam adam_c;
  EXPECT_THROW(
      fit(unwatched, adam_c, sets.data, {.epochs = 1, .batch_size = 20, .early_stop_patience = 2}),
      UsageError);
  fs::remove_all(dir);
}

// The (epoch, step) of each checkpoint ModelCheckpoint writes, seen as new files appear
// (every write replaces the file: a new inode or modification time).
class CheckpointSpy : public Callback {
 public:
  explicit CheckpointSpy(fs::path path) : path_(std::move(path)) {}
  void on_train_batch_end(Trainer& /*trainer*/, const StepStats& /*step*/) override { look(); }
  void on_epoch_end(Trainer& /*trainer*/, const EpochStats& /*epoch*/) override { look(); }
  void on_train_end(Trainer& /*trainer*/) override { look(); }
  std::vector<std::string> saves;

 private:
  void look() {
    struct stat info {};
    if (::stat(path_.c_str(), &info) != 0) return;
    const auto version =
        std::make_pair(info.st_ino, info.st_mtim.tv_sec * 1'000'000'000LL + info.st_mtim.tv_nsec);
    if (version == last_) return;
    last_ = version;
    const LoadedCheckpoint loaded = load_checkpoint(path_.string());
    saves.push_back(fmt::format("{}:{}", loaded.state.epoch, loaded.state.step));
  }
  fs::path path_;
  std::pair<ino_t, long long> last_{};
};

TEST(ModelCheckpointCallback, WritesAtEpochEndsEveryNStepsAndWhenAStopEndsTheRun) {
  set_num_threads(2);
  const auto dir = temp_dir("checkpoint");
  const Dataset data = synthetic_digits(80, 1);  // five steps of 16 per epoch
  struct Case {
    int stop_epoch;
    std::int64_t stop_step;
    std::vector<std::string> saves;
  };
  const std::vector<Case> cases = {
      {2, 3, {"1:2", "1:4", "2:0", "2:2", "2:3"}},  // the stop's own checkpoint
      {2, 2, {"1:2", "1:4", "2:0", "2:2"}},         // a stop at a periodic step: written once
      {1, 5, {"1:2", "1:4", "2:0"}},                // a stop at an epoch's last step: its end runs
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(fmt::format("stop at {}:{}", c.stop_epoch, c.stop_step));
    const fs::path path =
        dir / fmt::format("{}_{}.checkpoint.safetensors", c.stop_epoch, c.stop_step);
    Sequential model = seed_model();
    Adam adam;
    std::atomic<bool> stop{false};  // as the command line's signal handler sets it
    class SetFlag : public Callback {
     public:
      SetFlag(const Case& c, std::atomic<bool>& stop) : c_(c), stop_(stop) {}
      void on_train_batch_end(Trainer& /*trainer*/, const StepStats& s) override {
        if (s.epoch == c_.stop_epoch && s.step == c_.stop_step) stop_ = true;
      }

     private:
      const Case& c_;
      std::atomic<bool>& stop_;
    } set_flag(c, stop);
    ModelCheckpoint checkpointer(path.string(), {.every_steps = 2}, {{"note", "test"}});
    CheckpointSpy spy(path);
    const History history = fit(model, adam, data,
                                {.epochs = 3,
                                 .batch_size = 16,
                                 .stop_requested = &stop,
                                 .callbacks = {&set_flag, &checkpointer, &spy}});
    EXPECT_TRUE(history.interrupted);
    EXPECT_EQ(spy.saves, c.saves);
    EXPECT_EQ(load_checkpoint(path.string()).run_config.at("note"), "test");
  }
  fs::remove_all(dir);
}

// Library errors speak the library's language: no command-line flags.
TEST(Trainer, ErrorsNameNoCommandLineFlags) {
  const Dataset ten = synthetic_digits(10, 1);
  try {
    split_validation(ten, 0.01, 1);
    FAIL() << "an empty validation split was made";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("empty split"));
    EXPECT_THAT(e.what(), Not(HasSubstr("--")));
  }
  // A NaN mean in the Normalization (a diverged statistic) reaches the gradients.
  const Dataset data = synthetic_digits(64, 1);
  Sequential model = presets::seed({.normalize = true});
  model.initialize(1);
  (*model.buffers()[0].value)[0] = std::nanf("");
  Adam adam;
  try {
    fit(model, adam, data, {.epochs = 1, .batch_size = 64});
    FAIL() << "trained on a NaN";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("NaN or Inf"));
    EXPECT_THAT(e.what(), HasSubstr("lower the learning rate"));
    EXPECT_THAT(e.what(), Not(HasSubstr("--")));
  }
}

// imgcls train --csv-log and imgcls run --csv-log.
class CsvLogCli : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = temp_dir("cli");
    testing_support::write_synthetic_mnist(root_ / "data", 320);
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }
  static Outcome run(const std::vector<std::string>& args) {
    return testing_support::run_process(IMGCLS_BINARY, args, root_);
  }
  static std::string path(const std::string& name) { return (root_ / name).string(); }
  static fs::path root_;
};
fs::path CsvLogCli::root_;

TEST_F(CsvLogCli, TrainWritesItAndAResumedRunContinuesIt) {
  const Outcome trained =
      run({"train", "--data", path("data"), "--epochs", "1", "--val-split", "0.1", "--csv-log",
           path("runs/log.csv"), "--out", path("runs/m.safetensors"), "--threads", "1"});
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  const std::vector<std::string> first = lines_of(path("runs/log.csv"));
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0], "epoch,loss,accuracy,learning_rate,seconds,val_loss,val_accuracy");
  EXPECT_THAT(trained.out, HasSubstr("CSV log " + path("runs/log.csv")));

  // The checkpoint records the log: resumed without --csv-log, the run goes on writing it.
  const Outcome resumed = run({"train", "--resume", path("runs/m.checkpoint.safetensors"),
                               "--epochs", "2", "--threads", "1"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  const std::vector<std::string> second = lines_of(path("runs/log.csv"));
  ASSERT_EQ(second.size(), 3u);
  EXPECT_EQ(second[1], first[1]);
  EXPECT_EQ(cells_of(second[2]).at(0), "2");

  // A new --csv-log takes over: the whole run's rows go there, the old log stays as it was.
  const Outcome moved = run({"train", "--resume", path("runs/m.checkpoint.safetensors"), "--epochs",
                             "3", "--csv-log", path("runs/new.csv"), "--threads", "1"});
  ASSERT_EQ(moved.exit_code, 0) << moved.err;
  const std::vector<std::string> third = lines_of(path("runs/new.csv"));
  ASSERT_EQ(third.size(), 4u);
  EXPECT_EQ(third[2], second[2]);
  EXPECT_EQ(lines_of(path("runs/log.csv")), second);
}

TEST_F(CsvLogCli, AnUnwritableLogFailsBeforeTraining) {
  fs::create_directories(root_ / "a_folder");
  for (const std::string command : {"train", "run"}) {
    SCOPED_TRACE(command);
    const Outcome refused =
        run({command, "--data", path("data"), "--epochs", "1", "--csv-log", path("a_folder"),
             "--out", path("out_" + command), "--threads", "1"});
    EXPECT_EQ(refused.exit_code, 1) << refused.err;
    EXPECT_THAT(refused.err, HasSubstr("is a folder"));
    EXPECT_THAT(refused.out, Not(HasSubstr("Loading")));  // nothing was read or trained
  }
}

TEST_F(CsvLogCli, RunWritesIt) {
  const Outcome ran =
      run({"run", "--data", path("data"), "--epochs", "2", "--limit-train", "64", "--limit-test",
           "16", "--csv-log", path("run/log.csv"), "--out", path("run"), "--threads", "1"});
  ASSERT_EQ(ran.exit_code, 0) << ran.err;
  const std::vector<std::string> lines = lines_of(path("run/log.csv"));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "epoch,loss,accuracy,learning_rate,seconds");
  EXPECT_EQ(cells_of(lines[2]).at(0), "2");
}

}  // namespace
}  // namespace imgcls
