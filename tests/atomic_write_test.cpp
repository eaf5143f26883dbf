// Nothing is lost when a write fails: write_file_atomically (and save_model, which uses
// it) throws an InputError naming the file and the reason, leaves the previous file
// byte for byte as it was, and leaves no temporary file behind. Three failures, each real:
//  - a read-only folder. Root ignores permission bits, so as root the folder is made
//    immutable (chattr +i, the FS_IMMUTABLE_FL inode flag), which binds root too, or, on a
//    filesystem without the flag, mounted over itself read-only in a mount namespace of
//    this test's own; the test is skipped (failed under CI) only where none works (root
//    without the flag and without CAP_SYS_ADMIN);
//  - a folder that is a file (ENOTDIR), which fails for root as for anyone;
//  - a write cut short midway by RLIMIT_FSIZE (EFBIG), which binds root too: the temporary
//    file is partly written when the failure comes.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/atomic_file.hpp"
#include "imgcls/error.hpp"
#include "imgcls/io.hpp"
#include "imgcls/model.hpp"
#include "support/ci.hpp"

namespace imgcls {
namespace {

namespace fs = std::filesystem;
using testing::HasSubstr;

const std::string kOldBytes = "the previous contents, which must survive";

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename());
  return names;
}

Sequential tiny_model() {
  Sequential model({3});
  model.add(layers::Dense({.units = 2}));
  model.initialize(1);
  return model;
}

// Expects `write` to throw an InputError naming `path`, holding every fragment.
template <class Write>
void expect_write_error(Write write, const fs::path& path,
                        const std::vector<std::string>& fragments) {
  try {
    write();
    ADD_FAILURE() << "the write to " << path << " succeeded";
  } catch (const InputError& e) {
    EXPECT_EQ(e.source(), path.string());
    for (const std::string& fragment : fragments) EXPECT_THAT(e.what(), HasSubstr(fragment));
  }
}

class AtomicWrite : public testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() /
           ("imgcls_atomic_write_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(dir_ / "out");
    target_ = dir_ / "out" / "model.safetensors";
    write_file_atomically(target_.string(), kOldBytes);
  }
  void TearDown() override {
    ::umount2((dir_ / "out").c_str(), MNT_DETACH);  // fails harmlessly where nothing is mounted
    set_immutable(dir_ / "out", false);
    fs::permissions(dir_ / "out", fs::perms::owner_all);
    fs::remove_all(dir_);
  }

  // FS_IMMUTABLE_FL on `dir`; false when the filesystem or the caller cannot.
  static bool set_immutable(const fs::path& dir, bool on) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return false;
    int flags = 0;
    bool done = ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
    if (done) {
      flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
      done = ::ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
    }
    ::close(fd);
    return done;
  }

  // Mounts `dir` over itself read-only, which binds root too. The mount is made in a mount
  // namespace of this thread's own, every mount in it private first, so that nothing shows
  // outside this test program and nothing outlives it. False without CAP_SYS_ADMIN.
  static bool mount_read_only(const fs::path& dir) {
    if (::unshare(CLONE_NEWNS) != 0 ||
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND, nullptr) != 0)
      return false;
    if (::mount(nullptr, dir.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) == 0)
      return true;
    ::umount2(dir.c_str(), MNT_DETACH);
    return false;
  }

  // True when creating a file in `dir` fails, as it must for the tests below to mean anything.
  static bool cannot_create_in(const fs::path& dir) {
    const fs::path probe = dir / "probe";
    const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) return true;
    ::close(fd);
    fs::remove(probe);
    return false;
  }

  void expect_old_file_intact() const {
    EXPECT_EQ(read_file(target_), kOldBytes);
    EXPECT_EQ(names_in(target_.parent_path()), std::vector<std::string>{"model.safetensors"})
        << "a temporary file was left behind";
  }

  fs::path dir_, target_;
};

TEST_F(AtomicWrite, ReadOnlyFolderFailsClearlyAndKeepsTheOldFile) {
  const fs::path out = dir_ / "out";
  fs::permissions(out, fs::perms::owner_read | fs::perms::owner_exec);
  std::string how = "mode 0500";
  if (!cannot_create_in(out)) {  // root: permission bits do not bind it
    fs::permissions(out, fs::perms::owner_all);
    how = "the immutable attribute";
    if (!set_immutable(out, true) || !cannot_create_in(out)) {
      set_immutable(out, false);
      how = "a read-only mount";
      if (!mount_read_only(out) || !cannot_create_in(out))
        IMGCLS_SKIP_OR_FAIL_UNDER_CI(
            "running as root where neither the immutable attribute nor a read-only mount (it needs "
            "CAP_SYS_ADMIN) is available: no way to make a folder read-only (the ENOTDIR and EFBIG "
            "tests still run)");
    }
  }
  SCOPED_TRACE("the folder is read-only by " + how);
  expect_write_error(
      [&] { write_file_atomically(target_.string(), "new bytes"); }, target_,
      {"cannot create a file in its folder", "check that the folder exists and is writable"});
  expect_old_file_intact();
  Sequential model = tiny_model();
  expect_write_error([&] { save_model(model, target_.string()); }, target_,
                     {"cannot create a file in its folder"});
  expect_old_file_intact();
}

TEST_F(AtomicWrite, FolderThatIsAFileFails) {
  const fs::path blocker = dir_ / "not-a-folder";
  write_file_atomically(blocker.string(), "a file");
  const fs::path inside = blocker / "model.safetensors";
  expect_write_error([&] { write_file_atomically(inside.string(), "new bytes"); }, inside,
                     {"cannot create a file in its folder", "Not a directory"});
  Sequential model = tiny_model();
  expect_write_error([&] { save_model(model, inside.string()); }, inside, {"Not a directory"});
  EXPECT_EQ(read_file(blocker), "a file");
}

// Lowers RLIMIT_FSIZE (and ignores SIGXFSZ, which would kill the process) for its lifetime.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &saved_);
    previous_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    rlimit lowered = saved_;
    lowered.rlim_cur = bytes;
    ok_ = ::setrlimit(RLIMIT_FSIZE, &lowered) == 0;
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    ::signal(SIGXFSZ, previous_handler_);
  }
  bool ok() const { return ok_; }

 private:
  rlimit saved_{};
  sighandler_t previous_handler_ = SIG_DFL;
  bool ok_ = false;
};

TEST_F(AtomicWrite, WriteCutShortMidwayKeepsTheOldFile) {
  constexpr rlim_t kLimit = 100;  // bytes: the temporary file gets this far
  const std::string big(4 * kLimit, 'x');
  Sequential model = tiny_model();
  {
    const FileSizeLimit limit(kLimit);
    ASSERT_TRUE(limit.ok());
    expect_write_error([&] { write_file_atomically(target_.string(), big); }, target_,
                       {"write failed: File too large", "the previous file, if any, is unchanged"});
    expect_write_error([&] { save_model(model, target_.string()); }, target_, {"File too large"});
  }
  expect_old_file_intact();
  write_file_atomically(target_.string(), big);  // without the limit, the same write works
  EXPECT_EQ(read_file(target_), big);
}

}  // namespace
}  // namespace imgcls
