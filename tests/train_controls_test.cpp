// Training controls in the library: a run stopped mid-epoch, checkpointed, reloaded and
// resumed ends with exactly the weights of the uninterrupted run (with augmentation, a
// schedule and validation on); early stopping restores the best weights; the validation
// split; learning-rate schedules; SGD (momentum, Nesterov) and AdamW against hand-computed
// steps; checkpoints and model files refuse damage (CRC).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "imgcls/io.hpp"
#include "imgcls/runtime.hpp"
#include "support/synthetic.hpp"

namespace imgcls {
namespace {

using testing::HasSubstr;
using testing_support::synthetic_digits;

std::filesystem::path temp_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("imgcls_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

std::vector<Tensor> weights_of(Sequential& model) {
  std::vector<Tensor> values;
  for (const Param& p : model.params()) values.push_back(*p.value);
  return values;
}

// Sets `stop` (as a signal handler would) after step `step` of epoch `epoch`.
class StopAt : public Callback {
 public:
  StopAt(int epoch, std::int64_t step, std::atomic<bool>& stop)
      : epoch_(epoch), step_(step), stop_(stop) {}
  void on_train_batch_end(Trainer& /*trainer*/, const StepStats& s) override {
    if (s.epoch == epoch_ && s.step == step_) stop_ = true;
  }

 private:
  int epoch_;
  std::int64_t step_;
  std::atomic<bool>& stop_;
};

FitOptions controls(const Dataset& validation) {
  FitOptions options{.epochs = 2, .batch_size = 16, .seed = 5};
  options.schedule =
      ScheduleOptions{.kind = ScheduleKind::cosine, .lr_initial = 2e-3f, .lr_min = 1e-4f};
  options.augment = AugmentOptions{};
  options.validation = &validation;
  return options;
}

TEST(Resume, StoppedCheckpointedAndResumedEqualsUninterrupted) {
  set_num_threads(2);
  const Dataset data = synthetic_digits(160, 1), validation = synthetic_digits(40, 2);
  const auto dir = temp_dir("resume");
  const std::string checkpoint = (dir / "run.checkpoint.safetensors").string();

  Sequential reference = presets::seed();
  reference.initialize(3);
  Adam reference_adam;
  fit(reference, reference_adam, data, controls(validation));

  // Stop after step 4 of epoch 1 (of 10 per epoch): the checkpoint names epoch 1, step 4.
  Sequential first = presets::seed();
  first.initialize(3);
  Adam first_adam;
  std::atomic<bool> stop{false};
  StopAt stop_at(1, 4, stop);
  ModelCheckpoint checkpointer(checkpoint, {}, {{"note", "test"}});
  FitOptions stopping = controls(validation);
  stopping.stop_requested = &stop;
  stopping.callbacks = {&stop_at, &checkpointer};
  const History partial = fit(first, first_adam, data, stopping);
  ASSERT_TRUE(partial.interrupted);

  LoadedCheckpoint loaded = load_checkpoint(checkpoint);
  EXPECT_EQ(loaded.state.epoch, 1);
  EXPECT_EQ(loaded.state.step, 4);
  EXPECT_EQ(loaded.optimizer_kind, "adam");
  EXPECT_EQ(loaded.run_config["note"], "test");
  Adam resumed_adam;
  resumed_adam.restore_state(loaded.optimizer_steps, loaded.optimizer_buffers);
  const History rest = fit(loaded.model, resumed_adam, data, controls(validation), &loaded.state);
  EXPECT_FALSE(rest.interrupted);
  ASSERT_EQ(rest.epochs.size(), 2u);  // the history covers the whole run

  const auto want = weights_of(reference), got = weights_of(loaded.model);
  ASSERT_EQ(want.size(), got.size());
  for (std::size_t i = 0; i < want.size(); ++i)
    EXPECT_EQ(want[i].values(), got[i].values()) << "parameter " << i;
  std::filesystem::remove_all(dir);
}

TEST(EarlyStopping, StopsAndRestoresTheBestWeights) {
  set_num_threads(2);
  // Random labels: nothing generalises, so the validation loss rises once it overfits.
  Dataset data = synthetic_digits(200, 3), validation = synthetic_digits(100, 4);
  Rng rng(9);
  for (auto& label : data.labels) label = static_cast<std::int32_t>(rng.uniform_index(10));
  for (auto& label : validation.labels) label = static_cast<std::int32_t>(rng.uniform_index(10));
  // BatchNorm's moving statistics must come back with the best weights too.
  Sequential model({28, 28, 1});
  model.add(layers::Conv2D({.filters = 8, .kernel_size = 3}));
  model.add(layers::BatchNorm({.momentum = 0.5}));
  model.add(layers::ReLU());
  model.add(layers::MaxPool2D({.pool_size = 2}));
  model.add(layers::Flatten());
  model.add(layers::Dense({.units = 10}));
  model.initialize(1);
  Adam adam({.learning_rate = 3e-3f});
  FitOptions options{.epochs = 30, .batch_size = 20, .seed = 2};
  options.validation = &validation;
  options.early_stop_patience = 2;
  TrainingState state;
  const History history = fit(model, adam, data, options, &state);
  ASSERT_TRUE(history.stopped_early);
  ASSERT_LT(history.epochs.size(), 30u);
  double best = 1e30;
  for (const EpochStats& e : history.epochs) best = std::min(best, *e.validation_loss);
  EXPECT_DOUBLE_EQ(state.best_val_loss, best);
  EXPECT_NEAR(evaluate(model, validation).loss, best, 1e-6);  // the best weights are back
}

TEST(ValidationSplit, IsSeededDisjointAndComplete) {
  Dataset data = synthetic_digits(100, 1);
  for (std::int64_t n = 0; n < 100; ++n)
    data.images.data()[n * 784] = static_cast<std::uint8_t>(n);  // tag each image
  const auto [train, validation] = split_validation(data, 0.2, 7);
  ASSERT_EQ(train.size(), 80);
  ASSERT_EQ(validation.size(), 20);
  std::vector<int> seen(100, 0);
  for (const Dataset* part : {&train, &validation})
    for (std::int64_t n = 0; n < part->size(); ++n) {
      const auto tag = static_cast<std::size_t>(part->images.data()[n * 784]);
      ++seen[tag];
      EXPECT_EQ(part->labels[static_cast<std::size_t>(n)], data.labels[tag]);
    }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), 100);
  EXPECT_EQ(split_validation(data, 0.2, 7).second.images.values(), validation.images.values());
  EXPECT_NE(split_validation(data, 0.2, 8).second.images.values(), validation.images.values());
  EXPECT_THROW(split_validation(data, 1.0, 7), InputError);
}

TEST(Schedules, HitTheirDefiningPoints) {
  const ScheduleOptions cosine{.kind = ScheduleKind::cosine, .lr_initial = 1.0f, .lr_min = 0.1f};
  EXPECT_FLOAT_EQ(scheduled_learning_rate(cosine, 0, 100, 10), 1.0f);
  EXPECT_NEAR(scheduled_learning_rate(cosine, 50, 100, 10), 0.55f, 1e-6);
  EXPECT_NEAR(scheduled_learning_rate(cosine, 100, 100, 10), 0.1f, 1e-6);
  const ScheduleOptions step{
      .kind = ScheduleKind::step, .lr_initial = 1.0f, .step_epochs = 2, .step_gamma = 0.5f};
  EXPECT_FLOAT_EQ(scheduled_learning_rate(step, 19, 100, 10), 1.0f);
  EXPECT_FLOAT_EQ(scheduled_learning_rate(step, 20, 100, 10), 0.5f);
  EXPECT_FLOAT_EQ(scheduled_learning_rate(step, 45, 100, 10), 0.25f);
  const ScheduleOptions cycle{
      .kind = ScheduleKind::one_cycle, .lr_initial = 1.0f, .warmup_fraction = 0.3f};
  EXPECT_NEAR(scheduled_learning_rate(cycle, 0, 100, 10), 1.0f / 25.0f, 1e-6);
  EXPECT_NEAR(scheduled_learning_rate(cycle, 30, 100, 10), 1.0f, 1e-6);
  EXPECT_LT(scheduled_learning_rate(cycle, 99, 100, 10), 1e-3f);
  EXPECT_FLOAT_EQ(scheduled_learning_rate({.lr_initial = 0.3f}, 77, 100, 10), 0.3f);
}

TEST(Optimizers, SgdWithMomentumAndNesterovMatchHandComputedSteps) {
  for (const bool nesterov : {false, true}) {
    Tensor value({1}, {1.0f}), grad({1}, {0.5f});
    Sgd sgd({.learning_rate = 0.1f, .momentum = 0.9f, .nesterov = nesterov, .weight_decay = 0.01f});
    double p = 1.0, v = 0.0;
    for (int step = 0; step < 3; ++step) {
      sgd.step({{"p", &value, &grad}});
      const double g = 0.5 + 0.01 * p;
      v = 0.9 * v + g;
      p -= 0.1 * (nesterov ? g + 0.9 * v : v);
      EXPECT_NEAR(value[0], p, 1e-6) << "nesterov " << nesterov << " step " << step;
    }
  }
}

// Plain SGD (no momentum) keeps no state; it crashed once reading state it did not have.
TEST(Optimizers, SgdWithoutMomentumIsPlainGradientDescent) {
  Tensor value({3}, {1.0f, -2.0f, 0.5f}), grad({3}, {0.5f, 0.25f, -1.0f});
  Sgd sgd({.learning_rate = 0.1f, .weight_decay = 0.0f});
  for (int step = 1; step <= 3; ++step) {
    sgd.step({{"p", &value, &grad}});
    EXPECT_FLOAT_EQ(value[0], 1.0f - 0.05f * float(step));
    EXPECT_FLOAT_EQ(value[1], -2.0f - 0.025f * float(step));
    EXPECT_FLOAT_EQ(value[2], 0.5f + 0.1f * float(step));
  }
}

TEST(Optimizers, AdamWDecaysWeightsApartFromTheGradient) {
  Tensor value({2}, {2.0f, -1.0f}), grad({2}, {0.0f, 0.0f});
  Adam adamw({.learning_rate = 0.1f, .weight_decay = 0.5f, .decoupled_weight_decay = true});
  adamw.step({{"p", &value, &grad}});
  // Zero gradient: only the decoupled decay acts, p *= 1 - lr * wd.
  EXPECT_FLOAT_EQ(value[0], 2.0f * 0.95f);
  EXPECT_FLOAT_EQ(value[1], -1.0f * 0.95f);
  EXPECT_EQ(adamw.kind(), "adamw");
}

TEST(ModelFile, AFlippedDataByteFailsTheCrc) {
  const auto dir = temp_dir("crc");
  const std::string path = (dir / "m.safetensors").string();
  Sequential model = presets::seed();
  model.initialize(1);
  save_model(model, path);
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekp(-100, std::ios::end);
  char byte = 0;
  file.read(&byte, 1);
  file.seekp(-100, std::ios::end);
  byte = static_cast<char>(byte ^ 0x10);
  file.write(&byte, 1);
  file.close();
  try {
    load_model(path);
    FAIL() << "a damaged model loaded";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("CRC-32"));
    EXPECT_THAT(e.what(), HasSubstr(path));
  }
  std::filesystem::remove_all(dir);
}

