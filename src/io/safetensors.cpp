// safetensors reader and writer. Limits: header at most 16 MiB and JSON depth 16;
// file at most 4 GiB; header JSON nested at most 16 deep; each tensor's byte range must match its
// shape, lie inside the data, and the ranges must tile the data section exactly (no gaps, overlaps
// or trailing bytes).
#include "io/safetensors.hpp"

#include <fmt/core.h>
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/atomic_file.hpp"
#include "core/read_file.hpp"
#include "imgcls/error.hpp"
#include "io/bounded_json.hpp"

static_assert(std::endian::native == std::endian::little, "imgcls assumes a little-endian host");

namespace imgcls::io {

namespace {

constexpr std::uint64_t kMaxHeaderBytes = 16u << 20;
constexpr std::uint64_t kMaxFileBytes = std::uint64_t{4} << 30;
constexpr std::size_t kMaxRank = 8;
constexpr const char* kCrcKey = "data_crc32";

std::string read_bytes(const std::string& path) {
  const std::vector<std::uint8_t> bytes =
      read_file_bounded(path, kMaxFileBytes, "a safetensors file");
  return std::string(bytes.begin(), bytes.end());
}

std::string data_crc32(std::string_view data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  constexpr std::size_t kChunk = 1u << 30;  // crc32 takes a uInt length
  for (std::size_t at = 0; at < data.size(); at += kChunk) {
    const std::size_t n = std::min(kChunk, data.size() - at);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data() + at), static_cast<uInt>(n));
  }
  return fmt::format("{:08x}", crc);
}

std::size_t element_size(const std::string& dtype) {
  return dtype == "F32" || dtype == "I32" ? 4 : 0;
}

}  // namespace

SafetensorsFile parse_safetensors(std::string_view bytes, const std::string& path) {
  if (bytes.size() < 8) throw InputError(path, "too short for a safetensors header");
  std::uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), 8);
  if (header_size > kMaxHeaderBytes || header_size > bytes.size() - 8)
    throw InputError(
        path,
        fmt::format("header length {} does not fit the file ({} bytes)", header_size, bytes.size()),
        "the file is truncated or not a safetensors file");
  const nlohmann::json header = parse_bounded_json(std::string_view(bytes).substr(8, header_size),
                                                   path, "the safetensors header");
  if (!header.is_object()) throw InputError(path, "the safetensors header is not a JSON object");
  const std::size_t data_start = 8 + header_size;
  const std::uint64_t data_size = bytes.size() - data_start;

  SafetensorsFile file;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) throw InputError(path, "__metadata__ is not an object");
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) throw InputError(path, "__metadata__." + key + " is not a string");
        file.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor \"" + name + "\"";
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
        !entry.contains("data_offsets") || entry.size() != 3)
      throw InputError(path, where + " needs exactly dtype, shape and data_offsets");
    StoredTensor tensor;
    if (!entry["dtype"].is_string() || element_size(entry["dtype"].get<std::string>()) == 0)
      throw InputError(path, where + ": dtype " + entry["dtype"].dump() + " is not F32 or I32");
    tensor.dtype = entry["dtype"].get<std::string>();
    const auto& shape = entry["shape"];
    if (!shape.is_array() || shape.size() > kMaxRank)
      throw InputError(path, where + ": shape must be a list of at most 8 dimensions");
    std::uint64_t count = 1;
    for (const auto& d : shape) {
      if (!d.is_number_unsigned() || d.get<std::uint64_t>() > kMaxFileBytes)
        throw InputError(path, where + ": bad dimension " + d.dump());
      // Checked before multiplying: [2^32, 2^32] would wrap around to 0 elements.
      if (d.get<std::uint64_t>() != 0 && count > kMaxFileBytes / d.get<std::uint64_t>())
        throw InputError(path, where + ": shape is too large");
      count *= d.get<std::uint64_t>();
      tensor.shape.push_back(d.get<std::int64_t>());
    }
    const auto& offsets = entry["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned())
      throw InputError(path, where + ": data_offsets must be two non-negative integers");
    const auto begin = offsets[0].get<std::uint64_t>(), end = offsets[1].get<std::uint64_t>();
    if (begin > end || end > data_size)
      throw InputError(path,
                       fmt::format("{}: data_offsets [{}, {}] outside the {} data bytes", where,
                                   begin, end, data_size),
                       "the file is truncated or corrupt");
    if (end - begin != count * 4)
      throw InputError(
          path, fmt::format("{}: {} bytes for a shape of {} elements", where, end - begin, count));
    ranges.emplace_back(begin, end);
    const char* data = bytes.data() + data_start + begin;
    if (tensor.dtype == "F32") {
      tensor.f32.resize(count);
      std::memcpy(tensor.f32.data(), data, count * 4);
    } else {
      tensor.i32.resize(count);
      std::memcpy(tensor.i32.data(), data, count * 4);
    }
    file.tensors.emplace(name, std::move(tensor));
  }
  std::sort(ranges.begin(), ranges.end());
  std::uint64_t covered = 0;
  for (const auto& [begin, end] : ranges) {
    if (begin != covered) throw InputError(path, "tensor data ranges overlap or leave gaps");
    covered = end;
  }
  if (covered != data_size)
    throw InputError(path, fmt::format("{} bytes after the last tensor", data_size - covered));
  if (const auto crc = file.metadata.find(kCrcKey); crc != file.metadata.end()) {
    const std::string actual = data_crc32(std::string_view(bytes).substr(data_start));
    if (crc->second != actual)
      throw InputError(
          path,
          fmt::format("the tensor data fails its CRC-32 check (stored {}, computed {})",
                      crc->second, actual),
          "the file was damaged after it was written; use another copy");
  }
  return file;
}

SafetensorsFile read_safetensors(const std::string& path) {
  return parse_safetensors(read_bytes(path), path);
}

void write_safetensors(const std::string& path, std::map<std::string, std::string> metadata,
                       const std::vector<std::pair<std::string, const Tensor*>>& tensors) {
  std::string data;
  for (const auto& item : tensors)
    data.append(reinterpret_cast<const char*>(item.second->data()),
                static_cast<std::size_t>(item.second->size()) * 4);
  metadata[kCrcKey] = data_crc32(data);
  nlohmann::ordered_json header;
  header["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    const std::uint64_t bytes = static_cast<std::uint64_t>(tensor->size()) * 4;
    header[name] = {
        {"dtype", "F32"}, {"shape", tensor->shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  const std::uint64_t header_size = header_text.size();
  std::memcpy(out.data(), &header_size, 8);
  out += header_text;
  out += data;
  write_file_atomically(path, out);
}

}  // namespace imgcls::io
