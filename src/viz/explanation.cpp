// The explanation picture: the input the model saw, the heat map over it, and the heat map
// over the original picture (the input's placement undone), under a header with the
// predicted class and its probability, and a colour bar that says what the colours mean.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "core/check.hpp"
#include "imgcls/preprocess.hpp"
#include "viz/draw.hpp"
#include "viz/layout.hpp"

namespace imgcls {

namespace viz {

namespace {

constexpr int kPanelSide = 280;   // each panel fits in a square of this side
constexpr double kPanelGap = 24;  // between panels
constexpr double kCaptionHeight = 24;
constexpr double kBarGap = 18;  // panels to colour bar
constexpr double kBarHeight = 14;
constexpr double kBarWidth = 240;
constexpr double kBarLabels = 22;        // the values under the bar
constexpr double kOverlayOpacity = 0.8;  // of the colour where the map is at its largest
// The grey under the map: luma mapped to [kBaseFloor, kBaseCeiling], so that red shows on
// white strokes and white paper as well as on black.
constexpr double kBaseFloor = 0.2, kBaseCeiling = 0.75;
constexpr TextStyle kCaptionStyle{.size = 14, .bold = true};
constexpr TextStyle kBarStyle{.size = 12, .colour = colours::kMuted};
constexpr Colour kFor{0.86, 0.08, 0.08};      // the map's positive end: red
constexpr Colour kAgainst{0.10, 0.35, 0.90};  // a signed map's negative end: blue
constexpr Colour kHottest{1.0, 0.85, 0.0};    // an unsigned map's top: yellow over the red

struct Rgba {
  Colour colour;
  double alpha = 0;
};

// A map value, divided by the map's largest absolute value, as the colour laid over a pixel.
// Unsigned maps: red turning yellow at the top, more opaque as the value grows; signed maps:
// red for, blue against.
Rgba overlay_colour(double share, bool is_signed) {
  const double strength = std::clamp(std::abs(share), 0.0, 1.0);
  if (is_signed) return {share >= 0 ? kFor : kAgainst, kOverlayOpacity * strength};
  const double t = strength * strength;  // yellow only near the top
  return {{kFor.red + (kHottest.red - kFor.red) * t, kFor.green + (kHottest.green - kFor.green) * t,
           kFor.blue + (kHottest.blue - kFor.blue) * t},
          kOverlayOpacity * strength};
}

std::uint32_t byte(double value) {
  return static_cast<std::uint32_t>(std::lround(std::clamp(value, 0.0, 1.0) * 255.0));
}

double luma(const float* pixel, std::int64_t channels) {
  return channels == 1 ? pixel[0] : 0.299 * pixel[0] + 0.587 * pixel[1] + 0.114 * pixel[2];
}

// An RGB24 surface of width x height whose pixel (row, column) is colour(row, column).
template <typename ColourOf>
void paint_pixels(cairo_t* cr, int width, int height, double x, double y, ColourOf colour_of) {
  std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)> surface(
      cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height), cairo_surface_destroy);
  IMGCLS_CHECK(cairo_surface_status(surface.get()) == CAIRO_STATUS_SUCCESS,
               "cairo cannot make a {}x{} image", width, height);
  cairo_surface_flush(surface.get());
  unsigned char* data = cairo_image_surface_get_data(surface.get());
  const int stride = cairo_image_surface_get_stride(surface.get());
  for (int row = 0; row < height; ++row) {
    auto* line = reinterpret_cast<std::uint32_t*>(data + static_cast<std::ptrdiff_t>(row) * stride);
    for (int column = 0; column < width; ++column) {
      const Colour c = colour_of(row, column);
      line[column] = (byte(c.red) << 16) | (byte(c.green) << 8) | byte(c.blue);
    }
  }
  cairo_surface_mark_dirty(surface.get());
  cairo_set_source_surface(cr, surface.get(), x, y);
  cairo_rectangle(cr, x, y, width, height);
  cairo_fill(cr);
}

Colour blend(Colour base, const Rgba& over) {
  return {base.red + (over.colour.red - base.red) * over.alpha,
          base.green + (over.colour.green - base.green) * over.alpha,
          base.blue + (over.colour.blue - base.blue) * over.alpha};
}

// The grey a picture's pixel is drawn in under the map.
Colour base_grey(const float* pixel, std::int64_t channels) {
  const double grey = kBaseFloor + (kBaseCeiling - kBaseFloor) * luma(pixel, channels);
  return {grey, grey, grey};
}

Colour pixel_colour(const float* pixel, std::int64_t channels) {
  return channels == 1 ? Colour{pixel[0], pixel[0], pixel[0]}
                       : Colour{pixel[0], pixel[1], pixel[2]};
}

// The map bilinearly at (y, x) in input pixel units (pixel centres at i + 0.5), clamped to
// its edge.
double sample_map(const Tensor& map, double y, double x) {
  const std::int64_t h = map.dim(0), w = map.dim(1);
  const double fy = std::clamp(y - 0.5, 0.0, double(h - 1));
  const double fx = std::clamp(x - 0.5, 0.0, double(w - 1));
  const auto y0 = static_cast<std::int64_t>(fy), x0 = static_cast<std::int64_t>(fx);
  const std::int64_t y1 = std::min(y0 + 1, h - 1), x1 = std::min(x0 + 1, w - 1);
  const double ty = fy - double(y0), tx = fx - double(x0);
  const double top = map[y0 * w + x0] * (1 - tx) + map[y0 * w + x1] * tx;
  const double bottom = map[y1 * w + x0] * (1 - tx) + map[y1 * w + x1] * tx;
  return top * (1 - ty) + bottom * ty;
}

double largest_magnitude(const Tensor& map) {
  double largest = 0;
  for (std::int64_t i = 0; i < map.size(); ++i)
    largest = std::max(largest, std::abs(double(map[i])));
  return largest;
}

std::string class_text(const std::vector<std::string>& names, std::int64_t k) {
  return names[static_cast<std::size_t>(k)];
}

std::string method_text(const Explanation& e) {
  if (e.method == ExplainMethod::gradcam) return fmt::format("gradcam (layer {})", e.layer);
  return std::string(to_string(e.method));
}

void draw_colour_bar(cairo_t* cr, const Rect& bar, bool is_signed, double largest) {
  const int width = static_cast<int>(bar.width), height = static_cast<int>(bar.height);
  paint_pixels(cr, width, height, bar.x, bar.y, [&](int, int column) {
    const double t = (double(column) + 0.5) / double(width);
    return blend(colours::kPaper, overlay_colour(is_signed ? 2 * t - 1 : t, is_signed));
  });
  frame_rect(cr, bar, 1, colours::kRule);
  const double baseline = bar.bottom() + 15;
  const std::string top = fmt::format("{:.3g}", largest);
  if (is_signed) {
    draw_text(cr, bar.x, baseline, "-" + top + " against", kBarStyle);
    draw_text(cr, bar.centre_x(), baseline, "0",
              {.size = kBarStyle.size, .colour = kBarStyle.colour, .align = Align::centre});
    draw_text(cr, bar.right(), baseline, "for +" + top,
              {.size = kBarStyle.size, .colour = kBarStyle.colour, .align = Align::right});
  } else {
    draw_text(cr, bar.x, baseline, "0", kBarStyle);
    draw_text(cr, bar.right(), baseline, top,
              {.size = kBarStyle.size, .colour = kBarStyle.colour, .align = Align::right});
  }
}

}  // namespace

