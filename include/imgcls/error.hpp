// Error types of imgcls. Two kinds (see STYLE.md, principle 7):
//  - UsageError: a broken precondition inside the program (a bug or API misuse); carries the
//    failed expression, file:line and the values involved.
//  - InputError: bad input from outside (a file, a flag value, a spec); names the source,
//    the problem and a hint for the user.
// Library code only throws; the command line alone turns errors into exit codes.
#pragma once

#include <stdexcept>
#include <string>

namespace imgcls {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class UsageError : public Error {
 public:
  using Error::Error;
};

class InputError : public Error {
 public:
  // source: the file or option at fault; problem: what is wrong; hint: what to do about it.
  // what() is "<source>: <problem> (hint: <hint>)" with control characters shown as \xNN
  // (the parts may quote a hostile file); the accessors return the parts as given.
  InputError(std::string source, std::string problem, std::string hint = {});
  const std::string& source() const { return source_; }
  const std::string& problem() const { return problem_; }
  const std::string& hint() const { return hint_; }

 private:
  std::string source_, problem_, hint_;
};

}  // namespace imgcls
