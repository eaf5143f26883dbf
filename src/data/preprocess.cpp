// Digit preprocessing (MNIST's construction, rebuilt) and the separable resampler it uses.
// The contract of each step is in data/preprocess.hpp; the whole in imgcls/preprocess.hpp.
#include "data/preprocess.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "core/check.hpp"
#include "imgcls/preprocess.hpp"

namespace imgcls {

namespace {

constexpr double kBorderFraction = 0.02;       // border ring thickness, of the shorter side
constexpr float kLightBackground = 0.5f;       // border median above this: dark ink on paper
constexpr float kMadToSigma = 1.4826f;         // MAD of a normal distribution -> its sigma
constexpr float kNoiseWidths = 5.0f;           // floor: this many noise sigmas above paper
constexpr float kFloorFraction = 0.08f;        // ... and at least this far from paper to ink
constexpr double kInkPercentile = 0.9;         // of the pixels above the noise floor
constexpr float kMinContrast = 0.05f;          // ink - floor below this: no digit
constexpr double kSpeckFraction = 0.01;        // regions with less of the total ink are specks
constexpr float kUnevenBackground = 0.12f;     // sides' paper levels this far apart: a shadow
constexpr double kSidePaper = 0.2;             // a side's paper level: this percentile
constexpr std::int64_t kBackgroundSide = 128;  // the background is estimated this small
constexpr std::int64_t kBackgroundWindowDivisor = 6;  // window: the shorter side / this

// The border ring's thickness: about 2% of the shorter side, at least 1 px.
std::int64_t ring_thickness(const GreyImage& image) {
  return std::max<std::int64_t>(
      1, std::lround(kBorderFraction * double(std::min(image.height, image.width))));
}

// The value at `fraction` (0 = smallest, 1 = largest) of `values`, reordering them.
float percentile(std::vector<float>& values, double fraction) {
  IMGCLS_CHECK(!values.empty() && fraction >= 0.0 && fraction <= 1.0, "{} values, fraction {}",
               values.size(), fraction);
  const auto k = static_cast<std::ptrdiff_t>(std::lround(fraction * double(values.size() - 1)));
  std::nth_element(values.begin(), values.begin() + k, values.end());
  return values[static_cast<std::size_t>(k)];
}

// One output pixel of a resampled axis: a weighted sum of source pixels.
struct Tap {
  std::int64_t source = 0;
  float weight = 0.0f;
};
using AxisTaps = std::vector<std::vector<Tap>>;  // [output index] -> taps

// Box filter: output pixel o averages the source interval [o, o + 1) * (in / out), each
// source pixel weighted by how much of it the interval covers.
AxisTaps area_taps(std::int64_t in, std::int64_t out) {
  const double scale = double(in) / double(out);
  AxisTaps taps(static_cast<std::size_t>(out));
  for (std::int64_t o = 0; o < out; ++o) {
    const double lo = double(o) * scale, hi = double(o + 1) * scale;
    const auto first = static_cast<std::int64_t>(std::floor(lo));
    const auto last = std::min(in, static_cast<std::int64_t>(std::ceil(hi)));
    for (std::int64_t i = first; i < last; ++i) {
      const double covered = std::min(hi, double(i + 1)) - std::max(lo, double(i));
      if (covered > 0.0) taps[static_cast<std::size_t>(o)].push_back({i, float(covered / scale)});
    }
  }
  return taps;
}

// Bilinear with pixel centres aligned: output centre o + 0.5 sits at source (o + 0.5) *
// in / out; edges are clamped.
AxisTaps bilinear_taps(std::int64_t in, std::int64_t out) {
  const double scale = double(in) / double(out);
  AxisTaps taps(static_cast<std::size_t>(out));
  for (std::int64_t o = 0; o < out; ++o) {
    const double centre = std::clamp((double(o) + 0.5) * scale - 0.5, 0.0, double(in - 1));
    const auto i0 = static_cast<std::int64_t>(std::floor(centre));
    const std::int64_t i1 = std::min(i0 + 1, in - 1);
    const auto t = float(centre - double(i0));
    taps[static_cast<std::size_t>(o)] = {{i0, 1.0f - t}, {i1, t}};
  }
  return taps;
}

AxisTaps axis_taps(std::int64_t in, std::int64_t out) {
  return out < in ? area_taps(in, out) : bilinear_taps(in, out);
}

// Rows resampled to `taps.size()` columns.
GreyImage resample_width(const GreyImage& image, const AxisTaps& taps) {
  GreyImage out(image.height, std::ssize(taps));
  for (std::int64_t y = 0; y < out.height; ++y)
    for (std::int64_t x = 0; x < out.width; ++x) {
      float sum = 0.0f;
      for (const Tap& tap : taps[static_cast<std::size_t>(x)])
        sum += tap.weight * image.at(y, tap.source);
      out.at(y, x) = sum;
    }
  return out;
}

// Columns resampled to `taps.size()` rows.
GreyImage resample_height(const GreyImage& image, const AxisTaps& taps) {
  GreyImage out(std::ssize(taps), image.width);
  for (std::int64_t y = 0; y < out.height; ++y)
    for (const Tap& tap : taps[static_cast<std::size_t>(y)])
      for (std::int64_t x = 0; x < out.width; ++x)
        out.at(y, x) += tap.weight * image.at(tap.source, x);
  return out;
}

// Labels the 8-connected region of non-zero pixels holding `seed` as `label`; returns the
// sum of its values. labels: [height * width], 0 = not yet visited.
double flood_region(const GreyImage& ink, std::int64_t seed, std::int32_t label,
                    std::vector<std::int32_t>& labels, std::vector<std::int64_t>& stack) {
  double mass = 0.0;
  stack.assign(1, seed);
  labels[static_cast<std::size_t>(seed)] = label;
  while (!stack.empty()) {
    const std::int64_t i = stack.back();
    stack.pop_back();
    mass += ink.pixels[static_cast<std::size_t>(i)];
    const std::int64_t y = i / ink.width, x = i % ink.width;
    for (std::int64_t ny = std::max<std::int64_t>(y - 1, 0); ny <= std::min(y + 1, ink.height - 1);
         ++ny)
      for (std::int64_t nx = std::max<std::int64_t>(x - 1, 0); nx <= std::min(x + 1, ink.width - 1);
           ++nx) {
        const std::int64_t n = ny * ink.width + nx;
        if (labels[static_cast<std::size_t>(n)] != 0 ||
            ink.pixels[static_cast<std::size_t>(n)] <= 0.0f)
          continue;
        labels[static_cast<std::size_t>(n)] = label;
        stack.push_back(n);
      }
  }
  return mass;
}

}  // namespace

float border_median(const GreyImage& picture) {
  IMGCLS_CHECK(picture.size() > 0, "empty picture");
  const std::int64_t ring = ring_thickness(picture);
  std::vector<float> border;
  for (std::int64_t y = 0; y < picture.height; ++y)
    for (std::int64_t x = 0; x < picture.width; ++x) {
      const bool inside =
          y >= ring && y < picture.height - ring && x >= ring && x < picture.width - ring;
      if (!inside) border.push_back(picture.at(y, x));
    }
  return percentile(border, 0.5);
}

GreyImage invert(const GreyImage& picture) {
  GreyImage out = picture;
  for (float& v : out.pixels) v = 1.0f - v;
  return out;
}

GreyImage to_ink(const GreyImage& picture) {
  return border_median(picture) > kLightBackground ? invert(picture) : picture;
}

namespace {

// The paper level of each of the four sides' border strips (each as thick as border_median's
// ring): the 20th percentile in the ink image, so a digit touching a side does not move it.
std::array<float, 4> side_paper_levels(const GreyImage& ink) {
  const std::int64_t ring = ring_thickness(ink);
  std::array<std::vector<float>, 4> sides;  // top, bottom, left, right
  for (std::int64_t y = 0; y < ink.height; ++y)
    for (std::int64_t x = 0; x < ink.width; ++x) {
      if (y < ring) sides[0].push_back(ink.at(y, x));
      if (y >= ink.height - ring) sides[1].push_back(ink.at(y, x));
      if (x < ring) sides[2].push_back(ink.at(y, x));
      if (x >= ink.width - ring) sides[3].push_back(ink.at(y, x));
    }
  std::array<float, 4> levels{};
  for (std::size_t i = 0; i < sides.size(); ++i) levels[i] = percentile(sides[i], kSidePaper);
  return levels;
}

// Each pixel replaced by `combine` of the pixels of the window x window square about it (cut at
// the image's edges), as a pass along the rows, then one along the columns. combine(values,
// count): values of the window's pixels on one axis.
template <typename Combine>
GreyImage separable_filter(const GreyImage& image, std::int64_t window, Combine combine) {
  const std::int64_t half = window / 2;
  std::vector<float> values;
  const auto pass = [&](const GreyImage& in, bool rows) {
    GreyImage out = in;
    for (std::int64_t y = 0; y < in.height; ++y)
      for (std::int64_t x = 0; x < in.width; ++x) {
        values.clear();
        for (std::int64_t k = -half; k <= half; ++k) {
          const std::int64_t yy = rows ? y : y + k, xx = rows ? x + k : x;
          if (yy >= 0 && yy < in.height && xx >= 0 && xx < in.width)
            values.push_back(in.at(yy, xx));
        }
        out.at(y, x) = combine(values);
      }
    return out;
  };
  return pass(pass(image, true), false);
}

float minimum(const std::vector<float>& values) {
  return *std::min_element(values.begin(), values.end());
}
float maximum(const std::vector<float>& values) {
  return *std::max_element(values.begin(), values.end());
}
float mean(const std::vector<float>& values) {
  float sum = 0.0f;
  for (float v : values) sum += v;
  return sum / float(values.size());
}

}  // namespace

bool uneven_background(const GreyImage& ink) {
  IMGCLS_CHECK(ink.size() > 0, "empty image");
  const std::array<float, 4> levels = side_paper_levels(ink);
  const auto [low, high] = std::minmax_element(levels.begin(), levels.end());
  return *high - *low > kUnevenBackground;
}

GreyImage flatten_background(const GreyImage& ink) {
  if (!uneven_background(ink)) return ink;
  // The background is smooth: it is estimated on a copy whose longer side is at most
  // kBackgroundSide, then enlarged back.
  const double shrink =
      std::min(1.0, double(kBackgroundSide) / double(std::max(ink.height, ink.width)));
  const std::int64_t height = std::max<std::int64_t>(1, std::lround(double(ink.height) * shrink));
  const std::int64_t width = std::max<std::int64_t>(1, std::lround(double(ink.width) * shrink));
  const GreyImage small = resize_image(ink, height, width);
  const std::int64_t window =
      std::max<std::int64_t>(3, std::min(height, width) / kBackgroundWindowDivisor) | 1;
  // An opening removes the ink (brighter and thinner than the window) and keeps the paper.
  const GreyImage opened =
      separable_filter(separable_filter(small, window, minimum), window, maximum);
  const GreyImage background =
      resize_image(separable_filter(opened, window, mean), ink.height, ink.width);
  GreyImage flat = ink;
  for (std::size_t i = 0; i < flat.pixels.size(); ++i)
    flat.pixels[i] = std::max(0.0f, ink.pixels[i] - background.pixels[i]);
  return flat;
}

InkLevels measure_ink_levels(const GreyImage& ink) {
  IMGCLS_CHECK(ink.size() > 0, "empty image");
  InkLevels levels;
  std::vector<float> values = ink.pixels;
  levels.paper = percentile(values, 0.5);
  for (float& v : values) v = std::abs(v - levels.paper);
  levels.noise = kMadToSigma * percentile(values, 0.5);
  const float noise_floor = levels.paper + kNoiseWidths * levels.noise;
  std::vector<float> above;
  for (float v : ink.pixels)
    if (v > noise_floor) above.push_back(v);
  if (above.empty()) {
    levels.floor = levels.ink = noise_floor;
    return levels;
  }
  levels.ink = percentile(above, kInkPercentile);
  levels.floor = std::max(noise_floor, levels.paper + kFloorFraction * (levels.ink - levels.paper));
  return levels;
}

GreyImage stretch_contrast(const GreyImage& ink, const InkLevels& levels) {
  IMGCLS_CHECK(levels.ink > levels.floor, "ink level {} at or below the floor {}", levels.ink,
               levels.floor);
  GreyImage out = ink;
  const float range = levels.ink - levels.floor;
  for (float& v : out.pixels) v = std::clamp((v - levels.floor) / range, 0.0f, 1.0f);
  return out;
}

void erase_specks(GreyImage& ink, double min_fraction) {
  std::vector<std::int32_t> labels(ink.pixels.size(), 0);
  std::vector<double> masses{0.0};  // masses[label]; label 0 is the background
  std::vector<std::int64_t> stack;
  for (std::int64_t i = 0; i < ink.size(); ++i)
    if (labels[static_cast<std::size_t>(i)] == 0 && ink.pixels[static_cast<std::size_t>(i)] > 0.0f)
      masses.push_back(
          flood_region(ink, i, static_cast<std::int32_t>(masses.size()), labels, stack));
  double total = 0.0;
  for (double m : masses) total += m;
  const double min_mass = min_fraction * total;
  const auto largest = std::max_element(masses.begin(), masses.end()) - masses.begin();
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const std::int32_t label = labels[i];
    if (label != 0 && label != largest && masses[static_cast<std::size_t>(label)] < min_mass)
      ink.pixels[i] = 0.0f;
  }
}

