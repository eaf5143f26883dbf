// Training curves: loss and accuracy per epoch in two panels, training and validation.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <optional>

#include "core/check.hpp"
#include "viz/draw.hpp"

namespace imgcls {

namespace viz {
namespace {

constexpr int kWidth = 1080;
constexpr double kPanelGap = 48;
constexpr double kLegendHeight = 28;
constexpr double kPanelTitleHeight = 26;
constexpr double kPlotHeight = 300;
constexpr double kAxisTitleBand = 22;  // the rotated y-axis title
constexpr double kTickLabelWidth = 52;
constexpr double kBelowPlot = 52;  // x tick labels and the x-axis title
constexpr double kMarkerRadius = 3.5;
constexpr int kMostEpochsWithMarkers = 25;  // beyond, markers would merge into a thick line
constexpr double kLineWidth = 2;
constexpr Colour kGridLine{0.90, 0.90, 0.90};
constexpr TextStyle kPanelTitleStyle{.size = 15, .bold = true};
constexpr TextStyle kAxisTitleStyle{.size = 13, .colour = colours::kInk};
constexpr TextStyle kTickStyle{.size = 12, .colour = colours::kMuted};

struct Series {
  std::string name;
  Colour colour;
  bool dashed = false;
  std::vector<std::optional<double>> values;  // one per epoch; empty where not measured
  bool any() const {
    return std::any_of(values.begin(), values.end(), [](const auto& v) { return v.has_value(); });
  }
};

struct Panel {
  std::string title, y_title;
  std::vector<Series> series;
  bool percent = false;  // values are shares, shown as percentages
};

void draw_marker(cairo_t* cr, double x, double y, const Series& series) {
  set_colour(cr, series.colour);
  if (series.dashed)  // a square, so that the series differ in shape as well as colour
    cairo_rectangle(cr, x - kMarkerRadius, y - kMarkerRadius, 2 * kMarkerRadius, 2 * kMarkerRadius);
  else
    cairo_arc(cr, x, y, kMarkerRadius, 0, 2 * std::numbers::pi);
  cairo_fill(cr);
}

void draw_line_sample(cairo_t* cr, double x, double y, double length, const Series& series,
                      bool marker) {
  set_colour(cr, series.colour);
  cairo_set_line_width(cr, kLineWidth);
  const double dashes[] = {6, 4};
  cairo_set_dash(cr, dashes, series.dashed ? 2 : 0, 0);
  cairo_move_to(cr, x, y);
  cairo_line_to(cr, x + length, y);
  cairo_stroke(cr);
  cairo_set_dash(cr, nullptr, 0, 0);
  if (marker) draw_marker(cr, x + length / 2, y, series);
}

// The value axis: loss from zero; accuracy (in percent) around the data, at most 100.
Ticks value_ticks(const Panel& panel) {
  double low = INFINITY, high = -INFINITY;
  for (const Series& s : panel.series)
    for (const auto& v : s.values)
      if (v) {
        const double shown = panel.percent ? 100 * *v : *v;
        low = std::min(low, shown);
        high = std::max(high, shown);
      }
  if (!panel.percent) return nice_ticks(0, high > 0 ? high * 1.08 : 1);
  const double padding = std::max((high - low) * 0.15, 0.5);
  return nice_ticks(std::max(0.0, low - padding), std::min(100.0, high + padding));
}

void draw_panel(cairo_t* cr, const Rect& plot, const Panel& panel, int epochs) {
  const Ticks y_ticks = value_ticks(panel);
  // Half an epoch of room on either side, so that the first and last points are not on the axes.
  const double x_low = 0.5, x_high = epochs + 0.5;
  const auto to_x = [&](double epoch) {
    return plot.x + (epoch - x_low) / (x_high - x_low) * plot.width;
  };
  const auto to_y = [&](double value) {
    return plot.bottom() - (value - y_ticks.low) / (y_ticks.high - y_ticks.low) * plot.height;
  };

  draw_text(cr, plot.x, plot.y - 10, panel.title, kPanelTitleStyle);
  // Horizontal grid lines and value ticks.
  cairo_set_line_width(cr, 1);
  for (const double value : y_ticks.values) {
    const double y = std::round(to_y(value)) + 0.5;
    set_colour(cr, kGridLine);
    cairo_move_to(cr, plot.x, y);
    cairo_line_to(cr, plot.right(), y);
    cairo_stroke(cr);
    TextStyle label = kTickStyle;
    label.align = Align::right;
    draw_text(cr, plot.x - 8, y + 4, fmt::format("{:.{}f}", value, y_ticks.decimals), label);
  }
  // Epoch ticks: every epoch up to ten, else the multiples of a round step.
  int step = 1;
  if (epochs > 10) step = std::max(1, static_cast<int>(std::lround(nice_ticks(0, epochs, 8).step)));
  TextStyle x_label = kTickStyle;
  x_label.align = Align::centre;
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    if (epoch % step != 0) continue;
    const double x = std::round(to_x(epoch)) + 0.5;
    set_colour(cr, colours::kMuted);
    cairo_move_to(cr, x, plot.bottom());
    cairo_line_to(cr, x, plot.bottom() + 5);
    cairo_stroke(cr);
    draw_text(cr, x, plot.bottom() + 20, std::to_string(epoch), x_label);
  }
  // Axes.
  set_colour(cr, colours::kMuted);
  cairo_move_to(cr, plot.x + 0.5, plot.y);
  cairo_line_to(cr, plot.x + 0.5, plot.bottom() + 0.5);
  cairo_line_to(cr, plot.right(), plot.bottom() + 0.5);
  cairo_stroke(cr);
  draw_text_centred(cr, {plot.x, plot.bottom() + 26, plot.width, kAxisTitleBand}, "epoch",
                    kAxisTitleStyle);
  draw_text_upwards(cr, plot.x - 8 - kTickLabelWidth - kAxisTitleBand / 2, plot.centre_y(),
                    panel.y_title, kAxisTitleStyle);