ExplanationLayout explanation_layout(std::int64_t input_height, std::int64_t input_width,
                                     std::int64_t picture_height, std::int64_t picture_width,
                                     double header_width) {
  ExplanationLayout layout;
  const double top = header_height(kExplanationSubtitleLines) + kCaptionHeight;
  // The input as whole blocks when it is smaller than the panel, else shrunk to fit.
  const auto fit = [](std::int64_t height, std::int64_t width, bool whole_blocks) {
    double scale = double(kPanelSide) / double(std::max(height, width));
    if (whole_blocks && scale >= 1) scale = std::floor(scale);
    return std::pair{std::max(1.0, std::round(double(height) * scale)),
                     std::max(1.0, std::round(double(width) * scale))};
  };
  const auto [input_h, input_w] = fit(input_height, input_width, true);
  const auto [picture_h, picture_w] = fit(picture_height, picture_width, false);
  const double side = kPanelSide;
  for (int i = 0; i < 3; ++i) {
    const double left = kMargin + i * (side + kPanelGap);
    const bool picture = i == 2;
    const double h = picture ? picture_h : input_h, w = picture ? picture_w : input_w;
    layout.panels[static_cast<std::size_t>(i)] = {left + (side - w) / 2, top + (side - h) / 2, w,
                                                  h};
  }
  layout.colour_bar = {kMargin, top + side + kBarGap, kBarWidth, kBarHeight};
  layout.width =
      static_cast<int>(std::ceil(std::max(header_width, 2 * kMargin + 3 * side + 2 * kPanelGap)));
  layout.height = static_cast<int>(std::ceil(layout.colour_bar.bottom() + kBarLabels + kMargin));
  return layout;
}

}  // namespace viz