std::optional<Box> ink_bounding_box(const GreyImage& ink) {
  Box box{.top = ink.height, .left = ink.width, .bottom = 0, .right = 0};
  for (std::int64_t y = 0; y < ink.height; ++y)
    for (std::int64_t x = 0; x < ink.width; ++x)
      if (ink.at(y, x) > 0.0f) {
        box.top = std::min(box.top, y);
        box.bottom = std::max(box.bottom, y + 1);
        box.left = std::min(box.left, x);
        box.right = std::max(box.right, x + 1);
      }
  if (box.bottom == 0) return std::nullopt;
  return box;
}

GreyImage crop(const GreyImage& image, const Box& box) {
  IMGCLS_CHECK(box.top >= 0 && box.left >= 0 && box.bottom <= image.height &&
                   box.right <= image.width && box.height() > 0 && box.width() > 0,
               "box [{}, {}) x [{}, {}) in a {}x{} image", box.top, box.bottom, box.left, box.right,
               image.height, image.width);
  GreyImage out(box.height(), box.width());
  for (std::int64_t y = 0; y < out.height; ++y) {
    const auto row = image.pixels.begin() + (box.top + y) * image.width + box.left;
    std::copy(row, row + out.width, out.pixels.begin() + y * out.width);
  }
  return out;
}

