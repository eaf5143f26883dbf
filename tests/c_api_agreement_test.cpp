// The C interface (libimgcls_c) answers as the C++ library does, on the committed seed
// model (tests/fixtures) and the same images:
//  - imgcls_predict on the 10,000 MNIST test images against imgcls::predict over the
//    whole set (batches of 32, as `imgcls predict` and evaluate run it);
//  - imgcls_predict_grey8 on MNIST digits as 8-bit pictures (as stored, and inverted to dark
//    ink on white paper with a padded stride) against picture_to_input + predict;
//  - imgcls_predict_file on every picture of tests/images/digits against read_image +
//    picture_to_input + predict, as cli/predict.cpp does; and imgcls_predict_grey8 on the
//    same pictures rounded to 8 bits.
// The C interface classifies one image at a time: its probabilities must equal, bit for
// bit, those of imgcls::predict run with batches of 1, and its labels theirs. Against the
// batched C++ run (what `imgcls predict` prints) they must agree within kBatchedTolerance:
// oneDNN sums in another order for a batch of 32 than for 1 (observed: up to 9.5e-7, 2^-20,
// on this AVX-512 machine; other kernels may differ more), and labels exactly. The largest
// differences seen are printed. This executable links both the static C++ library
// and libimgcls_c.so: the .so keeps its own copy of the library with hidden symbols
// (--exclude-libs), so the two copies do not mix, and each side loads its own model.
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "imgcls/data.hpp"
#include "imgcls/image.hpp"
#include "imgcls/imgcls.h"
#include "imgcls/io.hpp"
#include "imgcls/model.hpp"
#include "imgcls/preprocess.hpp"
#include "imgcls/train.hpp"

namespace imgcls {
namespace {

namespace fs = std::filesystem;
using i64 = std::int64_t;

const std::string kModel = std::string(IMGCLS_PREDICT_FIXTURES_DIR) + "/seed_model.safetensors";
const std::string kDigitsDir = std::string(IMGCLS_PREDICT_IMAGES_DIR) + "/digits";
constexpr int kSide = 28;
constexpr int kClasses = 10;
// C interface against the C++ library's batches of 32 (see the top of the file).
constexpr double kBatchedTolerance = 1e-5;
constexpr int kGrey8Images = 2000;  // MNIST test images also passed as 8-bit pictures
constexpr float kMaxGrey = 255.0f;

int argmax(const float* row) { return int(std::max_element(row, row + kClasses) - row); }

// The C++ library's probabilities [N, classes] for a set of images: with batches of 1 (the
// C interface's arithmetic) and of 32 (kInferenceBatch, the command line's).
struct Expected {
  Tensor single, batched;
};

Expected expected_for(Sequential& model, const Tensor& inputs) {
  return {predict(model, inputs, 1), predict(model, inputs)};
}

// The C interface's answers compared with the C++ library's, image by image. The first
// few disagreements are described; finish() fails the test if there was any.
class Agreement {
 public:
  Agreement(std::string what, const Expected& expected)
      : what_(std::move(what)), expected_(expected) {}

  // Image n: the C interface returned `label` and the probabilities `got`.
  void check(i64 n, const std::string& image, int label, const float* got) {
    ++images_;
    if (label < 0) return disagree(image + ": the C interface failed: " + imgcls_last_error());
    const float* single = expected_.single.data() + n * kClasses;
    const float* batched = expected_.batched.data() + n * kClasses;
    if (label != argmax(single) || label != argmax(batched))
      disagree(fmt::format("{}: label {}, C++ {} (batches of 1), {} (batched)", image, label,
                           argmax(single), argmax(batched)));
    for (int c = 0; c < kClasses; ++c) {
      const double single_difference = std::abs(double(got[c]) - double(single[c]));
      const double batched_difference = std::abs(double(got[c]) - double(batched[c]));
      max_single_difference_ = std::max(max_single_difference_, single_difference);
      max_batched_difference_ = std::max(max_batched_difference_, batched_difference);
      if (got[c] != single[c] || batched_difference > kBatchedTolerance)
        disagree(fmt::format("{}, class {}: C {}, C++ {} (batches of 1), {} (batched)", image, c,
                             got[c], single[c], batched[c]));
    }
  }

  void finish() const {
    std::cout << "  measured " << what_ << ": " << images_
              << " images; largest probability difference " << max_single_difference_
              << " against C++ batches of 1, " << max_batched_difference_ << " against batches of "
              << kInferenceBatch << "\n";
    EXPECT_EQ(disagreements_, 0) << what_ << ": " << disagreements_ << " disagreements";
  }

