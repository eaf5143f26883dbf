// The end-to-end gate: one epoch of the seed model (presets::seed) on the real MNIST training
// set (60,000 images; scripts/setup.sh installs them), Adam with its defaults, batch 32,
// seed 1, 2 threads, must reach at least 98% accuracy on the 10,000 test images. The seed
// model reaches about 98.5% after one epoch, so 0.98 leaves room for seeds and thread counts
// while any real regression (a wrong gradient, a broken shuffle, bad data) falls well short.
// The same holds with training steps in bf16 (Precision::bf16) on a CPU with AVX512-BF16.
// And the fast preset with its recipe, as a user runs it (`imgcls train --arch fast`), must
// reach at least 98.9% (seed 1, 2 threads).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "imgcls/data.hpp"
#include "imgcls/error.hpp"
#include "imgcls/model.hpp"
#include "imgcls/optim.hpp"
#include "imgcls/runtime.hpp"
#include "imgcls/train.hpp"
#include "support/process.hpp"

namespace imgcls {
namespace {

void expect_one_epoch_reaches_98_percent(Precision precision) {
  const MnistSplits mnist = load_mnist(IMGCLS_MNIST_DIR);
  ASSERT_EQ(mnist.train.size(), 60000);
  ASSERT_EQ(mnist.test.size(), 10000);

  set_num_threads(2);
  Sequential model = presets::seed();
  model.initialize(1);
  Adam adam;
  const History history = fit(model, adam, mnist.train,
                              {.epochs = 1, .batch_size = 32, .seed = 1, .precision = precision});
  ASSERT_EQ(history.epochs.size(), 1u);
  const Evaluation test = evaluate(model, mnist.test);
  std::printf("train loss %.4f accuracy %.4f in %.1f s; test accuracy %.4f loss %.4f\n",
              history.epochs[0].loss, history.epochs[0].accuracy, history.train_seconds,
              test.accuracy, test.loss);
  EXPECT_EQ(test.count, 10000);
  EXPECT_GE(test.accuracy, 0.98);
}

TEST(MnistEndToEnd, OneEpochOfTheSeedModelReaches98PercentTestAccuracy) {
  expect_one_epoch_reaches_98_percent(Precision::fp32);
}

// The fast recipe, 99% in seconds (README): the defaults `--arch fast` brings (one epoch,
// batch 256, Adam lr 0.01 with betas 0.7 and 0.9, one-cycle) reach at least 98.9%. Measured:
// 99.08%, 99.05% and 98.96% for seeds 1 to 3, 3.2 s of training each (2 cores, Intel Xeon).
// The time is reported, not tested.
TEST(MnistEndToEnd, TheFastRecipeReaches99PercentInOneEpoch) {
  const auto folder =
      std::filesystem::temp_directory_path() / ("imgcls_fast_recipe_" + std::to_string(::getpid()));
  std::filesystem::create_directories(folder);
  const testing_support::Outcome trained = testing_support::run_process(
      IMGCLS_BINARY,
      {"train", "--arch", "fast", "--data", IMGCLS_MNIST_DIR, "--seed", "1", "--threads", "2",
       "--json", "--out", (folder / "fast.safetensors").string()},
      folder);
  std::filesystem::remove_all(folder);
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  const nlohmann::json result = nlohmann::json::parse(trained.out);
  const nlohmann::json& run = result.at("run");
  EXPECT_EQ(run.at("epochs"), 1);
  EXPECT_EQ(run.at("batch_size"), 256);
  EXPECT_EQ(run.at("schedule"), "onecycle");
  EXPECT_DOUBLE_EQ(run.at("learning_rate").get<double>(), 0.01);
  EXPECT_DOUBLE_EQ(run.at("beta1").get<double>(), 0.7);
  EXPECT_DOUBLE_EQ(run.at("beta2").get<double>(), 0.9);
  std::printf("fast recipe: test accuracy %.4f after %.1f s of training\n",
              result.at("test_accuracy").get<double>(), result.at("train_seconds").get<double>());
  EXPECT_GE(result.at("test_accuracy").get<double>(), 0.989);
}

// The same gate with bf16 training steps (evaluation is fp32), where the CPU multiplies bf16
// in hardware (bf16_supported()). Elsewhere the library refuses bf16 training (it would be
// emulated, slower than fp32, or not run at all), and the test checks that refusal instead;
// ONEDNN_MAX_CPU_ISA=AVX512_CORE hides AVX512-BF16 from oneDNN to run that path here.
TEST(MnistEndToEnd, OneEpochInBf16Reaches98PercentTestAccuracy) {
  if (bf16_supported()) {
    expect_one_epoch_reaches_98_percent(Precision::bf16);
    return;
  }
  std::printf("this CPU has no AVX512-BF16 (as oneDNN sees it): checking that bf16 is refused\n");
  Sequential model = presets::seed();
  model.initialize(1);
  const std::vector<float> before = model.params()[0].value->values();
  const MnistSplits mnist = load_mnist(IMGCLS_MNIST_DIR);
  Adam adam;
  try {
    fit(model, adam, mnist.test, {.epochs = 1, .precision = Precision::bf16});
    ADD_FAILURE() << "bf16 training was accepted on a CPU without AVX512-BF16";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("AVX512-BF16"), std::string::npos) << e.what();
  }
  EXPECT_EQ(model.params()[0].value->values(), before) << "refused before any step";
}

}  // namespace
}  // namespace imgcls
