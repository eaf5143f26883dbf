// Model files and checkpoints parsed from bytes already in memory: what load_model and
// load_checkpoint (imgcls/io.hpp) do once the file is read, with the same checks and the
// same errors; exposed for the fuzz harness and the tests.
#pragma once

#include <string>
#include <string_view>

#include "imgcls/io.hpp"

namespace imgcls::io {

// bytes: a whole model file; `source` names it in errors (InputError).
Sequential parse_model(std::string_view bytes, const std::string& source);
// bytes: a whole checkpoint file; `source` names it in errors (InputError).
LoadedCheckpoint parse_checkpoint(std::string_view bytes, const std::string& source);

}  // namespace imgcls::io
