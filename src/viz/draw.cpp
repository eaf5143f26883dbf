// Shared drawing helpers (see draw.hpp), the cell grids of layout.hpp, and Picture: drawings
// are recorded once on a cairo recording surface, then replayed onto an image surface (PNG)
// or an SVG surface.
#include "viz/draw.hpp"

#include <cairo-svg.h>
#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <numbers>

#include "core/atomic_file.hpp"
#include "core/check.hpp"
#include "viz/layout.hpp"

namespace imgcls {

namespace {

constexpr const char* kFontFamily = "sans-serif";

cairo_status_t append_to_string(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

void check_cairo(cairo_status_t status, const char* what) {
  if (status != CAIRO_STATUS_SUCCESS)
    throw Error(fmt::format("cairo could not {}: {}", what, cairo_status_to_string(status)));
}

// Draws the recording onto `target` (same size), then releases the context.
void replay(const Picture::Drawing& drawing, cairo_surface_t* target) {
  cairo_t* cr = cairo_create(target);
  cairo_set_source_surface(cr, drawing.recording.get(), 0, 0);
  cairo_paint(cr);
  const cairo_status_t status = cairo_status(cr);
  cairo_destroy(cr);
  check_cairo(status, "replay the drawing");
}

}  // namespace

PictureFormat picture_format_for(const std::string& path) {
  std::string lower = path;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower.ends_with(".svg") ? PictureFormat::svg : PictureFormat::png;
}

Picture::Picture(std::shared_ptr<const Drawing> drawing) : drawing_(std::move(drawing)) {
  IMGCLS_CHECK(drawing_ != nullptr && drawing_->recording != nullptr, "empty picture");
}

int Picture::width() const { return drawing_->width; }
int Picture::height() const { return drawing_->height; }

std::string Picture::encode(PictureFormat format) const {
  std::string bytes;
  if (format == PictureFormat::png) {
    std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)> image(
        cairo_image_surface_create(CAIRO_FORMAT_RGB24, width(), height()), cairo_surface_destroy);
    check_cairo(cairo_surface_status(image.get()), "create an image surface");
    replay(*drawing_, image.get());
    check_cairo(cairo_surface_write_to_png_stream(image.get(), append_to_string, &bytes),
                "encode the PNG");
  } else {
    std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)> svg(
        cairo_svg_surface_create_for_stream(append_to_string, &bytes, width(), height()),
        cairo_surface_destroy);
    check_cairo(cairo_surface_status(svg.get()), "create an SVG surface");
    // Pixels, not points, so that the SVG has the PNG's size.
    cairo_svg_surface_set_document_unit(svg.get(), CAIRO_SVG_UNIT_PX);
    replay(*drawing_, svg.get());
    cairo_surface_finish(svg.get());
    check_cairo(cairo_surface_status(svg.get()), "encode the SVG");
  }
  return bytes;
}

void Picture::save(const std::string& path) const {
  write_file_atomically(path, encode(picture_format_for(path)));
}

