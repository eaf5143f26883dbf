// Test support: what a test does when something it needs is missing here, and the files the
// tests of one program share.
//
// IMGCLS_SKIP_OR_FAIL_UNDER_CI(reason): outside CI the test is skipped, visibly (GoogleTest
// prints "[  SKIPPED ]" with the reason and CTest lists the test as skipped); under CI (the
// environment variable CI is set and not empty, as .ci/run and CI services set it, the
// same test as the Makefile's `ifdef CI`) it fails with the reason, so a CI run cannot pass
// with a part left untested.
//
// shared_fixture_dir(): CTest makes a test program's shared files once per run, in a setup
// test, and names their folder in an environment variable (tests/CMakeLists.txt,
// imgcls_add_fixture_setup); run by hand, the program makes them in a temporary folder of
// its own, removed when it exits.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

namespace imgcls::testing_support {

inline bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && *ci != '\0';
}

// A folder under the temporary directory, removed with its contents when the object goes.
class TemporaryFolder {
 public:
  explicit TemporaryFolder(const std::string& stem)
      : path_(std::filesystem::temp_directory_path() / (stem + "_" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(path_);
  }
  ~TemporaryFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TemporaryFolder(const TemporaryFolder&) = delete;
  TemporaryFolder& operator=(const TemporaryFolder&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct SharedFixture {
  std::filesystem::path dir;
  bool made_by_ctest = false;  // true: a setup test made it; false: this process makes it
};

// The folder named by the environment variable `variable` when CTest set it, else a
// temporary folder `stem`_<pid> that lives until the program exits (one per program: the
// first call's `stem` names it).
inline SharedFixture shared_fixture_dir(const char* variable, const std::string& stem) {
  if (const char* dir = std::getenv(variable); dir != nullptr && *dir != '\0') return {dir, true};
  static const TemporaryFolder own(stem);
  return {own.path(), false};
}

}  // namespace imgcls::testing_support

#define IMGCLS_SKIP_OR_FAIL_UNDER_CI(reason)                                     \
  do {                                                                           \
    if (::imgcls::testing_support::in_ci()) {                                    \
      GTEST_FAIL() << (reason)                                                   \
                   << " (CI is set: a test that cannot run here fails, it does " \
                      "not skip)";                                               \
    } else {                                                                     \
      GTEST_SKIP() << (reason);                                                  \
    }                                                                            \
  } while (false)
