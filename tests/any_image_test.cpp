// The library pieces that make imgcls take any small images: 8-bit datasets (PixelTensor),
// colour pictures (Image, channels, has_colour), the resize rules (stretch, crop), picture to
// model input, image folders in colour at their most common size, the Normalization layer
// and its adaptation, the natural-image augmentations, presets built for other shapes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <numeric>

#include "data/augment.hpp"
#include "imgcls/data.hpp"
#include "imgcls/image.hpp"
#include "imgcls/model.hpp"
#include "imgcls/predictor.hpp"
#include "imgcls/preprocess.hpp"
#include "imgcls/train.hpp"

namespace imgcls {
namespace {

namespace fs = std::filesystem;
using testing::HasSubstr;

// A colour picture: red left half, blue right half, on a rows x columns canvas.
Image red_blue(std::int64_t rows, std::int64_t columns) {
  Image picture(rows, columns, 3);
  for (std::int64_t y = 0; y < rows; ++y)
    for (std::int64_t x = 0; x < columns; ++x) {
      float* p = picture.pixels.data() + (y * columns + x) * 3;
      (x < columns / 2 ? p[0] : p[2]) = 1.0f;
    }
  return picture;
}

TEST(PixelTensor, BytesStandForValuesOverTwoHundredFiftyFive) {
  const Tensor values({1, 2, 2, 1}, {0.0f, 1.0f, 0.5f, 0.2f});
  const PixelTensor pixels = PixelTensor::from_unit(values);
  EXPECT_EQ(pixels.values(), (std::vector<std::uint8_t>{0, 255, 128, 51}));
  const Tensor back = pixels.to_unit();
  EXPECT_EQ(back.shape(), values.shape());
  for (std::int64_t i = 0; i < back.size(); ++i)
    EXPECT_FLOAT_EQ(back[i], float(pixels.data()[i]) / 255.0f);
  // Out of range values are clamped, not wrapped.
  EXPECT_EQ(PixelTensor::from_unit(Tensor({2}, {-3.0f, 7.0f})).values(),
            (std::vector<std::uint8_t>{0, 255}));
  float item[4];
  pixels.to_unit(0, 1, item);
  EXPECT_EQ(item[1], 1.0f);
}

TEST(ColourPictures, ChannelsConvertByLumaAndRepetition) {
  const Image colour = red_blue(2, 4);
  EXPECT_TRUE(has_colour(colour));
  const Image grey = with_channels(colour, 1);
  ASSERT_EQ(grey.channels, 1);
  EXPECT_NEAR(grey.pixels[0], 0.299f, 1e-6);  // red
  EXPECT_NEAR(grey.pixels[3], 0.114f, 1e-6);  // blue
  const Image again = with_channels(grey, 3);
  ASSERT_EQ(again.channels, 3);
  EXPECT_FALSE(has_colour(again));
  EXPECT_EQ(again.pixels[0], again.pixels[1]);
  EXPECT_EQ(again.pixels[1], again.pixels[2]);
}

TEST(ColourPictures, PngRoundTripKeepsColour) {
  const fs::path path =
      fs::temp_directory_path() / ("imgcls_colour_" + std::to_string(::getpid()) + ".png");
  write_png(path.string(), red_blue(3, 6));
  const Image read = read_picture(path.string());
  EXPECT_EQ(read.channels, 3);
  EXPECT_EQ(read.height, 3);
  EXPECT_EQ(read.width, 6);
  EXPECT_FLOAT_EQ(read.pixels[0], 1.0f);  // red at (0, 0)
  EXPECT_FLOAT_EQ(read.pixels[2], 0.0f);
  EXPECT_FLOAT_EQ(read.pixels[(0 * 6 + 5) * 3 + 2], 1.0f);  // blue at (0, 5)
  const PictureSize size = probe_picture(path.string());
  EXPECT_EQ(size.height, 3);
  EXPECT_EQ(size.width, 6);
  // The grey reading of the same file is its luma.
  EXPECT_NEAR(read_image(path.string()).pixels[0], 0.299f, 1e-6);
  fs::remove(path);
}

TEST(ResizeRules, StretchFillsEachAxisCropKeepsTheAspectRatio) {
  // A 4x8 picture: the left half red. Stretched to 4x4 the left two columns are red; cropped
  // to 4x4 (the centre of the unscaled picture) the left half of the crop is red.
  Image wide(4, 8, 3);
  for (std::int64_t y = 0; y < 4; ++y)
    for (std::int64_t x = 0; x < 3; ++x)
      wide.pixels[static_cast<std::size_t>((y * 8 + x) * 3)] = 1.0f;
  const Image stretched = resize_picture(wide, 4, 4, Preprocessing::stretch);
  const Image cropped = resize_picture(wide, 4, 4, Preprocessing::crop);
  ASSERT_EQ(stretched.size(), 4 * 4 * 3);
  ASSERT_EQ(cropped.size(), 4 * 4 * 3);
  const auto red = [](const Image& image, std::int64_t x) {
    return image.pixels[static_cast<std::size_t>(x * 3)];
  };
  EXPECT_NEAR(red(stretched, 0), 1.0f, 1e-6);  // columns 0-1 of 8 become column 0
  EXPECT_NEAR(red(stretched, 3), 0.0f, 1e-6);
  // The crop keeps columns 2..5 of 8: 2 red ones then 2 black ones.
  EXPECT_NEAR(red(cropped, 0), 1.0f, 1e-6);
  EXPECT_NEAR(red(cropped, 1), 0.0f, 1e-6);
  EXPECT_NEAR(red(cropped, 3), 0.0f, 1e-6);
  // Upscaling a tall picture by crop covers the target: no padding appears.
  const Image tall = resize_picture(Image(10, 5, 3, 0.75f), 8, 8, Preprocessing::crop);
  for (float v : tall.pixels) EXPECT_NEAR(v, 0.75f, 1e-5);
}

TEST(ModelInputs, PicturesBecomeTheModelsShapeByItsRule) {
  const Image colour = red_blue(50, 70);
  const Image input = picture_to_input(colour, {32, 32, 3}, Preprocessing::crop, "test");
  EXPECT_EQ(input.height, 32);
  EXPECT_EQ(input.width, 32);
  EXPECT_EQ(input.channels, 3);
  const Image grey = picture_to_input(colour, {16, 24, 1}, Preprocessing::stretch, "test");
  EXPECT_EQ(grey.channels, 1);
  EXPECT_EQ(grey.width, 24);
  EXPECT_THROW(check_picture_input({28, 28, 3}, Preprocessing::mnist_digit, "m"), InputError);
  EXPECT_THROW(check_picture_input({10}, Preprocessing::stretch, "m"), InputError);
  EXPECT_NO_THROW(check_picture_input({28, 28, 1}, Preprocessing::mnist_digit, "m"));
  EXPECT_EQ(parse_preprocessing("none", "file"), Preprocessing::stretch);  // older model files
  EXPECT_THROW(parse_preprocessing("sharpen", "file"), InputError);
}

class ColourFolder : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("imgcls_any_image_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    // Two classes: red-left pictures and blue-left ones, mostly 12x20, one 30x30.
    for (int i = 0; i < 6; ++i) {
      fs::create_directories(root_ / "colour" / "red");
      fs::create_directories(root_ / "colour" / "blue");
      write_png((root_ / "colour" / "red" / (std::to_string(i) + ".png")).string(),
                red_blue(12, 20));
      Image blue = red_blue(12, 20);
      for (std::int64_t p = 0; p < 12 * 20; ++p)
        std::swap(blue.pixels[std::size_t(p * 3)], blue.pixels[std::size_t(p * 3 + 2)]);
      write_png((root_ / "colour" / "blue" / (std::to_string(i) + ".png")).string(), blue);
    }
    write_png((root_ / "colour" / "red" / "odd.png").string(), red_blue(30, 30));
    // The same as grey pictures.
    for (const char* name : {"a", "b"}) {
      fs::create_directories(root_ / "grey" / name);
      for (int i = 0; i < 3; ++i)
        write_png((root_ / "grey" / name / (std::to_string(i) + ".png")).string(),
                  GreyImage(9, 9, name[0] == 'a' ? 0.2f : 0.8f));
    }
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }
  static std::string path(const std::string& name) { return (root_ / name).string(); }
  static fs::path root_;
};
fs::path ColourFolder::root_;

TEST_F(ColourFolder, KeepsColourAtTheMostCommonSize) {
  const ImageFolder folder = read_image_folder(path("colour"));
  EXPECT_EQ(folder.data.images.shape(), (Shape{13, 12, 20, 3}));
  EXPECT_EQ(folder.class_names, (std::vector<std::string>{"blue", "red"}));
  const ImageFolder grey = read_image_folder(path("grey"));
  EXPECT_EQ(grey.data.images.shape(), (Shape{6, 9, 9, 1}));  // no colour: one channel
  const ImageFolder asked =
      read_image_folder(path("colour"), {.height = 8, .width = 8, .channels = 1});
  EXPECT_EQ(asked.data.images.shape(), (Shape{13, 8, 8, 1}));
}

TEST_F(ColourFolder, DecodingOnManyThreadsGivesWhatOneThreadGives) {
  std::vector<std::pair<std::int64_t, std::int64_t>> progress;
  const ImageFolder one = read_image_folder(path("colour"), {.threads = 1});
  const ImageFolder four = read_image_folder(
      path("colour"), {.threads = 4, .on_progress = [&](std::int64_t done, std::int64_t total) {
                         progress.emplace_back(done, total);
                       }});
  EXPECT_EQ(four.data.images.values(), one.data.images.values());
  EXPECT_EQ(four.data.labels, one.data.labels);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back(), (std::pair<std::int64_t, std::int64_t>{13, 13}));
}

