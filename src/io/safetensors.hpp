// The safetensors container (https://github.com/huggingface/safetensors): an 8-byte
// little-endian header length, a JSON header naming each tensor's dtype, shape and byte
// range, then the raw little-endian data. imgcls uses it for model files and test
// fixtures. The reader bounds and checks everything before it allocates.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "imgcls/tensor.hpp"

namespace imgcls::io {

struct StoredTensor {
  std::string dtype;  // "F32" or "I32"
  Shape shape;
  std::vector<float> f32;         // filled when dtype == "F32"
  std::vector<std::int32_t> i32;  // filled when dtype == "I32"
  Tensor to_tensor() const { return Tensor(shape, f32); }
};

struct SafetensorsFile {
  std::map<std::string, std::string> metadata;
  std::map<std::string, StoredTensor> tensors;
};

// When the metadata holds "data_crc32" (8 hex digits), the data section must match it.
SafetensorsFile read_safetensors(const std::string& path);
// The same checks on a whole file already in memory; `source` names it in errors.
SafetensorsFile parse_safetensors(std::string_view bytes, const std::string& source);

// Writes F32 tensors in the given order, atomically, adding "data_crc32" (the CRC-32 of
// the data section) to the metadata.
void write_safetensors(const std::string& path, std::map<std::string, std::string> metadata,
                       const std::vector<std::pair<std::string, const Tensor*>>& tensors);

}  // namespace imgcls::io