namespace viz {

Colour heat_colour(double share) {
  // Interpolates white -> light blue -> dark blue, like matplotlib's "Blues".
  constexpr Colour kStops[] = {{1.0, 1.0, 1.0}, {0.62, 0.79, 0.88}, {0.03, 0.19, 0.42}};
  const double t = std::clamp(share, 0.0, 1.0) * 2.0;
  const int i = std::min(1, static_cast<int>(t));
  const double f = t - i;
  const Colour& a = kStops[i];
  const Colour& b = kStops[i + 1];
  return {a.red + (b.red - a.red) * f, a.green + (b.green - a.green) * f,
          a.blue + (b.blue - a.blue) * f};
}

double luminance(Colour colour) {
  return 0.2126 * colour.red + 0.7152 * colour.green + 0.0722 * colour.blue;
}

Canvas::Canvas(int width, int height)
    : width_(width), height_(height), cr_(nullptr, cairo_destroy) {
  IMGCLS_CHECK(width > 0 && height > 0, "picture size {}x{}", width, height);
  const cairo_rectangle_t extents{0, 0, double(width), double(height)};
  recording_.reset(cairo_recording_surface_create(CAIRO_CONTENT_COLOR_ALPHA, &extents),
                   cairo_surface_destroy);
  check_cairo(cairo_surface_status(recording_.get()), "create a recording surface");
  cr_.reset(cairo_create(recording_.get()));
  set_colour(cr(), colours::kPaper);
  cairo_paint(cr());
}

Picture Canvas::finish() {
  check_cairo(cairo_status(cr()), "draw the picture");
  cr_.reset();
  auto drawing = std::make_shared<Picture::Drawing>();
  drawing->width = width_;
  drawing->height = height_;
  drawing->recording = recording_;
  return Picture(std::move(drawing));
}

void set_colour(cairo_t* cr, Colour colour) {
  cairo_set_source_rgb(cr, colour.red, colour.green, colour.blue);
}

void fill_rect(cairo_t* cr, const Rect& rect, Colour colour) {
  set_colour(cr, colour);
  cairo_rectangle(cr, rect.x, rect.y, rect.width, rect.height);
  cairo_fill(cr);
}

void frame_rect(cairo_t* cr, const Rect& rect, double line_width, Colour colour) {
  set_colour(cr, colour);
  cairo_set_line_width(cr, line_width);
  cairo_rectangle(cr, rect.x + line_width / 2, rect.y + line_width / 2, rect.width - line_width,
                  rect.height - line_width);
  cairo_stroke(cr);
}

namespace {

void select_font(cairo_t* cr, const TextStyle& style) {
  cairo_select_font_face(cr, kFontFamily, CAIRO_FONT_SLANT_NORMAL,
                         style.bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, style.size);
}

cairo_text_extents_t extents_of(cairo_t* cr, std::string_view text, const TextStyle& style) {
  select_font(cr, style);
  const std::string s(text);
  cairo_text_extents_t extents;
  cairo_text_extents(cr, s.c_str(), &extents);
  return extents;
}

double aligned_x(double x, double advance, Align align) {
  switch (align) {
    case Align::left:
      return x;
    case Align::centre:
      return x - advance / 2;
    case Align::right:
      return x - advance;
  }
  return x;
}

}  // namespace

double text_width(cairo_t* cr, std::string_view text, const TextStyle& style) {
  return extents_of(cr, text, style).x_advance;
}

void draw_text(cairo_t* cr, double x, double y, std::string_view text, const TextStyle& style) {
  const cairo_text_extents_t extents = extents_of(cr, text, style);
  const std::string s(text);
  set_colour(cr, style.colour);
  cairo_move_to(cr, aligned_x(x, extents.x_advance, style.align), y);
  cairo_show_text(cr, s.c_str());
}

void draw_text_centred(cairo_t* cr, const Rect& box, std::string_view text,
                       const TextStyle& style) {
  const cairo_text_extents_t extents = extents_of(cr, text, style);
  const std::string s(text);
  set_colour(cr, style.colour);
  cairo_move_to(cr, box.centre_x() - extents.x_bearing - extents.width / 2,
                box.centre_y() - extents.y_bearing - extents.height / 2);
  cairo_show_text(cr, s.c_str());
}

void draw_text_upwards(cairo_t* cr, double x, double y, std::string_view text,
                       const TextStyle& style) {
  cairo_save(cr);
  cairo_translate(cr, x, y);
  cairo_rotate(cr, -std::numbers::pi / 2);
  // After the turn, the text's own x runs up the page: centre it on the turning point.
  draw_text_centred(cr, Rect{-1, -1, 2, 2}, text, style);
  cairo_restore(cr);
}

std::string fit_text(cairo_t* cr, std::string_view text, const TextStyle& style, double max_width) {
  if (text_width(cr, text, style) <= max_width) return std::string(text);
  std::string prefix(text);
  while (!prefix.empty()) {
    // Drop a whole UTF-8 character: its continuation bytes, then its lead byte.
    while (!prefix.empty() && (static_cast<unsigned char>(prefix.back()) & 0xC0) == 0x80)
      prefix.pop_back();
    if (!prefix.empty()) prefix.pop_back();
    if (text_width(cr, prefix + "...", style) <= max_width) return prefix + "...";
  }
  return "";
}

void draw_caption_line(cairo_t* cr, double left, double right, double baseline,
                       const std::vector<std::string>& left_texts, const TextStyle& left_style,
                       std::string_view right_text, const TextStyle& right_style) {
  IMGCLS_CHECK(!left_texts.empty(), "no caption text");
  constexpr double kCaptionGap = 6;
  TextStyle right_aligned = right_style;
  right_aligned.align = Align::right;
  draw_text(cr, right, baseline, right_text, right_aligned);
  TextStyle left_aligned = left_style;
  left_aligned.align = Align::left;
  const double room = right - left - text_width(cr, right_text, right_style) - kCaptionGap;
  for (const std::string& text : left_texts)
    if (text_width(cr, text, left_aligned) <= room) {
      draw_text(cr, left, baseline, text, left_aligned);
      return;
    }
  draw_text(cr, left, baseline, fit_text(cr, left_texts.back(), left_aligned, room), left_aligned);
}

std::unique_ptr<cairo_t, decltype(&cairo_destroy)> measuring_context() {
  std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)> surface(
      cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1), cairo_surface_destroy);
  return {cairo_create(surface.get()), cairo_destroy};
}

