// JSON from outside: parsed with a nesting limit (a deep document would otherwise recurse
// until the stack runs out), errors turned into InputError naming the source.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace imgcls::io {

inline constexpr int kMaxJsonDepth = 16;

// Throws InputError("<source>", "<what> is not valid JSON: ...") on bad or too-deep text.
nlohmann::json parse_bounded_json(std::string_view text, const std::string& source,
                                  const std::string& what);

// Reads a whole text file of at most max_bytes (InputError otherwise).
std::string read_text_file(const std::string& path, std::size_t max_bytes);

}  // namespace imgcls::io
