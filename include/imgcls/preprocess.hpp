// Preprocessing: turning a picture of one digit (a photo, a scan, a drawing) into the
// form MNIST's digits have, so that an MNIST-trained model sees what it was trained on.
//
// MNIST's construction (LeCun et al.): white ink on black; the digit's bounding box scaled,
// keeping its aspect ratio and anti-aliased, so the longer side is 20 px; placed in a
// 28x28 field with its centre of mass at the centre. preprocess_digit rebuilds that:
//   1. background: the median of the picture's border ring; a light one (> 0.5) means dark
//      ink on light paper, and the picture is inverted so ink is bright; when the paper is lit
//      unevenly (the paper levels of the four sides' strips differ by more than 0.12: a shadow
//      across a photo), a background estimated by a grey-level opening larger than the strokes
//      is subtracted first;
//   2. contrast: the paper level (the median) and its noise (1.4826 * median absolute
//      deviation) set a noise floor 5 noise widths above the paper; the ink level is the
//      90th percentile of the pixels above it; the floor is then raised to at least 8% of
//      the way from paper to ink. Values are stretched so floor -> 0 and ink level -> 1,
//      clamped: paper grain, JPEG haze and light shading become 0;
//   3. specks: connected ink regions (8-neighbours) holding under 1% of the total ink are
//      erased (never the heaviest one), so dust and noise survivors neither widen the box
//      nor pull the centre;
//   4. crop to the bounding box of the remaining ink;
//   5. scale so the longer side is `digit_side` px (20), the other by the same factor
//      (rounded, at least 1 px): area averaging (box filter) when shrinking, bilinear when
//      enlarging; then rescale values so the brightest pixel is 1;
//   6. place in a `canvas_side` square (28x28) shifted by whole pixels so the centre of
//      mass (in pixel-index coordinates) is within half a pixel of (side / 2, side / 2),
//      i.e. (14, 14), as in MNIST; ink shifted past the edge is clipped.
// An MNIST image passes through almost unchanged: over the 10,000 MNIST test images the
// seed model's accuracy moves by under 0.2 points (tests/predict_accuracy_test.cpp).
// A picture should hold one digit; a large picture costs about 16 bytes per pixel while
// it is processed.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "imgcls/error.hpp"
#include "imgcls/image.hpp"
#include "imgcls/tensor.hpp"

