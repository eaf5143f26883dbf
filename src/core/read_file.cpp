// read_file_bounded: stat, bound, read, check.
#include "core/read_file.hpp"

#include <fmt/core.h>

#include <filesystem>
#include <fstream>

#include "imgcls/error.hpp"

namespace imgcls {

std::vector<std::uint8_t> read_file_bounded(const std::string& path, std::uint64_t max_bytes,
                                            const std::string& what) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) throw InputError(path, "no such file");
  if (!std::filesystem::is_regular_file(status)) throw InputError(path, "not a regular file");
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) throw InputError(path, "cannot read the file size: " + ec.message());
  if (size > max_bytes)
    throw InputError(path, fmt::format("the file is {} bytes, more than the {} allowed for {}",
                                       size, max_bytes, what));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "cannot open the file for reading", "check its permissions");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (static_cast<std::uintmax_t>(in.gcount()) != size)
    throw InputError(path, fmt::format("read {} of {} bytes", in.gcount(), size),
                     "the file changed while it was read, or the disk failed");
  return bytes;
}

}  // namespace imgcls
