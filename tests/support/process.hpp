// Test support: run the imgcls binary as a child process with stdout and stderr captured
// to files, synchronously or in the background (to signal it mid-run).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern char** environ;

namespace imgcls::testing_support {

struct Outcome {
  int exit_code = -1;  // -1: did not exit normally
  int signal = 0;      // the signal that ended it, if one did
  std::string out, err;
};

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A started child; wait() collects its exit status and output.
class Child {
 public:
  Child(const std::string& binary, const std::vector<std::string>& args, const std::filesystem::path& dir)
      : out_(dir / "stdout"), err_(dir / "stderr") {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> strings{binary};
    strings.insert(strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& s : strings) argv.push_back(s.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  void send(int signal_number) const { ::kill(pid_, signal_number); }
  Outcome wait() {
    Outcome outcome;
    int status = 0;
    if (pid_ > 0 && waitpid(pid_, &status, 0) == pid_) {
      if (WIFEXITED(status)) outcome.exit_code = WEXITSTATUS(status);
      if (WIFSIGNALED(status)) outcome.signal = WTERMSIG(status);
    }
    pid_ = -1;
    outcome.out = read_file(out_);
    outcome.err = read_file(err_);
    return outcome;
  }

 private:
  pid_t pid_ = -1;
  std::filesystem::path out_, err_;
};

inline Outcome run_process(const std::string& binary, const std::vector<std::string>& args,
                           const std::filesystem::path& dir) {
  Child child(binary, args, dir);
  return child.wait();
}

}  // namespace imgcls::testing_support