 private:
  static constexpr int kShown = 5;
  void disagree(const std::string& message) {
    if (++disagreements_ <= kShown) ADD_FAILURE() << what_ << ", " << message;
  }

  std::string what_;
  const Expected& expected_;
  i64 images_ = 0, disagreements_ = 0;
  double max_single_difference_ = 0, max_batched_difference_ = 0;
};

class CApiAgreement : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cpp_model_ = new Sequential(load_model(kModel));
    c_model_ = imgcls_model_load(kModel.c_str());
    const std::string mnist_dir = IMGCLS_MNIST_DIR;
    if (fs::exists(fs::path(mnist_dir) / "t10k-images-idx3-ubyte") ||
        fs::exists(fs::path(mnist_dir) / "t10k-images-idx3-ubyte.gz"))
      mnist_ = new Dataset(load_mnist_test(mnist_dir));
  }
  static void TearDownTestSuite() {
    imgcls_model_free(c_model_);
    delete cpp_model_;
    delete mnist_;
  }
  void SetUp() override {
    ASSERT_NE(c_model_, nullptr) << imgcls_last_error();
    ASSERT_EQ(imgcls_model_class_count(c_model_), kClasses);
    ASSERT_EQ(cpp_model_->preprocessing(), Preprocessing::mnist_digit);
  }
  // The MNIST test split; fails the test (no skip) when data/mnist is missing.
  const Dataset& mnist() {
    if (mnist_ == nullptr)
      throw std::runtime_error("MNIST is not in " + std::string(IMGCLS_MNIST_DIR) +
                               " (scripts/setup.sh installs it; in a worktree, link data/ to it)");
    return *mnist_;
  }

  // The C++ side for pictures, as cli/predict.cpp: picture_to_input, then predict.
  static Expected cpp_predict_pictures(const std::vector<GreyImage>& pictures,
                                       const std::vector<std::string>& sources) {
    std::vector<GreyImage> inputs;
    for (std::size_t i = 0; i < pictures.size(); ++i)
      inputs.push_back(picture_to_input(pictures[i], kSide, kSide, true, sources[i]));
    return expected_for(*cpp_model_, to_batch(inputs));
  }

  static Sequential* cpp_model_;
  static imgcls_model* c_model_;
  static Dataset* mnist_;
};

Sequential* CApiAgreement::cpp_model_ = nullptr;
imgcls_model* CApiAgreement::c_model_ = nullptr;
Dataset* CApiAgreement::mnist_ = nullptr;

// The 8-bit picture of MNIST image n (dataset values are bytes / 255).
std::vector<std::uint8_t> mnist_bytes(const Dataset& data, i64 n) {
  std::vector<std::uint8_t> bytes(kSide * kSide);
  std::copy(data.images.data() + n * kSide * kSide, data.images.data() + (n + 1) * kSide * kSide,
            bytes.begin());
  return bytes;
}

// An 8-bit picture as the C++ side reads it: grey / 255 (0 = black).
GreyImage grey_image(const std::vector<std::uint8_t>& bytes, int height, int width,
                     std::size_t stride) {
  GreyImage picture(height, width);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) picture.at(y, x) = float(bytes[y * stride + x]) / kMaxGrey;
  return picture;
}

TEST_F(CApiAgreement, PredictOnMnistTestImagesMatchesTheLibrary) {
  const Dataset& data = mnist();
  const Tensor images = data.images.to_unit();
  const Expected expected = expected_for(*cpp_model_, images);
  Agreement agreement("imgcls_predict, MNIST test images", expected);
  std::vector<float> probabilities(kClasses);
  i64 correct = 0;
  for (i64 n = 0; n < data.size(); ++n) {
    const int label = imgcls_predict(c_model_, images.data() + n * kSide * kSide, kSide, kSide,
                                     probabilities.data(), probabilities.size());
    agreement.check(n, "MNIST test image " + std::to_string(n), label, probabilities.data());
    correct += label == data.labels[std::size_t(n)];
  }
  agreement.finish();
  std::cout << "  measured C interface accuracy on MNIST test: "
            << double(correct) / double(data.size()) << "\n";
  EXPECT_GT(double(correct) / double(data.size()), 0.95) << "the fixture model should read MNIST";
}

