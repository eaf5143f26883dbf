// The steps of preprocess_digit (include/imgcls/preprocess.hpp), one function each, in the
// order they run; exposed for the tests. "ink" images have 0 = background, 1 = full ink.
#pragma once

#include <cstdint>
#include <optional>

#include "imgcls/image.hpp"

namespace imgcls {

// Step 1. The median of the outer ring of pixels (about 2% of the shorter side thick,
// at least 1 px): the paper, unless the digit fills the picture.
float border_median(const GreyImage& picture);
// 1 - value, pixel by pixel.
GreyImage invert(const GreyImage& picture);
// The picture as ink: inverted when its border is light (> 0.5), as is otherwise.
GreyImage to_ink(const GreyImage& picture);

// Step 1b. Paper lit unevenly (a shadow across a photo): the paper levels of the four sides'
// border strips (each strip's 20th percentile in the ink image, which a digit touching the side
// leaves alone) differ by more than 0.12.
bool uneven_background(const GreyImage& ink);
// For an uneven background only (else `ink` as it is): the background, estimated by a grey-level
// opening (erosion then dilation over a square of a sixth of the shorter side, which removes
// strokes thinner than that) on a copy at most 128 px long, blurred and enlarged back, is
// subtracted; values below 0 become 0.
GreyImage flatten_background(const GreyImage& ink);

// Step 2. Levels measured on an ink image.
struct InkLevels {
  float paper = 0.0f;  // the median: the background level
  float noise = 0.0f;  // 1.4826 * median absolute deviation from `paper`
  float floor = 0.0f;  // at or below this, a pixel is background
  float ink = 0.0f;    // the 90th percentile of the pixels above the noise floor
};
// floor = max(paper + 5 noise, paper + 8% of (ink - paper)). ink == floor means no ink.
InkLevels measure_ink_levels(const GreyImage& ink);
// (value - floor) / (ink - floor), clamped to [0, 1]. Requires levels.ink > levels.floor.
GreyImage stretch_contrast(const GreyImage& ink, const InkLevels& levels);

// Step 3. Zeroes every 8-connected region of non-zero pixels whose summed value is below
// min_fraction of the image's total, except the heaviest region, which always stays.
void erase_specks(GreyImage& ink, double min_fraction);

// Step 4. Half-open pixel rectangle [top, bottom) x [left, right).
struct Box {
  std::int64_t top = 0, left = 0, bottom = 0, right = 0;
  std::int64_t height() const { return bottom - top; }
  std::int64_t width() const { return right - left; }
};
// The smallest box holding every non-zero pixel; nothing for an all-zero image.
std::optional<Box> ink_bounding_box(const GreyImage& ink);
// Requires the box to lie inside the image and be non-empty.
GreyImage crop(const GreyImage& image, const Box& box);

// Step 5. Resized so the longer side is `side` and the shorter one round(side * short / long),
// at least 1 (resize_image's filters); then divided by its maximum, so the peak is 1.
GreyImage scale_longer_side_to(const GreyImage& ink, std::int64_t side);

// Step 6. Centre of mass in pixel-index coordinates (pixel (y, x) sits at (y, x)).
// Requires a non-zero total.
struct Point {
  double y = 0.0, x = 0.0;
};
Point centre_of_mass(const GreyImage& ink);
// The shift, in whole pixels, that brings the centre of mass within half a pixel of
// (side / 2, side / 2): the digit's pixel (y, x) goes to (y + shift.y, x + shift.x).
struct Shift {
  std::int64_t y = 0, x = 0;
};
Shift centring_shift(const GreyImage& digit, std::int64_t side);
// A side x side canvas holding `digit` shifted by centring_shift; what falls outside is
// clipped.
GreyImage place_by_centre_of_mass(const GreyImage& digit, std::int64_t side);

}  // namespace imgcls