void draw_image(cairo_t* cr, const float* pixels, std::int64_t height, std::int64_t width,
                std::int64_t channels, double x, double y, int scale, bool invert_grey) {
  IMGCLS_CHECK(channels == 1 || channels == 3, "{} channels", channels);
  IMGCLS_CHECK(height > 0 && width > 0 && scale >= 1, "image {}x{} at scale {}", height, width,
               scale);
  // Scale up here, pixel by pixel, rather than with a cairo transform: an SVG viewer would
  // smooth an enlarged 28x28 image into a blur.
  const int out_width = static_cast<int>(width) * scale;
  const int out_height = static_cast<int>(height) * scale;
  std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)> image(
      cairo_image_surface_create(CAIRO_FORMAT_RGB24, out_width, out_height), cairo_surface_destroy);
  check_cairo(cairo_surface_status(image.get()), "create an image surface");
  cairo_surface_flush(image.get());
  unsigned char* data = cairo_image_surface_get_data(image.get());
  const int stride = cairo_image_surface_get_stride(image.get());
  const auto byte = [](float value) {
    return static_cast<std::uint32_t>(std::lround(std::clamp(value, 0.0f, 1.0f) * 255.0f));
  };
  for (int row = 0; row < out_height; ++row) {
    auto* line = reinterpret_cast<std::uint32_t*>(data + static_cast<std::ptrdiff_t>(row) * stride);
    for (int column = 0; column < out_width; ++column) {
      const float* pixel = pixels + ((row / scale) * width + column / scale) * channels;
      std::uint32_t r, g, b;
      if (channels == 1) {
        r = g = b = byte(invert_grey ? 1.0f - pixel[0] : pixel[0]);
      } else {
        r = byte(pixel[0]);
        g = byte(pixel[1]);
        b = byte(pixel[2]);
      }
      line[column] = (r << 16) | (g << 8) | b;  // CAIRO_FORMAT_RGB24: 0xXXRRGGBB
    }
  }
  cairo_surface_mark_dirty(image.get());
  cairo_set_source_surface(cr, image.get(), x, y);
  cairo_rectangle(cr, x, y, out_width, out_height);
  cairo_fill(cr);
}

namespace {
constexpr TextStyle kTitleStyle{.size = 20, .bold = true};
constexpr TextStyle kSubtitleStyle{.size = 14, .colour = colours::kMuted};
constexpr double kTitleHeight = 24;   // title baseline below the margin
constexpr double kSubtitleLine = 20;  // baseline to baseline
constexpr double kHeaderGap = 16;     // after the last line
}  // namespace

double header_height(std::size_t subtitle_lines) {
  return kMargin + kTitleHeight + kSubtitleLine * static_cast<double>(subtitle_lines) + kHeaderGap;
}

void draw_header(cairo_t* cr, std::string_view title, const std::vector<std::string>& subtitle) {
  draw_text(cr, kMargin, kMargin + kTitleHeight - 4, title, kTitleStyle);
  for (std::size_t i = 0; i < subtitle.size(); ++i)
    draw_text(cr, kMargin, kMargin + kTitleHeight + kSubtitleLine * static_cast<double>(i + 1) - 2,
              subtitle[i], kSubtitleStyle);
}

double header_width(cairo_t* cr, std::string_view title, const std::vector<std::string>& subtitle) {
  double widest = text_width(cr, title, kTitleStyle);
  for (const std::string& line : subtitle)
    widest = std::max(widest, text_width(cr, line, kSubtitleStyle));
  return 2 * kMargin + widest;
}