TEST(Checkpoint, NotACheckpointIsRefused) {
  const auto dir = temp_dir("ckpt");
  const std::string path = (dir / "m.safetensors").string();
  Sequential model = presets::seed();
  model.initialize(1);
  save_model(model, path);
  EXPECT_THROW(load_checkpoint(path), InputError);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace imgcls

namespace imgcls {
namespace {

TEST(NumericalFaults, ANanInputStopsTrainingBeforeTheWeights) {
  // A NaN mean in the Normalization makes the first convolution's input NaN. The fused ReLU
  // maps it to 0 in the forward pass, so the loss stays finite; the gradient of the first
  // convolution does not.
  const Dataset data = synthetic_digits(64, 1);
  Sequential model = presets::seed({.normalize = true});
  model.initialize(1);
  (*model.buffers()[0].value)[0] = std::nanf("");
  Adam adam;
  const auto before = weights_of(model);
  try {
    fit(model, adam, data, {.epochs = 1, .batch_size = 64});
    FAIL() << "trained on a NaN";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("NaN or Inf"));
    EXPECT_THAT(e.what(), HasSubstr("step 1"));
  }
  EXPECT_EQ(weights_of(model)[0].values(), before[0].values());  // no update was applied
}

}  // namespace
}  // namespace imgcls
