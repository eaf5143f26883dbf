// The sample grid: which images it shows, where they go, and how each cell is drawn.
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

#include "core/check.hpp"
#include "viz/draw.hpp"
#include "viz/layout.hpp"

namespace imgcls {

namespace viz {

namespace {
constexpr int kImageSide = 140;  // an MNIST digit at 5x
constexpr double kPadding = 10;  // inside a cell, around the image and the caption
constexpr double kCaptionHeight = 48;
constexpr double kGap = 12;  // between cells
constexpr double kWrongFrame = 4;
constexpr double kCorrectFrame = 1;
}  // namespace

std::vector<std::int64_t> choose_grid_samples(std::span<const std::int32_t> labels,
                                              std::span<const std::int32_t> predicted,
                                              const SampleGridOptions& options) {
  IMGCLS_CHECK(labels.size() == predicted.size(), "{} labels, {} predictions", labels.size(),
               predicted.size());
  IMGCLS_CHECK(options.rows >= 1 && options.columns >= 1, "{} rows, {} columns", options.rows,
               options.columns);
  const std::int64_t cells = std::int64_t{options.rows} * options.columns;
  IMGCLS_CHECK(options.mistakes >= 0 && options.mistakes <= cells, "{} mistakes in {} cells",
               options.mistakes, cells);
  const auto n = static_cast<std::int64_t>(labels.size());
  IMGCLS_CHECK(options.first >= 0 && options.first < n, "first image {} of {}", options.first, n);

  const std::int64_t leading_end = std::min(n, options.first + cells - options.mistakes);
  std::vector<std::int64_t> chosen;
  for (std::int64_t i = options.first; i < leading_end; ++i) chosen.push_back(i);
  const auto wrong = [&](std::int64_t i) {
    return labels[static_cast<std::size_t>(i)] != predicted[static_cast<std::size_t>(i)];
  };
  for (std::int64_t i = leading_end; i < n && std::ssize(chosen) < cells; ++i)
    if (wrong(i)) chosen.push_back(i);
  // Too few mistakes: the next images in order take the remaining cells.
  for (std::int64_t i = leading_end; i < n && std::ssize(chosen) < cells; ++i)
    if (!wrong(i)) chosen.push_back(i);
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

CellGrid sample_grid_cells(std::size_t count, int columns, std::int64_t height,
                           std::int64_t width) {
  const int scale = image_scale(height, width, kImageSide);
  const double image_width = static_cast<double>(width * scale);
  const double image_height = static_cast<double>(height * scale);
  return {.left = kMargin,
          .top = header_height(kSampleGridSubtitleLines),
          .cell_width = image_width + 2 * kPadding,
          .cell_height = image_height + 2 * kPadding + kCaptionHeight,
          .gap = kGap,
          .columns = columns,
          .count = count};
}

}  // namespace viz

Picture draw_sample_grid(const Dataset& data, const Tensor& probabilities,
                         const std::vector<std::string>& class_names,
                         const SampleGridOptions& options) {
  using namespace viz;
  const std::vector<std::int32_t> predicted = predicted_classes(data, probabilities, class_names);
  const std::vector<std::int64_t> chosen = choose_grid_samples(data.labels, predicted, options);
  const std::int64_t height = data.images.dim(1), width = data.images.dim(2),
                     channels = data.images.dim(3), classes = probabilities.dim(1);
  std::vector<float> values(static_cast<std::size_t>(height * width * channels));  // one image
  const int scale = image_scale(height, width, kImageSide);
  const int columns = std::min(options.columns, static_cast<int>(chosen.size()));
  const CellGrid grid = sample_grid_cells(chosen.size(), columns, height, width);

  std::int64_t wrong_count = 0;
  std::vector<std::int64_t> extra;  // the cells after the leading run, taken for mistakes
  for (std::int64_t i : chosen) {
    wrong_count +=
        predicted[static_cast<std::size_t>(i)] != data.labels[static_cast<std::size_t>(i)];
    if (i >= options.first + std::int64_t{options.rows} * options.columns - options.mistakes)
      extra.push_back(i);
  }
  const std::int64_t leading_last =
      chosen.size() > extra.size() ? chosen[chosen.size() - extra.size() - 1] : options.first;
  const std::string title =
      fmt::format("Predictions on {} images: {} right, {} wrong", chosen.size(),
                  std::ssize(chosen) - wrong_count, wrong_count);
  std::vector<std::string> subtitle;
  const auto extra_wrong = std::count_if(extra.begin(), extra.end(), [&](std::int64_t i) {
    return predicted[static_cast<std::size_t>(i)] != data.labels[static_cast<std::size_t>(i)];
  });
  if (extra.empty())
    subtitle.push_back(fmt::format("Images #{} to #{}, in order.", options.first, leading_last));
  else if (extra_wrong == std::ssize(extra))
    subtitle.push_back(fmt::format(
        "Images #{} to #{} in order, then the first {} after them: #{}.", options.first,
        leading_last, extra.size() == 1 ? "mistake" : fmt::format("{} mistakes", extra.size()),
        fmt::join(extra, ", #")));
  else
    subtitle.push_back(fmt::format(
        "Images #{} to #{} in order, then #{} (only {} mistakes after #{}).", options.first,
        leading_last, fmt::join(extra, ", #"), extra_wrong, leading_last));
  subtitle.emplace_back(
      "Each cell: predicted class and its probability, true class, image index. Red frame: wrong.");

  const auto measure = measuring_context();
  const double width_needed =
      std::max(grid.right() + kMargin, header_width(measure.get(), title, subtitle));
  Canvas canvas(static_cast<int>(std::ceil(width_needed)),
                static_cast<int>(std::ceil(grid.bottom() + kMargin)));
  cairo_t* cr = canvas.cr();
  draw_header(cr, title, subtitle);

  const TextStyle predicted_style{.size = 15, .bold = true};
  const TextStyle truth_style{.size = 13};
  const TextStyle index_style{.size = 12, .colour = colours::kMuted};
  for (std::size_t cell_index = 0; cell_index < chosen.size(); ++cell_index) {
    const std::int64_t i = chosen[cell_index];
    const std::int32_t guess = predicted[static_cast<std::size_t>(i)];
    const std::int32_t truth = data.labels[static_cast<std::size_t>(i)];
    const bool wrong = guess != truth;
    const Rect cell = grid.cell(cell_index);
    fill_rect(cr, cell, wrong ? colours::kWrongTint : colours::kPaper);
    frame_rect(cr, cell, wrong ? kWrongFrame : kCorrectFrame,
               wrong ? colours::kWrong : colours::kRule);
    const double image_x = std::round(cell.x + kPadding), image_y = std::round(cell.y + kPadding);
    data.images.to_unit(i, 1, values.data());
    draw_image(cr, values.data(), height, width, channels, image_x, image_y, scale,
               options.invert_grey);

    // Long names lose their "pred "/"true " prefix, then their end; the probability and the
    // index are always shown.
    const double text_left = cell.x + kPadding, text_right = cell.right() - kPadding;
    const double caption_top = image_y + static_cast<double>(height * scale);
    TextStyle guess_style = predicted_style;
    guess_style.colour = wrong ? colours::kWrong : colours::kCorrect;
    draw_caption_line(cr, text_left, text_right, caption_top + 22,
                      {"pred " + class_names[static_cast<std::size_t>(guess)],
                       class_names[static_cast<std::size_t>(guess)]},
                      guess_style, probability_text(probabilities[i * classes + guess]),
                      guess_style);
    draw_caption_line(cr, text_left, text_right, caption_top + 42,
                      {"true " + class_names[static_cast<std::size_t>(truth)],
                       class_names[static_cast<std::size_t>(truth)]},
                      truth_style, fmt::format("#{}", i), index_style);
  }
  return canvas.finish();
}

}  // namespace imgcls