TEST_F(CApiAgreement, Grey8OnMnistPicturesMatchesTheLibrary) {
  const Dataset& data = mnist();
  // Even images as stored (light ink on black); odd ones inverted to dark ink on white
  // paper, in rows padded to a stride of 31 bytes.
  constexpr std::size_t kPaddedStride = 31;
  std::vector<std::vector<std::uint8_t>> pictures;
  std::vector<std::size_t> strides;
  std::vector<GreyImage> cpp_pictures;
  std::vector<std::string> sources;
  for (i64 n = 0; n < kGrey8Images; ++n) {
    const std::vector<std::uint8_t> bytes = mnist_bytes(data, n);
    const bool inverted = n % 2 == 1;
    const std::size_t stride = inverted ? kPaddedStride : kSide;
    std::vector<std::uint8_t> picture(stride * kSide, 77);  // padding: never read
    for (int y = 0; y < kSide; ++y)
      for (int x = 0; x < kSide; ++x) {
        const std::uint8_t v = bytes[std::size_t(y * kSide + x)];
        picture[y * stride + x] = inverted ? std::uint8_t(255 - v) : v;
      }
    cpp_pictures.push_back(grey_image(picture, kSide, kSide, stride));
    sources.push_back("MNIST test image " + std::to_string(n));
    pictures.push_back(std::move(picture));
    strides.push_back(stride);
  }
  const Expected expected = cpp_predict_pictures(cpp_pictures, sources);
  Agreement agreement("imgcls_predict_grey8, MNIST test images as 8-bit pictures", expected);
  std::vector<float> probabilities(kClasses);
  for (i64 n = 0; n < kGrey8Images; ++n) {
    const int label =
        imgcls_predict_grey8(c_model_, pictures[std::size_t(n)].data(), kSide, kSide,
                             strides[std::size_t(n)], probabilities.data(), probabilities.size());
    agreement.check(n, sources[std::size_t(n)], label, probabilities.data());
  }
  agreement.finish();
}

std::vector<std::string> digit_pictures() {
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(kDigitsDir))
    if (entry.is_regular_file() && has_image_extension(entry.path().string()))
      files.push_back(entry.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

TEST_F(CApiAgreement, PredictFileOnPictureFilesMatchesTheLibrary) {
  const std::vector<std::string> files = digit_pictures();
  ASSERT_GE(files.size(), 100u) << kDigitsDir;
  std::vector<GreyImage> pictures;
  for (const std::string& file : files) pictures.push_back(read_image(file));
  const Expected expected = cpp_predict_pictures(pictures, files);
  Agreement agreement("imgcls_predict_file, tests/images/digits", expected);
  std::vector<float> probabilities(kClasses);
  for (std::size_t i = 0; i < files.size(); ++i) {
    const int label =
        imgcls_predict_file(c_model_, files[i].c_str(), probabilities.data(), probabilities.size());
    agreement.check(i64(i), files[i], label, probabilities.data());
  }
  agreement.finish();
}

// The same pictures through imgcls_predict_grey8: decoded by the C++ library, rounded to
// 8 bits, and given to both sides; every size and aspect of the picture files.
TEST_F(CApiAgreement, Grey8OnPictureFilesMatchesTheLibrary) {
  const std::vector<std::string> files = digit_pictures();
  std::vector<std::vector<std::uint8_t>> bytes;
  std::vector<GreyImage> pictures;
  for (const std::string& file : files) {
    const GreyImage decoded = read_image(file);
    std::vector<std::uint8_t> grey(std::size_t(decoded.size()));
    for (std::size_t i = 0; i < grey.size(); ++i)
      grey[i] = std::uint8_t(std::lround(decoded.pixels[i] * kMaxGrey));
    pictures.push_back(
        grey_image(grey, int(decoded.height), int(decoded.width), std::size_t(decoded.width)));
    bytes.push_back(std::move(grey));
  }
  const Expected expected = cpp_predict_pictures(pictures, files);
  Agreement agreement("imgcls_predict_grey8, tests/images/digits as 8-bit pictures", expected);
  std::vector<float> probabilities(kClasses);
  for (std::size_t i = 0; i < files.size(); ++i) {
    const GreyImage& p = pictures[i];
    const int label =
        imgcls_predict_grey8(c_model_, bytes[i].data(), int(p.height), int(p.width),
                             std::size_t(p.width), probabilities.data(), probabilities.size());
    agreement.check(i64(i), files[i], label, probabilities.data());
  }
  agreement.finish();
}

}  // namespace
}  // namespace imgcls
