// Atomic file replacement: write to a temporary file in the target's folder, flush and
// fsync it, then rename over the target. A failure leaves any previous file intact and
// throws InputError naming the path and the reason.
#pragma once

#include <string>
#include <string_view>

namespace imgcls {

void write_file_atomically(const std::string& path, std::string_view bytes);

// Makes sure a later write_file_atomically(path, ...) can succeed, before any long work: the
// path names a file, not a folder; its folder exists (created, with its parents, when
// missing) and a file can be created in it (one is created and removed). Throws InputError
// naming the path and the reason.
void prepare_output_file(const std::string& path);

}  // namespace imgcls