std::vector<std::int32_t> predicted_classes(const Dataset& data, const Tensor& probabilities,
                                            const std::vector<std::string>& class_names) {
  IMGCLS_CHECK(data.images.rank() == 4 && data.images.dim(0) == data.size(),
               "images {} with {} labels", to_string(data.images.shape()), data.size());
  IMGCLS_CHECK(data.images.dim(3) == 1 || data.images.dim(3) == 3, "images {}: 1 or 3 channels",
               to_string(data.images.shape()));
  IMGCLS_CHECK(probabilities.rank() == 2 && probabilities.dim(0) == data.size(),
               "probabilities {} for {} images", to_string(probabilities.shape()), data.size());
  const std::int64_t classes = probabilities.dim(1);
  IMGCLS_CHECK(static_cast<std::int64_t>(class_names.size()) == classes,
               "{} class names for {} classes", class_names.size(), classes);
  std::vector<std::int32_t> predicted(static_cast<std::size_t>(data.size()));
  for (std::int64_t i = 0; i < data.size(); ++i) {
    const float* row = probabilities.data() + i * classes;
    predicted[static_cast<std::size_t>(i)] =
        static_cast<std::int32_t>(std::max_element(row, row + classes) - row);
  }
  for (std::int32_t label : data.labels)
    IMGCLS_CHECK(label >= 0 && label < classes, "label {} with {} classes", label, classes);
  return predicted;
}

std::string with_thousands(std::int64_t value) {
  const std::string digits = std::to_string(value < 0 ? -value : value);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return value < 0 ? "-" + out : out;
}

std::string percent(double share, int decimals) {
  return fmt::format("{:.{}f}%", 100.0 * share, decimals);
}

std::string probability_text(double probability) {
  constexpr double kShownAsHundred = 0.9995, kShownAsZero = 0.0005;
  if (probability >= kShownAsHundred && probability < 1.0) return ">99.9%";
  if (probability > 0.0 && probability < kShownAsZero) return "<0.1%";
  return percent(probability, probability == 1.0 || probability == 0.0 ? 0 : 1);
}

Ticks nice_ticks(double low, double high, int target) {
  IMGCLS_CHECK(low < high && target >= 1, "range [{}, {}], {} ticks", low, high, target);
  const double raw = (high - low) / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double normalised = raw / magnitude;
  const double factor = normalised < 1.5 ? 1 : normalised < 3 ? 2 : normalised < 7 ? 5 : 10;
  Ticks ticks;
  ticks.step = factor * magnitude;
  // A little slack so that a value a rounding error past a tick does not add a step.
  const double slack = 1e-9 * ticks.step;
  ticks.low = std::floor((low + slack) / ticks.step) * ticks.step;
  ticks.high = std::ceil((high - slack) / ticks.step) * ticks.step;
  const int count = static_cast<int>(std::lround((ticks.high - ticks.low) / ticks.step));
  for (int i = 0; i <= count; ++i) ticks.values.push_back(ticks.low + i * ticks.step);
  ticks.decimals = std::max(0, -static_cast<int>(std::floor(std::log10(ticks.step) + 1e-9)));
  return ticks;
}

Rect CellGrid::cell(std::size_t index) const {
  const auto column = static_cast<double>(index % static_cast<std::size_t>(columns));
  const std::size_t row_index = index / static_cast<std::size_t>(columns);  // whole rows before
  const auto row = static_cast<double>(row_index);
  return {left + column * (cell_width + gap), top + row * (cell_height + gap), cell_width,
          cell_height};
}

double CellGrid::right() const {
  const auto used = static_cast<double>(std::min(count, static_cast<std::size_t>(columns)));
  return left + used * cell_width + std::max(0.0, used - 1) * gap;
}

double CellGrid::bottom() const {
  const auto columns_size = static_cast<std::size_t>(columns);
  const std::size_t row_count = (count + columns_size - 1) / columns_size;  // rows begun
  const auto rows = static_cast<double>(row_count);
  return top + rows * cell_height + std::max(0.0, rows - 1) * gap;
}

int image_scale(std::int64_t height, std::int64_t width, int target_side) {
  return std::max(1, target_side / static_cast<int>(std::max(height, width)));
}

}  // namespace viz
}  // namespace imgcls
