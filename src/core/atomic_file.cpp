// write_file_atomically: temp file + fsync + rename (POSIX).
#include "core/atomic_file.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "imgcls/error.hpp"

namespace imgcls {

void write_file_atomically(const std::string& path, std::string_view bytes) {
  const std::filesystem::path target(path);
  const std::filesystem::path folder =
      target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  std::string temp = (folder / fmt::format(".{}.tmp-XXXXXX", target.filename().string())).string();
  const int fd = mkstemp(temp.data());
  if (fd < 0)
    throw InputError(path,
                     std::string("cannot create a file in its folder: ") + std::strerror(errno),
                     "check that the folder exists and is writable");
  const auto fail = [&](const char* what) {
    const std::string reason = std::strerror(errno);
    ::close(fd);
    ::unlink(temp.c_str());
    throw InputError(path, std::string(what) + ": " + reason,
                     "the previous file, if any, is unchanged");
  };
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write failed");
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fchmod(fd, 0644) != 0) fail("chmod failed");
  if (::fsync(fd) != 0) fail("fsync failed");
  if (::close(fd) != 0) {
    ::unlink(temp.c_str());
    throw InputError(path, std::string("close failed: ") + std::strerror(errno));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    ::unlink(temp.c_str());
    throw InputError(path, "rename failed: " + reason, "the previous file, if any, is unchanged");
  }
}

void prepare_output_file(const std::string& path) {
  namespace fs = std::filesystem;
  if (path.empty()) throw InputError("output file", "the path is empty");
  const fs::path target(path);
  std::error_code ec;
  if (fs::is_directory(target, ec) || !target.has_filename())
    throw InputError(path, "is a folder, not a file name",
                     "name the file to write, e.g. " + (target / "model.safetensors").string());
  const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (!fs::is_directory(folder, ec)) {
    fs::create_directories(folder, ec);
    if (ec)
      throw InputError(path, "cannot create its folder " + folder.string() + ": " + ec.message(),
                       "choose a path whose folder can be created");
  }
  std::string probe =
      (folder / fmt::format(".{}.probe-XXXXXX", target.filename().string())).string();
  const int fd = mkstemp(probe.data());
  if (fd < 0)
    throw InputError(path,
                     std::string("cannot create a file in its folder: ") + std::strerror(errno),
                     "check that the folder is writable");
  ::close(fd);
  ::unlink(probe.c_str());
}

}  // namespace imgcls
