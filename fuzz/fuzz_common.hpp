// What every harness shares: the input's name in error messages, and the rule that an
// InputError (bad input refused with a message) is the expected way for a harness to end.
// Anything else is a finding: a sanitizer report, a crash, an uncaught exception (for
// instance std::bad_alloc from a size taken on trust), and also a UsageError, since a
// broken precondition reached from outside input means a check is missing upstream.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "imgcls/error.hpp"

namespace imgcls::fuzz {

inline constexpr const char* kSource = "fuzz-input";

// Runs `body`; returns normally on success or an InputError, aborts (a libFuzzer finding)
// on a UsageError with its message.
template <class Body>
void expect_success_or_input_error(Body body) {
  try {
    body();
  } catch (const InputError&) {
  } catch (const UsageError& e) {
    std::fprintf(stderr, "UsageError reached from input: %s\n", e.what());
    std::abort();
  }
}

// Aborts with `what` when `condition` is false: an invariant of an accepted input broke.
inline void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

}  // namespace imgcls::fuzz
