// Bounded JSON parsing and small text-file reads.
#include "io/bounded_json.hpp"

#include <fmt/core.h>

#include <filesystem>
#include <fstream>

#include "core/read_file.hpp"
#include "imgcls/error.hpp"

namespace imgcls::io {

nlohmann::json parse_bounded_json(std::string_view text, const std::string& source,
                                  const std::string& what) {
  const auto limit_depth = [](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
    if (depth > kMaxJsonDepth)
      throw std::out_of_range(fmt::format("nested deeper than {} levels", kMaxJsonDepth));
    return true;
  };
  try {
    return nlohmann::json::parse(text, limit_depth);
  } catch (const std::exception& e) {
    throw InputError(source, what + " is not valid JSON: " + e.what());
  }
}

std::string read_text_file(const std::string& path, std::size_t max_bytes) {
  const std::vector<std::uint8_t> bytes = read_file_bounded(path, max_bytes, "a JSON file");
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace imgcls::io
