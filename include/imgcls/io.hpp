// Model files: the architecture (as JSON, in the metadata) and every parameter, named and
// shaped, in a safetensors container. Written atomically; read with every field checked.
#pragma once

#include <string>

#include "imgcls/model.hpp"

namespace imgcls {

void save_model(Sequential& model, const std::string& path);
// Throws InputError naming the file and the problem (bad container, unknown architecture,
// missing, extra or misshapen parameters).
Sequential load_model(const std::string& path);

}  // namespace imgcls
