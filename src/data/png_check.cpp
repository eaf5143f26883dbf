// A PNG's structure, checked before stb_image decodes it. stb_image 2.27 sizes its buffers
// from what a file claims: it grows its IDAT buffer to a chunk's declared length before
// reading the chunk (a 200-byte file made it ask for 2 GiB; found by fuzz/image_fuzz), and
// its inflater grows without bound, so a small file of compressed zeros could make it
// allocate gigabytes. Here every chunk must lie inside the file, and the image data must
// not inflate to more than the header's size needs.
#include <fmt/core.h>
#include <zlib.h>

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "data/image.hpp"

namespace imgcls {

namespace {

constexpr std::size_t kSignatureBytes = 8;
constexpr std::size_t kChunkOverhead = 12;  // length, type, CRC
constexpr std::size_t kHeaderDataBytes = 13;
constexpr std::size_t kScratchBytes = 1 << 16;
// Decoders tolerate a little data past the image; more than this is not a picture.
constexpr std::uint64_t kSlackBytes = 1 << 16;

std::uint32_t big_endian_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

// Bytes of filtered scanlines an image of this header needs (Adam7: the sum of its passes).
std::uint64_t raw_bytes(std::uint64_t width, std::uint64_t height, int bit_depth, int colour_type,
                        bool interlaced) {
  int channels = 1;
  if (colour_type == 2) channels = 3;
  if (colour_type == 4) channels = 2;
  if (colour_type == 6) channels = 4;
  const auto rows_of = [&](std::uint64_t w, std::uint64_t h) -> std::uint64_t {
    if (w == 0 || h == 0) return 0;
    const std::uint64_t row_bits = w * static_cast<std::uint64_t>(channels * bit_depth);
    return h * (1 + (row_bits + 7) / 8);  // one filter byte per row
  };
  if (!interlaced) return rows_of(width, height);
  struct Pass {
    std::uint64_t x0, y0, dx, dy;
  };
  constexpr std::array<Pass, 7> kAdam7 = {{{0, 0, 8, 8},
                                           {4, 0, 8, 8},
                                           {0, 4, 4, 8},
                                           {2, 0, 4, 4},
                                           {0, 2, 2, 4},
                                           {1, 0, 2, 2},
                                           {0, 1, 1, 2}}};
  std::uint64_t total = 0;
  for (const Pass& p : kAdam7) {
    const std::uint64_t w = width > p.x0 ? (width - p.x0 + p.dx - 1) / p.dx : 0;
    const std::uint64_t h = height > p.y0 ? (height - p.y0 + p.dy - 1) / p.dy : 0;
    total += rows_of(w, h);
  }
  return total;
}

// How many bytes the concatenated IDAT data inflate to, counting no further than `limit`
// (then returns limit + 1). A damaged stream stops the count; stb_image reports it.
std::uint64_t inflated_size(const std::vector<std::span<const std::uint8_t>>& parts,
                            std::uint64_t limit) {
  z_stream stream{};
  if (inflateInit(&stream) != Z_OK) return 0;
  std::array<std::uint8_t, kScratchBytes> scratch;
  std::uint64_t total = 0;
  for (const auto& part : parts) {
    stream.next_in = const_cast<Bytef*>(part.data());
    stream.avail_in = static_cast<uInt>(part.size());
    while (stream.avail_in > 0) {
      stream.next_out = scratch.data();
      stream.avail_out = static_cast<uInt>(scratch.size());
      const int status = inflate(&stream, Z_NO_FLUSH);
      total += scratch.size() - stream.avail_out;
      if (total > limit || status != Z_OK) {
        inflateEnd(&stream);
        return total > limit ? limit + 1 : total;
      }
    }
  }
  inflateEnd(&stream);
  return total;
}

}  // namespace

std::optional<std::string> png_structure_problem(std::span<const std::uint8_t> bytes) {
  std::size_t at = kSignatureBytes;
  std::vector<std::span<const std::uint8_t>> image_data;
  std::uint64_t needed = 0;
  bool have_header = false;
  while (bytes.size() - at >= kChunkOverhead) {
    const std::uint32_t length = big_endian_u32(&bytes[at]);
    const std::uint8_t* type = &bytes[at + 4];
    if (length > bytes.size() - at - kChunkOverhead)
      return fmt::format("a PNG chunk claims {} bytes, more than the {} left in the file", length,
                         bytes.size() - at - kChunkOverhead);
    const std::span<const std::uint8_t> data = bytes.subspan(at + 8, length);
    const std::string_view name(reinterpret_cast<const char*>(type), 4);
    // Only a first IHDR counts: its size is the one checked against the limits, and
    // stb_image refuses a file that starts otherwise.
    if (name == "IHDR" && length == kHeaderDataBytes && at == kSignatureBytes) {
      have_header = true;
      const bool interlaced = data[12] == 1;
      needed = raw_bytes(big_endian_u32(&data[0]), big_endian_u32(&data[4]), data[8], data[9],
                         interlaced);
    } else if (name == "IDAT") {
      image_data.push_back(data);
    } else if (name == "IEND") {
      break;
    }
    at += kChunkOverhead + length;
  }
  if (have_header && !image_data.empty()) {
    const std::uint64_t limit = 2 * needed + kSlackBytes;
    if (inflated_size(image_data, limit) > limit)
      return fmt::format(
          "the PNG image data inflate to more than {} bytes, where its header "
          "needs {}",
          limit, needed);
  }
  return std::nullopt;
}

}  // namespace imgcls
