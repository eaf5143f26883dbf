// Image files: read (bounded), decode with stb_image (Debian's libstb; JPEG with
// libjpeg-turbo, in jpeg.cpp), convert to grey; encode grey PNGs with stb_image_write. The
// stb implementation lives in libstb.so, so no STB_*_IMPLEMENTATION is defined here.
#include "data/image.hpp"

#include <fmt/core.h>
#include <stb_image.h>
#include <stb_image_write.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>

#include "core/atomic_file.hpp"
#include "core/check.hpp"
#include "core/read_file.hpp"

namespace imgcls {

namespace {

// Rec. 601 luma weights.
constexpr float kLumaRed = 0.299f;
constexpr float kLumaGreen = 0.587f;
constexpr float kLumaBlue = 0.114f;
constexpr const char* kFormats = "PNG, JPEG, BMP, PGM (P5) or PPM (P6)";
constexpr std::int64_t kMax8Bit = 255;
constexpr std::int64_t kMax16Bit = 65535;
constexpr std::int64_t kMaxPnmValue = 65535;

std::vector<std::uint8_t> read_bounded(const std::string& path, const ImageLimits& limits) {
  return read_file_bounded(path, static_cast<std::uint64_t>(limits.max_file_bytes), "a picture");
}

bool is_binary_pnm(std::span<const std::uint8_t> bytes) {
  return bytes.size() >= 2 && bytes[0] == 'P' && (bytes[1] == '5' || bytes[1] == '6');
}

std::uint32_t big_endian(const std::uint8_t* p, int n) {
  std::uint32_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

std::uint32_t little_endian_u32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
         (std::uint32_t{p[3]} << 24);
}

struct Claimed {
  std::int64_t width = 0, height = 0;
};

std::optional<Claimed> png_claimed_size(std::span<const std::uint8_t> b) {
  constexpr std::uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (b.size() < 24 || !std::equal(kSignature, kSignature + 8, b.begin())) return std::nullopt;
  return Claimed{big_endian(&b[16], 4), big_endian(&b[20], 4)};  // IHDR width, height
}

std::optional<Claimed> bmp_claimed_size(std::span<const std::uint8_t> b) {
  if (b.size() < 26 || b[0] != 'B' || b[1] != 'M') return std::nullopt;
  const auto width = static_cast<std::int32_t>(little_endian_u32(&b[18]));
  const auto height = static_cast<std::int32_t>(little_endian_u32(&b[22]));  // < 0: top-down
  return Claimed{std::abs(std::int64_t{width}), std::abs(std::int64_t{height})};
}

// The three numbers of a binary PGM/PPM header, read exactly as stb_image 2.27 reads them
// (whitespace, '#' comments to the end of the line; a digit that is the file's last byte is
// not read) but without its overflow: stb_image accumulates value * 10 + digit in an int,
// so a long run of digits is undefined behaviour and wraps to some other size (found by
// image_fuzz). Here values stop growing at kCap, far above any limit.
struct PnmHeader {
  std::int64_t width = 0, height = 0, max_value = 0;
};

std::optional<PnmHeader> pnm_header(std::span<const std::uint8_t> b) {
  if (!is_binary_pnm(b)) return std::nullopt;
  constexpr std::int64_t kCap = std::int64_t{1} << 40;
  std::size_t next = 2;  // stb_image's read position
  const auto at_end = [&] { return next >= b.size(); };
  const auto read = [&] { return next < b.size() ? static_cast<char>(b[next++]) : '\0'; };
  const auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
  };
  char c = read();
  const auto skip_whitespace = [&] {
    for (;;) {
      while (!at_end() && is_space(c)) c = read();
      if (at_end() || c != '#') return;
      while (!at_end() && c != '\n' && c != '\r') c = read();
    }
  };
  const auto integer = [&] {
    std::int64_t value = 0;
    for (; !at_end() && c >= '0' && c <= '9'; c = read())
      value = std::min(value * 10 + (c - '0'), kCap);
    return value;
  };
  PnmHeader header;
  skip_whitespace();
  header.width = integer();
  skip_whitespace();
  header.height = integer();
  skip_whitespace();
  header.max_value = integer();
  return header;
}

std::optional<Claimed> pnm_claimed_size(std::span<const std::uint8_t> b) {
  const std::optional<PnmHeader> header = pnm_header(b);
  if (!header) return std::nullopt;
  return Claimed{header->width, header->height};
}

// The size a PNG, BMP or binary PNM header claims, read without stb_image: used to say
// what is wrong when stb_image refuses a header (it reports only "unknown image type"
// once every format has been tried).
std::optional<Claimed> claimed_size(std::span<const std::uint8_t> bytes) {
  for (const auto sniff : {png_claimed_size, bmp_claimed_size, pnm_claimed_size})
    if (const std::optional<Claimed> size = sniff(bytes)) return size;
  return std::nullopt;
}

bool beyond(const Claimed& size, const ImageLimits& limits) {
  return size.width > limits.max_side || size.height > limits.max_side ||
         size.width * size.height > limits.max_pixels;
}

InputError too_large(const std::string& source, const Claimed& size, const ImageLimits& limits) {
  return InputError(source,
                    fmt::format("the header claims {}x{} pixels, beyond the limit of {} per side "
                                "and {} in all",
                                size.width, size.height, limits.max_side, limits.max_pixels),
                    "scale the picture down first");
}

struct HeaderInfo {
  std::int64_t width = 0, height = 0;
  bool sixteen_bit = false;
  // The sample value that means full intensity: 255 or 65535, or a PGM/PPM's maximum
  // value (stb_image returns the file's samples unscaled).
  float sample_max = 255.0f;
};

// stb_image tries every decoder it has (GIF, PSD, HDR, PIC and a heuristic TGA among
// them) until one accepts the bytes. Only files whose signature names a format imgcls
// documents reach it; none of those signatures is accepted by another decoder.
bool is_png(std::span<const std::uint8_t> bytes) {
  constexpr std::uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  return bytes.size() >= 8 && std::equal(kPngSignature, kPngSignature + 8, bytes.begin());
}

bool has_stb_format_signature(std::span<const std::uint8_t> bytes) {
  const bool bmp = bytes.size() >= 2 && bytes[0] == 'B' && bytes[1] == 'M';
  return is_png(bytes) || bmp || is_binary_pnm(bytes);
}

// Reads the dimensions from the header alone and checks them against the limits.
HeaderInfo read_header(std::span<const std::uint8_t> bytes, const std::string& source,
                       const ImageLimits& limits) {
  if (!has_stb_format_signature(bytes))
    throw InputError(source, "not a readable picture (no PNG, JPEG, BMP, PGM or PPM signature)",
                     std::string("expected ") + kFormats);
  if (bytes.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw InputError(source, "the file is too large for the decoder");
  // Our own reading of the header first: the limits hold before stb_image parses anything.
  const std::optional<PnmHeader> pnm = pnm_header(bytes);
  constexpr std::int64_t kIntMax = std::numeric_limits<int>::max();
  if (pnm && (pnm->width > kIntMax || pnm->height > kIntMax || pnm->max_value > kIntMax))
    throw InputError(source, "a number in the PGM/PPM header is larger than 2147483647",
                     "the header must hold the width, the height and the maximum value");
  if (const std::optional<Claimed> claimed = claimed_size(bytes);
      claimed && beyond(*claimed, limits))
    throw too_large(source, *claimed, limits);
  if (is_png(bytes))
    if (const std::optional<std::string> problem = png_structure_problem(bytes))
      throw InputError(source, "cannot decode the picture: " + *problem,
                       "the file may be truncated or corrupt");
  std::int64_t sample_max = 0;  // 0: the format's own (255, or 65535 for 16 bits)
  if (pnm) {
    if (pnm->max_value < 1 || pnm->max_value > kMaxPnmValue)
      throw InputError(source, fmt::format("the PGM/PPM maximum value is {}, not 1 to {}",
                                           pnm->max_value, kMaxPnmValue));
    sample_max = pnm->max_value;
  }
  const int length = static_cast<int>(bytes.size());
  int width = 0, height = 0, channels = 0;
  if (stbi_info_from_memory(bytes.data(), length, &width, &height, &channels) == 0) {
    throw InputError(source, fmt::format("not a readable picture ({})", stbi_failure_reason()),
                     std::string("expected ") + kFormats);
  }
  if (width <= 0 || height <= 0)
    throw InputError(source, fmt::format("the header claims a {}x{} picture", width, height));
  const Claimed size{width, height};
  if (beyond(size, limits)) throw too_large(source, size, limits);
  const bool sixteen_bit = stbi_is_16_bit_from_memory(bytes.data(), length) != 0;
  if (sample_max == 0) sample_max = sixteen_bit ? kMax16Bit : kMax8Bit;
  return {width, height, sixteen_bit, static_cast<float>(sample_max)};
}

// Interleaved samples -> an Image of 1 channel (grey, grey + alpha) or 3 (RGB, RGBA), each
// value sample / max_value, composited over white: alpha * value + (1 - alpha).
template <typename Sample>
Image samples_to_picture_impl(std::span<const Sample> samples, std::int64_t height,
                              std::int64_t width, int channels, float max_value) {
  IMGCLS_CHECK(channels >= 1 && channels <= 4, "channels {}", channels);
  IMGCLS_CHECK(height >= 0 && width >= 0 &&
                   static_cast<std::int64_t>(samples.size()) == height * width * channels,
               "{} samples for {}x{}x{}", samples.size(), height, width, channels);
  const bool has_alpha = channels == 2 || channels == 4;
  const std::int64_t colours = channels >= 3 ? 3 : 1;
  Image picture(height, width, colours);
  for (std::int64_t i = 0; i < height * width; ++i) {
    const Sample* s = samples.data() + i * channels;
    const float alpha = has_alpha ? float(s[channels - 1]) / max_value : 1.0f;
    for (std::int64_t c = 0; c < colours; ++c)
      picture.pixels[static_cast<std::size_t>(i * colours + c)] =
          std::clamp(alpha * (float(s[c]) / max_value) + (1.0f - alpha), 0.0f, 1.0f);
  }
  return picture;
}

template <typename Sample>
using StbPixels = std::unique_ptr<Sample, decltype(&stbi_image_free)>;

// 16-bit PGM/PPM samples are big-endian, but stb_image 2.27 (Debian 12) returns them
// byte-swapped (nothings/stb#1710, unfixed upstream at the time of writing). The raster
// is the file's last 2 * count bytes; the first sample whose two bytes differ shows which
// order the decoder used, so this stays right once the decoder is fixed.
void fix_pnm16_byte_order(std::span<const std::uint8_t> bytes, std::span<std::uint16_t> samples) {
  if (!is_binary_pnm(bytes) || bytes.size() < 2 * samples.size()) return;
  const std::uint8_t* raster = bytes.data() + (bytes.size() - 2 * samples.size());
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const std::uint8_t high = raster[2 * i], low = raster[2 * i + 1];
    if (high == low) continue;
    if (samples[i] != static_cast<std::uint16_t>((low << 8) | high)) return;  // already right
    for (std::uint16_t& v : samples) v = static_cast<std::uint16_t>((v << 8) | (v >> 8));
    return;
  }
}

// Decodes with `load` (stbi_load_from_memory or stbi_load_16_from_memory) into an Image.
template <typename Sample, typename Load>
Image decode_pixels(Load load, std::span<const std::uint8_t> bytes, const std::string& source,
                    const HeaderInfo& header) {
  int width = 0, height = 0, channels = 0;
  const StbPixels<Sample> pixels(
      load(bytes.data(), static_cast<int>(bytes.size()), &width, &height, &channels, 0),
      stbi_image_free);
  if (!pixels)
    throw InputError(source, fmt::format("cannot decode the picture ({})", stbi_failure_reason()),
                     "the file may be truncated or corrupt");
  if (width != header.width || height != header.height)  // what was bounded is what we got
    throw InputError(source, fmt::format("the header claims {}x{} but the decoder read {}x{}",
                                         header.width, header.height, width, height));
  const std::span<Sample> samples(
      pixels.get(), static_cast<std::size_t>(std::int64_t{width} * height * channels));
  if constexpr (sizeof(Sample) == 2) fix_pnm16_byte_order(bytes, samples);
  return samples_to_picture_impl(std::span<const Sample>(samples), height, width, channels,
                                 header.sample_max);
}

}  // namespace

