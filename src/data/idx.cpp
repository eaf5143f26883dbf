// IDX reader. The file is read whole, bounded in size, and inflated in memory when it is
// gzip-compressed (bounded again); nothing is allocated from header values before every
// field is checked: magic, type, dimension count, each dimension, and total size against the
// bytes actually present (short files and trailing bytes are both errors).
#include "data/idx.hpp"

#include <fmt/core.h>
#include <zlib.h>

#include <algorithm>
#include <climits>
#include <filesystem>
#include <fstream>
#include <memory>
#include <new>

#include "core/check.hpp"
#include "core/read_file.hpp"
#include "imgcls/data.hpp"

namespace imgcls {

namespace {

constexpr std::uint8_t kUnsignedByteType = 0x08;
constexpr std::int64_t kMaxFileBytes = std::int64_t{2} << 30;  // 2 GiB, stored and decompressed
constexpr std::int64_t kMaxSide = 4096;
constexpr std::size_t kMinInflateBuffer = 1 << 16;
constexpr int kGzipWindowBits = 16 + MAX_WBITS;  // zlib: expect a gzip wrapper

std::vector<std::uint8_t> read_whole_file(const std::string& path) {
  if (!std::filesystem::exists(path))
    throw InputError(path, "no such file", "check the path, or run scripts/setup.sh for MNIST");
  return read_file_bounded(path, static_cast<std::uint64_t>(kMaxFileBytes), "an IDX file");
}

bool is_gzip(std::span<const std::uint8_t> bytes) {
  return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

// Every gzip member of `compressed`, inflated and concatenated; at most kMaxFileBytes.
std::vector<std::uint8_t> gunzip(std::span<const std::uint8_t> compressed,
                                 const std::string& source) {
  const char* hint = "the file may be corrupt or truncated";
  z_stream stream{};
  if (inflateInit2(&stream, kGzipWindowBits) != Z_OK) throw std::bad_alloc();
  const std::unique_ptr<z_stream, decltype(&inflateEnd)> end_stream(&stream, inflateEnd);
  const std::uint8_t* const in_end = compressed.data() + compressed.size();
  stream.next_in = const_cast<Bytef*>(compressed.data());
  std::vector<std::uint8_t> out(std::max(kMinInflateBuffer, 4 * compressed.size()));
  std::size_t produced = 0;
  for (;;) {
    if (produced == out.size()) {
      if (produced > static_cast<std::size_t>(kMaxFileBytes))
        throw InputError(source,
                         "larger than 2 GiB decompressed; not an IDX file imgcls will read");
      out.resize(std::min(2 * out.size(), static_cast<std::size_t>(kMaxFileBytes) + 1));
    }
    const auto in_left = static_cast<std::size_t>(in_end - stream.next_in);
    stream.avail_in = static_cast<uInt>(std::min<std::size_t>(in_left, UINT_MAX));
    stream.next_out = out.data() + produced;
    stream.avail_out = static_cast<uInt>(std::min<std::size_t>(out.size() - produced, UINT_MAX));
    const uInt room = stream.avail_out;
    const int status = inflate(&stream, Z_NO_FLUSH);
    produced += room - stream.avail_out;
    if (status == Z_STREAM_END) {
      const std::span<const std::uint8_t> rest(stream.next_in, in_end);
      if (rest.empty()) break;
      if (!is_gzip(rest))
        throw InputError(
            source, fmt::format("{} bytes after the gzip stream that are not gzip", rest.size()),
            hint);
      inflateReset(&stream);
    } else if (status == Z_BUF_ERROR) {  // no progress with room to write: the input ran out
      throw InputError(source, "the gzip stream ends early", hint);
    } else if (status != Z_OK) {
      throw InputError(
          source,
          fmt::format("cannot decompress: {}", stream.msg != nullptr ? stream.msg : "zlib error"),
          hint);
    }
  }
  if (produced > static_cast<std::size_t>(kMaxFileBytes))
    throw InputError(source, "larger than 2 GiB decompressed; not an IDX file imgcls will read");
  out.resize(produced);
  return out;
}

std::uint32_t big_endian_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

// Parses and validates the header; returns the dimensions and the offset of the data.
std::vector<std::int64_t> parse_header(const std::string& path, std::span<const std::uint8_t> bytes,
                                       std::size_t expected_dims, std::size_t& data_offset) {
  const char* hint = expected_dims == 3 ? "expected an IDX image file (magic 0x00000803)"
                                        : "expected an IDX label file (magic 0x00000801)";
  if (bytes.size() < 4)
    throw InputError(path, fmt::format("only {} bytes: too short for an IDX header", bytes.size()),
                     hint);
  if (bytes[0] != 0 || bytes[1] != 0)
    throw InputError(path,
                     fmt::format("bad magic number 0x{:02x}{:02x}{:02x}{:02x}", bytes[0], bytes[1],
                                 bytes[2], bytes[3]),
                     hint);
  if (bytes[2] != kUnsignedByteType)
    throw InputError(
        path, fmt::format("element type 0x{:02x} is not unsigned byte (0x08)", bytes[2]), hint);
  if (bytes[3] != expected_dims)
    throw InputError(path, fmt::format("{} dimensions, expected {}", bytes[3], expected_dims),
                     hint);
  data_offset = 4 + 4 * expected_dims;
  if (bytes.size() < data_offset) throw InputError(path, "truncated header", hint);
  std::vector<std::int64_t> dims;
  std::int64_t total = 1;
  for (std::size_t i = 0; i < expected_dims; ++i) {
    const std::int64_t d = big_endian_u32(bytes.data() + 4 + 4 * i);
    if (d == 0) throw InputError(path, fmt::format("dimension {} is zero", i));
    if (i > 0 && d > kMaxSide)
      throw InputError(path, fmt::format("dimension {} is {}, larger than {}", i, d, kMaxSide));
    total *= d;  // bounded: count < 2^32, sides <= 4096
    dims.push_back(d);
  }
  const auto available = static_cast<std::int64_t>(bytes.size() - data_offset);
  if (available < total)
    throw InputError(path,
                     fmt::format("truncated: the header promises {} data bytes, the file has {}",
                                 total, available),
                     "re-download the file (scripts/setup.sh checks MNIST's checksums)");
  if (available > total)
    throw InputError(path,
                     fmt::format("{} unexpected bytes after the {} data bytes the header promises",
                                 available - total, total));
  return dims;
}

// The file's content: `bytes` itself, or inflated into `inflated` when gzip-compressed.
std::span<const std::uint8_t> content_of(std::span<const std::uint8_t> bytes,
                                         const std::string& source,
                                         std::vector<std::uint8_t>& inflated) {
  if (!is_gzip(bytes)) return bytes;
  inflated = gunzip(bytes, source);
  return inflated;
}

}  // namespace

PixelTensor parse_idx_images(std::span<const std::uint8_t> bytes, const std::string& source) {
  std::vector<std::uint8_t> inflated;
  const std::span<const std::uint8_t> content = content_of(bytes, source, inflated);
  std::size_t offset = 0;
  const auto dims = parse_header(source, content, 3, offset);
  const auto count = static_cast<std::size_t>(dims[0] * dims[1] * dims[2]);
  return PixelTensor({dims[0], dims[1], dims[2], 1},
                     std::vector<std::uint8_t>(content.begin() + static_cast<std::ptrdiff_t>(offset),
                                               content.begin() + static_cast<std::ptrdiff_t>(offset + count)));
}

std::vector<std::int32_t> parse_idx_labels(std::span<const std::uint8_t> bytes,
                                           const std::string& source) {
  std::vector<std::uint8_t> inflated;
  const std::span<const std::uint8_t> content = content_of(bytes, source, inflated);
  std::size_t offset = 0;
  parse_header(source, content, 1, offset);
  return std::vector<std::int32_t>(content.begin() + static_cast<std::ptrdiff_t>(offset),
                                   content.end());
}

PixelTensor read_idx_images(const std::string& path) {
  return parse_idx_images(read_whole_file(path), path);
}

std::vector<std::int32_t> read_idx_labels(const std::string& path) {
  return parse_idx_labels(read_whole_file(path), path);
}

Dataset read_idx_dataset(const std::string& images_path, const std::string& labels_path) {
  Dataset data{read_idx_images(images_path), read_idx_labels(labels_path)};
  if (data.images.dim(0) != data.size())
    throw InputError(labels_path,
                     fmt::format("{} labels for the {} images of {}", data.size(),
                                 data.images.dim(0), images_path),
                     "the image and label files must come from the same split");
  return data;
}

namespace {
std::string find_idx_file(const std::string& dir, const std::string& name) {
  const std::filesystem::path plain = std::filesystem::path(dir) / name;
  std::error_code ec;
  if (std::filesystem::exists(plain, ec)) return plain.string();
  const std::filesystem::path gz = std::filesystem::path(dir) / (name + ".gz");
  if (std::filesystem::exists(gz, ec)) return gz.string();
  throw InputError(
      plain.string(), "not found (nor " + gz.filename().string() + ")",
      "run scripts/setup.sh to install MNIST, or give a folder holding the four MNIST files");
}
}  // namespace

// The images file is looked up first, so a missing folder is reported by its images file.
MnistSplits load_mnist(const std::string& dir) {
  const std::string images = find_idx_file(dir, "train-images-idx3-ubyte");
  const std::string labels = find_idx_file(dir, "train-labels-idx1-ubyte");
  return {read_idx_dataset(images, labels), load_mnist_test(dir)};
}

Dataset load_mnist_test(const std::string& dir) {
  const std::string images = find_idx_file(dir, "t10k-images-idx3-ubyte");
  const std::string labels = find_idx_file(dir, "t10k-labels-idx1-ubyte");
  return read_idx_dataset(images, labels);
}

std::vector<std::string> fashion_mnist_class_names() {
  return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
}

}  // namespace imgcls
