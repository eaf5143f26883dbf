// The train, evaluate and summary commands on a small synthetic MNIST-format dataset:
// results and files written, JSON shapes, refused options and architectures, and an
// interrupted run (SIGINT at an arbitrary step, or kill -9 after a periodic checkpoint)
// resumed to the same final weights as an uninterrupted run.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <thread>

#include "imgcls/io.hpp"
#include "imgcls/runtime.hpp"
#include "support/process.hpp"
#include "support/synthetic.hpp"

namespace imgcls {
namespace {

namespace fs = std::filesystem;
using testing::HasSubstr;
using testing_support::Child;
using testing_support::Outcome;

class TrainCli : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("imgcls_train_cli_" + std::to_string(::getpid()));
    testing_support::write_synthetic_mnist(root_ / "data", 640);
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  Outcome run(const std::vector<std::string>& args) { return testing_support::run_process(IMGCLS_BINARY, args, root_); }
  static std::string data() { return (root_ / "data").string(); }
  static std::string path(const std::string& name) { return (root_ / name).string(); }

  static std::vector<std::vector<float>> weights(const std::string& model_path) {
    Sequential model = load_model(model_path);
    std::vector<std::vector<float>> values;
    for (const Param& p : model.params()) values.push_back(p.value->values());
    return values;
  }

  static fs::path root_;
};
fs::path TrainCli::root_;

TEST_F(TrainCli, TrainsSavesAndEvaluates) {
  const Outcome trained = run({"train", "--data", data(), "--epochs", "2", "--val-split", "0.1", "--optimizer",
                               "sgd", "--momentum", "0.9", "--schedule", "cosine", "--augment", "--out",
                               path("m1.safetensors"), "--json", "--threads", "1"});
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  const auto result = nlohmann::json::parse(trained.out);
  EXPECT_GT(result.at("test_accuracy").get<double>(), 0.3) << trained.out;  // chance is 0.1
  EXPECT_EQ(result.at("history").size(), 2u);
  EXPECT_TRUE(result.at("history")[0].contains("validation_loss"));
  EXPECT_TRUE(fs::exists(path("m1.history.json")));
  EXPECT_TRUE(fs::exists(path("m1.checkpoint.safetensors")));

  const Outcome evaluated = run({"evaluate", path("m1.safetensors"), "--data", data(), "--json"});
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.err;
  const auto e = nlohmann::json::parse(evaluated.out);
  EXPECT_DOUBLE_EQ(e.at("accuracy").get<double>(), result.at("test_accuracy").get<double>());
  EXPECT_EQ(e.at("n").get<int>(), 160);
  ASSERT_EQ(e.at("per_class").size(), 10u);
  ASSERT_EQ(e.at("confusion").size(), 10u);
  std::int64_t total = 0, diagonal = 0;
  for (int t = 0; t < 10; ++t)
    for (int p = 0; p < 10; ++p) {
      total += e["confusion"][t][p].get<std::int64_t>();
      if (t == p) diagonal += e["confusion"][t][p].get<std::int64_t>();
    }
  EXPECT_EQ(total, 160);
  EXPECT_DOUBLE_EQ(double(diagonal) / 160.0, e.at("accuracy").get<double>());

  const Outcome table = run({"evaluate", path("m1.safetensors"), "--data", data()});
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_THAT(table.out, HasSubstr("precision"));
  EXPECT_THAT(table.out, HasSubstr("confusion matrix"));
}

TEST_F(TrainCli, SummaryOfModelsPresetsAndFiles) {
  EXPECT_THAT(run({"summary", "--arch", "seed"}).out, HasSubstr("Total params: 121930"));
  EXPECT_THAT(run({"summary", "--arch", "lenet5"}).out, HasSubstr("Total params: 61706"));
  std::ofstream(path("tiny.json")) << R"({"input_shape": [28, 28, 1], "layers": [
      {"type": "Conv2D", "filters": 4, "kernel_size": 3, "activation": "relu"},
      {"type": "Flatten"}, {"type": "Dense", "units": 10}]})";
  const Outcome tiny = run({"summary", "--arch", path("tiny.json")});
  EXPECT_EQ(tiny.exit_code, 0) << tiny.err;
  EXPECT_THAT(tiny.out, HasSubstr("(None, 26, 26, 4)"));
  EXPECT_THAT(tiny.out, HasSubstr("Total params: 27090"));  // 40 + 2704 * 10 + 10

  std::ofstream(path("typo.json")) << R"({"input_shape": [28, 28, 1], "layers": [{"type": "Dense", "unitz": 3}]})";
  const Outcome typo = run({"summary", "--arch", path("typo.json")});
  EXPECT_EQ(typo.exit_code, 1);
  EXPECT_THAT(typo.err, HasSubstr("layer 0"));
  std::ofstream(path("big_kernel.json")) << R"({"input_shape": [3, 3, 1], "layers": [{"type": "Conv2D", "filters": 2, "kernel_size": 5}]})";
  const Outcome impossible = run({"train", "--arch", path("big_kernel.json"), "--data", data()});
  EXPECT_EQ(impossible.exit_code, 1);
  EXPECT_THAT(impossible.err, HasSubstr("does not fit"));
  EXPECT_EQ(run({"summary", "--arch", "nonsense"}).exit_code, 1);
}

