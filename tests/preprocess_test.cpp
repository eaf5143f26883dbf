// Preprocessing (imgcls/preprocess.hpp, data/preprocess.hpp) on synthetic pictures with
// known answers: the digit's box ends up 20 px on its longer side, its centre of mass
// within half a pixel of (14, 14), light paper is inverted, dark paper is not, noise and
// specks are dropped; and the resampler's filters on small exact cases.
#include "data/preprocess.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "imgcls/error.hpp"
#include "imgcls/preprocess.hpp"

namespace imgcls {
namespace {

constexpr double kCentre = 14.0;
constexpr double kHalfPixel = 0.5;

// A picture of `paper` with a filled rectangle of `ink` at rows [top, top + h), columns
// [left, left + w).
GreyImage rectangle_picture(std::int64_t height, std::int64_t width, Box box, float paper,
                            float ink) {
  GreyImage picture(height, width, paper);
  for (std::int64_t y = box.top; y < box.bottom; ++y)
    for (std::int64_t x = box.left; x < box.right; ++x) picture.at(y, x) = ink;
  return picture;
}

// Asserts the MNIST layout of a preprocessed 28x28 image: box size and centre of mass.
void expect_mnist_layout(const GreyImage& out, std::int64_t box_height, std::int64_t box_width) {
  ASSERT_EQ(out.height, 28);
  ASSERT_EQ(out.width, 28);
  const std::optional<Box> box = ink_bounding_box(out);
  ASSERT_TRUE(box.has_value());
  EXPECT_EQ(box->height(), box_height);
  EXPECT_EQ(box->width(), box_width);
  const Point centre = centre_of_mass(out);
  EXPECT_NEAR(centre.y, kCentre, kHalfPixel);
  EXPECT_NEAR(centre.x, kCentre, kHalfPixel);
}

TEST(Preprocess, TallRectangleOnWhitePaper) {
  // Dark 40x10 bar, off-centre on a 100x80 white page -> bright 20x5 bar, centred.
  const GreyImage picture =
      rectangle_picture(100, 80, {.top = 10, .left = 55, .bottom = 50, .right = 65}, 1.0f, 0.0f);
  const GreyImage out = preprocess_digit(picture, {}, "bar");
  expect_mnist_layout(out, 20, 5);
  EXPECT_FLOAT_EQ(out.at(0, 0), 0.0f);    // paper -> background 0
  EXPECT_FLOAT_EQ(out.at(14, 14), 1.0f);  // ink -> 1
}

TEST(Preprocess, WideRectangleKeepsItsAspectRatio) {
  const GreyImage picture =
      rectangle_picture(60, 90, {.top = 40, .left = 5, .bottom = 50, .right = 55}, 0.9f, 0.2f);
  expect_mnist_layout(preprocess_digit(picture, {}, "wide"), 4, 20);
}

// A shadow across the page: paper from 0.95 on the left to 0.45 on the right (a smooth
// ramp) with the grain of a photo (+-0.02), a dark 40x8 bar in the middle. The uneven background is
// detected and subtracted, so the bar alone is left: without that, the shaded half of the paper
// would be taken for ink and the box would be the whole right half.
TEST(Preprocess, AShadowAcrossThePaperIsSubtracted) {
  constexpr std::int64_t kHeight = 90, kWidth = 120;
  std::mt19937 random(5);
  std::uniform_real_distribution<float> grain(-0.02f, 0.02f);
  GreyImage picture(kHeight, kWidth);
  for (std::int64_t y = 0; y < kHeight; ++y)
    for (std::int64_t x = 0; x < kWidth; ++x) {
      const float shade = 1.0f / (1.0f + std::exp(-(float(x) - 70.0f) / 8.0f));
      picture.at(y, x) = 0.95f - 0.5f * shade + grain(random);
    }
  for (std::int64_t y = 25; y < 65; ++y)
    for (std::int64_t x = 56; x < 64; ++x) picture.at(y, x) *= 0.15f;
  const GreyImage ink = to_ink(picture);
  ASSERT_TRUE(uneven_background(ink));
  const GreyImage flat = flatten_background(ink);
  float paper_left = 0.0f, paper_right = 0.0f;
  for (std::int64_t y = 0; y < kHeight; ++y) {
    paper_left = std::max(paper_left, flat.at(y, 10));
    paper_right = std::max(paper_right, flat.at(y, 110));
  }
  EXPECT_LT(paper_left, 0.1f);  // grain left
  EXPECT_LT(paper_right, 0.1f);
  EXPECT_GT(flat.at(45, 60), 0.4f);  // the bar stays ink
  expect_mnist_layout(preprocess_digit(picture, {}, "shadow"), 20, 4);
}

// Even paper, and paper a digit touches or crosses at an edge, is left as it is: bit for bit.
TEST(Preprocess, EvenPaperIsNotFlattened) {
  const GreyImage even =
      rectangle_picture(60, 50, {.top = 10, .left = 20, .bottom = 50, .right = 30}, 0.9f, 0.1f);
  const GreyImage touching =
      rectangle_picture(60, 50, {.top = 0, .left = 15, .bottom = 60, .right = 35}, 1.0f, 0.0f);
  for (const GreyImage& picture : {even, touching}) {
    const GreyImage ink = to_ink(picture);
    EXPECT_FALSE(uneven_background(ink));
    EXPECT_EQ(flatten_background(ink).pixels, ink.pixels);
  }
}

TEST(Preprocess, LightPaperIsInvertedDarkIsNot) {
  const Box box{.top = 20, .left = 30, .bottom = 70, .right = 50};
  const GreyImage on_paper = rectangle_picture(90, 80, box, 0.95f, 0.1f);
  const GreyImage on_board = rectangle_picture(90, 80, box, 0.1f, 0.95f);
  EXPECT_GT(border_median(on_paper), 0.5f);
  EXPECT_LT(border_median(on_board), 0.5f);
  const GreyImage a = preprocess_digit(on_paper, {}, "paper");
  const GreyImage b = preprocess_digit(on_board, {}, "board");
  EXPECT_EQ(a.pixels, b.pixels);
  expect_mnist_layout(a, 20, 8);
}

TEST(Preprocess, GaussianBlobIsCentredByMass) {
  // A lopsided blob: an ellipse with a heavier tail, near a corner of a small canvas.
  GreyImage picture(64, 64, 1.0f);
  for (std::int64_t y = 0; y < 64; ++y)
    for (std::int64_t x = 0; x < 64; ++x) {
      const double dy = (double(y) - 15.0) / 8.0, dx = (double(x) - 45.0) / 5.0;
      const double tail = x > 45 ? 0.5 : 0.0;
      picture.at(y, x) -= float(std::min(1.0, std::exp(-(dy * dy + dx * dx)) * (1.5 + tail)));
    }
  const GreyImage out = preprocess_digit(picture, {}, "blob");
  const Point centre = centre_of_mass(out);
  EXPECT_NEAR(centre.y, kCentre, kHalfPixel);
  EXPECT_NEAR(centre.x, kCentre, kHalfPixel);
  const std::optional<Box> box = ink_bounding_box(out);
  ASSERT_TRUE(box.has_value());
  EXPECT_EQ(std::max(box->height(), box->width()), 20);
}

TEST(Preprocess, PaperNoiseAndSpecksDoNotMoveTheBox) {
  std::mt19937 rng(7);
  std::normal_distribution<float> grain(0.0f, 0.04f);
  GreyImage picture = rectangle_picture(
      200, 160, {.top = 60, .left = 70, .bottom = 140, .right = 90}, 0.88f, 0.15f);
  for (float& v : picture.pixels) v = std::clamp(v + grain(rng), 0.0f, 1.0f);
  for (const auto& [y, x] : {std::pair{5, 5}, {190, 150}, {20, 140}, {180, 10}})
    for (int dy = 0; dy < 2; ++dy)
      for (int dx = 0; dx < 2; ++dx) picture.at(y + dy, x + dx) = 0.3f;  // dust
  expect_mnist_layout(preprocess_digit(picture, {}, "noisy"), 20, 5);
}

TEST(Preprocess, MnistFormDigitPassesAlmostUnchanged) {
  // Already white on black, 20 tall, centre of mass within half a pixel of (14, 14): only
  // the contrast stretch may touch it. A bar with soft edges and a foot.
  GreyImage picture(28, 28, 0.0f);
  for (std::int64_t y = 4; y < 24; ++y)
    for (std::int64_t x = 10; x < 19; ++x) picture.at(y, x) = (x == 10 || x == 18) ? 0.5f : 1.0f;
  for (std::int64_t x = 8; x < 21; ++x) picture.at(23, x) = 1.0f;
  const Point before = centre_of_mass(picture);
  ASSERT_LT(std::abs(before.y - kCentre), kHalfPixel);
  const GreyImage out = preprocess_digit(picture, {}, "mnist");
  for (std::size_t i = 0; i < out.pixels.size(); ++i)
    EXPECT_NEAR(out.pixels[i], picture.pixels[i], 0.06f) << i;
}

TEST(Preprocess, BlankPictureIsBadInputNamingTheFile) {
  const GreyImage blank(50, 40, 0.97f);
  try {
    preprocess_digit(blank, {}, "blank.png");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.source(), "blank.png");
  }
}

TEST(Preprocess, OtherCanvasSizes) {
  const GreyImage picture =
      rectangle_picture(50, 50, {.top = 5, .left = 20, .bottom = 45, .right = 30}, 1.0f, 0.0f);
  const GreyImage out = preprocess_digit(picture, {.canvas_side = 32, .digit_side = 24}, "bar");
  ASSERT_EQ(out.height, 32);
  const std::optional<Box> box = ink_bounding_box(out);
  ASSERT_TRUE(box.has_value());
  EXPECT_EQ(box->height(), 24);
  EXPECT_EQ(box->width(), 6);
}

TEST(Preprocess, SpecksAreErasedButTheLargestRegionStays) {
  GreyImage ink(10, 10);
  ink.at(1, 1) = 0.5f;                                       // a speck
  for (std::int64_t y = 3; y < 9; ++y) ink.at(y, 6) = 1.0f;  // the stroke
  erase_specks(ink, 0.1);
  EXPECT_EQ(ink.at(1, 1), 0.0f);
  EXPECT_EQ(ink.at(5, 6), 1.0f);
  GreyImage only_specks(5, 5);
  only_specks.at(0, 0) = 0.2f;
  only_specks.at(4, 4) = 0.3f;
  erase_specks(only_specks, 0.9);
  EXPECT_EQ(only_specks.at(0, 0), 0.0f);
  EXPECT_EQ(only_specks.at(4, 4), 0.3f);
}

TEST(Resize, AreaAveragingWhenShrinking) {
  GreyImage image(4, 4);
  for (std::int64_t i = 0; i < 16; ++i) image.pixels[static_cast<std::size_t>(i)] = float(i);
  const GreyImage out = resize_image(image, 2, 2);
  EXPECT_FLOAT_EQ(out.at(0, 0), (0 + 1 + 4 + 5) / 4.0f);
  EXPECT_FLOAT_EQ(out.at(1, 1), (10 + 11 + 14 + 15) / 4.0f);
  // A fractional factor: 3 -> 2 covers 1.5 source pixels per output pixel.
  GreyImage row(1, 3);
  row.pixels = {0.0f, 3.0f, 6.0f};
  const GreyImage out_row = resize_image(row, 1, 2);
  EXPECT_FLOAT_EQ(out_row.at(0, 0), (0.0f + 0.5f * 3.0f) / 1.5f);
  EXPECT_FLOAT_EQ(out_row.at(0, 1), (0.5f * 3.0f + 6.0f) / 1.5f);
}

TEST(Resize, AreaAveragingKeepsTheMean) {
  GreyImage image(37, 23);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  double sum = 0.0;
  for (float& v : image.pixels) sum += v = u(rng);
  const GreyImage out = resize_image(image, 10, 7);
  double out_sum = 0.0;
  for (float v : out.pixels) out_sum += v;
  EXPECT_NEAR(out_sum / 70.0, sum / double(image.size()), 1e-5);
}

TEST(Resize, BilinearWhenEnlarging) {
  GreyImage row(1, 2);
  row.pixels = {0.0f, 1.0f};
  const GreyImage out = resize_image(row, 1, 4);
  // Output centres at source x = -0.25 (clamped), 0.25, 0.75, 1.25 (clamped).
  EXPECT_FLOAT_EQ(out.at(0, 0), 0.0f);
  EXPECT_FLOAT_EQ(out.at(0, 1), 0.25f);
  EXPECT_FLOAT_EQ(out.at(0, 2), 0.75f);
  EXPECT_FLOAT_EQ(out.at(0, 3), 1.0f);
  const GreyImage constant = resize_image(GreyImage(3, 5, 0.4f), 7, 11);
  for (float v : constant.pixels) EXPECT_FLOAT_EQ(v, 0.4f);
}

TEST(Resize, SameSizeIsACopy) {
  GreyImage image(3, 3);
  image.pixels = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f, 0.9f};
  EXPECT_EQ(resize_image(image, 3, 3).pixels, image.pixels);
}

