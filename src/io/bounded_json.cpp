// Bounded JSON parsing and small text-file reads.
#include "io/bounded_json.hpp"

#include <filesystem>
#include <fmt/core.h>
#include <fstream>

#include "imgcls/error.hpp"

namespace imgcls::io {

nlohmann::json parse_bounded_json(std::string_view text, const std::string& source,
                                  const std::string& what) {
  const auto limit_depth = [](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
    if (depth > kMaxJsonDepth) throw std::out_of_range(fmt::format("nested deeper than {} levels", kMaxJsonDepth));
    return true;
  };
  try {
    return nlohmann::json::parse(text, limit_depth);
  } catch (const std::exception& e) {
    throw InputError(source, what + " is not valid JSON: " + e.what());
  }
}

std::string read_text_file(const std::string& path, std::size_t max_bytes) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw InputError(path, "no such file");
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw InputError(path, "cannot read its size: " + ec.message());
  if (size > max_bytes) throw InputError(path, fmt::format("{} bytes, more than the {} allowed", size, max_bytes));
  std::ifstream in(path, std::ios::binary);
  std::string text(size, '\0');
  if (!in || !in.read(text.data(), static_cast<std::streamsize>(size))) throw InputError(path, "read failed");
  return text;
}

}  // namespace imgcls::io
