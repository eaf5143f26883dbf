// IDX reader. The file is read whole (through zlib, which passes plain files through),
// bounded in size before anything is allocated from header values, then every field is
// checked: magic, type, dimension count, each dimension, and total size against the
// bytes actually present (short files and trailing bytes are both errors).
#include <zlib.h>

#include <filesystem>
#include <fmt/core.h>

#include "core/check.hpp"
#include "imgcls/data.hpp"

namespace imgcls {

namespace {

constexpr std::uint8_t kUnsignedByteType = 0x08;
constexpr std::int64_t kMaxFileBytes = std::int64_t{2} << 30;  // 2 GiB decompressed
constexpr std::int64_t kMaxSide = 4096;
constexpr std::size_t kChunk = 1 << 20;

std::vector<std::uint8_t> read_whole_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw InputError(path, "no such file", "check the path, or run scripts/setup.sh for MNIST");
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) throw InputError(path, "cannot open the file for reading");
  std::vector<std::uint8_t> bytes;
  std::string error;
  for (;;) {
    const std::size_t old_size = bytes.size();
    bytes.resize(old_size + kChunk);
    const int got = gzread(file, bytes.data() + old_size, static_cast<unsigned>(kChunk));
    if (got < 0) {
      int code = 0;
      error = gzerror(file, &code);
      break;
    }
    bytes.resize(old_size + static_cast<std::size_t>(got));
    if (got == 0) break;
    if (static_cast<std::int64_t>(bytes.size()) > kMaxFileBytes) {
      error = "larger than 2 GiB (decompressed); not an IDX file imgcls will read";
      break;
    }
  }
  gzclose(file);
  if (!error.empty()) throw InputError(path, "read failed: " + error, "the file may be corrupt or truncated");
  return bytes;
}

std::uint32_t big_endian_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

// Parses and validates the header; returns the dimensions and the offset of the data.
std::vector<std::int64_t> parse_header(const std::string& path,
                                       const std::vector<std::uint8_t>& bytes,
                                       std::size_t expected_dims, std::size_t& data_offset) {
  const char* hint = expected_dims == 3 ? "expected an IDX image file (magic 0x00000803)"
                                        : "expected an IDX label file (magic 0x00000801)";
  if (bytes.size() < 4) throw InputError(path, fmt::format("only {} bytes: too short for an IDX header", bytes.size()), hint);
  if (bytes[0] != 0 || bytes[1] != 0)
    throw InputError(path, fmt::format("bad magic number 0x{:02x}{:02x}{:02x}{:02x}", bytes[0],
                                       bytes[1], bytes[2], bytes[3]), hint);
  if (bytes[2] != kUnsignedByteType)
    throw InputError(path, fmt::format("element type 0x{:02x} is not unsigned byte (0x08)", bytes[2]), hint);
  if (bytes[3] != expected_dims)
    throw InputError(path, fmt::format("{} dimensions, expected {}", bytes[3], expected_dims), hint);
  data_offset = 4 + 4 * expected_dims;
  if (bytes.size() < data_offset)
    throw InputError(path, "truncated header", hint);
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
    throw InputError(path, fmt::format("truncated: the header promises {} data bytes, the file has {}", total, available),
                     "re-download the file (scripts/setup.sh checks MNIST's checksums)");
  if (available > total)
    throw InputError(path, fmt::format("{} unexpected bytes after the {} data bytes the header promises", available - total, total));
  return dims;
}

}  // namespace

Tensor read_idx_images(const std::string& path) {
  const auto bytes = read_whole_file(path);
  std::size_t offset = 0;
  const auto dims = parse_header(path, bytes, 3, offset);
  Tensor images({dims[0], dims[1], dims[2], 1});
  constexpr float kScale = 1.0f / 255.0f;
  for (std::int64_t i = 0; i < images.size(); ++i)
    images[i] = static_cast<float>(bytes[offset + static_cast<std::size_t>(i)]) * kScale;
  return images;
}

std::vector<std::int32_t> read_idx_labels(const std::string& path) {
  const auto bytes = read_whole_file(path);
  std::size_t offset = 0;
  parse_header(path, bytes, 1, offset);
  return std::vector<std::int32_t>(bytes.begin() + static_cast<std::ptrdiff_t>(offset), bytes.end());
}

Dataset read_idx_dataset(const std::string& images_path, const std::string& labels_path) {
  Dataset data{read_idx_images(images_path), read_idx_labels(labels_path)};
  if (data.images.dim(0) != data.size())
    throw InputError(labels_path, fmt::format("{} labels for the {} images of {}", data.size(),
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
  throw InputError(plain.string(), "not found (nor " + gz.filename().string() + ")",
                   "run scripts/setup.sh, or pass --data with a folder holding the four MNIST files");
}
}  // namespace

MnistSplits load_mnist(const std::string& dir) {
  return {read_idx_dataset(find_idx_file(dir, "train-images-idx3-ubyte"),
                           find_idx_file(dir, "train-labels-idx1-ubyte")),
          load_mnist_test(dir)};
}

Dataset load_mnist_test(const std::string& dir) {
  return read_idx_dataset(find_idx_file(dir, "t10k-images-idx3-ubyte"),
                          find_idx_file(dir, "t10k-labels-idx1-ubyte"));
}

}  // namespace imgcls
