// Test support: run the imgcls binary (or any program) as a child process with stdout and
// stderr captured to files, synchronously or in the background (to signal it mid-run).
// Every wait is bounded: a child still running at its deadline is killed with SIGKILL, the
// Outcome says so, and the test fails with a message naming the command.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace imgcls::testing_support {

// How long wait() lets a child run unless told otherwise: far beyond any command the tests
// start (the slowest take tens of seconds), so it only ends a child that hangs.
inline constexpr std::chrono::seconds kDefaultWaitLimit{240};

struct Outcome {
  int exit_code = -1;      // -1: did not exit normally
  int signal = 0;          // the signal that ended it, if one did
  bool timed_out = false;  // still running at the deadline, so killed with SIGKILL
  std::string out, err;
};

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A started child; wait() collects its exit status and output. The child leads a process
// group of its own, so a timeout kills what it started too (mpirun's ranks, a shell's
// commands); so does the destructor when the test never waited.
class Child {
 public:
  Child(const std::string& binary, const std::vector<std::string>& args,
        const std::filesystem::path& dir)
      : out_(dir / "stdout"), err_(dir / "stderr") {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attributes, 0);
    std::vector<std::string> strings{binary};
    strings.insert(strings.end(), args.begin(), args.end());
    for (const std::string& s : strings) command_ += (command_.empty() ? "" : " ") + s;
    std::vector<char*> argv;
    for (std::string& s : strings) argv.push_back(s.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, binary.c_str(), &actions, &attributes, argv.data(), environ) != 0)
      pid_ = -1;
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
  }
  // A child never waited for (a test that ended early) does not outlive the test.
  ~Child() {
    if (pid_ <= 0) return;
    if (::kill(-pid_, SIGKILL) != 0) ::kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  void send(int signal_number) const { ::kill(pid_, signal_number); }

  // Waits for the child to end, at most `limit`; past it, kills the child's process group
  // with SIGKILL, sets timed_out and fails the current test.
  Outcome wait(std::chrono::milliseconds limit = kDefaultWaitLimit) {
    using Clock = std::chrono::steady_clock;
    constexpr std::chrono::milliseconds kPoll{20};
    Outcome outcome;
    int status = 0;
    if (pid_ > 0) {
      const auto deadline = Clock::now() + limit;
      pid_t ended = 0;
      while ((ended = waitpid(pid_, &status, WNOHANG)) == 0 && Clock::now() < deadline)
        std::this_thread::sleep_for(kPoll);
      if (ended == 0) {
        outcome.timed_out = true;
        if (::kill(-pid_, SIGKILL) != 0) ::kill(pid_, SIGKILL);
        ended = waitpid(pid_, &status, 0);
      }
      if (ended == pid_) {
        if (WIFEXITED(status)) outcome.exit_code = WEXITSTATUS(status);
        if (WIFSIGNALED(status)) outcome.signal = WTERMSIG(status);
      }
    }
    pid_ = -1;
    outcome.out = read_file(out_);
    outcome.err = read_file(err_);
    if (outcome.timed_out) {
      const std::string after = limit.count() % 1000 == 0
                                    ? std::to_string(limit.count() / 1000) + " s"
                                    : std::to_string(limit.count()) + " ms";
      const std::string message =
          "still running after " + after + ", so killed with SIGKILL: " + command_;
      outcome.err += "\n[test support] " + message + "\n";
      ADD_FAILURE() << message;
    }
    return outcome;
  }

 private:
  pid_t pid_ = -1;
  std::string command_;
  std::filesystem::path out_, err_;
};

inline Outcome run_process(const std::string& binary, const std::vector<std::string>& args,
                           const std::filesystem::path& dir,
                           std::chrono::milliseconds limit = kDefaultWaitLimit) {
  Child child(binary, args, dir);
  return child.wait(limit);
}

// `sh -c command`, bounded like run_process.
inline Outcome run_shell(const std::string& command, const std::filesystem::path& dir,
                         std::chrono::milliseconds limit = kDefaultWaitLimit) {
  return run_process("/bin/sh", {"-c", command}, dir, limit);
}

// The lines of a command's output (without their line ends).
inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> result;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) result.push_back(line);
  return result;
}

}  // namespace imgcls::testing_support
