// Atomic file replacement: write to a temporary file in the target's folder, flush and
// fsync it, then rename over the target. A failure leaves any previous file intact and
// throws InputError naming the path and the reason.
#pragma once

#include <string>
#include <string_view>

namespace imgcls {

void write_file_atomically(const std::string& path, std::string_view bytes);

}  // namespace imgcls
