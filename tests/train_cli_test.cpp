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

  Outcome run(const std::vector<std::string>& args) {
    return testing_support::run_process(IMGCLS_BINARY, args, root_);
  }
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
  const Outcome trained =
      run({"train", "--data", data(), "--epochs", "2", "--val-split", "0.1", "--optimizer", "sgd",
           "--momentum", "0.9", "--schedule", "cosine", "--augment", "--out",
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

  std::ofstream(path("typo.json"))
      << R"({"input_shape": [28, 28, 1], "layers": [{"type": "Dense", "unitz": 3}]})";
  const Outcome typo = run({"summary", "--arch", path("typo.json")});
  EXPECT_EQ(typo.exit_code, 1);
  EXPECT_THAT(typo.err, HasSubstr("layer 0"));
  std::ofstream(path("big_kernel.json"))
      << R"({"input_shape": [3, 3, 1], "layers": [{"type": "Conv2D", "filters": 2, "kernel_size": 5}]})";
  const Outcome impossible = run({"train", "--arch", path("big_kernel.json"), "--data", data()});
  EXPECT_EQ(impossible.exit_code, 1);
  EXPECT_THAT(impossible.err, HasSubstr("does not fit"));
  EXPECT_EQ(run({"summary", "--arch", "nonsense"}).exit_code, 1);
  // A folder named like a preset in the working directory does not shadow the preset.
  fs::create_directories(path("strong"));
  const Outcome shadowed = run({"summary", "--arch", "strong"});
  EXPECT_EQ(shadowed.exit_code, 0) << shadowed.err;
  EXPECT_THAT(shadowed.out, HasSubstr("Total params:"));
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
  const std::vector<std::string> args{"train",    "--data",    data(),
                                      "--epochs", "1",         "--precision",
                                      "bf16",     "--out",     path("bf16.safetensors"),
                                      "--json",   "--threads", "1"};
  if (bf16_supported()) {
    const Outcome trained = run(args);
    ASSERT_EQ(trained.exit_code, 0) << trained.err;
    const auto result = nlohmann::json::parse(trained.out);
    EXPECT_EQ(result.at("run").at("precision"), "bf16") << trained.out;
    EXPECT_GT(result.at("test_accuracy").get<double>(), 0.3) << trained.out;  // chance is 0.1
    EXPECT_EQ(load_model(path("bf16.safetensors")).parameter_count(), 121930);
  }
  ASSERT_EQ(::setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE", 1), 0);
  const Outcome refused = run({"train", "--data", data(), "--epochs", "1", "--precision", "bf16",
                               "--out", path("refused.safetensors"), "--threads", "1"});
  const Outcome refused_run =
      run({"run", "--precision", "bf16", "--data", data(), "--out", path("refused_run")});
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
  const std::vector<std::string> common{"train", "--data",       data(),       "--epochs",
                                        "8",     "--batch-size", "16",         "--threads",
                                        "1",     "--augment",    "--schedule", "onecycle"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = common;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  ASSERT_EQ(run(with({"--out", path("full.safetensors")})).exit_code, 0);

  // The signal lands mid-run: after the first epoch's checkpoint appears, with 7 epochs to go.
  Child stopped(IMGCLS_BINARY, with({"--out", path("sig.safetensors")}), root_);
  for (int i = 0; i < 1000 && !fs::exists(path("sig.checkpoint.safetensors")); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  stopped.send(SIGINT);
  const Outcome interrupted = stopped.wait();
  ASSERT_EQ(interrupted.exit_code, 130) << interrupted.err;
  EXPECT_THAT(interrupted.err, HasSubstr("Resume with: imgcls train --resume " +
                                         path("sig.checkpoint.safetensors") + "\n"));
  // The command the hint gives, as it is: the run continues into its own files.
  const Outcome resumed =
      run({"train", "--resume", path("sig.checkpoint.safetensors"), "--threads", "1"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(weights(path("sig.safetensors")), weights(path("full.safetensors")));

  Child killed(IMGCLS_BINARY, with({"--out", path("kill.safetensors"), "--checkpoint-every", "7"}),
               root_);
  for (int i = 0; i < 1000 && !fs::exists(path("kill.checkpoint.safetensors")); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  killed.send(SIGKILL);
  const Outcome dead = killed.wait();
  ASSERT_EQ(dead.signal, SIGKILL) << "the run should still have been going";
  const Outcome recovered = run({"train", "--resume", path("kill.checkpoint.safetensors"), "--out",
                                 path("kill.safetensors"), "--threads", "1"});
  ASSERT_EQ(recovered.exit_code, 0) << recovered.err;
  EXPECT_EQ(weights(path("kill.safetensors")), weights(path("full.safetensors")));

  const Outcome conflicting =
      run({"train", "--resume", path("kill.checkpoint.safetensors"), "--seed", "99"});
  EXPECT_EQ(conflicting.exit_code, 1);
  EXPECT_THAT(conflicting.err, HasSubstr("--seed"));
}

// --augment takes names in any order and records them in a fixed one; an unknown name is a
// usage error that lists the known ones.
TEST_F(TrainCli, AugmentNamesAreCheckedAndRecorded) {
  const Outcome trained =
      run({"train", "--data", data(), "--epochs", "1", "--augment", "crop,handwriting", "--json",
           "--threads", "1", "--out", path("handwriting.safetensors")});
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  EXPECT_EQ(nlohmann::json::parse(trained.out).at("run").at("augment"), "handwriting,crop");
  const Outcome refused = run({"train", "--data", data(), "--augment", "digits,pen"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_THAT(refused.err, HasSubstr("\"pen\" is not one of digits, handwriting, crop, flip"));
}

// No stop signal runs a handler on a computing thread: oneDNN's GEMM kernels point rsp into the
// heap, where a handler's frame would land (cli/stop_signals.hpp). With a handler, this storm of
// SIGTERM through the last step and the checkpoint write aborted the process in free() or killed
// it before it exited (20 runs of 20 failed). It must end the run as one signal does.
TEST_F(TrainCli, AStormOfStopSignalsEndsTheRunAsOneDoes) {
  Child storm(IMGCLS_BINARY,
              {"train", "--data", data(), "--epochs", "20", "--batch-size", "320", "--threads", "1",
               "--out", path("storm.safetensors")},
              root_);
  for (int i = 0; i < 1000 && !fs::exists(path("storm.checkpoint.safetensors")); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  for (int i = 0; i < 300; ++i) {
    storm.send(SIGTERM);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const Outcome stopped = storm.wait();
  ASSERT_EQ(stopped.exit_code, 130) << "signal " << stopped.signal << "\n" << stopped.err;
  EXPECT_THAT(stopped.err, HasSubstr("Resume with: imgcls train --resume"));
  EXPECT_FALSE(fs::exists(path("storm.safetensors")));
  const LoadedCheckpoint checkpoint = load_checkpoint(path("storm.checkpoint.safetensors"));
  EXPECT_GE(checkpoint.state.epoch, 2);  // the first epoch's end was saved before the storm
}

// Before training starts a stop signal ends the process at once, as its default action does,
// and nothing is written. The signal is sent once the watcher thread runs (the process has two
// threads), while the 60,000 MNIST pictures load.
TEST_F(TrainCli, AStopSignalBeforeTrainingEndsTheProcessAtOnce) {
  Child early(IMGCLS_BINARY,
              {"train", "--data", IMGCLS_MNIST_DIR, "--epochs", "1", "--threads", "1", "--out",
               path("early.safetensors")},
              root_);
  const fs::path tasks = fs::path("/proc") / std::to_string(early.pid()) / "task";
  auto thread_count = [&] {
    std::error_code error;
    const auto entries = fs::directory_iterator(tasks, error);
    return error ? 0 : std::distance(fs::begin(entries), fs::end(entries));
  };
  for (int i = 0; i < 5000 && thread_count() < 2; ++i)
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  ASSERT_GE(thread_count(), 2) << "the watcher thread never started";
  early.send(SIGINT);
  const Outcome ended = early.wait();
  EXPECT_EQ(ended.signal, SIGINT) << ended.out << ended.err;
  EXPECT_FALSE(fs::exists(path("early.safetensors")));
  EXPECT_FALSE(fs::exists(path("early.checkpoint.safetensors")));
}

// Lost work: every output path is checked before the first step, so a bad one fails in
// moments with exit code 1, not after the whole training.
TEST_F(TrainCli, BadOutputPathsFailBeforeTraining) {
  fs::create_directories(root_ / "a_folder");
  std::ofstream(path("a_file")) << "x";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {path("a_folder"), "is a folder"},
      {path("a_file") + "/m.safetensors", "cannot create its folder"},
      {"/proc/imgcls_out/m.safetensors", "cannot create its folder"},
  };
  for (const auto& [out, problem] : cases) {
    SCOPED_TRACE(out);
    const Outcome refused =
        run({"train", "--data", data(), "--epochs", "1", "--out", out, "--threads", "1"});
    EXPECT_EQ(refused.exit_code, 1) << refused.err;
    EXPECT_THAT(refused.err, HasSubstr(problem));
    EXPECT_THAT(refused.out,
                testing::Not(HasSubstr("Loading data")));  // nothing was read or trained
    EXPECT_THAT(refused.out, testing::Not(HasSubstr("Epoch")));
  }
  // The same for a checkpoint path that cannot be written.
  const Outcome checkpoint =
      run({"train", "--data", data(), "--epochs", "1", "--out", path("ok.safetensors"),
           "--checkpoint", path("a_folder"), "--threads", "1"});
  EXPECT_EQ(checkpoint.exit_code, 1) << checkpoint.err;
  EXPECT_THAT(checkpoint.err, HasSubstr("is a folder"));
  EXPECT_FALSE(fs::exists(path("ok.safetensors")));
}

// A model file in a folder that does not exist yet: the folder is made before training.
TEST_F(TrainCli, OutputInAMissingFolderIsCreated) {
  const std::string out = path("new/sub/m.safetensors");
  const Outcome trained =
      run({"train", "--data", data(), "--epochs", "1", "--out", out, "--threads", "1"});
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  EXPECT_TRUE(fs::exists(out));
  EXPECT_TRUE(fs::exists(path("new/sub/m.history.json")));
  EXPECT_TRUE(fs::exists(path("new/sub/m.checkpoint.safetensors")));
}

// A resumed run writes where the original run would have (the checkpoint records it), from
// any folder, never ./model.safetensors; an explicit --out wins.
TEST_F(TrainCli, ResumedRunWritesWhereTheOriginalRunWould) {
  const std::string out = path("runs/orig.safetensors");
  ASSERT_EQ(
      run({"train", "--data", data(), "--epochs", "1", "--out", out, "--threads", "1"}).exit_code,
      0);
  fs::create_directories(root_ / "elsewhere");
  const Outcome resumed =
      testing_support::run_process("/bin/sh",
                                   {"-c",
                                    "cd \"$0\" && exec \"$1\" train --resume "
                                    "../runs/orig.checkpoint.safetensors --epochs 2 --threads 1",
                                    path("elsewhere"), IMGCLS_BINARY},
                                   root_);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_FALSE(fs::exists(root_ / "elsewhere" / "model.safetensors"));
  EXPECT_FALSE(fs::exists(root_ / "model.safetensors"));
  EXPECT_EQ(load_history(path("runs/orig.history.json")).epochs.size(), 2u);
  EXPECT_THAT(resumed.out, HasSubstr("Wrote " + out));

  const Outcome moved =
      run({"train", "--resume", path("runs/orig.checkpoint.safetensors"), "--epochs", "3", "--out",
           path("runs/moved.safetensors"), "--threads", "1"});
  ASSERT_EQ(moved.exit_code, 0) << moved.err;
  EXPECT_EQ(load_history(path("runs/moved.history.json")).epochs.size(), 3u);
  EXPECT_TRUE(fs::exists(path("runs/moved.checkpoint.safetensors")));
  EXPECT_EQ(load_history(path("runs/orig.history.json")).epochs.size(), 2u);  // untouched
}

// The JSON output and the model file's record hold the values the run used, not
// placeholders; so does the message refusing a resume that contradicts its checkpoint.
TEST_F(TrainCli, JsonReportsTheValuesUsed) {
  const auto run_of = [&](const std::vector<std::string>& extra, const std::string& out) {
    std::vector<std::string> args = {"train", "--data",  data(),   "--epochs",  "1",
                                     "--out", path(out), "--json", "--threads", "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    const Outcome trained = run(args);
    EXPECT_EQ(trained.exit_code, 0) << trained.err;
    return nlohmann::json::parse(trained.out).at("run");
  };
  const nlohmann::json adamw = run_of({"--optimizer", "adamw"}, "adamw.safetensors");
  EXPECT_DOUBLE_EQ(adamw.at("learning_rate").get<double>(), 0.001);
  EXPECT_DOUBLE_EQ(adamw.at("weight_decay").get<double>(), 0.01);
  const nlohmann::json sgd = run_of({"--optimizer", "sgd"}, "sgd.safetensors");
  EXPECT_DOUBLE_EQ(sgd.at("learning_rate").get<double>(), 0.01);
  EXPECT_DOUBLE_EQ(sgd.at("weight_decay").get<double>(), 0.0);
  const nlohmann::json given =
      run_of({"--lr", "0.003", "--weight-decay", "0.0005"}, "given.safetensors");
  EXPECT_DOUBLE_EQ(given.at("learning_rate").get<double>(), 0.003);
  EXPECT_DOUBLE_EQ(given.at("weight_decay").get<double>(), 0.0005);
  EXPECT_EQ(read_model_metadata(path("adamw.safetensors")).training.at("run"), adamw);

  const Outcome conflicting =
      run({"train", "--resume", path("adamw.checkpoint.safetensors"), "--lr", "0.5"});
  EXPECT_EQ(conflicting.exit_code, 1);
  EXPECT_THAT(conflicting.err, HasSubstr("--lr: 0.5 differs from the checkpoint's 0.001"));
}

// An architecture whose output is not [classes] is refused when it is read, naming its last
// layer: by summary, and by train before any data is loaded.
TEST_F(TrainCli, ArchitectureWithoutClassScoresIsRefusedWhenRead) {
  std::ofstream(path("no_scores.json"))
      << R"({"input_shape":[28,28,1],"layers":[{"type":"Conv2D","filters":3,"kernel_size":28}]})";
  const Outcome summary = run({"summary", "--arch", path("no_scores.json")});
  EXPECT_EQ(summary.exit_code, 1) << summary.err;
  EXPECT_THAT(summary.err, HasSubstr("layer 0 (conv2d_0)"));
  EXPECT_THAT(summary.err, HasSubstr("[1, 1, 3]"));
  EXPECT_THAT(summary.err, HasSubstr("[classes]"));
  const Outcome train = run({"train", "--arch", path("no_scores.json"), "--data", data(), "--out",
                             path("no_scores.safetensors")});
  EXPECT_EQ(train.exit_code, 1) << train.err;
  EXPECT_THAT(train.err, HasSubstr("layer 0 (conv2d_0)"));
  EXPECT_THAT(train.out, testing::Not(HasSubstr("Loading data")));
}

}  // namespace
}  // namespace imgcls