namespace imgcls {

struct PreprocessOptions {
  std::int64_t canvas_side = 28;  // the model input is canvas_side x canvas_side
  std::int64_t digit_side = 20;   // the longer side of the digit's box inside it
};

// MNIST's proportions for a canvas_side x canvas_side model input: the digit's longer side
// is 20/28 of the canvas (rounded, at least 1 px). mnist_layout(28) is {28, 20}. The layout
// `imgcls predict` and `imgcls serve` both use. Requires canvas_side >= 1.
PreprocessOptions mnist_layout(std::int64_t canvas_side);

// picture: grey, 0 = black, 1 = white (as read_image returns it), any size.
// Returns a canvas_side x canvas_side image, 0 = background, 1 = ink.
// Throws InputError naming `source` when the picture holds no ink: blank, or the ink level
// less than 0.05 above the floor of step 2.
// Requires 1 <= digit_side <= canvas_side.
GreyImage preprocess_digit(const GreyImage& picture, const PreprocessOptions& options,
                           const std::string& source);

// Plain resampling to height x width, each axis on its own: area averaging when shrinking,
// bilinear (pixel centres aligned) when enlarging, a copy when equal. No inversion, no
// cropping: for pictures already in MNIST form. Requires a non-empty image and sizes >= 1.
GreyImage resize_image(const GreyImage& image, std::int64_t height, std::int64_t width);

// What digit preprocessing throws when it finds no digit in a picture (blank, or almost no
// contrast): a model with a rejection rule answers such a picture "rejected" (predict, serve,
// the C API); for others it is an error.
class NoDigitError : public InputError {
 public:
  using InputError::InputError;
};

// How a model's inputs are made from pictures; a model file records it.
//   mnist_digit  grey; preprocess_digit with mnist_layout(side): a digit drawn or photographed
//                becomes an MNIST digit (square inputs only)
//   stretch      each axis resized on its own to the input's height and width (Keras's
//                image_dataset_from_directory does this by default)
//   crop         scaled, keeping the aspect ratio, until the shorter side fits, then the
//                centre cut out (torchvision's Resize + CenterCrop)
// Both stretch and crop convert to the input's channels first (colour to grey by luma, grey
// to colour by repetition); neither inverts or centres anything.
enum class Preprocessing { mnist_digit, stretch, crop };
// "mnist-digit", "stretch", "crop"
std::string_view to_string(Preprocessing preprocessing);
// The names above; "none", the name of stretch in model files before crop existed, reads as
// stretch. Throws InputError naming `source` for another name.
Preprocessing parse_preprocessing(std::string_view name, const std::string& source);

// Resampling to height x width per channel (as resize_image), by the rule of stretch or crop.
// Requires a non-empty image and sizes >= 1.
Image resize_picture(const Image& picture, std::int64_t height, std::int64_t width,
                     Preprocessing rule);

// A picture (as read_image returns it) -> a height x width model input, the way `imgcls
// predict`, `imgcls serve` and the C API (imgcls.h) prepare one: with `digit_preprocessing`,
// preprocess_digit with mnist_layout(height) (requires height == width); otherwise
// resize_image alone. Throws InputError naming
// `source` as preprocess_digit does.
GreyImage picture_to_input(const GreyImage& picture, std::int64_t height, std::int64_t width,
                           bool digit_preprocessing, const std::string& source);
// A picture (as read_picture returns it, any channels) -> a model input of `input_shape`
// [H, W, C], by `preprocessing`; what predict, serve and the C API feed a model and what an
// image folder holds: resized by stretch or crop and rounded to 8-bit levels (v / 255), as
// a dataset stores it. Throws InputError naming `source` as preprocess_digit does.
Image picture_to_input(const Image& picture, const Shape& input_shape, Preprocessing preprocessing,
                       const std::string& source);

// Where a model input lies in the picture it was made from, in the picture's pixel
// coordinates (its pixel (y, x) covers [y, y + 1) x [x, x + 1)): the input's H x W pixels
// cover the rectangle [top, top + height) x [left, left + width), its pixel (i, j) the part
// [top + i * height / H, top + (i + 1) * height / H) x [left + j * width / W, ...). So
// something computed on the input (a heat map) can be drawn back over the picture. The
// rectangle may reach past the picture's edges: a digit's 28 x 28 field is larger than the
// digit's box.
//   stretch      the whole picture: {0, 0, picture height, picture width}
//   crop         the centre the crop kept
//   mnist_digit  the field the digit was placed in: the ink's box, scaled and shifted as
//                preprocess_digit scaled and shifted the digit
struct InputPlacement {
  double top = 0.0, left = 0.0, height = 0.0, width = 0.0;
};
struct PreparedInput {
  Image input;  // what picture_to_input returns
  InputPlacement placement;
};
// picture_to_input, and where the input lies in the picture. Throws as picture_to_input.
PreparedInput prepare_picture(const Image& picture, const Shape& input_shape,
                              Preprocessing preprocessing, const std::string& source);

// Throws InputError naming `model` unless a model of `input_shape` can take pictures with
// `preprocessing`: an image input [H, W, 1] or [H, W, 3], square and grey for mnist_digit.
void check_picture_input(const Shape& input_shape, Preprocessing preprocessing,
                         const std::string& model);

// images, all height x width -> a batch [N, height, width, 1]. Requires N >= 1.
Tensor to_batch(std::span<const GreyImage> images);
// images, all of one shape -> a batch [N, height, width, channels]. Requires N >= 1.
Tensor to_batch(std::span<const Image> images);

}  // namespace imgcls
