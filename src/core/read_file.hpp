// Whole-file reads for inputs from outside: the size is checked against a limit before
// anything is allocated, every read is checked, and failures are InputErrors naming the file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace imgcls {

// The bytes of `path`, at most max_bytes of them; `what` names the expected content in the
// too-large message ("an IDX file", "a model file", ...).
std::vector<std::uint8_t> read_file_bounded(const std::string& path, std::uint64_t max_bytes,
                                            const std::string& what);

}  // namespace imgcls
