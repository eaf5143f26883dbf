// IDX parsing from bytes already in memory: what read_idx_images and read_idx_labels
// (imgcls/data.hpp) do once the file is read, exposed for the fuzz harness and the tests.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "imgcls/tensor.hpp"

namespace imgcls {

// bytes: a whole IDX file as stored, plain or gzip-compressed (detected by its first two
// bytes, 0x1f 0x8b; several gzip members are read one after the other). Decompressed, it
// may hold at most 2 GiB. Throws InputError naming `source` on anything but a well-formed
// file of the expected kind; nothing is allocated from a header value before it has been
// checked against the bytes present.
// Images: magic 0x00000803, [N, rows, cols] -> [N, rows, cols, 1] / 255.
PixelTensor parse_idx_images(std::span<const std::uint8_t> bytes, const std::string& source);
// Labels: magic 0x00000801, [N].
std::vector<std::int32_t> parse_idx_labels(std::span<const std::uint8_t> bytes,
                                           const std::string& source);

}  // namespace imgcls