TEST_F(ColourFolder, NormalizationAdaptsToTheTrainingImages) {
  const ImageFolder folder = read_image_folder(path("colour"), {.height = 16, .width = 16});
  Sequential model = presets::seed({.input_shape = {16, 16, 3}, .classes = 2, .normalize = true});
  EXPECT_EQ(model.layer(0).kind(), "Normalization");
  model.initialize(1);
  ASSERT_TRUE(adapt_normalization(model, folder.data));
  const std::vector<Param> buffers = model.layer(0).buffers();
  // Each channel's mean over every pixel of the images as the model sees them.
  const Tensor values = folder.data.images.to_unit();
  for (std::int64_t c = 0; c < 3; ++c) {
    double sum = 0.0, squares = 0.0;
    const std::int64_t count = values.size() / 3;
    for (std::int64_t i = c; i < values.size(); i += 3) {
      sum += values[i];
      squares += double(values[i]) * values[i];
    }
    const double mean = sum / double(count);
    EXPECT_NEAR((*buffers[0].value)[c], mean, 1e-6) << c;
    EXPECT_NEAR((*buffers[1].value)[c], squares / double(count) - mean * mean, 1e-5) << c;
  }
  // A model without a Normalization first is left alone.
  Sequential plain = presets::seed({.input_shape = {16, 16, 3}, .classes = 2});
  EXPECT_FALSE(adapt_normalization(plain, folder.data));
}

