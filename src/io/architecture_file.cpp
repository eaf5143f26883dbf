// Architecture files: bounded read, bounded JSON parse, then Sequential::from_config.
#include "imgcls/io.hpp"
#include "io/bounded_json.hpp"

namespace imgcls {

Sequential read_architecture(const std::string& path) {
  constexpr std::size_t kMaxBytes = 1u << 20;
  const std::string text = io::read_text_file(path, kMaxBytes);
  return Sequential::from_config(io::parse_bounded_json(text, path, "the architecture"), path);
}

}  // namespace imgcls