GreyImage scale_longer_side_to(const GreyImage& ink, std::int64_t side) {
  IMGCLS_CHECK(ink.size() > 0 && side >= 1, "{}x{} image, side {}", ink.height, ink.width, side);
  const double scale = double(side) / double(std::max(ink.height, ink.width));
  const std::int64_t height = std::max<std::int64_t>(1, std::lround(double(ink.height) * scale));
  const std::int64_t width = std::max<std::int64_t>(1, std::lround(double(ink.width) * scale));
  GreyImage out = resize_image(ink, height, width);
  const float peak = *std::max_element(out.pixels.begin(), out.pixels.end());
  if (peak > 0.0f)
    for (float& v : out.pixels) v /= peak;
  return out;
}

Point centre_of_mass(const GreyImage& ink) {
  double total = 0.0, y_sum = 0.0, x_sum = 0.0;
  for (std::int64_t y = 0; y < ink.height; ++y)
    for (std::int64_t x = 0; x < ink.width; ++x) {
      const double v = ink.at(y, x);
      total += v;
      y_sum += v * double(y);
      x_sum += v * double(x);
    }
  IMGCLS_CHECK(total > 0.0, "no mass in a {}x{} image", ink.height, ink.width);
  return {y_sum / total, x_sum / total};
}

Shift centring_shift(const GreyImage& digit, std::int64_t side) {
  const Point centre = centre_of_mass(digit);
  const double target = double(side) / 2.0;
  return {.y = std::lround(target - centre.y), .x = std::lround(target - centre.x)};
}