TEST(Presets, BuildForOtherShapesAndClassCounts) {
  EXPECT_EQ(presets::seed().parameter_count(), 121930);  // MNIST's, unchanged
  const Sequential colour =
      presets::strong({.input_shape = {32, 32, 3}, .classes = 5, .normalize = true});
  EXPECT_EQ(colour.output_shape(), (Shape{5}));
  EXPECT_EQ(colour.layer(0).kind(), "Normalization");
  const Sequential cifar = presets::cifar({.input_shape = {32, 32, 3}, .classes = 10});
  EXPECT_EQ(cifar.output_shape(), (Shape{10}));
  try {
    presets::by_name("seed", {.input_shape = {6, 6, 1}});
    ADD_FAILURE() << "a 6x6 input is too small for the seed model";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("preset seed for [6, 6, 1] pictures"));
  }
}

TEST(NaturalAugmentation, CropsShiftAndFlipsMirrorAndDigitsStayAsTheyWere) {
  // A 6x6 one-channel image with a single bright pixel at (2, 1).
  std::vector<float> image(36, 0.0f), out(36);
  image[2 * 6 + 1] = 1.0f;
  const AugmentOptions crop{
      .max_shift = 0, .max_rotation_degrees = 0, .max_scale_change = 0, .crop_padding = 2};
  std::vector<int> shifts_seen(25, 0);
  for (std::uint64_t seed = 0; seed < 400; ++seed) {
    Rng rng(seed);
    augment_image(image.data(), out.data(), 6, 6, 1, crop, rng);
    const auto at = std::find(out.begin(), out.end(), 1.0f) - out.begin();
    if (at == 36) continue;                               // shifted out of the frame
    const std::int64_t dy = 2 - at / 6, dx = 1 - at % 6;  // the window moved by (dy, dx)
    ASSERT_LE(std::abs(dy), 2);
    ASSERT_LE(std::abs(dx), 2);
    ++shifts_seen[static_cast<std::size_t>((dy + 2) * 5 + dx + 2)];
    EXPECT_EQ(std::accumulate(out.begin(), out.end(), 0.0f), 1.0f);  // an integer shift
  }
  // Every shift the frame can show appears (those moving (2, 1) out of the frame cannot).
  EXPECT_GE(std::count_if(shifts_seen.begin(), shifts_seen.end(), [](int n) { return n > 0; }), 20);

  const AugmentOptions flip{
      .max_shift = 0, .max_rotation_degrees = 0, .max_scale_change = 0, .horizontal_flip = true};
  int mirrored = 0;
  for (std::uint64_t seed = 0; seed < 400; ++seed) {
    Rng rng(seed);
    augment_image(image.data(), out.data(), 6, 6, 1, flip, rng);
    if (out[2 * 6 + 4] == 1.0f)
      ++mirrored;
    else
      EXPECT_EQ(out, image);
  }
  EXPECT_NEAR(mirrored, 200, 40);  // half of the time

  // The digits' jitter draws as it always did: the same seed, the same image as before
  // crop and flip existed (AugmentOptions::digits() is the default).
  std::vector<float> digits_out(36);
  Rng a(5), b(5);
  augment_image(image.data(), out.data(), 6, 6, 1, AugmentOptions::digits(), a);
  augment_image(image.data(), digits_out.data(), 6, 6, 1, AugmentOptions{}, b);
  EXPECT_EQ(out, digits_out);
}

}  // namespace
}  // namespace imgcls
