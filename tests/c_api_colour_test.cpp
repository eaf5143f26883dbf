// The C interface (libimgcls_c) on a colour model with named classes and a non-square input
// (tests/support/colour_model.hpp: [20, 24, 3], stretch), against the C++ library:
//  - imgcls_model_input_channels / input_size / class names describe it;
//  - imgcls_predict takes H*W*3 floats as they are;
//  - imgcls_predict_rgb8 (rows padded past 3 * width), imgcls_predict_grey8 (the grey
//    repeated in the three channels) and imgcls_predict_file (colour PNG, JPEG, PPM, BMP, and
//    a grey PGM) prepare pictures as picture_to_input does;
//  - on the grey digit fixture model, imgcls_predict_rgb8 sees the picture's luma.
// The C interface classifies one picture at a time, so its probabilities must equal, bit for
// bit, those of imgcls::predict with batches of 1 (as c_api_agreement_test requires). This
// executable links both the static C++ library and libimgcls_c.so (whose copy of the library
// is hidden inside it); each side loads the model file on its own.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "imgcls/image.hpp"
#include "imgcls/imgcls.h"
#include "imgcls/io.hpp"
#include "imgcls/model.hpp"
#include "imgcls/preprocess.hpp"
#include "imgcls/train.hpp"
#include "support/colour_model.hpp"

namespace imgcls {
namespace {

namespace fs = std::filesystem;
using testing_support::kColourClasses;
using testing_support::kColourHeight;
using testing_support::kColourWidth;
using testing_support::seeded_picture;

const std::string kDigitModel =
    std::string(IMGCLS_PREDICT_FIXTURES_DIR) + "/seed_model.safetensors";
const std::string kDigitsDir = std::string(IMGCLS_PREDICT_IMAGES_DIR) + "/digits";
const int kClasses = int(kColourClasses.size());
constexpr float kMaxLevel = 255.0f;
constexpr std::uint8_t kPadding = 0xAB;  // bytes past a row's end: never read

std::string last_error() { return imgcls_last_error(); }

// 8-bit values of a picture whose values lie on the 8-bit grid in [0, 1], in rows of
// `stride` bytes (the bytes past each row's end set to kPadding).
std::vector<std::uint8_t> bytes_of(const Image& picture, std::size_t stride) {
  const auto row = std::size_t(picture.width * picture.channels);
  std::vector<std::uint8_t> bytes(stride * std::size_t(picture.height), kPadding);
  for (std::int64_t y = 0; y < picture.height; ++y)
    for (std::size_t i = 0; i < row; ++i) {
      const float value = picture.pixels[std::size_t(y) * row + i];
      EXPECT_TRUE(value >= 0.0f && value <= 1.0f) << "a value outside [0, 1]: " << value;
      bytes[std::size_t(y) * stride + i] = std::uint8_t(std::lround(value * kMaxLevel));
    }
  return bytes;
}

// What the C interface returned for one picture.
struct CAnswer {
  int label = -1;
  std::vector<float> probabilities;
};

// Both sides' answers must agree bit for bit (label and every probability).
void expect_same(const CAnswer& c, const std::vector<float>& cpp, const std::string& what) {
  ASSERT_GE(c.label, 0) << what << ": " << last_error();
  ASSERT_EQ(c.probabilities.size(), cpp.size()) << what;
  const auto cpp_label = int(std::max_element(cpp.begin(), cpp.end()) - cpp.begin());
  EXPECT_EQ(c.label, cpp_label) << what;
  for (std::size_t k = 0; k < cpp.size(); ++k)
    EXPECT_EQ(c.probabilities[k], cpp[k]) << what << ", class " << k;
}

class CApiColour : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_path_ = (fs::path(::testing::TempDir()) /
                   ("c_api_colour_model_" + std::to_string(::getpid()) + ".safetensors"))
                      .string();  // one per process: ctest runs each test in its own, in parallel
    testing_support::write_colour_model(model_path_);
    cpp_model_ = new Sequential(load_model(model_path_));
    c_model_ = imgcls_model_load(model_path_.c_str());
  }
  static void TearDownTestSuite() {
    imgcls_model_free(c_model_);
    delete cpp_model_;
    fs::remove(model_path_);
  }
  void SetUp() override { ASSERT_NE(c_model_, nullptr) << last_error(); }

  // The C++ library's probabilities for a model input (no preprocessing), batches of 1.
  static std::vector<float> cpp_input_answer(const Sequential& model, const Image& input) {
    const Tensor p = predict(model, to_batch(std::vector<Image>{input}), 1);
    return {p.data(), p.data() + p.dim(1)};
  }
  // ... and for a picture, prepared as `imgcls predict` prepares one.
  static std::vector<float> cpp_picture_answer(const Sequential& model, const Image& picture) {
    return cpp_input_answer(
        model, picture_to_input(picture, model.input_shape(), model.preprocessing(), "picture"));
  }

