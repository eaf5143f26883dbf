// Where things go in each picture, and which images the grid picks: computed here, used by
// the drawing code and by the tests that probe pixels of a drawn picture. Internal to
// src/viz.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "viz/draw.hpp"

namespace imgcls::viz {

// Equal cells in rows, left to right, then top to bottom.
struct CellGrid {
  double left = 0, top = 0;  // the first cell's corner
  double cell_width = 0, cell_height = 0, gap = 0;
  int columns = 1;
  std::size_t count = 0;

  Rect cell(std::size_t index) const;
  double right() const;   // of the widest row
  double bottom() const;  // of the last row
};

// Indices of the images the sample grid shows, in drawing order (see SampleGridOptions).
std::vector<std::int64_t> choose_grid_samples(std::span<const std::int32_t> labels,
                                              std::span<const std::int32_t> predicted,
                                              const SampleGridOptions& options);

// Each image pixel becomes a scale x scale block so that the longer side is about
// target_side pixels (at least one block per pixel).
int image_scale(std::int64_t height, std::int64_t width, int target_side);

// The sample grid's cells, for `count` images of height x width in `columns` columns.
inline constexpr std::size_t kSampleGridSubtitleLines = 2;
CellGrid sample_grid_cells(std::size_t count, int columns, std::int64_t height, std::int64_t width);

// The error gallery's cells.
inline constexpr std::size_t kErrorGallerySubtitleLines = 2;
CellGrid error_gallery_cells(std::size_t count, int columns, std::int64_t height,
                             std::int64_t width);

struct ConfusionLayout {
  std::int64_t classes = 0;
  Rect matrix;  // all the cells
  double cell_size = 0;
  double count_font = 0;       // font size of the counts; 0 when the cells are too small for them
  double label_font = 0;       // font size of the class names
  double row_labels_left = 0;  // class names down the side, right-aligned before the matrix
  bool column_labels_upwards = false;  // names too wide to sit side by side under the cells
  double column_labels_height = 0;
  Rect colour_bar;
  int width = 0, height = 0;

  Rect cell(std::int64_t truth, std::int64_t predicted) const;
};
inline constexpr std::size_t kConfusionSubtitleLines = 2;
ConfusionLayout confusion_layout(const ConfusionMatrix& matrix,
                                 const std::vector<std::string>& class_names);

// The explanation picture (draw_explanation): three panels side by side, each fitted into a
// square of the same side and centred in it (the input, the map over it, the map over the
// picture), captions above them, the colour bar under them.
inline constexpr std::size_t kExplanationSubtitleLines = 2;
struct ExplanationLayout {
  std::array<Rect, 3> panels;  // the images' own rectangles
  Rect colour_bar;
  int width = 0, height = 0;
};
ExplanationLayout explanation_layout(std::int64_t input_height, std::int64_t input_width,
                                     std::int64_t picture_height, std::int64_t picture_width,
                                     double header_width);

}  // namespace imgcls::viz