GreyImage place_by_centre_of_mass(const GreyImage& digit, std::int64_t side) {
  const Shift shift = centring_shift(digit, side);
  GreyImage canvas(side, side);
  for (std::int64_t y = 0; y < digit.height; ++y)
    for (std::int64_t x = 0; x < digit.width; ++x) {
      const std::int64_t cy = y + shift.y, cx = x + shift.x;
      if (cy >= 0 && cy < side && cx >= 0 && cx < side) canvas.at(cy, cx) = digit.at(y, x);
    }
  return canvas;
}

PreprocessOptions mnist_layout(std::int64_t canvas_side) {
  IMGCLS_CHECK(canvas_side >= 1, "canvas_side {}", canvas_side);
  constexpr double kMnistDigitFraction = 20.0 / 28.0;  // MNIST: a 20 px digit in a 28 px field
  return {.canvas_side = canvas_side,
          .digit_side =
              std::max<std::int64_t>(1, std::lround(kMnistDigitFraction * double(canvas_side)))};
}

namespace {

// preprocess_digit, and where its canvas lies in the picture.
GreyImage digit_input(const GreyImage& picture, const PreprocessOptions& options,
                      const std::string& source, InputPlacement& placement) {
  IMGCLS_CHECK(options.digit_side >= 1 && options.digit_side <= options.canvas_side,
               "digit side {} in a canvas of {}", options.digit_side, options.canvas_side);
  IMGCLS_CHECK(picture.size() > 0, "empty picture from {}", source);
  const GreyImage ink = flatten_background(to_ink(picture));
  const InkLevels levels = measure_ink_levels(ink);
  if (levels.ink - levels.floor < kMinContrast)
    throw NoDigitError(
        source, "found no digit: the picture is blank or has almost no contrast",
        "pictures already in MNIST form (a white digit on black) need no digit preprocessing");
  GreyImage clean = stretch_contrast(ink, levels);
  erase_specks(clean, kSpeckFraction);
  const std::optional<Box> box = ink_bounding_box(clean);
  IMGCLS_CHECK(box.has_value(), "no ink left in {} after the contrast check passed", source);
  const GreyImage digit = scale_longer_side_to(crop(clean, *box), options.digit_side);
  // The box's box.height() rows became digit.height rows, then moved down by shift.y: canvas
  // row r is picture row box.top + (r - shift.y) * box.height() / digit.height (resize_image
  // maps [o, o + 1) to [o, o + 1) * in / out), and the same across.
  const Shift shift = centring_shift(digit, options.canvas_side);
  const double row_scale = double(box->height()) / double(digit.height);
  const double column_scale = double(box->width()) / double(digit.width);
  placement = {.top = double(box->top) - double(shift.y) * row_scale,
               .left = double(box->left) - double(shift.x) * column_scale,
               .height = double(options.canvas_side) * row_scale,
               .width = double(options.canvas_side) * column_scale};
  return place_by_centre_of_mass(digit, options.canvas_side);
}

}  // namespace

