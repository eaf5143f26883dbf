// Message formatting for the error types declared in include/imgcls/error.hpp.
#include "imgcls/error.hpp"

namespace imgcls {

namespace {
std::string input_error_message(const std::string& source, const std::string& problem,
                                const std::string& hint) {
  std::string message = source + ": " + problem;
  if (!hint.empty()) message += " (hint: " + hint + ")";
  return message;
}
}  // namespace

InputError::InputError(std::string source, std::string problem, std::string hint)
    : Error(input_error_message(source, problem, hint)),
      source_(std::move(source)),
      problem_(std::move(problem)),
      hint_(std::move(hint)) {}

}  // namespace imgcls