  static inline std::string model_path_;
  static inline Sequential* cpp_model_ = nullptr;
  static inline imgcls_model* c_model_ = nullptr;
};

TEST_F(CApiColour, DescribesTheColourModel) {
  int height = 0, width = 0;
  EXPECT_EQ(imgcls_model_input_size(c_model_, &height, &width), IMGCLS_OK);
  EXPECT_EQ(height, kColourHeight);
  EXPECT_EQ(width, kColourWidth);
  EXPECT_EQ(imgcls_model_input_channels(c_model_), 3);
  EXPECT_EQ(imgcls_model_class_count(c_model_), kClasses);
  for (int c = 0; c < kClasses; ++c)
    EXPECT_STREQ(imgcls_model_class_name(c_model_, c), kColourClasses[std::size_t(c)].c_str());

  imgcls_model* digits = imgcls_model_load(kDigitModel.c_str());
  ASSERT_NE(digits, nullptr) << last_error();
  EXPECT_EQ(imgcls_model_input_channels(digits), 1);
  imgcls_model_free(digits);
}

TEST_F(CApiColour, PredictTakesHeightTimesWidthTimesThreeFloats) {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const Image input = seeded_picture(kColourHeight, kColourWidth, 3, seed);
    CAnswer c;
    c.probabilities.resize(std::size_t(kClasses));
    c.label = imgcls_predict(c_model_, input.pixels.data(), int(kColourHeight), int(kColourWidth),
                             c.probabilities.data(), c.probabilities.size());
    expect_same(c, cpp_input_answer(*cpp_model_, input), "input " + std::to_string(seed));
  }
  // Height and width swapped: refused, naming the model's input.
  const Image input = seeded_picture(kColourHeight, kColourWidth, 3, 1);
  EXPECT_EQ(imgcls_predict(c_model_, input.pixels.data(), int(kColourWidth), int(kColourHeight),
                           nullptr, 0),
            IMGCLS_ERROR_ARGUMENT);
  EXPECT_NE(last_error().find("24x20 pixels for a model taking [20, 24, 3]"), std::string::npos)
      << last_error();
}

TEST_F(CApiColour, Rgb8WithPaddedRowsMatchesTheLibrary) {
  // Larger, smaller, and of the input's own size; rows padded by 1 to 7 bytes.
  const std::vector<std::pair<int, int>> sizes = {{37, 51}, {20, 24}, {9, 7}, {64, 13}};
  std::uint64_t seed = 20;
  for (const auto& [height, width] : sizes) {
    const Image picture = seeded_picture(height, width, 3, ++seed);
    const std::size_t stride = 3 * std::size_t(width) + 1 + seed % 7;
    const std::vector<std::uint8_t> rgb = bytes_of(picture, stride);
    CAnswer c;
    c.probabilities.resize(std::size_t(kClasses));
    c.label = imgcls_predict_rgb8(c_model_, rgb.data(), height, width, stride,
                                  c.probabilities.data(), c.probabilities.size());
    const std::vector<float> expected = cpp_picture_answer(*cpp_model_, picture);
    const std::string what = std::to_string(height) + "x" + std::to_string(width);
    expect_same(c, expected, what + ", stride " + std::to_string(stride));
    // Unpadded rows: the same answer.
    const std::vector<std::uint8_t> packed = bytes_of(picture, 3 * std::size_t(width));
    c.label = imgcls_predict_rgb8(c_model_, packed.data(), height, width, 3 * std::size_t(width),
                                  c.probabilities.data(), c.probabilities.size());
    expect_same(c, expected, what + ", unpadded");
  }
}

TEST_F(CApiColour, TheAnswersTellRedFromBlue) {
  // The comparisons here can fail: swapping red and blue changes the probabilities.
  const Image picture = seeded_picture(kColourHeight, kColourWidth, 3, 8);
  Image swapped = picture;
  for (std::size_t i = 0; i < swapped.pixels.size(); i += 3)
    std::swap(swapped.pixels[i], swapped.pixels[i + 2]);
  const std::vector<float> a = cpp_picture_answer(*cpp_model_, picture);
  const std::vector<float> b = cpp_picture_answer(*cpp_model_, swapped);
  float largest = 0;
  for (std::size_t k = 0; k < a.size(); ++k) largest = std::max(largest, std::abs(a[k] - b[k]));
  EXPECT_GT(largest, 1e-4f);
}

