// Shared drawing helpers for the pictures: a canvas that records cairo drawing into a
// Picture, the colours, text placement, images and nice axis ticks. Internal to src/viz
// (and its tests).
#pragma once

#include <cairo.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "imgcls/viz.hpp"

namespace imgcls {

struct Picture::Drawing {
  int width = 0, height = 0;
  std::shared_ptr<cairo_surface_t> recording;  // a cairo recording surface, replayed to encode
};

namespace viz {

struct Rect {
  double x = 0, y = 0, width = 0, height = 0;
  double right() const { return x + width; }
  double bottom() const { return y + height; }
  double centre_x() const { return x + width / 2; }
  double centre_y() const { return y + height / 2; }
};

struct Colour {
  double red = 0, green = 0, blue = 0;
};

namespace colours {
inline constexpr Colour kPaper{1.0, 1.0, 1.0};
inline constexpr Colour kInk{0.13, 0.13, 0.13};
inline constexpr Colour kMuted{0.40, 0.40, 0.40};
inline constexpr Colour kRule{0.78, 0.78, 0.78};      // frames of correct cells, grid lines
inline constexpr Colour kCorrect{0.05, 0.45, 0.20};   // captions of correct predictions
inline constexpr Colour kWrong{0.84, 0.09, 0.11};     // the error red: frames, captions, bars
inline constexpr Colour kWrongTint{1.0, 0.91, 0.91};  // background of a wrong cell
inline constexpr Colour kBar{0.62, 0.62, 0.62};       // probability bars of other classes
inline constexpr Colour kTraining{0.12, 0.42, 0.75};
inline constexpr Colour kValidation{0.90, 0.42, 0.05};
}  // namespace colours

// A sequential white -> dark blue scale; share in [0, 1] (clamped).
Colour heat_colour(double share);
// Relative luminance in [0, 1], to choose dark or light text on a coloured cell.
double luminance(Colour colour);

enum class Align { left, centre, right };

struct TextStyle {
  double size = 14;  // font size in pixels
  bool bold = false;
  Colour colour = colours::kInk;
  Align align = Align::left;
};

// Records drawing for one picture of width x height pixels on a white background.
class Canvas {
 public:
  Canvas(int width, int height);
  cairo_t* cr() const { return cr_.get(); }
  // Ends the drawing; the canvas must not be used afterwards.
  Picture finish();

 private:
  int width_, height_;
  std::shared_ptr<cairo_surface_t> recording_;
  std::unique_ptr<cairo_t, decltype(&cairo_destroy)> cr_;
};

void set_colour(cairo_t* cr, Colour colour);
void fill_rect(cairo_t* cr, const Rect& rect, Colour colour);
// A frame of the given line width drawn inside `rect`.
void frame_rect(cairo_t* cr, const Rect& rect, double line_width, Colour colour);

// Text with its baseline at y; x is its left edge, centre or right edge per style.align.
void draw_text(cairo_t* cr, double x, double y, std::string_view text, const TextStyle& style);
// Text centred horizontally and vertically (on its ink) in `box`.
void draw_text_centred(cairo_t* cr, const Rect& box, std::string_view text, const TextStyle& style);
// Text turned a quarter anticlockwise (reading upwards), centred on (x, y).
void draw_text_upwards(cairo_t* cr, double x, double y, std::string_view text,
                       const TextStyle& style);
double text_width(cairo_t* cr, std::string_view text, const TextStyle& style);
// `text`, or its longest prefix followed by "..." that fits in max_width.
std::string fit_text(cairo_t* cr, std::string_view text, const TextStyle& style, double max_width);
// One caption line between left and right: `right_text` right-aligned at `right`, and from
// `left` the first of `left_texts` (longest first) that fits before it, else the last one
// shortened with "...".
void draw_caption_line(cairo_t* cr, double left, double right, double baseline,
                       const std::vector<std::string>& left_texts, const TextStyle& left_style,
                       std::string_view right_text, const TextStyle& right_style);
// A measuring context for layout decisions made before the canvas exists.
std::unique_ptr<cairo_t, decltype(&cairo_destroy)> measuring_context();

// pixels [height, width, channels] in [0, 1], channels 1 or 3, drawn with its top-left
// corner at (x, y), each pixel a scale x scale block. A one-channel image is drawn as dark
// ink on white when invert_grey.
void draw_image(cairo_t* cr, const float* pixels, std::int64_t height, std::int64_t width,
                std::int64_t channels, double x, double y, int scale, bool invert_grey);

// Every picture starts with a header: a bold title and lines of explanation under it, from
// (kMargin, kMargin); content starts header_height(lines) from the top.
inline constexpr double kMargin = 24;
double header_height(std::size_t subtitle_lines);
void draw_header(cairo_t* cr, std::string_view title, const std::vector<std::string>& subtitle);
// The width the header needs, margins included.
double header_width(cairo_t* cr, std::string_view title, const std::vector<std::string>& subtitle);

// Checks the inputs of the image pictures (see viz.hpp) and returns every image's predicted
// class, the most probable one.
std::vector<std::int32_t> predicted_classes(const Dataset& data, const Tensor& probabilities,
                                            const std::vector<std::string>& class_names);

// "10,000"
std::string with_thousands(std::int64_t value);
// "98.1%" for 0.981
std::string percent(double share, int decimals = 1);
// A probability as a percentage with one decimal that never rounds to a certainty it is
// not: ">99.9%" rather than "100.0%", "<0.1%" rather than "0.0%".
std::string probability_text(double probability);

// Tick values for an axis showing [low, high]: 1, 2 or 5 times a power of ten apart, about
// `target` of them, covering the range. Requires low < high.
struct Ticks {
  double low = 0, high = 1, step = 1;  // the axis range, rounded out to whole steps
  std::vector<double> values;
  int decimals = 0;  // digits after the point that show the step
};
Ticks nice_ticks(double low, double high, int target = 5);

}  // namespace viz
}  // namespace imgcls