GreyImage::GreyImage(std::int64_t rows, std::int64_t columns, float value)
    : height(rows), width(columns), pixels(static_cast<std::size_t>(rows * columns), value) {
  IMGCLS_CHECK(rows >= 0 && columns >= 0, "size {}x{}", rows, columns);
}

Image::Image(std::int64_t rows, std::int64_t columns, std::int64_t channel_count, float value)
    : height(rows),
      width(columns),
      channels(channel_count),
      pixels(static_cast<std::size_t>(rows * columns * channel_count), value) {
  IMGCLS_CHECK(rows >= 0 && columns >= 0 && (channels == 1 || channels == 3), "size {}x{}x{}", rows,
               columns, channels);
}

Image to_image(const GreyImage& grey) {
  Image image(grey.height, grey.width, 1);
  image.pixels = grey.pixels;
  return image;
}

GreyImage to_grey_image(const Image& image) {
  IMGCLS_CHECK(image.channels == 1, "a {}-channel image is not grey", image.channels);
  GreyImage grey(image.height, image.width);
  grey.pixels = image.pixels;
  return grey;
}

Image with_channels(const Image& image, std::int64_t channels) {
  IMGCLS_CHECK(channels == 1 || channels == 3, "{} channels", channels);
  if (image.channels == channels) return image;
  Image out(image.height, image.width, channels);
  const std::int64_t count = image.height * image.width;
  for (std::int64_t i = 0; i < count; ++i) {
    const float* in = image.pixels.data() + i * image.channels;
    float* o = out.pixels.data() + i * channels;
    if (channels == 1)
      o[0] = std::clamp(kLumaRed * in[0] + kLumaGreen * in[1] + kLumaBlue * in[2], 0.0f, 1.0f);
    else
      o[0] = o[1] = o[2] = in[0];
  }
  return out;
}

