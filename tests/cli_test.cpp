// The command line (the built `imgcls` binary), run as a child process with stdout and stderr
// captured separately: exit codes (0 success, 1 bad input, 2 usage) and what each stream
// says. Unknown subcommand -> 2; unknown flag -> 2 naming it; a data folder that does not
// exist -> 1 naming the missing file; --epochs 0 -> 2; summary --arch seed -> 0 with the
// seed model's 121,930 parameters on stdout.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

extern char** environ;

namespace {

using testing::ContainsRegex;
using testing::HasSubstr;
using testing::Not;

struct Outcome {
  int exit_code = -1;
  std::string out, err;
};

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class CliTest : public testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = std::filesystem::temp_directory_path() /
           ("imgcls_cli_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs IMGCLS_BINARY with `args`, stdout and stderr redirected to files in the temp dir.
  Outcome run(const std::vector<std::string>& args) {
    const std::string out_path = (dir_ / "stdout").string(), err_path = (dir_ / "stderr").string();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> argv_strings{IMGCLS_BINARY};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);

    Outcome outcome;
    pid_t pid = 0;
    const int spawned = posix_spawn(&pid, IMGCLS_BINARY, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    EXPECT_EQ(spawned, 0) << "cannot start " << IMGCLS_BINARY;
    if (spawned != 0) return outcome;
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status)) << "imgcls did not exit normally (signal?)";
    if (WIFEXITED(status)) outcome.exit_code = WEXITSTATUS(status);
    outcome.out = read_all(out_path);
    outcome.err = read_all(err_path);
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