TEST_F(TrainCli, RefusesBadOptions) {
  EXPECT_EQ(run({"train", "--optimizer", "rmsprop"}).exit_code, 2);
  EXPECT_EQ(run({"train", "--schedule", "linear"}).exit_code, 2);
  EXPECT_EQ(run({"train", "--epochs", "0"}).exit_code, 2);
  const Outcome no_validation = run({"train", "--data", data(), "--early-stop", "2"});
  EXPECT_EQ(no_validation.exit_code, 1);
  EXPECT_THAT(no_validation.err, HasSubstr("--val-split"));
  const Outcome missing = run({"train", "--resume", path("nothing.safetensors")});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("nothing.safetensors"));
}

// --precision bf16 trains and saves an ordinary fp32 model file on a CPU with AVX512-BF16.
// Where oneDNN sees none (here: ONEDNN_MAX_CPU_ISA=AVX512_CORE for the child, which hides
// it), train and run refuse it with exit code 1, a message that says why, and no files.
TEST_F(TrainCli, Bf16PrecisionTrainsWhereSupportedAndIsRefusedWhereNot) {
  EXPECT_EQ(run({"train", "--precision", "fp16"}).exit_code, 2);
  const std::vector<std::string> args{"train", "--data", data(), "--epochs", "1", "--precision", "bf16",
                                      "--out", path("bf16.safetensors"), "--json", "--threads", "1"};
  if (bf16_supported()) {
    const Outcome trained = run(args);
    ASSERT_EQ(trained.exit_code, 0) << trained.err;
    const auto result = nlohmann::json::parse(trained.out);
    EXPECT_EQ(result.at("run").at("precision"), "bf16") << trained.out;
    EXPECT_GT(result.at("test_accuracy").get<double>(), 0.3) << trained.out;  // chance is 0.1
    EXPECT_EQ(load_model(path("bf16.safetensors")).parameter_count(), 121930);
  }
  ASSERT_EQ(::setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE", 1), 0);
  const Outcome refused = run({"train", "--data", data(), "--epochs", "1", "--precision", "bf16", "--out",
                               path("refused.safetensors"), "--threads", "1"});
  const Outcome refused_run = run({"run", "--precision", "bf16", "--data", data(), "--out", path("refused_run")});
  ::unsetenv("ONEDNN_MAX_CPU_ISA");
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_THAT(refused.err, HasSubstr("AVX512-BF16"));
  EXPECT_THAT(refused.err, HasSubstr("--precision fp32"));
  EXPECT_FALSE(fs::exists(path("refused.safetensors")));
  EXPECT_EQ(refused_run.exit_code, 1) << refused_run.err;
  EXPECT_THAT(refused_run.err, HasSubstr("AVX512-BF16"));
  EXPECT_FALSE(fs::exists(path("refused_run")));
}

// The same run three ways: uninterrupted; stopped by SIGINT at whatever step it reached,
// then resumed; killed with SIGKILL after a periodic checkpoint, then resumed. All three
// end with identical weights.
TEST_F(TrainCli, InterruptedRunsResumeToTheSameWeights) {
  const std::vector<std::string> common{"train", "--data", data(), "--epochs", "20", "--batch-size", "16",
                                        "--threads", "1", "--augment", "--schedule", "onecycle"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = common;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  ASSERT_EQ(run(with({"--out", path("full.safetensors")})).exit_code, 0);

  // The signal lands mid-run: after the first epoch's checkpoint appears, with 19 epochs to go.
  Child stopped(IMGCLS_BINARY, with({"--out", path("sig.safetensors")}), root_);
  for (int i = 0; i < 1000 && !fs::exists(path("sig.checkpoint.safetensors")); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  stopped.send(SIGINT);
  const Outcome interrupted = stopped.wait();
  ASSERT_EQ(interrupted.exit_code, 130) << interrupted.err;
  EXPECT_THAT(interrupted.err, HasSubstr("--resume " + path("sig.checkpoint.safetensors")));
  const Outcome resumed = run({"train", "--resume", path("sig.checkpoint.safetensors"), "--out", path("sig.safetensors"), "--threads", "1"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(weights(path("sig.safetensors")), weights(path("full.safetensors")));

  Child killed(IMGCLS_BINARY, with({"--out", path("kill.safetensors"), "--checkpoint-every", "7"}), root_);
  for (int i = 0; i < 1000 && !fs::exists(path("kill.checkpoint.safetensors")); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  killed.send(SIGKILL);
  const Outcome dead = killed.wait();
  ASSERT_EQ(dead.signal, SIGKILL) << "the run should still have been going";
  const Outcome recovered = run({"train", "--resume", path("kill.checkpoint.safetensors"), "--out", path("kill.safetensors"), "--threads", "1"});
  ASSERT_EQ(recovered.exit_code, 0) << recovered.err;
  EXPECT_EQ(weights(path("kill.safetensors")), weights(path("full.safetensors")));

  const Outcome conflicting = run({"train", "--resume", path("kill.checkpoint.safetensors"), "--seed", "99"});
  EXPECT_EQ(conflicting.exit_code, 1);
  EXPECT_THAT(conflicting.err, HasSubstr("--seed"));
}

}  // namespace
}  // namespace imgcls