bool has_colour(const Image& image) {
  if (image.channels != 3) return false;
  constexpr float kHalfLevel = 0.5f / 255.0f;
  for (std::int64_t i = 0; i < image.height * image.width; ++i) {
    const float* p = image.pixels.data() + i * 3;
    if (std::abs(p[0] - p[1]) > kHalfLevel || std::abs(p[1] - p[2]) > kHalfLevel) return true;
  }
  return false;
}

Image samples_to_picture(std::span<const std::uint8_t> samples, std::int64_t height,
                         std::int64_t width, int channels) {
  return samples_to_picture_impl(samples, height, width, channels, 255.0f);
}

GreyImage samples_to_grey(std::span<const std::uint8_t> samples, std::int64_t height,
                          std::int64_t width, int channels) {
  return to_grey_image(with_channels(samples_to_picture(samples, height, width, channels), 1));
}

GreyImage samples_to_grey(std::span<const std::uint16_t> samples, std::int64_t height,
                          std::int64_t width, int channels) {
  return to_grey_image(
      with_channels(samples_to_picture_impl(samples, height, width, channels, 65535.0f), 1));
}

Image decode_picture(std::span<const std::uint8_t> bytes, const std::string& source,
                     const ImageLimits& limits) {
  if (bytes.empty())
    throw InputError(source, "the file is empty", std::string("expected ") + kFormats);
  if (is_jpeg(bytes)) return decode_jpeg(bytes, source, limits);
  const HeaderInfo header = read_header(bytes, source, limits);
  return header.sixteen_bit
             ? decode_pixels<stbi_us>(stbi_load_16_from_memory, bytes, source, header)
             : decode_pixels<stbi_uc>(stbi_load_from_memory, bytes, source, header);
}

