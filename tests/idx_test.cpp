// The IDX reader (imgcls/data.hpp): small image and label files written here, plain and
// gzip-compressed, load identically, as [N, rows, cols, 1] scaled to [0, 1]; and every kind
// of damaged file is refused with an InputError whose message names the file and the
// problem: bad magic, wrong element type, wrong dimension count, truncated header, truncated
// data, trailing bytes, a zero or absurd dimension, image/label count mismatch, missing file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "imgcls/data.hpp"
#include "imgcls/error.hpp"

namespace imgcls {
namespace {

using Bytes = std::vector<std::uint8_t>;
using testing::AllOf;
using testing::HasSubstr;

constexpr std::uint8_t kUnsignedByte = 0x08;

void append_big_endian(Bytes& bytes, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8)
    bytes.push_back(static_cast<std::uint8_t>(value >> shift));
}

// An IDX file: magic 0x0000 <type> <dims>, the dimensions, then `data`.
Bytes idx_file(std::uint8_t type, const std::vector<std::uint32_t>& dims, const Bytes& data) {
  Bytes bytes{0, 0, type, static_cast<std::uint8_t>(dims.size())};
  for (std::uint32_t d : dims) append_big_endian(bytes, d);
  bytes.insert(bytes.end(), data.begin(), data.end());
  return bytes;
}

// 3 images of 2x4 pixels holding 0, 5, 10, ... (the last pixel 255) and their labels.
constexpr std::uint32_t kCount = 3, kRows = 2, kCols = 4;
Bytes image_pixels() {
  Bytes pixels;
  for (std::uint32_t i = 0; i < kCount * kRows * kCols; ++i)
    pixels.push_back(static_cast<std::uint8_t>(i * 5));
  pixels.back() = 255;
  return pixels;
}
Bytes good_images() { return idx_file(kUnsignedByte, {kCount, kRows, kCols}, image_pixels()); }
Bytes good_labels() { return idx_file(kUnsignedByte, {kCount}, {7, 0, 9}); }

// A fresh folder under the system temp dir, removed at the end of each test.
class IdxTest : public testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = std::filesystem::temp_directory_path() /
           ("imgcls_idx_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const Bytes& bytes) {
    const std::string path = (dir_ / name).string();
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    EXPECT_TRUE(out.good()) << path;
    return path;
  }

  std::string write_gzip(const std::string& name, const Bytes& bytes) {
    const std::string path = (dir_ / name).string();
    gzFile file = gzopen(path.c_str(), "wb");
    EXPECT_NE(file, nullptr) << path;
    if (file == nullptr) return path;
    EXPECT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())),
              static_cast<int>(bytes.size()));
    EXPECT_EQ(gzclose(file), Z_OK);
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(IdxTest, PlainAndGzipLoadIdenticallyAsBytesMeaningUnitRange) {
  const PixelTensor plain = read_idx_images(write("images", good_images()));
  const PixelTensor gzipped = read_idx_images(write_gzip("images.gz", good_images()));
  ASSERT_EQ(plain.shape(), (Shape{kCount, kRows, kCols, 1}));
  EXPECT_EQ(gzipped.shape(), plain.shape());
  EXPECT_EQ(gzipped.values(), plain.values());
  const Bytes pixels = image_pixels();
  for (std::int64_t i = 0; i < plain.size(); ++i)
    EXPECT_EQ(plain.data()[i], static_cast<std::uint8_t>(pixels[static_cast<std::size_t>(i)])) << i;
  const Tensor values = plain.to_unit();
  for (std::int64_t i = 0; i < values.size(); ++i)
    EXPECT_FLOAT_EQ(
        values[i],
        static_cast<float>(static_cast<std::uint8_t>(pixels[static_cast<std::size_t>(i)])) / 255.0f)
        << i;
  EXPECT_EQ(values[0], 0.0f);
  EXPECT_EQ(values[values.size() - 1], 1.0f);

  const std::vector<std::int32_t> expected_labels{7, 0, 9};
  EXPECT_EQ(read_idx_labels(write("labels", good_labels())), expected_labels);
  EXPECT_EQ(read_idx_labels(write_gzip("labels.gz", good_labels())), expected_labels);
}

TEST_F(IdxTest, DatasetPairsImagesWithLabels) {
  const Dataset data =
      read_idx_dataset(write_gzip("images.gz", good_images()), write("labels", good_labels()));
  EXPECT_EQ(data.size(), 3);
  EXPECT_EQ(data.images.shape(), (Shape{kCount, kRows, kCols, 1}));
  EXPECT_EQ(data.labels, (std::vector<std::int32_t>{7, 0, 9}));
}

// Expects reading `path` as images (or labels) to throw an InputError whose message holds the
// path and every fragment in `problem`.
template <class Read>
void expect_input_error(Read read, const std::string& path,
                        const std::vector<std::string>& problem) {
  try {
    read(path);
    ADD_FAILURE() << "no error for " << path;
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr(path));
    EXPECT_EQ(e.source(), path);
    for (const std::string& fragment : problem) EXPECT_THAT(e.what(), HasSubstr(fragment));
  }
}
const auto read_images = [](const std::string& path) { read_idx_images(path); };
const auto read_labels = [](const std::string& path) { read_idx_labels(path); };

