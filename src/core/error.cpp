// Message formatting for the error types declared in include/imgcls/error.hpp.
#include "imgcls/error.hpp"

namespace imgcls {

namespace {

// Bytes of a hostile file reach messages (stb_image quotes a PNG's chunk type; a model file
// names its tensors): control characters are shown as \xNN, so that no escape sequence
// reaches the user's terminal. UTF-8 (a path with accents) passes unchanged.
std::string printable(const std::string& text) {
  constexpr char kHex[] = "0123456789abcdef";
  constexpr unsigned char kFirstPrintable = 0x20, kDelete = 0x7f;
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= kFirstPrintable && byte != kDelete) {
      out += c;
    } else {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  return out;
}

std::string input_error_message(const std::string& source, const std::string& problem,
                                const std::string& hint) {
  std::string message = source + ": " + problem;
  if (!hint.empty()) message += " (hint: " + hint + ")";
  return printable(message);
}

}  // namespace

InputError::InputError(std::string source, std::string problem, std::string hint)
    : Error(input_error_message(source, problem, hint)),
      source_(std::move(source)),
      problem_(std::move(problem)),
      hint_(std::move(hint)) {}

}  // namespace imgcls
