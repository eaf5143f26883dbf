// IMGCLS_CHECK: precondition checks that throw imgcls::UsageError with the failed
// expression, its file:line and a message naming the values involved.
#pragma once

#include <fmt/core.h>

#include "imgcls/error.hpp"

namespace imgcls::detail {
[[noreturn]] inline void check_failed(const char* expression, const char* file, int line,
                                      const std::string& message) {
  throw UsageError(fmt::format("check failed: {} at {}:{}: {}", expression, file, line, message));
}
}  // namespace imgcls::detail

// Usage: IMGCLS_CHECK(a.size() == b.size(), "sizes {} vs {}", a.size(), b.size());
#define IMGCLS_CHECK(condition, ...)                                                            \
  do {                                                                                          \
    if (!(condition))                                                                           \
      ::imgcls::detail::check_failed(#condition, __FILE__, __LINE__, fmt::format(__VA_ARGS__)); \
  } while (false)
