// The error gallery: the most confident mistakes, each with its top-3 probabilities as bars.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/check.hpp"
#include "viz/draw.hpp"
#include "viz/layout.hpp"

namespace imgcls {

namespace viz {

namespace {
constexpr int kImageSide = 112;  // an MNIST digit at 4x
constexpr double kPadding = 10;
constexpr double kTextGap = 14;  // between the image and the text
constexpr double kTextWidth = 190;
constexpr double kTextHeight = 128;  // two caption lines, three bars and a note
constexpr double kGap = 12;
constexpr double kFrame = 4;
constexpr int kTopClasses = 3;
constexpr double kBarLabelMin = 20, kBarLabelMax = 90;  // the class names before the bars
constexpr double kBarValueWidth = 46;                   // ">99.9%" after them
constexpr double kBarHeight = 12;
constexpr double kBarRow = 20;
}  // namespace

CellGrid error_gallery_cells(std::size_t count, int columns, std::int64_t height,
                             std::int64_t width) {
  const int scale = image_scale(height, width, kImageSide);
  const double image_width = static_cast<double>(width * scale);
  const double image_height = static_cast<double>(height * scale);
  return {.left = kMargin,
          .top = header_height(kErrorGallerySubtitleLines),
          .cell_width = image_width + kTextGap + kTextWidth + 2 * kPadding,
          .cell_height = std::max(image_height, kTextHeight) + 2 * kPadding,
          .gap = kGap,
          .columns = columns,
          .count = count};
}

}  // namespace viz

Picture draw_error_gallery(const Dataset& data, const Tensor& probabilities,
                           const std::vector<std::string>& class_names,
                           const ErrorGalleryOptions& options) {
  using namespace viz;
  IMGCLS_CHECK(options.count >= 1 && options.columns >= 1, "{} mistakes in {} columns",
               options.count, options.columns);
  const std::vector<std::int32_t> predicted = predicted_classes(data, probabilities, class_names);
  const std::int64_t height = data.images.dim(1), width = data.images.dim(2),
                     channels = data.images.dim(3), classes = probabilities.dim(1);
  std::vector<float> values(static_cast<std::size_t>(height * width * channels));  // one image
  const auto confidence = [&](std::int64_t i) {
    return probabilities[i * classes + predicted[static_cast<std::size_t>(i)]];
  };

  std::vector<std::int64_t> mistakes;
  for (std::int64_t i = 0; i < data.size(); ++i)
    if (predicted[static_cast<std::size_t>(i)] != data.labels[static_cast<std::size_t>(i)])
      mistakes.push_back(i);
  const std::size_t all_mistakes = mistakes.size();
  std::stable_sort(mistakes.begin(), mistakes.end(),
                   [&](std::int64_t a, std::int64_t b) { return confidence(a) > confidence(b); });
  mistakes.resize(std::min(mistakes.size(), static_cast<std::size_t>(options.count)));

  const std::string title =
      mistakes.empty()
          ? fmt::format("No mistakes among {} images", with_thousands(data.size()))
          : fmt::format(
                "The {} most confident mistakes ({} wrong of {} images, {})", mistakes.size(),
                with_thousands(static_cast<std::int64_t>(all_mistakes)),
                with_thousands(data.size()),
                percent(static_cast<double>(all_mistakes) / static_cast<double>(data.size()), 2));
  const std::vector<std::string> subtitle = {
      "Most confident first: sorted by the probability the model gave its wrong answer.",
      "Bars: the three most probable classes; red the predicted class, green the true class."};
  const int columns = std::max(1, std::min(options.columns, static_cast<int>(mistakes.size())));
  const CellGrid grid = error_gallery_cells(mistakes.size(), columns, height, width);
  const int scale = image_scale(height, width, kImageSide);

  const auto measure = measuring_context();
  const double width_needed =
      std::max(grid.right() + kMargin, header_width(measure.get(), title, subtitle));
  const double height_needed = mistakes.empty() ? grid.top : grid.bottom() + kMargin;
  Canvas canvas(static_cast<int>(std::ceil(width_needed)),
                static_cast<int>(std::ceil(height_needed)));
  cairo_t* cr = canvas.cr();
  draw_header(cr, title, subtitle);

  const TextStyle predicted_style{.size = 15, .bold = true, .colour = colours::kWrong};
  const TextStyle truth_style{.size = 14, .bold = true, .colour = colours::kCorrect};
  const TextStyle bar_label_style{.size = 13};
  const TextStyle bar_value_style{.size = 12, .colour = colours::kMuted};
  const TextStyle index_style{.size = 12, .colour = colours::kMuted};
  double names_width = 0;
  for (const std::string& name : class_names)
    names_width =
        std::max(names_width, text_width(cr, name, {.size = bar_label_style.size, .bold = true}));
  const double bar_label_width = std::clamp(names_width + 6, kBarLabelMin, kBarLabelMax);
  const double bar_width = kTextWidth - bar_label_width - kBarValueWidth;
  for (std::size_t cell_index = 0; cell_index < mistakes.size(); ++cell_index) {
    const std::int64_t i = mistakes[cell_index];
    const std::int32_t guess = predicted[static_cast<std::size_t>(i)];
    const std::int32_t truth = data.labels[static_cast<std::size_t>(i)];
    const Rect cell = grid.cell(cell_index);
    fill_rect(cr, cell, colours::kWrongTint);
    frame_rect(cr, cell, kFrame, colours::kWrong);
    const double image_x = std::round(cell.x + kPadding), image_y = std::round(cell.y + kPadding);
    data.images.to_unit(i, 1, values.data());
    draw_image(cr, values.data(), height, width, channels, image_x, image_y, scale,
               options.invert_grey);

    const double x = image_x + static_cast<double>(width * scale) + kTextGap;
    const double top = cell.y + kPadding;
    draw_caption_line(cr, x, x + kTextWidth, top + 14,
                      {"pred " + class_names[static_cast<std::size_t>(guess)],
                       class_names[static_cast<std::size_t>(guess)]},
                      predicted_style, probability_text(confidence(i)), predicted_style);
    draw_caption_line(cr, x, x + kTextWidth, top + 34,
                      {"true " + class_names[static_cast<std::size_t>(truth)],
                       class_names[static_cast<std::size_t>(truth)]},
                      truth_style, fmt::format("#{}", i), index_style);

    const float* row = probabilities.data() + i * classes;
    std::vector<std::int32_t> order(static_cast<std::size_t>(classes));
    std::iota(order.begin(), order.end(), 0);
    const auto top_count =
        static_cast<std::ptrdiff_t>(std::min<std::int64_t>(kTopClasses, classes));
    std::partial_sort(order.begin(), order.begin() + top_count, order.end(),
                      [&](std::int32_t a, std::int32_t b) { return row[a] > row[b]; });
    for (std::ptrdiff_t rank = 0; rank < top_count; ++rank) {
      const std::int32_t c = order[static_cast<std::size_t>(rank)];
      const double baseline = top + 62 + kBarRow * static_cast<double>(rank);
      // The predicted and the true class are named in their bar colours, so that the true
      // class stands out even when its bar is too short to see.
      TextStyle label_style = bar_label_style;
      if (c == guess || c == truth) {
        label_style.bold = true;
        label_style.colour = c == guess ? colours::kWrong : colours::kCorrect;
      }
      draw_text(
          cr, x, baseline,
          fit_text(cr, class_names[static_cast<std::size_t>(c)], label_style, bar_label_width - 4),
          label_style);
      const Rect track{x + bar_label_width, baseline - kBarHeight + 1, bar_width, kBarHeight};
      fill_rect(cr, track, colours::kPaper);
      const Colour bar = c == guess   ? colours::kWrong
                         : c == truth ? colours::kCorrect
                                      : colours::kBar;
      fill_rect(cr,
                {track.x, track.y, bar_width * std::clamp(double(row[c]), 0.0, 1.0), kBarHeight},
                bar);
      frame_rect(cr, track, 1, colours::kRule);
      draw_text(cr, track.right() + 6, baseline, probability_text(row[c]), bar_value_style);
    }
    // When the true class is not among the top three, say how likely the model found it.
    if (std::find(order.begin(), order.begin() + top_count, truth) == order.begin() + top_count)
      draw_text(cr, x, top + 62 + kBarRow * kTopClasses,
                fmt::format("true class {}: {}", class_names[static_cast<std::size_t>(truth)],
                            probability_text(row[truth])),
                bar_value_style);
  }
  return canvas.finish();
}

}  // namespace imgcls