  // The series: lines between measured epochs, a marker on each.
  cairo_save(cr);
  cairo_rectangle(cr, plot.x - kMarkerRadius, plot.y - kMarkerRadius,
                  plot.width + 2 * kMarkerRadius, plot.height + 2 * kMarkerRadius);
  cairo_clip(cr);
  for (const Series& s : panel.series) {
    const auto shown = [&](std::size_t i) {
      return panel.percent ? 100 * *s.values[i] : *s.values[i];
    };
    set_colour(cr, s.colour);
    cairo_set_line_width(cr, kLineWidth);
    const double dashes[] = {6, 4};
    cairo_set_dash(cr, dashes, s.dashed ? 2 : 0, 0);
    bool drawing = false;
    for (std::size_t i = 0; i < s.values.size(); ++i) {
      if (!s.values[i]) {
        drawing = false;
        continue;
      }
      const double x = to_x(static_cast<double>(i + 1)), y = to_y(shown(i));
      if (drawing)
        cairo_line_to(cr, x, y);
      else
        cairo_move_to(cr, x, y);
      drawing = true;
    }
    cairo_stroke(cr);
    cairo_set_dash(cr, nullptr, 0, 0);
    for (std::size_t i = 0; i < s.values.size() && epochs <= kMostEpochsWithMarkers; ++i)
      if (s.values[i]) draw_marker(cr, to_x(static_cast<double>(i + 1)), to_y(shown(i)), s);
  }
  cairo_restore(cr);
}

}  // namespace
}  // namespace viz

Picture draw_training_curves(const History& history) {
  using namespace viz;
  IMGCLS_CHECK(!history.epochs.empty(), "a history without epochs");
  const int epochs = static_cast<int>(history.epochs.size());
  Series training_loss{.name = "training", .colour = colours::kTraining};
  Series validation_loss{.name = "validation", .colour = colours::kValidation, .dashed = true};
  Series training_accuracy = training_loss, validation_accuracy = validation_loss;
  for (const EpochStats& e : history.epochs) {
    training_loss.values.emplace_back(e.loss);
    training_accuracy.values.emplace_back(e.accuracy);
    validation_loss.values.push_back(e.validation_loss);
    validation_accuracy.values.push_back(e.validation_accuracy);
  }
  Panel loss{.title = "Loss", .y_title = "cross-entropy loss", .series = {training_loss}};
  Panel accuracy{.title = "Accuracy",
                 .y_title = "accuracy (%)",
                 .series = {training_accuracy},
                 .percent = true};
  if (validation_loss.any()) loss.series.push_back(validation_loss);
  if (validation_accuracy.any()) accuracy.series.push_back(validation_accuracy);

  const EpochStats& last = history.epochs.back();
  std::string summary = fmt::format("Epoch {}: training loss {:.4f}, accuracy {}", last.epoch,
                                    last.loss, percent(last.accuracy, 2));
  if (last.validation_loss)
    summary += fmt::format("; validation loss {:.4f}", *last.validation_loss);
  if (last.validation_accuracy)
    summary += fmt::format(", accuracy {}", percent(*last.validation_accuracy, 2));
  summary += fmt::format(". Trained in {:.1f} s.", history.train_seconds);
  const std::string title =
      fmt::format("Training curves ({} epoch{})", epochs, epochs == 1 ? "" : "s");
  const bool validated = validation_loss.any() || validation_accuracy.any();
  const std::vector<std::string> subtitle = {
      validated
          ? "Training values are averages over each epoch; validation values are measured after it."
          : "Training values are averages over each epoch (this run had no validation set).",
      summary};

  const double top = header_height(subtitle.size());
  const double panel_width = (kWidth - 2 * kMargin - kPanelGap) / 2;
  const double plot_left_offset = kAxisTitleBand + kTickLabelWidth + 8;
  const double plot_top = top + kLegendHeight + kPanelTitleHeight;
  const auto measure = measuring_context();
  const int width =
      std::max(kWidth, static_cast<int>(std::ceil(header_width(measure.get(), title, subtitle))));
  Canvas canvas(width, static_cast<int>(plot_top + kPlotHeight + kBelowPlot + kMargin));
  cairo_t* cr = canvas.cr();
  draw_header(cr, title, subtitle);

  // The legend, once for both panels.
  double x = kMargin + plot_left_offset;
  const double legend_y = top + kLegendHeight / 2 - 4;
  const TextStyle legend_style{.size = 14};
  std::vector<Series> legend = {training_loss};
  if (validated) legend.push_back(validation_loss);
  for (const Series& s : legend) {
    draw_line_sample(cr, x, legend_y, 28, s, epochs <= kMostEpochsWithMarkers);
    draw_text(cr, x + 36, legend_y + 5, s.name, legend_style);
    x += 36 + text_width(cr, s.name, legend_style) + 28;
  }

  for (int i = 0; i < 2; ++i) {
    const double panel_left = kMargin + i * (panel_width + kPanelGap);
    const Rect plot{panel_left + plot_left_offset, plot_top, panel_width - plot_left_offset - 8,
                    kPlotHeight};
    draw_panel(cr, plot, i == 0 ? loss : accuracy, epochs);
  }
  return canvas.finish();
}

}  // namespace imgcls
