// The confusion matrix as a heat map: counts in the cells, colour by share of the row on a
// log scale, so that a 2% confusion shows as clearly as it matters next to a 98% diagonal.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "core/check.hpp"
#include "viz/draw.hpp"
#include "viz/layout.hpp"

namespace imgcls {

namespace viz {

namespace {
constexpr double kMatrixSide = 540;  // cells shrink to keep the matrix about this big
constexpr double kCellMin = 14, kCellMax = 96;
constexpr double kCountFontMax = 16, kCountFontMin = 8;
constexpr double kLabelFontMax = 14;
constexpr double kAxisTitleBand = 22;  // the "True label" column and the "Predicted label" row
constexpr double kLabelGap = 8;
constexpr double kColourBarGap = 24, kColourBarWidth = 16;
constexpr double kColourBarLabels = 40;  // "100%" and the space around it
constexpr TextStyle kAxisTitleStyle{.size = 15, .bold = true};
constexpr double kLogDecades = 3;  // the colour scale runs from 0.1% (white) to 100% of a row

// Where a share of the row sits on the colour scale, in [0, 1].
double colour_position(double share) {
  return share <= 0 ? 0.0 : std::clamp(1.0 + std::log10(share) / kLogDecades, 0.0, 1.0);
}

TextStyle label_style(double size) { return {.size = size}; }

double widest(cairo_t* cr, const std::vector<std::string>& texts, const TextStyle& style) {
  double w = 0;
  for (const std::string& t : texts) w = std::max(w, text_width(cr, t, style));
  return w;
}

}  // namespace

Rect ConfusionLayout::cell(std::int64_t truth, std::int64_t predicted) const {
  return {matrix.x + static_cast<double>(predicted) * cell_size,
          matrix.y + static_cast<double>(truth) * cell_size, cell_size, cell_size};
}

ConfusionLayout confusion_layout(const ConfusionMatrix& matrix,
                                 const std::vector<std::string>& class_names) {
  IMGCLS_CHECK(matrix.classes >= 1 && std::ssize(matrix.counts) == matrix.classes * matrix.classes,
               "{} classes, {} counts", matrix.classes, matrix.counts.size());
  IMGCLS_CHECK(std::ssize(class_names) == matrix.classes, "{} class names for {} classes",
               class_names.size(), matrix.classes);
  const auto measure = measuring_context();
  cairo_t* cr = measure.get();
  ConfusionLayout layout;
  layout.classes = matrix.classes;
  const auto classes = static_cast<double>(matrix.classes);
  layout.cell_size = std::clamp(std::round(kMatrixSide / classes), kCellMin, kCellMax);
  layout.label_font = std::min(kLabelFontMax, std::round(layout.cell_size * 0.6));

  // The largest count font at which the widest count fits in a cell, or none.
  const std::int64_t largest = *std::max_element(matrix.counts.begin(), matrix.counts.end());
  for (double size = std::min(kCountFontMax, std::round(layout.cell_size * 0.32));
       size >= kCountFontMin; size -= 1)
    if (text_width(cr, std::to_string(largest), {.size = size}) <= layout.cell_size - 4) {
      layout.count_font = size;
      break;
    }

  const double label_width = widest(cr, class_names, label_style(layout.label_font));
  layout.row_labels_left = kMargin + kAxisTitleBand + kLabelGap;
  layout.matrix = {layout.row_labels_left + label_width + kLabelGap,
                   header_height(kConfusionSubtitleLines), classes * layout.cell_size,
                   classes * layout.cell_size};
  layout.column_labels_upwards = label_width > layout.cell_size - 4;
  layout.column_labels_height = layout.column_labels_upwards ? label_width + 2 * kLabelGap
                                                             : layout.label_font + 2 * kLabelGap;
  layout.colour_bar = {layout.matrix.right() + kColourBarGap, layout.matrix.y, kColourBarWidth,
                       layout.matrix.height};
  layout.width = static_cast<int>(
      std::ceil(layout.colour_bar.right() + kColourBarLabels + kAxisTitleBand + kMargin));
  layout.height = static_cast<int>(
      std::ceil(layout.matrix.bottom() + layout.column_labels_height + kAxisTitleBand + kMargin));
  return layout;
}

}  // namespace viz

Picture draw_confusion_matrix(const ConfusionMatrix& matrix,
                              const std::vector<std::string>& class_names) {
  using namespace viz;
  ConfusionLayout layout = confusion_layout(matrix, class_names);
  const std::int64_t classes = matrix.classes;

  // The most frequent mistake, named in the subtitle.
  std::int64_t worst_truth = -1, worst_predicted = -1, worst_count = 0;
  for (std::int64_t t = 0; t < classes; ++t)
    for (std::int64_t p = 0; p < classes; ++p)
      if (t != p && matrix.count(t, p) > worst_count) {
        worst_truth = t;
        worst_predicted = p;
        worst_count = matrix.count(t, p);
      }
  const std::string title =
      fmt::format("Confusion matrix: {} correct ({} of {} images)", percent(matrix.accuracy(), 2),
                  with_thousands(matrix.correct()), with_thousands(matrix.total()));
  const std::vector<std::string> subtitle = {
      "Numbers: image counts. Colour: the cell's share of its row (its true class), on a log "
      "scale.",
      worst_count == 0 ? std::string("No mistakes: everything is on the diagonal.")
                       : fmt::format("Most frequent mistake: {} image{} of {} predicted as {}.",
                                     worst_count, worst_count == 1 ? "" : "s",
                                     class_names[static_cast<std::size_t>(worst_truth)],
                                     class_names[static_cast<std::size_t>(worst_predicted)])};
  {
    const auto measure = measuring_context();
    layout.width = std::max(
        layout.width, static_cast<int>(std::ceil(header_width(measure.get(), title, subtitle))));
  }
  Canvas canvas(layout.width, layout.height);
  cairo_t* cr = canvas.cr();
  draw_header(cr, title, subtitle);

  const TextStyle count_style{.size = layout.count_font};
  for (std::int64_t t = 0; t < classes; ++t) {
    const std::int64_t row_total = matrix.row_total(t);
    for (std::int64_t p = 0; p < classes; ++p) {
      const std::int64_t count = matrix.count(t, p);
      const double share =
          row_total == 0 ? 0.0 : static_cast<double>(count) / static_cast<double>(row_total);
      const Colour colour = heat_colour(colour_position(share));
      const Rect cell = layout.cell(t, p);
      fill_rect(cr, cell, colour);
      if (layout.count_font > 0) {
        TextStyle style = count_style;
        style.colour = count == 0                ? colours::kRule
                       : luminance(colour) < 0.5 ? colours::kPaper
                                                 : colours::kInk;
        draw_text_centred(cr, cell, std::to_string(count), style);
      }
    }
  }
  frame_rect(
      cr,
      {layout.matrix.x - 1, layout.matrix.y - 1, layout.matrix.width + 2, layout.matrix.height + 2},
      1, colours::kRule);

  // Class names: down the left of the rows, under the columns.
  const TextStyle row_label{.size = layout.label_font};
  for (std::int64_t t = 0; t < classes; ++t) {
    const Rect cell = layout.cell(t, 0);
    const std::string& name = class_names[static_cast<std::size_t>(t)];
    const double w = text_width(cr, name, row_label);
    draw_text_centred(cr, {cell.x - kLabelGap - w, cell.y, w, cell.height}, name, row_label);
  }
  const TextStyle column_label{.size = layout.label_font};
  for (std::int64_t p = 0; p < classes; ++p) {
    const Rect cell = layout.cell(classes - 1, p);
    const std::string& name = class_names[static_cast<std::size_t>(p)];
    if (layout.column_labels_upwards) {
      const double w = text_width(cr, name, column_label);
      draw_text_upwards(cr, cell.centre_x(), cell.bottom() + kLabelGap + w / 2, name, column_label);
    } else {
      draw_text_centred(cr, {cell.x, cell.bottom(), cell.width, layout.column_labels_height}, name,
                        column_label);
    }
  }
  // Axis titles.
  draw_text_centred(cr,
                    {layout.matrix.x, layout.matrix.bottom() + layout.column_labels_height,
                     layout.matrix.width, kAxisTitleBand},
                    "Predicted label", kAxisTitleStyle);
  draw_text_upwards(cr, kMargin + kAxisTitleBand / 2, layout.matrix.centre_y(), "True label",
                    kAxisTitleStyle);

  // The colour bar, with the same three stops as heat_colour, labelled in shares of the row.
  const Rect bar = layout.colour_bar;
  cairo_pattern_t* gradient = cairo_pattern_create_linear(0, bar.bottom(), 0, bar.y);
  for (const double stop : {0.0, 0.5, 1.0}) {
    const Colour c = heat_colour(stop);
    cairo_pattern_add_color_stop_rgb(gradient, stop, c.red, c.green, c.blue);
  }
  cairo_set_source(cr, gradient);
  cairo_rectangle(cr, bar.x, bar.y, bar.width, bar.height);
  cairo_fill(cr);
  cairo_pattern_destroy(gradient);
  frame_rect(cr, bar, 1, colours::kRule);
  const TextStyle tick_style{.size = 12, .colour = colours::kMuted};
  for (const double share : {0.001, 0.01, 0.1, 1.0}) {
    const double y = bar.bottom() - colour_position(share) * bar.height;
    set_colour(cr, colours::kMuted);
    cairo_set_line_width(cr, 1);
    cairo_move_to(cr, bar.right(), std::round(y) + 0.5);
    cairo_line_to(cr, bar.right() + 4, std::round(y) + 0.5);
    cairo_stroke(cr);
    const std::string label = share < 0.01 ? percent(share, 1) : percent(share, 0);
    draw_text_centred(cr, {bar.right() + 6, y - 6, text_width(cr, label, tick_style), 12}, label,
                      tick_style);
  }
  const std::string caption = "share of the row (log scale)";
  const TextStyle caption_style{.size = 13, .colour = colours::kMuted};
  if (text_width(cr, caption, caption_style) <= bar.height)  // a tiny matrix goes without
    draw_text_upwards(cr, bar.right() + kColourBarLabels + kAxisTitleBand / 2, bar.centre_y(),
                      caption, caption_style);
  return canvas.finish();
}

}  // namespace imgcls