TEST_F(CApiColour, Grey8OnAColourModelRepeatsTheGrey) {
  constexpr int kHeight = 33, kWidth = 29;
  constexpr std::size_t kStride = kWidth + 3;
  const Image grey = seeded_picture(kHeight, kWidth, 1, 31);
  const std::vector<std::uint8_t> bytes = bytes_of(grey, kStride);
  CAnswer c;
  c.probabilities.resize(std::size_t(kClasses));
  c.label = imgcls_predict_grey8(c_model_, bytes.data(), kHeight, kWidth, kStride,
                                 c.probabilities.data(), c.probabilities.size());
  expect_same(c, cpp_picture_answer(*cpp_model_, grey), "grey picture");
  // The grey as red = green = blue through imgcls_predict_rgb8: the same answer.
  const std::vector<std::uint8_t> rgb = bytes_of(with_channels(grey, 3), 3 * kWidth);
  CAnswer as_rgb;
  as_rgb.probabilities.resize(std::size_t(kClasses));
  as_rgb.label = imgcls_predict_rgb8(c_model_, rgb.data(), kHeight, kWidth, 3 * kWidth,
                                     as_rgb.probabilities.data(), as_rgb.probabilities.size());
  expect_same(as_rgb, c.probabilities, "the grey picture as RGB");
}

TEST_F(CApiColour, PredictFileOnColourFilesMatchesTheLibrary) {
  // A colour PNG written here, and the colour pictures of tests/images (PNG, JPEG, PPM, BMP),
  // and a grey one (PGM).
  const std::string written = (fs::path(::testing::TempDir()) / "c_api_colour.png").string();
  write_png(written, seeded_picture(41, 35, 3, 50));
  const std::vector<std::string> files = {
      written,
      kDigitsDir + "/colour_000.png",
      kDigitsDir + "/colour_001.jpg",
      kDigitsDir + "/colour_002.ppm",
      kDigitsDir + "/colour_003.bmp",
      kDigitsDir + "/dark_004.pgm",
  };
  for (const std::string& file : files) {
    const Image picture = read_picture(file);
    EXPECT_EQ(picture.channels, file.ends_with(".pgm") ? 1 : 3) << file;
    CAnswer c;
    c.probabilities.resize(std::size_t(kClasses));
    c.label =
        imgcls_predict_file(c_model_, file.c_str(), c.probabilities.data(), c.probabilities.size());
    expect_same(c, cpp_picture_answer(*cpp_model_, picture), file);
  }
  fs::remove(written);
}

TEST_F(CApiColour, TooLittleRoomForTheClassesIsAnArgumentError) {
  const Image picture = seeded_picture(10, 10, 3, 4);
  const std::vector<std::uint8_t> rgb = bytes_of(picture, 30);
  std::vector<float> probabilities(static_cast<std::size_t>(kClasses));
  EXPECT_EQ(imgcls_predict_rgb8(c_model_, rgb.data(), 10, 10, 30, probabilities.data(),
                                std::size_t(kClasses - 1)),
            IMGCLS_ERROR_ARGUMENT);
  EXPECT_NE(last_error().find("capacity 3 is less than the model's 4 classes"), std::string::npos)
      << last_error();
  // Without an output buffer, the label alone.
  EXPECT_GE(imgcls_predict_rgb8(c_model_, rgb.data(), 10, 10, 30, nullptr, 0), 0) << last_error();
}

TEST(CApiRgb8OnAGreyModel, SeesTheLuma) {
  // A colour picture of a digit through imgcls_predict_rgb8 on the grey digit model: the
  // same answer as the library on the picture's Rec. 601 luma, digit preprocessing and all.
  const Sequential cpp_model = load_model(kDigitModel);
  imgcls_model* c_model = imgcls_model_load(kDigitModel.c_str());
  ASSERT_NE(c_model, nullptr) << last_error();
  for (const char* name : {"colour_000.png", "colour_005.png", "colour_001.jpg"}) {
    const Image picture = read_picture(kDigitsDir + "/" + name);
    ASSERT_EQ(picture.channels, 3) << name;
    const std::size_t stride = 3 * std::size_t(picture.width) + 2;
    const std::vector<std::uint8_t> rgb = bytes_of(picture, stride);
    CAnswer c;
    c.probabilities.resize(10);
    c.label = imgcls_predict_rgb8(c_model, rgb.data(), int(picture.height), int(picture.width),
                                  stride, c.probabilities.data(), c.probabilities.size());
    const Image luma = with_channels(picture, 1);
    const Tensor p = predict(cpp_model,
                             to_batch(std::vector<Image>{picture_to_input(
                                 luma, cpp_model.input_shape(), cpp_model.preprocessing(), name)}),
                             1);
    expect_same(c, {p.data(), p.data() + p.dim(1)}, name);
  }
  imgcls_model_free(c_model);
}

}  // namespace
}  // namespace imgcls
