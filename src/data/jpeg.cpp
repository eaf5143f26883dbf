// JPEG decoding with libjpeg-turbo instead of stb_image: the stb_image of Debian 12 (2.27)
// writes past its Huffman tables when a DHT segment declares more than 256 codes
// (found by fuzz/image_fuzz; fixed upstream in 2.28 with a "bad size list" check), and its
// JPEG decoder has had most of stb_image's memory-safety bugs. libjpeg-turbo is the
// decoder Pillow uses and is fuzzed continuously upstream.
// libjpeg reports fatal errors through a callback that must not return; it jumps back to
// the setjmp in run_decoder, whose frame holds no C++ object with a destructor.
#include <fmt/core.h>

#include <csetjmp>
#include <cstddef>
#include <vector>

// jpeglib.h uses FILE and size_t without including their headers.
// clang-format off
#include <cstdio>
#include <jpeglib.h>
// clang-format on

#include "data/image.hpp"
#include "imgcls/error.hpp"

namespace imgcls {

namespace {

// Progressive JPEGs are decoded scan by scan over the whole picture; a file can hold any
// number of tiny scans and so cost minutes. Real encoders write about ten.
constexpr int kMaxScans = 500;

struct ErrorHandler {
  jpeg_error_mgr manager;  // first member: libjpeg hands back a pointer to it
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  // The size the start-of-frame claims, when it was read before the failure.
  std::int64_t claimed_width = 0, claimed_height = 0;
};

[[noreturn]] void fail(j_common_ptr info) {
  auto* handler = reinterpret_cast<ErrorHandler*>(info->err);
  (*info->err->format_message)(info, handler->message);
  if (info->is_decompressor) {
    const auto* decoder = reinterpret_cast<j_decompress_ptr>(info);
    handler->claimed_width = decoder->image_width;
    handler->claimed_height = decoder->image_height;
  }
  std::longjmp(handler->jump, 1);
}

// Warnings (level -1) are corrupt or missing data that libjpeg would paper over with grey:
// refused like errors, so a truncated photo is not classified as if it were whole.
void warn_or_trace(j_common_ptr info, int level) {
  if (level < 0) fail(info);
}

void check_scan_count(j_common_ptr info) {
  if (!info->is_decompressor) return;
  const auto* decoder = reinterpret_cast<j_decompress_ptr>(info);
  if (decoder->input_scan_number > kMaxScans) {
    auto* handler = reinterpret_cast<ErrorHandler*>(info->err);
    std::snprintf(handler->message, sizeof handler->message, "more than %d scans", kMaxScans);
    std::longjmp(handler->jump, 1);
  }
}

bool beyond_limits(std::int64_t width, std::int64_t height, const ImageLimits& limits) {
  return width > limits.max_side || height > limits.max_side || width * height > limits.max_pixels;
}

enum class Outcome { decoded, failed, too_large, cmyk };

struct Decoded {
  int width = 0, height = 0, channels = 0;
};

// Decodes into `samples` (resized once the header is known and checked), or with
// header_only reads just the size; on failure, handler.message says why. Only trivially
// destructible locals: libjpeg may longjmp here.
Outcome run_decoder(std::span<const std::uint8_t> bytes, const ImageLimits& limits,
                    ErrorHandler& handler, std::vector<std::uint8_t>& samples, Decoded& out,
                    bool header_only = false) {
  jpeg_decompress_struct info{};
  jpeg_progress_mgr progress{};
  info.err = jpeg_std_error(&handler.manager);
  handler.manager.error_exit = fail;
  handler.manager.emit_message = warn_or_trace;
  progress.progress_monitor = check_scan_count;
  if (setjmp(handler.jump) != 0) {
    jpeg_destroy_decompress(&info);
    return Outcome::failed;
  }
  jpeg_create_decompress(&info);
  info.progress = &progress;
  jpeg_mem_src(&info, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&info, TRUE);
  out.width = static_cast<int>(info.image_width);
  out.height = static_cast<int>(info.image_height);
  if (beyond_limits(out.width, out.height, limits)) {
    jpeg_destroy_decompress(&info);
    return Outcome::too_large;
  }
  if (info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK) {
    jpeg_destroy_decompress(&info);
    return Outcome::cmyk;
  }
  if (header_only) {
    jpeg_destroy_decompress(&info);
    return Outcome::decoded;
  }
  info.out_color_space = info.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&info);
  out.channels = info.output_components;
  const std::size_t row_bytes = static_cast<std::size_t>(out.width) * out.channels;
  try {
    samples.resize(row_bytes * static_cast<std::size_t>(out.height));
  } catch (...) {
    jpeg_destroy_decompress(&info);
    throw;
  }
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = samples.data() + row_bytes * info.output_scanline;
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  return Outcome::decoded;
}

}  // namespace

bool is_jpeg(std::span<const std::uint8_t> bytes) {
  return bytes.size() >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff;
}

namespace {

// Runs the decoder and turns every failure into an InputError naming `source`.
Decoded decode_checked(std::span<const std::uint8_t> bytes, const std::string& source,
                       const ImageLimits& limits, std::vector<std::uint8_t>& samples,
                       bool header_only) {
  ErrorHandler handler{};
  Decoded decoded;
  Outcome outcome = run_decoder(bytes, limits, handler, samples, decoded, header_only);
  if (outcome == Outcome::failed &&
      beyond_limits(handler.claimed_width, handler.claimed_height, limits)) {
    decoded.width = static_cast<int>(handler.claimed_width);
    decoded.height = static_cast<int>(handler.claimed_height);
    outcome = Outcome::too_large;  // the size says more than the damage after it
  }
  switch (outcome) {
    case Outcome::failed:
      throw InputError(source, fmt::format("cannot decode the JPEG ({})", handler.message),
                       "the file may be truncated or corrupt");
    case Outcome::too_large:
      throw InputError(
          source,
          fmt::format("the header claims {}x{} pixels, beyond the limit of {} per "
                      "side and {} in all",
                      decoded.width, decoded.height, limits.max_side, limits.max_pixels),
          "scale the picture down first");
    case Outcome::cmyk:
      throw InputError(source, "a CMYK JPEG; imgcls reads grey and colour (RGB) JPEGs",
                       "save the picture as an RGB JPEG or a PNG");
    case Outcome::decoded:
      break;
  }
  return decoded;
}

}  // namespace

Image decode_jpeg(std::span<const std::uint8_t> bytes, const std::string& source,
                  const ImageLimits& limits) {
  std::vector<std::uint8_t> samples;
  const Decoded decoded = decode_checked(bytes, source, limits, samples, false);
  return samples_to_picture(std::span<const std::uint8_t>(samples), decoded.height, decoded.width,
                            decoded.channels);
}

PictureSize probe_jpeg(std::span<const std::uint8_t> bytes, const std::string& source,
                       const ImageLimits& limits) {
  std::vector<std::uint8_t> unused;
  const Decoded decoded = decode_checked(bytes, source, limits, unused, true);
  return {decoded.height, decoded.width};
}

}  // namespace imgcls
