// The command line (the built `imgcls` binary), run as a child process with stdout and stderr
// captured separately: exit codes (0 success, 1 bad input, 2 usage) and what each stream
// says. Unknown subcommand -> 2; unknown flag -> 2 naming it; a data folder that does not
// exist -> 1 naming the missing file; --epochs 0 -> 2; summary --arch seed -> 0 with the
// seed model's 121,930 parameters on stdout.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/process.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>


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
  EXPECT_THAT(r.err, ContainsRegex("/nonexistent/train-(images-idx3|labels-idx1)-ubyte: not found"));
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

TEST_F(CliTest, HelpSucceeds) {
  const Outcome r = run({"--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("run"));
  EXPECT_THAT(r.out, HasSubstr("summary"));
}

}  // namespace