GreyImage preprocess_digit(const GreyImage& picture, const PreprocessOptions& options,
                           const std::string& source) {
  InputPlacement placement;
  return digit_input(picture, options, source, placement);
}

GreyImage resize_image(const GreyImage& image, std::int64_t height, std::int64_t width) {
  IMGCLS_CHECK(image.size() > 0 && height >= 1 && width >= 1, "{}x{} image to {}x{}", image.height,
               image.width, height, width);
  return resample_height(resample_width(image, axis_taps(image.width, width)),
                         axis_taps(image.height, height));
}

GreyImage picture_to_input(const GreyImage& picture, std::int64_t height, std::int64_t width,
                           bool digit_preprocessing, const std::string& source) {
  if (!digit_preprocessing) return resize_image(picture, height, width);
  IMGCLS_CHECK(height == width, "digit preprocessing makes square inputs, not {}x{}", height,
               width);
  return preprocess_digit(picture, mnist_layout(height), source);
}

std::string_view to_string(Preprocessing preprocessing) {
  switch (preprocessing) {
    case Preprocessing::mnist_digit:
      return "mnist-digit";
    case Preprocessing::stretch:
      return "stretch";
    case Preprocessing::crop:
      return "crop";
  }
  return "?";
}

Preprocessing parse_preprocessing(std::string_view name, const std::string& source) {
  if (name == "mnist-digit") return Preprocessing::mnist_digit;
  if (name == "stretch" || name == "none") return Preprocessing::stretch;
  if (name == "crop") return Preprocessing::crop;
  throw InputError(
      source, fmt::format("preprocessing \"{}\" is not one of mnist-digit, stretch, crop", name));
}

