// The C interface (include/imgcls/imgcls.h, libimgcls_c): its error paths (missing and
// damaged files, NULL arguments, short buffers, wrong sizes and strides, for grey and RGB
// pictures) return the documented codes with a message naming the culprit, per thread; and
// its predictions on the fixture model are the expected digits. (c_api_agreement_test and
// c_api_colour_test compare its answers with the C++ library's.)
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "imgcls/imgcls.h"

namespace {

namespace fs = std::filesystem;

const std::string kModel = std::string(IMGCLS_PREDICT_FIXTURES_DIR) + "/seed_model.safetensors";
const std::string kPicture = std::string(IMGCLS_PREDICT_IMAGES_DIR) + "/digits/font_003.bmp";
const std::string kShippedModel = std::string(IMGCLS_SOURCE_DIR) + "/models/digits.safetensors";
constexpr int kSide = 28;
constexpr int kClasses = 10;

std::string last_error() { return imgcls_last_error(); }

// A model loaded once per test, freed after.
class CApi : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = imgcls_model_load(kModel.c_str());
    ASSERT_NE(model_, nullptr) << last_error();
  }
  void TearDown() override { imgcls_model_free(model_); }
  imgcls_model* model_ = nullptr;
};

fs::path scratch_file(const std::string& name, const std::string& bytes) {
  const fs::path path = fs::temp_directory_path() / ("imgcls_c_api_test_" + name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

TEST(CApiLoad, MissingFileIsNullAndNamesTheFile) {
  const std::string path = "/nonexistent/imgcls/model.safetensors";
  EXPECT_EQ(imgcls_model_load(path.c_str()), nullptr);
  EXPECT_NE(last_error().find(path), std::string::npos) << last_error();
}

TEST(CApiLoad, DamagedFileIsNullAndNamesTheFile) {
  std::ifstream in(kModel, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  bytes.resize(bytes.size() / 2);  // truncated
  const fs::path truncated = scratch_file("truncated.safetensors", bytes);
  EXPECT_EQ(imgcls_model_load(truncated.c_str()), nullptr);
  EXPECT_NE(last_error().find(truncated.string()), std::string::npos) << last_error();

  const fs::path garbage = scratch_file("garbage.safetensors", "not a model at all");
  EXPECT_EQ(imgcls_model_load(garbage.c_str()), nullptr);
  EXPECT_NE(last_error().find(garbage.string()), std::string::npos) << last_error();
  fs::remove(truncated);
  fs::remove(garbage);
}

TEST(CApiLoad, NullPathIsAnArgumentError) {
  EXPECT_EQ(imgcls_model_load(nullptr), nullptr);
  EXPECT_NE(last_error().find("imgcls_model_load: path is NULL"), std::string::npos)
      << last_error();
  imgcls_model_free(nullptr);  // allowed
}

TEST(CApiLoad, LastErrorIsPerThread) {
  EXPECT_EQ(imgcls_model_load(nullptr), nullptr);
  std::string other_thread_error = "unset";
  std::thread([&] { other_thread_error = imgcls_last_error(); }).join();
  EXPECT_EQ(other_thread_error, "");
  EXPECT_NE(last_error().find("path is NULL"), std::string::npos);
}

TEST_F(CApi, DescribesTheModel) {
  int height = 0, width = 0;
  EXPECT_EQ(imgcls_model_input_size(model_, &height, &width), IMGCLS_OK);
  EXPECT_EQ(height, kSide);
  EXPECT_EQ(width, kSide);
  EXPECT_EQ(imgcls_model_class_count(model_), kClasses);
  EXPECT_STREQ(imgcls_model_class_name(model_, 7), "7");
  EXPECT_EQ(imgcls_model_class_name(model_, kClasses), nullptr);
  EXPECT_NE(last_error().find("label 10 is not in [0, 10)"), std::string::npos) << last_error();
  EXPECT_EQ(imgcls_model_class_count(nullptr), IMGCLS_ERROR_ARGUMENT);
  EXPECT_EQ(imgcls_model_input_size(model_, nullptr, &width), IMGCLS_ERROR_ARGUMENT);
}

TEST_F(CApi, PredictsAPictureFileAsTheCommandDoes) {
  std::vector<float> probabilities(kClasses);
  const int label =
      imgcls_predict_file(model_, kPicture.c_str(), probabilities.data(), probabilities.size());
  ASSERT_GE(label, 0) << last_error();
  EXPECT_EQ(label, 3);
  EXPECT_NEAR(std::accumulate(probabilities.begin(), probabilities.end(), 0.0), 1.0, 1e-4);
  EXPECT_EQ(last_error(), "");  // a success clears the last error
  // Without an output buffer the label alone.
  EXPECT_EQ(imgcls_predict_file(model_, kPicture.c_str(), nullptr, 0), 3);
}

TEST_F(CApi, Grey8PicturesArePreprocessedLikeFiles) {
  // A dark bar on white paper, 40 x 30 with a padded stride: inverted, cropped and centred.
  constexpr int kWidth = 30, kHeight = 40;
  constexpr std::size_t kStride = 32;
  std::vector<std::uint8_t> grey(kStride * kHeight, 255);
  for (int y = 8; y < 32; ++y)
    for (int x = 14; x < 17; ++x) grey[static_cast<std::size_t>(y) * kStride + x] = 0;
  std::vector<float> probabilities(kClasses);
  const int label = imgcls_predict_grey8(model_, grey.data(), kHeight, kWidth, kStride,
                                         probabilities.data(), probabilities.size());
  ASSERT_GE(label, 0) << last_error();
  EXPECT_EQ(label, 1) << "a vertical bar reads as a one";

  const std::vector<std::uint8_t> blank(kStride * kHeight, 255);
  EXPECT_EQ(imgcls_predict_grey8(model_, blank.data(), kHeight, kWidth, kStride, nullptr, 0),
            IMGCLS_ERROR_INPUT);
  EXPECT_NE(last_error().find("picture"), std::string::npos) << last_error();
  EXPECT_EQ(imgcls_predict_grey8(model_, grey.data(), kHeight, kWidth, kWidth - 1, nullptr, 0),
            IMGCLS_ERROR_ARGUMENT);
  EXPECT_NE(last_error().find("stride is less than width"), std::string::npos) << last_error();
}

// The built-in digits model (models/digits.safetensors) rejects: its class 10, "not a digit",
// is returned for a blank picture (probability 1) and for a filled square; the fixture model
// has no rejection class.
TEST_F(CApi, TheShippedModelRejectsWhatIsNoDigit) {
  int rejection_class = 0;
  ASSERT_EQ(imgcls_model_rejection_class(model_, &rejection_class), IMGCLS_OK) << last_error();
  EXPECT_EQ(rejection_class, -1);
  EXPECT_EQ(imgcls_model_rejection_class(nullptr, &rejection_class), IMGCLS_ERROR_ARGUMENT);
  EXPECT_EQ(imgcls_model_rejection_class(model_, nullptr), IMGCLS_ERROR_ARGUMENT);

  imgcls_model* shipped = imgcls_model_load(kShippedModel.c_str());
  ASSERT_NE(shipped, nullptr) << last_error();
  ASSERT_EQ(imgcls_model_rejection_class(shipped, &rejection_class), IMGCLS_OK) << last_error();
  EXPECT_EQ(rejection_class, kClasses);
  EXPECT_EQ(imgcls_model_class_count(shipped), kClasses + 1);
  EXPECT_STREQ(imgcls_model_class_name(shipped, rejection_class), "not a digit");

  constexpr int kSize = 40;
  std::vector<std::uint8_t> grey(kSize * kSize, 250);
  std::vector<float> probabilities(kClasses + 1, -1.0f);
  EXPECT_EQ(imgcls_predict_grey8(shipped, grey.data(), kSize, kSize, kSize, probabilities.data(),
                                 probabilities.size()),
            rejection_class)
      << last_error();
  EXPECT_EQ(probabilities[kClasses], 1.0f);
  EXPECT_EQ(std::accumulate(probabilities.begin(), probabilities.end(), 0.0f), 1.0f);

  for (int y = 6; y < 34; ++y)
    for (int x = 6; x < 34; ++x) grey[static_cast<std::size_t>(y * kSize + x)] = 20;
  EXPECT_EQ(imgcls_predict_grey8(shipped, grey.data(), kSize, kSize, kSize, probabilities.data(),
                                 probabilities.size()),
            rejection_class)
      << "a filled square is no digit; its probability " << probabilities[kClasses];
  EXPECT_EQ(imgcls_predict_file(shipped, kPicture.c_str(), nullptr, 0), 3) << last_error();
  imgcls_model_free(shipped);
}

TEST_F(CApi, PredictTakesTheModelInputAsItIs) {
  std::vector<float> pixels(kSide * kSide, 0.0f);
  std::vector<float> probabilities(kClasses);
  const int label = imgcls_predict(model_, pixels.data(), kSide, kSide, probabilities.data(),
                                   probabilities.size());
  ASSERT_GE(label, 0) << last_error();
  EXPECT_LT(label, kClasses);
  EXPECT_EQ(imgcls_predict(model_, pixels.data(), kSide - 1, kSide, nullptr, 0),
            IMGCLS_ERROR_ARGUMENT);
  EXPECT_NE(last_error().find("27x28 pixels for a model taking [28, 28, 1]"), std::string::npos)
      << last_error();
}

TEST_F(CApi, NullArgumentsAndShortBuffersAreArgumentErrors) {
  std::vector<float> pixels(kSide * kSide, 0.0f);
  std::vector<float> probabilities(kClasses);
  EXPECT_EQ(imgcls_predict(nullptr, pixels.data(), kSide, kSide, nullptr, 0),
            IMGCLS_ERROR_ARGUMENT);
  EXPECT_NE(last_error().find("imgcls_predict: model or pixels is NULL"), std::string::npos)
      << last_error();
  EXPECT_EQ(imgcls_predict(model_, nullptr, kSide, kSide, nullptr, 0), IMGCLS_ERROR_ARGUMENT);
  EXPECT_EQ(imgcls_predict(model_, pixels.data(), kSide, kSide, probabilities.data(), kClasses - 1),
            IMGCLS_ERROR_ARGUMENT);
  EXPECT_NE(last_error().find("capacity 9 is less than the model's 10 classes"), std::string::npos)
      << last_error();
  EXPECT_EQ(imgcls_predict(model_, pixels.data(), kSide, kSide, nullptr, kClasses),
            IMGCLS_ERROR_ARGUMENT);
  EXPECT_EQ(imgcls_predict_file(model_, nullptr, nullptr, 0), IMGCLS_ERROR_ARGUMENT);
  EXPECT_EQ(imgcls_predict_file(nullptr, kPicture.c_str(), nullptr, 0), IMGCLS_ERROR_ARGUMENT);
  EXPECT_EQ(imgcls_predict_grey8(model_, nullptr, 1, 1, 1, nullptr, 0), IMGCLS_ERROR_ARGUMENT);
}

TEST_F(CApi, Rgb8ArgumentErrorsAreNamed) {
  constexpr int kWidth = 30, kHeight = 40;
  constexpr std::size_t kStride = 3 * kWidth + 2;
  std::vector<std::uint8_t> rgb(kStride * kHeight, 255);
  for (int y = 8; y < 32; ++y)
    for (int x = 14; x < 17; ++x) {  // a dark red bar on white: a one
      rgb[y * kStride + 3 * x] = 170;
      rgb[y * kStride + 3 * x + 1] = 20;
      rgb[y * kStride + 3 * x + 2] = 20;
    }
  std::vector<float> probabilities(kClasses);
  ASSERT_EQ(imgcls_predict_rgb8(model_, rgb.data(), kHeight, kWidth, kStride, probabilities.data(),
                                probabilities.size()),
            1)
      << last_error();

  EXPECT_EQ(imgcls_predict_rgb8(nullptr, rgb.data(), kHeight, kWidth, kStride, nullptr, 0),
            IMGCLS_ERROR_ARGUMENT);
  EXPECT_NE(last_error().find("imgcls_predict_rgb8: model or rgb is NULL"), std::string::npos)
      << last_error();
  EXPECT_EQ(imgcls_predict_rgb8(model_, nullptr, kHeight, kWidth, kStride, nullptr, 0),
            IMGCLS_ERROR_ARGUMENT);
  EXPECT_NE(last_error().find("model or rgb is NULL"), std::string::npos) << last_error();
  // A stride that would do for grey bytes, and one a byte short of 3 * width.
  for (const std::size_t stride : {std::size_t(kWidth), std::size_t(3 * kWidth - 1)}) {
    EXPECT_EQ(imgcls_predict_rgb8(model_, rgb.data(), kHeight, kWidth, stride, nullptr, 0),
              IMGCLS_ERROR_ARGUMENT)
        << "stride " << stride;
    EXPECT_NE(last_error().find("imgcls_predict_rgb8: stride is less than 3 * width"),
              std::string::npos)
        << last_error();
  }
  EXPECT_EQ(imgcls_predict_rgb8(model_, rgb.data(), 0, kWidth, kStride, nullptr, 0),
            IMGCLS_ERROR_ARGUMENT);
  EXPECT_NE(last_error().find("width and height must be at least 1"), std::string::npos)
      << last_error();
  EXPECT_EQ(imgcls_predict_rgb8(model_, rgb.data(), kHeight, kWidth, kStride, probabilities.data(),
                                kClasses - 1),
            IMGCLS_ERROR_ARGUMENT);
  EXPECT_NE(last_error().find("capacity 9 is less than the model's 10 classes"), std::string::npos)
      << last_error();
  EXPECT_EQ(imgcls_predict_rgb8(model_, rgb.data(), kHeight, kWidth, kStride, nullptr, kClasses),
            IMGCLS_ERROR_ARGUMENT);
  EXPECT_NE(last_error().find("probabilities is NULL but capacity is not 0"), std::string::npos)
      << last_error();
  // A blank picture has no digit in it: bad input, not a bad argument.
  const std::vector<std::uint8_t> blank(kStride * kHeight, 200);
  EXPECT_EQ(imgcls_predict_rgb8(model_, blank.data(), kHeight, kWidth, kStride, nullptr, 0),
            IMGCLS_ERROR_INPUT);
  EXPECT_NE(last_error().find("picture"), std::string::npos) << last_error();
}

TEST_F(CApi, InputChannelsOfTheDigitModelAndOfNothing) {
  EXPECT_EQ(imgcls_model_input_channels(model_), 1);
  EXPECT_EQ(imgcls_model_input_channels(nullptr), IMGCLS_ERROR_ARGUMENT);
  EXPECT_NE(last_error().find("imgcls_model_input_channels: model is NULL"), std::string::npos)
      << last_error();
}

TEST_F(CApi, BadPictureFilesAreInputErrorsNamingTheFile) {
  const std::string missing = "/nonexistent/imgcls/digit.png";
  EXPECT_EQ(imgcls_predict_file(model_, missing.c_str(), nullptr, 0), IMGCLS_ERROR_INPUT);
  EXPECT_NE(last_error().find(missing), std::string::npos) << last_error();
  const fs::path damaged = scratch_file("damaged.png", "\x89PNG\r\n\x1a\n truncated");
  EXPECT_EQ(imgcls_predict_file(model_, damaged.c_str(), nullptr, 0), IMGCLS_ERROR_INPUT);
  EXPECT_NE(last_error().find(damaged.string()), std::string::npos) << last_error();
  fs::remove(damaged);
}

}  // namespace