Image read_picture(const std::string& path, const ImageLimits& limits) {
  const std::vector<std::uint8_t> bytes = read_bounded(path, limits);
  return decode_picture(bytes, path, limits);
}

GreyImage decode_image(std::span<const std::uint8_t> bytes, const std::string& source,
                       const ImageLimits& limits) {
  return to_grey_image(with_channels(decode_picture(bytes, source, limits), 1));
}

GreyImage read_image(const std::string& path, const ImageLimits& limits) {
  return to_grey_image(with_channels(read_picture(path, limits), 1));
}

PictureSize probe_picture(const std::string& path, const ImageLimits& limits) {
  const std::vector<std::uint8_t> bytes = read_bounded(path, limits);
  if (bytes.empty())
    throw InputError(path, "the file is empty", std::string("expected ") + kFormats);
  if (is_jpeg(bytes)) return probe_jpeg(bytes, path, limits);
  const HeaderInfo header = read_header(bytes, path, limits);
  return {header.height, header.width};
}

bool has_image_extension(const std::string& path) {
  std::string extension = std::filesystem::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static constexpr std::array<std::string_view, 7> kExtensions = {".png", ".jpg", ".jpeg", ".bmp",
                                                                  ".pgm", ".ppm", ".pnm"};
  return std::find(kExtensions.begin(), kExtensions.end(), extension) != kExtensions.end();
}

namespace {
void append_to_string(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data),
                                             static_cast<std::size_t>(size));
}
}  // namespace

std::string encode_png(const Image& image) {
  IMGCLS_CHECK(image.height >= 1 && image.width >= 1 && image.size() == std::ssize(image.pixels),
               "image {}x{}x{} with {} values", image.height, image.width, image.channels,
               image.pixels.size());
  std::vector<std::uint8_t> bytes(image.pixels.size());
  std::transform(image.pixels.begin(), image.pixels.end(), bytes.begin(), [](float v) {
    return static_cast<std::uint8_t>(std::lround(255.0f * std::clamp(v, 0.0f, 1.0f)));
  });
  std::string png;
  const int width = static_cast<int>(image.width), channels = static_cast<int>(image.channels);
  if (stbi_write_png_to_func(append_to_string, &png, width, static_cast<int>(image.height),
                             channels, bytes.data(), width * channels) == 0)
    throw UsageError(
        fmt::format("stb_image_write could not encode a {}x{} PNG", image.height, image.width));
  return png;
}

std::string encode_png(const GreyImage& image) { return encode_png(to_image(image)); }

void write_png(const std::string& path, const Image& image) {
  write_file_atomically(path, encode_png(image));
}

void write_png(const std::string& path, const GreyImage& image) {
  write_file_atomically(path, encode_png(image));
}

}  // namespace imgcls