namespace {

GreyImage channel_of(const Image& picture, std::int64_t channel) {
  GreyImage plane(picture.height, picture.width);
  for (std::int64_t i = 0; i < plane.size(); ++i)
    plane.pixels[static_cast<std::size_t>(i)] =
        picture.pixels[static_cast<std::size_t>(i * picture.channels + channel)];
  return plane;
}

// Each channel resized on its own to height x width.
Image stretched(const Image& picture, std::int64_t height, std::int64_t width) {
  Image out(height, width, picture.channels);
  for (std::int64_t c = 0; c < picture.channels; ++c) {
    const GreyImage plane = resize_image(channel_of(picture, c), height, width);
    for (std::int64_t i = 0; i < plane.size(); ++i)
      out.pixels[static_cast<std::size_t>(i * out.channels + c)] =
          plane.pixels[static_cast<std::size_t>(i)];
  }
  return out;
}

// resize_picture, and where its result lies in the picture.
Image resized_and_placed(const Image& picture, std::int64_t height, std::int64_t width,
                         Preprocessing rule, InputPlacement& placement) {
  IMGCLS_CHECK(picture.size() > 0 && height >= 1 && width >= 1, "{}x{} picture to {}x{}",
               picture.height, picture.width, height, width);
  placement = {
      .top = 0.0, .left = 0.0, .height = double(picture.height), .width = double(picture.width)};
  if (rule != Preprocessing::crop) return stretched(picture, height, width);
  // The smallest scale at which the picture covers height x width, then the centre of it.
  const double scale =
      std::max(double(height) / double(picture.height), double(width) / double(picture.width));
  const std::int64_t scaled_h =
      std::max<std::int64_t>(height, std::llround(double(picture.height) * scale));
  const std::int64_t scaled_w =
      std::max<std::int64_t>(width, std::llround(double(picture.width) * scale));
  const Image scaled = stretched(picture, scaled_h, scaled_w);
  const std::int64_t top = (scaled_h - height) / 2, left = (scaled_w - width) / 2;
  // scaled row r is picture row r * picture.height / scaled_h (stretched's filters)
  const double row_scale = double(picture.height) / double(scaled_h);
  const double column_scale = double(picture.width) / double(scaled_w);
  placement = {.top = double(top) * row_scale,
               .left = double(left) * column_scale,
               .height = double(height) * row_scale,
               .width = double(width) * column_scale};
  Image out(height, width, picture.channels);
  for (std::int64_t y = 0; y < height; ++y) {
    const float* row = scaled.pixels.data() + ((top + y) * scaled_w + left) * picture.channels;
    std::copy(row, row + width * picture.channels,
              out.pixels.data() + y * width * picture.channels);
  }
  return out;
}

}  // namespace

