// The command line (the built `imgcls` binary), run as a child process with stdout and stderr
// captured separately: exit codes (0 success, 1 bad input, 2 usage) and what each stream
// says. Unknown subcommand -> 2; unknown flag -> 2 naming it; a data folder that does not
// exist -> 1 naming the missing file; --epochs 0 -> 2; summary --arch seed -> 0 with the
// seed model's 121,930 parameters on stdout.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "imgcls/data.hpp"
#include "imgcls/image.hpp"
#include "imgcls/io.hpp"
#include "imgcls/metrics.hpp"
#include "imgcls/viz.hpp"
#include "support/process.hpp"

namespace {

using testing::ContainsRegex;
using testing::HasSubstr;
using testing::Not;

using imgcls::testing_support::Outcome;

class CliTest : public testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = std::filesystem::temp_directory_path() /
           ("imgcls_cli_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs IMGCLS_BINARY with `args`, stdout and stderr captured in the temp dir.
  Outcome run(const std::vector<std::string>& args) {
    Outcome outcome = imgcls::testing_support::run_process(IMGCLS_BINARY, args, dir_);
    EXPECT_EQ(outcome.signal, 0) << "imgcls did not exit normally";
    return outcome;
  }

  std::filesystem::path dir_;
};

TEST_F(CliTest, UnknownSubcommandIsAUsageError) {
  const Outcome r = run({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("unknown command 'frobnicate'"));
  EXPECT_EQ(r.out, "");
}

TEST_F(CliTest, NoSubcommandIsAUsageError) {
  const Outcome r = run({});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_FALSE(r.err.empty());
}

TEST_F(CliTest, UnknownFlagIsAUsageErrorNamingTheFlag) {
  const Outcome r = run({"run", "--epochz", "3"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("--epochz"));
  EXPECT_THAT(r.out, Not(HasSubstr("Epoch")));  // nothing was trained
}

TEST_F(CliTest, MissingDataIsBadInputNamingTheFile) {
  const Outcome r = run({"run", "--data", "/nonexistent", "--out", dir_.string(), "--epochs", "1"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  // Both training files are missing; whichever is looked up first is named.
  EXPECT_THAT(r.err,
              ContainsRegex("/nonexistent/train-(images-idx3|labels-idx1)-ubyte: not found"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "model.safetensors"));
}

TEST_F(CliTest, ZeroEpochsIsAUsageError) {
  const Outcome r = run({"run", "--epochs", "0", "--out", dir_.string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("--epochs"));
}

TEST_F(CliTest, NonNumericValueIsAUsageError) {
  const Outcome r = run({"run", "--batch-size", "lots", "--out", dir_.string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("lots"));
}

TEST_F(CliTest, SummaryPrintsTheSeedModel) {
  const Outcome r = run({"summary", "--arch", "seed"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("121930"));
  EXPECT_THAT(r.out, HasSubstr("(None, 26, 26, 32)"));
  EXPECT_THAT(r.out, HasSubstr("(None, 10)"));
  EXPECT_EQ(r.err, "");
}

// The headline command, end to end on a slice of MNIST: every file it promises, its JSON
// fields, and --sample choosing the grid's first image.
TEST_F(CliTest, RunOnASliceWritesEverythingItPromises) {
  const std::string out = (dir_ / "out").string();
  const Outcome r =
      run({"run", "--data", IMGCLS_MNIST_DIR, "--limit-train", "2000", "--limit-test", "300",
           "--epochs", "1", "--sample", "7", "--threads", "1", "--out", out, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto result = nlohmann::json::parse(r.out);
  EXPECT_EQ(result.at("train_images"), 2000);
  EXPECT_EQ(result.at("test_images"), 300);
  EXPECT_GT(result.at("test_accuracy").get<double>(), 0.8) << r.out;  // measured 0.9 on this slice
  EXPECT_GT(result.at("test_loss").get<double>(), 0.0);
  EXPECT_EQ(result.at("epochs"), 1);
  EXPECT_EQ(result.at("batch_size"), 32);
  EXPECT_DOUBLE_EQ(result.at("learning_rate").get<double>(), 0.001);
  EXPECT_EQ(result.at("seed"), 1);
  EXPECT_EQ(result.at("threads"), 1);
  EXPECT_EQ(result.at("precision"), "fp32");
  EXPECT_GT(result.at("train_seconds").get<double>(), 0.0);
  ASSERT_EQ(result.at("history").size(), 1u);
  EXPECT_EQ(result.at("history")[0].at("epoch"), 1);

  const std::filesystem::path folder(out);
  EXPECT_EQ(result.at("model"), (folder / "model.safetensors").string());
  EXPECT_EQ(result.at("history_file"), (folder / "model.history.json").string());
  EXPECT_EQ(result.at("sample_picture"), (folder / "output_sample.png").string());
  EXPECT_EQ(result.at("confusion_picture"), (folder / "confusion.png").string());
  EXPECT_EQ(result.at("curves_picture"), (folder / "curves.png").string());

  imgcls::Sequential model = imgcls::load_model((folder / "model.safetensors").string());
  EXPECT_EQ(model.parameter_count(), 121930);
  EXPECT_EQ(
      imgcls::read_model_metadata((folder / "model.safetensors").string()).training.at("data"),
      "mnist");
  const imgcls::History history = imgcls::load_history((folder / "model.history.json").string());
  ASSERT_EQ(history.epochs.size(), 1u);
  EXPECT_DOUBLE_EQ(history.epochs[0].loss, result.at("history")[0].at("loss").get<double>());

  // The pictures are what the library draws for this model and test slice: the sample grid
  // from image 7 on (and not the default grid from image 0).
  const imgcls::Dataset test = imgcls::take_first(imgcls::load_mnist_test(IMGCLS_MNIST_DIR), 300);
  const imgcls::Evaluation evaluation = imgcls::evaluate(model, test);
  EXPECT_DOUBLE_EQ(evaluation.accuracy, result.at("test_accuracy").get<double>());
  const auto names = imgcls::class_names(model);
  const std::string expected_sample = (dir_ / "expected_sample.png").string();
  imgcls::draw_sample_grid(test, evaluation.probabilities, names, {.first = 7})
      .save(expected_sample);
  EXPECT_EQ(imgcls::testing_support::read_file(folder / "output_sample.png"),
            imgcls::testing_support::read_file(expected_sample));
  const std::string default_sample = (dir_ / "default_sample.png").string();
  imgcls::draw_sample_grid(test, evaluation.probabilities, names).save(default_sample);
  EXPECT_NE(imgcls::testing_support::read_file(folder / "output_sample.png"),
            imgcls::testing_support::read_file(default_sample));
  for (const char* picture : {"confusion.png", "curves.png"}) {
    const imgcls::GreyImage decoded = imgcls::read_image((folder / picture).string());
    EXPECT_GT(decoded.width, 300) << picture;
    EXPECT_GT(decoded.height, 300) << picture;
  }
}

// run checks its outputs first too, and --sample must name a test image.
TEST_F(CliTest, RunRefusesBadOutputsAndSamplesBeforeTraining) {
  std::ofstream((dir_ / "a_file").string()) << "x";
  const Outcome file_as_folder =
      run({"run", "--data", IMGCLS_MNIST_DIR, "--out", (dir_ / "a_file").string()});
  EXPECT_EQ(file_as_folder.exit_code, 1);
  EXPECT_THAT(file_as_folder.err, HasSubstr("a_file"));
  EXPECT_THAT(file_as_folder.out, Not(HasSubstr("Loading")));
  const Outcome sample = run({"run", "--data", IMGCLS_MNIST_DIR, "--limit-test", "50", "--sample",
                              "50", "--out", (dir_ / "out").string()});
  EXPECT_EQ(sample.exit_code, 1);
  EXPECT_THAT(sample.err,
              HasSubstr("--sample: test image 50 does not exist: the test set has 50 images"));
  EXPECT_THAT(sample.out, Not(HasSubstr("Epoch")));
}

TEST_F(CliTest, HelpSucceeds) {
  const Outcome r = run({"--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("run"));
  EXPECT_THAT(r.out, HasSubstr("summary"));
}

}  // namespace
