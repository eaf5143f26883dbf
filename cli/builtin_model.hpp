// The shipped digits model (models/digits.safetensors, made by `make models`; README, "The
// built-in digits model"), built into the command: imgcls predict and imgcls serve use it when
// no model is named.
#pragma once

#include <string>
#include <string_view>

#include "imgcls/model.hpp"

namespace imgcls::cli {

// How errors and messages name it.
inline constexpr const char* kBuiltinModelName = "the built-in digits model";

// The model file's bytes, as committed.
std::string_view builtin_digits_model_bytes();

// The model file at `path` (load_model); the built-in digits model when `path` is empty.
Sequential load_model_or_builtin(const std::string& path);
// How messages name the model of load_model_or_builtin(path).
inline std::string model_name(const std::string& path) {
  return path.empty() ? kBuiltinModelName : path;
}

}  // namespace imgcls::cli