Picture draw_explanation(const Explanation& explanation, const Image& input, const Image& picture,
                         const InputPlacement& placement,
                         const std::vector<std::string>& class_names, const std::string& source) {
  const Tensor& map = explanation.map;
  IMGCLS_CHECK(map.rank() == 2 && map.dim(0) == input.height && map.dim(1) == input.width,
               "a map {} for a {}x{} input", to_string(map.shape()), input.height, input.width);
  IMGCLS_CHECK(input.channels == 1 || input.channels == 3, "input of {} channels", input.channels);
  IMGCLS_CHECK(picture.size() > 0 && (picture.channels == 1 || picture.channels == 3),
               "picture {}x{}x{}", picture.height, picture.width, picture.channels);
  IMGCLS_CHECK(placement.height > 0 && placement.width > 0, "placement {}x{}", placement.height,
               placement.width);
  IMGCLS_CHECK(explanation.target_class < std::int64_t(class_names.size()) &&
                   explanation.predicted_class < std::int64_t(class_names.size()),
               "classes {} and {} of {} names", explanation.target_class,
               explanation.predicted_class, class_names.size());
  using namespace viz;
  const std::string title =
      fmt::format("{}: {} ({})", source, class_text(class_names, explanation.predicted_class),
                  probability_text(explanation.predicted_probability));
  const std::string explained =
      explanation.target_class == explanation.predicted_class
          ? fmt::format("predicted {} with probability {}; the map explains that class",
                        class_text(class_names, explanation.predicted_class),
                        probability_text(explanation.predicted_probability))
          : fmt::format("predicted {} ({}); the map explains class {} ({})",
                        class_text(class_names, explanation.predicted_class),
                        probability_text(explanation.predicted_probability),
                        class_text(class_names, explanation.target_class),
                        probability_text(explanation.probability));
  const std::string reading =
      explanation.is_signed
          ? fmt::format("{}: red pixels raise the class's score, blue ones lower it",
                        method_text(explanation))
          : fmt::format("{}: the redder (then yellow), the more the pixel mattered to the score",
                        method_text(explanation));
  const std::vector<std::string> subtitle = {explained, reading};
  static_assert(kExplanationSubtitleLines == 2);
  double header = 0;
  {
    auto measure = measuring_context();
    header = header_width(measure.get(), title, subtitle);
  }
  const ExplanationLayout layout =
      explanation_layout(input.height, input.width, picture.height, picture.width, header);
  Canvas canvas(layout.width, layout.height);
  cairo_t* cr = canvas.cr();
  draw_header(cr, title, subtitle);

  const double largest = largest_magnitude(map);
  const auto overlay_at = [&](double value) {
    return largest > 0 ? overlay_colour(value / largest, explanation.is_signed) : Rgba{};
  };
  const char* captions[] = {"What the model saw", "The map over it", "The map over the picture"};
  for (std::size_t i = 0; i < 3; ++i) {
    const Rect& panel = layout.panels[i];
    draw_text(cr, panel.centre_x(), panel.y - 8, captions[i],
              {.size = kCaptionStyle.size, .bold = true, .align = Align::centre});
  }

  // The input and the map over it: each input pixel a block (or shrunk), the map's own
  // pixel under each block (no smoothing: a map value belongs to one input pixel).
  for (std::size_t i = 0; i < 2; ++i) {
    const Rect& panel = layout.panels[i];
    const int w = static_cast<int>(panel.width), h = static_cast<int>(panel.height);
    paint_pixels(cr, w, h, panel.x, panel.y, [&](int row, int column) {
      const std::int64_t y = std::min<std::int64_t>(input.height - 1, row * input.height / h);
      const std::int64_t x = std::min<std::int64_t>(input.width - 1, column * input.width / w);
      const float* pixel = input.pixels.data() + (y * input.width + x) * input.channels;
      if (i == 0) return pixel_colour(pixel, input.channels);
      return blend(base_grey(pixel, input.channels), overlay_at(map[y * input.width + x]));
    });
    frame_rect(cr, panel, 1, colours::kRule);
  }

  // The picture, resized to its panel, with the map laid where the input came from: picture
  // point (py, px) is input point ((py - top) * H / height, (px - left) * W / width).
  const Rect& panel = layout.panels[2];
  const int w = static_cast<int>(panel.width), h = static_cast<int>(panel.height);
  const Image shown = resize_picture(picture, h, w, Preprocessing::stretch);
  const double rows_per_pixel = double(picture.height) / h;
  const double columns_per_pixel = double(picture.width) / w;
  paint_pixels(cr, w, h, panel.x, panel.y, [&](int row, int column) {
    const float* pixel = shown.pixels.data() + (std::int64_t(row) * w + column) * shown.channels;
    const double py = (row + 0.5) * rows_per_pixel, px = (column + 0.5) * columns_per_pixel;
    const double y = (py - placement.top) * double(input.height) / placement.height;
    const double x = (px - placement.left) * double(input.width) / placement.width;
    if (y < 0 || x < 0 || y >= double(input.height) || x >= double(input.width))
      return pixel_colour(pixel, shown.channels);
    return blend(base_grey(pixel, shown.channels), overlay_at(sample_map(map, y, x)));
  });
  frame_rect(cr, panel, 1, colours::kRule);
  // Where the input lies in the picture, dashed, when some of its edges are inside the
  // picture (a digit's field often reaches past all four).
  const bool frame_shows = placement.top > 0 || placement.left > 0 ||
                           placement.top + placement.height < double(picture.height) ||
                           placement.left + placement.width < double(picture.width);
  cairo_save(cr);
  cairo_rectangle(cr, panel.x, panel.y, panel.width, panel.height);
  cairo_clip(cr);
  const double dash[] = {4, 3};
  cairo_set_dash(cr, dash, 2, 0);
  cairo_set_line_width(cr, 1.5);
  set_colour(cr, kAgainst);
  cairo_rectangle(cr, panel.x + placement.left / columns_per_pixel,
                  panel.y + placement.top / rows_per_pixel, placement.width / columns_per_pixel,
                  placement.height / rows_per_pixel);
  if (frame_shows) cairo_stroke(cr);
  cairo_new_path(cr);
  cairo_restore(cr);

  draw_colour_bar(cr, layout.colour_bar, explanation.is_signed, largest);
  if (frame_shows)
    draw_text(cr, layout.colour_bar.right() + kPanelGap, layout.colour_bar.bottom(),
              "dashed frame: the part of the picture the model saw", kBarStyle);
  return canvas.finish();
}

}  // namespace imgcls