TEST(Batch, StacksImagesAsNhwc) {
  const std::vector<GreyImage> images = {GreyImage(2, 3, 0.25f), GreyImage(2, 3, 0.75f)};
  const Tensor batch = to_batch(images);
  EXPECT_EQ(batch.shape(), (Shape{2, 2, 3, 1}));
  EXPECT_FLOAT_EQ(batch[5], 0.25f);
  EXPECT_FLOAT_EQ(batch[6], 0.75f);
}

// prepare_picture's placement maps the input back onto the picture: a square of ink at a
// known place in the picture, found in the input (its rows and columns above half), lands
// where it was, within one input pixel (in picture units) on each edge.
struct PlacementCase {
  Preprocessing preprocessing;
  std::int64_t height, width;  // the picture
  Box square;                  // the ink in the picture
  Shape input;                 // the model input
  float paper, ink;
};

TEST(Placement, TheInputsInkLiesWhereThePicturesInkIs) {
  const PlacementCase cases[] = {
      // the whole 60 x 40 picture squeezed into 10 x 10
      {Preprocessing::stretch,
       60,
       40,
       {.top = 18, .left = 8, .bottom = 36, .right = 20},
       {10, 10, 1},
       0.0f,
       1.0f},
      // scaled by 1/4 to 15 x 10, rows 2..12 kept: picture rows [8, 48)
      {Preprocessing::crop,
       60,
       40,
       {.top = 20, .left = 8, .bottom = 32, .right = 20},
       {10, 10, 3},
       0.0f,
       1.0f},
      // a dark bar off-centre on white paper, scaled to 20 px and centred in 28 x 28
      {Preprocessing::mnist_digit,
       100,
       80,
       {.top = 10, .left = 45, .bottom = 50, .right = 65},
       {28, 28, 1},
       1.0f,
       0.0f},
  };
  for (const PlacementCase& c : cases) {
    SCOPED_TRACE(std::string(to_string(c.preprocessing)));
    Image picture(c.height, c.width, 1, c.paper);
    for (std::int64_t y = c.square.top; y < c.square.bottom; ++y)
      for (std::int64_t x = c.square.left; x < c.square.right; ++x)
        picture.pixels[std::size_t(y * c.width + x)] = c.ink;
    const PreparedInput prepared = prepare_picture(picture, c.input, c.preprocessing, "square");
    const Image& input = prepared.input;
    ASSERT_EQ(input.height, c.input[0]);
    ASSERT_EQ(input.width, c.input[1]);
    ASSERT_EQ(input.channels, c.input[2]);
    std::int64_t top = input.height, left = input.width, bottom = 0, right = 0;
    for (std::int64_t y = 0; y < input.height; ++y)
      for (std::int64_t x = 0; x < input.width; ++x)
        if (input.pixels[std::size_t((y * input.width + x) * input.channels)] > 0.5f) {
          top = std::min(top, y);
          left = std::min(left, x);
          bottom = std::max(bottom, y + 1);
          right = std::max(right, x + 1);
        }
    ASSERT_LT(top, bottom) << "no ink in the input";
    const InputPlacement& p = prepared.placement;
    const double row = p.height / double(input.height), column = p.width / double(input.width);
    EXPECT_NEAR(p.top + double(top) * row, double(c.square.top), row);
    EXPECT_NEAR(p.top + double(bottom) * row, double(c.square.bottom), row);
    EXPECT_NEAR(p.left + double(left) * column, double(c.square.left), column);
    EXPECT_NEAR(p.left + double(right) * column, double(c.square.right), column);
  }
}

TEST(Placement, StretchCoversThePictureAndPictureToInputAgrees) {
  const Image picture(30, 50, 3, 0.5f);
  const PreparedInput prepared =
      prepare_picture(picture, {12, 16, 3}, Preprocessing::stretch, "grey");
  EXPECT_DOUBLE_EQ(prepared.placement.top, 0.0);
  EXPECT_DOUBLE_EQ(prepared.placement.left, 0.0);
  EXPECT_DOUBLE_EQ(prepared.placement.height, 30.0);
  EXPECT_DOUBLE_EQ(prepared.placement.width, 50.0);
  EXPECT_EQ(prepared.input.pixels,
            picture_to_input(picture, {12, 16, 3}, Preprocessing::stretch, "grey").pixels);
}

}  // namespace
}  // namespace imgcls
