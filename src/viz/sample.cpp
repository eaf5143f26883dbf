// The seed's picture: one test digit, enlarged, with its predicted and true labels.
#include <cairo.h>
#include <fmt/core.h>

#include <algorithm>
#include <memory>

#include "core/atomic_file.hpp"
#include "core/check.hpp"
#include "imgcls/viz.hpp"

namespace imgcls {

namespace {

constexpr int kPixelScale = 12;   // each input pixel becomes a 12x12 block
constexpr int kMargin = 16;
constexpr int kCaptionHeight = 64;

cairo_status_t append_to_string(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

}  // namespace

void write_sample_png(const std::string& path, const SamplePicture& sample) {
  IMGCLS_CHECK(sample.image != nullptr && sample.height > 0 && sample.width > 0, "no image");
  const int width = static_cast<int>(sample.width) * kPixelScale + 2 * kMargin;
  const int height = static_cast<int>(sample.height) * kPixelScale + 2 * kMargin + kCaptionHeight;
  std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)> surface(
      cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height), cairo_surface_destroy);
  std::unique_ptr<cairo_t, decltype(&cairo_destroy)> cr(cairo_create(surface.get()), cairo_destroy);
  cairo_t* c = cr.get();

  cairo_set_source_rgb(c, 1, 1, 1);
  cairo_paint(c);

  const bool correct = sample.predicted == sample.truth;
  cairo_select_font_face(c, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
  cairo_set_font_size(c, 22);
  if (correct) cairo_set_source_rgb(c, 0.05, 0.45, 0.15);
  else cairo_set_source_rgb(c, 0.8, 0.1, 0.1);
  const std::string headline = fmt::format("Predicted: {}  ({:.1f}%)", sample.predicted,
                                           100.0 * sample.confidence);
  cairo_move_to(c, kMargin, kMargin + 22);
  cairo_show_text(c, headline.c_str());
  cairo_select_font_face(c, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(c, 18);
  cairo_set_source_rgb(c, 0.2, 0.2, 0.2);
  const std::string truth = fmt::format("True label: {}", sample.truth);
  cairo_move_to(c, kMargin, kMargin + 50);
  cairo_show_text(c, truth.c_str());

  const int top = kMargin + kCaptionHeight;
  for (std::int64_t y = 0; y < sample.height; ++y)
    for (std::int64_t x = 0; x < sample.width; ++x) {
      // MNIST is white ink on black; draw it as dark ink on white, as a person writes.
      const double ink = std::clamp(double(sample.image[y * sample.width + x]), 0.0, 1.0);
      cairo_set_source_rgb(c, 1.0 - ink, 1.0 - ink, 1.0 - ink);
      cairo_rectangle(c, kMargin + double(x) * kPixelScale, top + double(y) * kPixelScale,
                      kPixelScale, kPixelScale);
      cairo_fill(c);
    }
  cairo_set_source_rgb(c, 0.6, 0.6, 0.6);
  cairo_set_line_width(c, 1);
  cairo_rectangle(c, kMargin - 0.5, top - 0.5, double(sample.width * kPixelScale) + 1,
                  double(sample.height * kPixelScale) + 1);
  cairo_stroke(c);

  std::string png;
  if (cairo_surface_write_to_png_stream(surface.get(), append_to_string, &png) != CAIRO_STATUS_SUCCESS)
    throw InputError(path, "cairo could not encode the PNG");
  write_file_atomically(path, png);
}

}  // namespace imgcls
