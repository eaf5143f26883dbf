// Picture decoding (imgcls/image.hpp): every format against an independent decoder
// (Pillow's values, committed by tests/images/make_images.py), grey conversion and alpha
// compositing, the PNG writer, and bad files: each rejected with an InputError that names
// the file, before anything large is allocated.
#include "data/image.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "imgcls/error.hpp"
#include "imgcls/image.hpp"

namespace imgcls {
namespace {

namespace fs = std::filesystem;

const std::string kFormatsDir = std::string(IMGCLS_PREDICT_IMAGES_DIR) + "/formats";

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A scratch folder per test, removed afterwards.
class ScratchDir {
 public:
  ScratchDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() / ("imgcls_image_test_" + std::string(info->name()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDir() { fs::remove_all(path_); }
  std::string file(const std::string& name, const std::string& bytes) const {
    const std::string path = (path_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

 private:
  fs::path path_;
};

// The InputError read_image throws for `path`; fails the test when none is thrown.
std::string read_error(const std::string& path) {
  try {
    read_image(path);
  } catch (const InputError& e) {
    EXPECT_EQ(e.source(), path);
    return e.what();
  }
  ADD_FAILURE() << path << " was decoded";
  return {};
}

TEST(ImageDecode, EveryFormatMatchesPillow) {
  std::ifstream in(kFormatsDir + "/expected.json");
  ASSERT_TRUE(in) << "missing " << kFormatsDir << "/expected.json";
  const nlohmann::json expected = nlohmann::json::parse(in);
  ASSERT_GE(expected.size(), 15u);
  for (const auto& [file, want] : expected.items()) {
    SCOPED_TRACE(file);
    const GreyImage image = read_image(kFormatsDir + "/" + file);
    ASSERT_EQ(image.height, want["height"].get<std::int64_t>());
    ASSERT_EQ(image.width, want["width"].get<std::int64_t>());
    const auto grey = want["grey"].get<std::vector<double>>();
    ASSERT_EQ(grey.size(), image.pixels.size());
    const double tolerance = want["tolerance"].get<double>();
    double worst = 0.0;
    for (std::size_t i = 0; i < grey.size(); ++i)
      worst = std::max(worst, std::abs(double(image.pixels[i]) - grey[i]));
    EXPECT_LE(worst, tolerance) << want["format"];
  }
}

TEST(ImageDecode, SixteenBitKeepsItsPrecision) {
  // Rounded to 8 bits, the pattern would be off by up to 1/510 somewhere.
  const GreyImage png16 = read_image(kFormatsDir + "/pattern_png16.png");
  bool off_the_8_bit_grid = false;
  for (float v : png16.pixels)
    off_the_8_bit_grid |= std::abs(v * 255.0f - std::round(v * 255.0f)) > 0.05f;
  EXPECT_TRUE(off_the_8_bit_grid);
}

TEST(ImageDecode, TransparentPixelsAreWhitePaper) {
  // Alpha 0 -> white whatever the colour; alpha 255 -> the colour's luma; half -> between.
  const std::vector<std::uint8_t> rgba = {0, 0, 0, 0, 0, 0, 0, 255, 255, 0, 0, 255, 0, 0, 0, 128};
  const GreyImage grey = samples_to_grey(rgba, 1, 4, 4);
  EXPECT_FLOAT_EQ(grey.pixels[0], 1.0f);
  EXPECT_FLOAT_EQ(grey.pixels[1], 0.0f);
  EXPECT_NEAR(grey.pixels[2], 0.299f, 1e-6);
  EXPECT_NEAR(grey.pixels[3], 1.0f - 128.0f / 255.0f, 1e-6);
  const std::vector<std::uint16_t> grey_alpha = {65535, 0, 0, 32768};
  const GreyImage grey16 = samples_to_grey(grey_alpha, 1, 2, 2);
  EXPECT_FLOAT_EQ(grey16.pixels[0], 1.0f);
  EXPECT_NEAR(grey16.pixels[1], 1.0f - 32768.0f / 65535.0f, 1e-6);
}

TEST(ImageDecode, FolderScanPicksPicturesByExtension) {
  EXPECT_TRUE(has_image_extension("a/b/Seven.PNG"));
  EXPECT_TRUE(has_image_extension("x.jpeg"));
  EXPECT_TRUE(has_image_extension("x.pgm"));
  EXPECT_FALSE(has_image_extension("labels.csv"));
  EXPECT_FALSE(has_image_extension("png"));
}

TEST(ImageWrite, PngRoundTrips) {
  ScratchDir dir;
  GreyImage image(3, 5);
  for (std::int64_t i = 0; i < image.size(); ++i)
    image.pixels[static_cast<std::size_t>(i)] = float(i) / 14.0f;
  const std::string path = dir.file("out.png", "");
  write_png(path, image);
  const GreyImage back = read_image(path);
  ASSERT_EQ(back.height, 3);
  ASSERT_EQ(back.width, 5);
  for (std::size_t i = 0; i < image.pixels.size(); ++i)
    EXPECT_NEAR(back.pixels[i], image.pixels[i], 0.5 / 255.0 + 1e-6);
}

TEST(ImageErrors, MissingFile) {
  EXPECT_NE(read_error("/nonexistent/digit.png").find("no such file"), std::string::npos);
}

TEST(ImageErrors, EmptyFile) {
  ScratchDir dir;
  const std::string path = dir.file("empty.png", "");
  EXPECT_NE(read_error(path).find("empty"), std::string::npos);
}

TEST(ImageErrors, GarbageBytes) {
  ScratchDir dir;
  const std::string path = dir.file("garbage.jpg", "this is not a picture at all, only text\n");
  const std::string message = read_error(path);
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("not a readable picture"), std::string::npos) << message;
}

TEST(ImageErrors, TruncatedPng) {
  ScratchDir dir;
  const std::string png = read_bytes(kFormatsDir + "/pattern_png-rgb.png");
  ASSERT_GT(png.size(), 100u);
  const std::string path = dir.file("truncated.png", png.substr(0, png.size() / 2));
  const std::string message = read_error(path);
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("cannot decode"), std::string::npos) << message;
}

// A PNG signature and IHDR claiming width x height, 8-bit grey, and nothing else.
std::string png_header(std::uint32_t width, std::uint32_t height) {
  std::string bytes = "\x89PNG\r\n\x1a\n";
  const auto u32 = [&](std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
      bytes.push_back(static_cast<char>((v >> shift) & 0xff));
  };
  u32(13);
  bytes += "IHDR";
  u32(width);
  u32(height);
  bytes += std::string("\x08\x00\x00\x00\x00", 5);
  u32(0);  // CRC; stb_image does not check it
  return bytes;
}

TEST(ImageErrors, AbsurdDimensionsAreRejectedFromTheHeader) {
  ScratchDir dir;
  const std::string png = dir.file("huge.png", png_header(20000, 20000));
  std::string message = read_error(png);
  EXPECT_NE(message.find(png), std::string::npos) << message;
  EXPECT_NE(message.find("20000x20000"), std::string::npos) << message;

  // Beyond what stb_image itself accepts in a header: still named, with the size.
  const std::string absurd = dir.file("absurd.png", png_header(100000, 100000));
  message = read_error(absurd);
  EXPECT_NE(message.find(absurd), std::string::npos) << message;
  EXPECT_NE(message.find("100000x100000"), std::string::npos) << message;

  std::string bmp = "BM" + std::string(24, '\0');
  bmp[14] = 40;                          // BITMAPINFOHEADER
  bmp[18] = bmp[19] = bmp[20] = '\x7f';  // width 0x007f7f7f
  bmp[22] = '\x10';                      // height 16
  message = read_error(dir.file("huge.bmp", bmp));
  EXPECT_NE(message.find("8355711x16"), std::string::npos) << message;

  // A JPEG start-of-frame claiming 60000x50000.
  const std::string jpeg(
      "\xff\xd8\xff\xc0\x00\x11\x08\xc3\x50\xea\x60\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01", 21);
  message = read_error(dir.file("huge.jpg", jpeg));
  EXPECT_NE(message.find("60000x50000"), std::string::npos) << message;

  const std::string pgm = dir.file("huge.pgm", "P5\n9000 10\n255\n" + std::string(16, '\0'));
  message = read_error(pgm);
  EXPECT_NE(message.find("9000x10"), std::string::npos) << message;

  // Under 8192 a side but over 40 million pixels in all.
  const std::string many = dir.file("many.png", png_header(8000, 8000));
  message = read_error(many);
  EXPECT_NE(message.find("8000x8000"), std::string::npos) << message;
}

TEST(ImageErrors, LimitsAreTheCallers) {
  ScratchDir dir;
  const std::string path = kFormatsDir + "/pattern_png-grey.png";
  EXPECT_THROW(read_image(path, {.max_side = 15}), InputError);
  EXPECT_THROW(read_image(path, {.max_pixels = 100}), InputError);
  EXPECT_THROW(read_image(path, {.max_file_bytes = 10}), InputError);
  EXPECT_NO_THROW(read_image(path, {.max_side = 16, .max_pixels = 192}));
}

}  // namespace
}  // namespace imgcls