Image resize_picture(const Image& picture, std::int64_t height, std::int64_t width,
                     Preprocessing rule) {
  InputPlacement placement;
  return resized_and_placed(picture, height, width, rule, placement);
}

PreparedInput prepare_picture(const Image& picture, const Shape& input_shape,
                              Preprocessing preprocessing, const std::string& source) {
  IMGCLS_CHECK(input_shape.size() == 3 && (input_shape[2] == 1 || input_shape[2] == 3),
               "a picture for an input {}", imgcls::to_string(input_shape));
  const std::int64_t height = input_shape[0], width = input_shape[1], channels = input_shape[2];
  PreparedInput prepared;
  if (preprocessing == Preprocessing::mnist_digit) {
    IMGCLS_CHECK(channels == 1 && height == width,
                 "digit preprocessing makes square grey inputs, not {}",
                 imgcls::to_string(input_shape));
    prepared.input = to_image(digit_input(to_grey_image(with_channels(picture, 1)),
                                          mnist_layout(height), source, prepared.placement));
  } else {
    prepared.input = resized_and_placed(with_channels(picture, channels), height, width,
                                        preprocessing, prepared.placement);
    // To 8-bit levels, as an image folder holds the same picture: predict on a file and
    // evaluate on its folder give the same answer, whatever the picture's size.
    for (float& value : prepared.input.pixels) value = PixelTensor::unit(PixelTensor::level(value));
  }
  return prepared;
}

Image picture_to_input(const Image& picture, const Shape& input_shape, Preprocessing preprocessing,
                       const std::string& source) {
  return prepare_picture(picture, input_shape, preprocessing, source).input;
}

void check_picture_input(const Shape& input_shape, Preprocessing preprocessing,
                         const std::string& model) {
  if (input_shape.size() != 3 || (input_shape[2] != 1 && input_shape[2] != 3))
    throw InputError(model, "the model takes " + imgcls::to_string(input_shape) +
                                ", not pictures [H, W, 1] (grey) or [H, W, 3] (colour)");
  if (preprocessing == Preprocessing::mnist_digit &&
      (input_shape[2] != 1 || input_shape[0] != input_shape[1]))
    throw InputError(model, "the model takes " + imgcls::to_string(input_shape) +
                                "; its digit preprocessing makes square grey pictures");
}

Tensor to_batch(std::span<const Image> images) {
  IMGCLS_CHECK(!images.empty(), "no images");
  const Image& first = images[0];
  Tensor batch({std::ssize(images), first.height, first.width, first.channels});
  float* dst = batch.data();
  for (const Image& image : images) {
    IMGCLS_CHECK(image.height == first.height && image.width == first.width &&
                     image.channels == first.channels,
                 "a {}x{}x{} image in a batch of {}x{}x{}", image.height, image.width,
                 image.channels, first.height, first.width, first.channels);
    dst = std::copy(image.pixels.begin(), image.pixels.end(), dst);
  }
  return batch;
}

Tensor to_batch(std::span<const GreyImage> images) {
  IMGCLS_CHECK(!images.empty(), "no images");
  const std::int64_t height = images[0].height, width = images[0].width;
  Tensor batch({std::ssize(images), height, width, 1});
  float* dst = batch.data();
  for (const GreyImage& image : images) {
    IMGCLS_CHECK(image.height == height && image.width == width,
                 "a {}x{} image in a batch of {}x{}", image.height, image.width, height, width);
    dst = std::copy(image.pixels.begin(), image.pixels.end(), dst);
  }
  return batch;
}

}  // namespace imgcls