TEST_F(IdxTest, BadMagic) {
  Bytes bytes = good_images();
  bytes[0] = 0x1f;  // not 0x00
  expect_input_error(read_images, write("magic", bytes), {"bad magic number", "0x1f000803"});
}

TEST_F(IdxTest, WrongTypeByte) {
  Bytes bytes = good_images();
  bytes[2] = 0x0d;  // float32 elements
  expect_input_error(read_images, write("type", bytes), {"element type 0x0d", "unsigned byte"});
}

TEST_F(IdxTest, WrongDimensionCount) {
  // A label file (1 dimension) read as images (3 dimensions), and the other way round.
  expect_input_error(read_images, write("labels_as_images", good_labels()),
                     {"1 dimensions, expected 3"});
  expect_input_error(read_labels, write("images_as_labels", good_images()),
                     {"3 dimensions, expected 1"});
}

TEST_F(IdxTest, TruncatedHeader) {
  const Bytes bytes = good_images();
  expect_input_error(read_images, write("header_10", Bytes(bytes.begin(), bytes.begin() + 10)),
                     {"truncated header"});
  expect_input_error(read_images, write("header_3", Bytes(bytes.begin(), bytes.begin() + 3)),
                     {"too short for an IDX header"});
  expect_input_error(read_labels, write("empty", Bytes{}), {"too short for an IDX header"});
}

TEST_F(IdxTest, TruncatedData) {
  Bytes bytes = good_images();
  bytes.pop_back();
  expect_input_error(read_images, write("short", bytes),
                     {"truncated", "promises 24 data bytes", "has 23"});
  Bytes labels = good_labels();
  labels.pop_back();
  expect_input_error(read_labels, write_gzip("short.gz", labels),
                     {"truncated", "promises 3 data bytes", "has 2"});
}

TEST_F(IdxTest, TrailingBytes) {
  Bytes bytes = good_images();
  bytes.push_back(0);
  bytes.push_back(0);
  expect_input_error(read_images, write("long", bytes), {"2 unexpected bytes after"});
}

TEST_F(IdxTest, ZeroDimension) {
  expect_input_error(read_images, write("zero_rows", idx_file(kUnsignedByte, {3, 0, 4}, {})),
                     {"dimension 1 is zero"});
  expect_input_error(read_labels, write("zero_count", idx_file(kUnsignedByte, {0}, {})),
                     {"dimension 0 is zero"});
}

TEST_F(IdxTest, AbsurdDimensionIsRefusedBeforeAllocating) {
  // A side of 100000 pixels is over the 4096 limit: refused from the header alone.
  expect_input_error(read_images,
                     write("huge_rows", idx_file(kUnsignedByte, {3, 100000, 4}, image_pixels())),
                     {"dimension 1 is 100000", "larger than 4096"});
  // 4 billion images of 4096 x 4096 pass the side limit; the promised 7e16 bytes are checked
  // against the file, not allocated.
  expect_input_error(read_images,
                     write("huge_count", idx_file(kUnsignedByte, {0xffffffffu, 4096, 4096}, {})),
                     {"truncated", "has 0"});
}

TEST_F(IdxTest, CountMismatchBetweenImagesAndLabels) {
  const std::string images = write("images", good_images());
  const std::string labels = write("labels4", idx_file(kUnsignedByte, {4}, {1, 2, 3, 4}));
  try {
    read_idx_dataset(images, labels);
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr(labels), HasSubstr(images),
                                HasSubstr("4 labels for the 3 images")));
  }
}

TEST_F(IdxTest, MissingFile) {
  const std::string path = (dir_ / "does-not-exist").string();
  expect_input_error(read_images, path, {"no such file"});
  expect_input_error(read_labels, path, {"no such file"});
  // A folder is not a file either.
  expect_input_error(read_images, dir_.string(), {"not a regular file"});
}

TEST_F(IdxTest, CorruptGzipStream) {
  // A gzip header followed by garbage: zlib must report it, not return garbage pixels.
  Bytes bytes{0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03};
  for (int i = 0; i < 64; ++i) bytes.push_back(static_cast<std::uint8_t>(0xa5 ^ i));
  expect_input_error(read_images, write("corrupt.gz", bytes), {});
}

TEST_F(IdxTest, LoadMnistTakesPlainOrGzipAndNamesTheMissingFile) {
  write("train-images-idx3-ubyte", good_images());
  write_gzip("train-labels-idx1-ubyte.gz", good_labels());
  write_gzip("t10k-images-idx3-ubyte.gz", good_images());
  try {
    load_mnist(dir_.string());
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr((dir_ / "t10k-labels-idx1-ubyte").string()));
    EXPECT_THAT(e.what(), HasSubstr("not found (nor t10k-labels-idx1-ubyte.gz)"));
  }
  write("t10k-labels-idx1-ubyte", good_labels());
  const MnistSplits mnist = load_mnist(dir_.string());
  EXPECT_EQ(mnist.train.size(), 3);
  EXPECT_EQ(mnist.test.size(), 3);
  EXPECT_EQ(mnist.test.images.values(), mnist.train.images.values());
}

}  // namespace
}  // namespace imgcls
