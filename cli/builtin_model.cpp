// The built-in digits model: the bytes cli/builtin_digits.S includes, parsed as a model file.
#include "builtin_model.hpp"

#include "imgcls/io.hpp"
#include "io/parse.hpp"

extern "C" {
extern const char imgcls_builtin_digits_begin[];
extern const char imgcls_builtin_digits_end[];
}

namespace imgcls::cli {

std::string_view builtin_digits_model_bytes() {
  return {imgcls_builtin_digits_begin,
          static_cast<std::size_t>(imgcls_builtin_digits_end - imgcls_builtin_digits_begin)};
}

Sequential load_model_or_builtin(const std::string& path) {
  if (!path.empty()) return load_model(path);
  return io::parse_model(builtin_digits_model_bytes(), kBuiltinModelName);
}

}  // namespace imgcls::cli
