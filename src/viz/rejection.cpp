// The rejection curve: shares of known and unknown pictures rejected, threshold by threshold.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numbers>

#include "core/check.hpp"
#include "viz/draw.hpp"

namespace imgcls {

namespace {

constexpr int kWidth = 880;
constexpr double kPlotHeight = 420;
constexpr double kTickLabelWidth = 52;
constexpr double kAxisTitleBand = 22;
constexpr double kBelowPlot = 56;
constexpr double kMinShownKnownShare = 0.05;  // the x axis spans at least 0 to 5%
constexpr double kLineWidth = 2.5;
constexpr double kMarkerRadius = 6;
constexpr viz::Colour kGridLine{0.90, 0.90, 0.90};
constexpr viz::TextStyle kAxisTitleStyle{.size = 13, .colour = viz::colours::kInk};
constexpr viz::TextStyle kTickStyle{.size = 12, .colour = viz::colours::kMuted};

// The share of `scores` at or above `threshold`.
double share_from(const std::vector<float>& scores, float threshold) {
  const auto count =
      std::count_if(scores.begin(), scores.end(), [&](float s) { return s >= threshold; });
  return double(count) / double(scores.size());
}

// (known share, unknown share) at every distinct score, from the highest threshold (nothing
// rejected but scores of 1) down to the lowest (everything rejected).
std::vector<std::pair<double, double>> curve_points(const RejectionScores& scores) {
  std::vector<float> known = scores.known, unknown = scores.unknown;
  std::sort(known.begin(), known.end(), std::greater<>());
  std::sort(unknown.begin(), unknown.end(), std::greater<>());
  std::vector<float> thresholds = known;
  thresholds.insert(thresholds.end(), unknown.begin(), unknown.end());
  std::sort(thresholds.begin(), thresholds.end(), std::greater<>());
  thresholds.erase(std::unique(thresholds.begin(), thresholds.end()), thresholds.end());
  std::vector<std::pair<double, double>> points = {{0.0, 0.0}};
  std::size_t k = 0, u = 0;
  for (const float t : thresholds) {
    while (k < known.size() && known[k] >= t) ++k;
    while (u < unknown.size() && unknown[u] >= t) ++u;
    points.emplace_back(double(k) / double(known.size()), double(u) / double(unknown.size()));
  }
  return points;
}

}  // namespace

RejectionRates rejection_rates(const RejectionScores& scores, float threshold) {
  IMGCLS_CHECK(!scores.known.empty() && !scores.unknown.empty(), "{} known, {} unknown scores",
               scores.known.size(), scores.unknown.size());
  return {.known = share_from(scores.known, threshold),
          .unknown = share_from(scores.unknown, threshold)};
}

Picture draw_rejection_curve(const RejectionScores& scores) {
  using namespace viz;
  const RejectionRates at = rejection_rates(scores, scores.threshold);
  const std::vector<std::pair<double, double>> points = curve_points(scores);

  const std::string title = fmt::format("Rejection curve: \"{}\"", scores.rejection_class);
  const std::vector<std::string> subtitle = {
      fmt::format("Each threshold on the probability of \"{}\" rejects a share of the model's own "
                  "pictures (x) and of pictures that are none of its classes (y).",
                  scores.rejection_class),
      fmt::format("Own: {}. None: {}.", scores.known_source, scores.unknown_source),
      fmt::format("At the model's threshold {:g}: {} of its own pictures rejected, {} of the "
                  "others.",
                  scores.threshold, percent(at.known, 2), percent(at.unknown, 1))};
  const auto measure = measuring_context();
  const int width =
      std::max(kWidth, static_cast<int>(std::ceil(header_width(measure.get(), title, subtitle))));
  const double top = header_height(subtitle.size()) + 12;
  Canvas canvas(width, static_cast<int>(top + kPlotHeight + kBelowPlot + kMargin));
  cairo_t* cr = canvas.cr();
  draw_header(cr, title, subtitle);

  const double left = kMargin + kAxisTitleBand + kTickLabelWidth + 8;
  const Rect plot{left, top, width - left - kMargin - 8, kPlotHeight};
  const Ticks x_ticks = nice_ticks(0, 100 * std::max(kMinShownKnownShare, at.known * 1.25), 6);
  const Ticks y_ticks = nice_ticks(0, 100, 5);
  const auto to_x = [&](double share) {
    return plot.x + std::min(100 * share, x_ticks.high) / x_ticks.high * plot.width;
  };
  const auto to_y = [&](double share) { return plot.bottom() - share * plot.height; };

  // Grid, ticks and axes.
  cairo_set_line_width(cr, 1);
  TextStyle y_label = kTickStyle;
  y_label.align = Align::right;
  for (const double value : y_ticks.values) {
    const double y = std::round(to_y(value / 100)) + 0.5;
    set_colour(cr, kGridLine);
    cairo_move_to(cr, plot.x, y);
    cairo_line_to(cr, plot.right(), y);
    cairo_stroke(cr);
    draw_text(cr, plot.x - 8, y + 4, fmt::format("{:.0f}%", value), y_label);
  }
  TextStyle x_label = kTickStyle;
  x_label.align = Align::centre;
  for (const double value : x_ticks.values) {
    const double x = std::round(to_x(value / 100)) + 0.5;
    set_colour(cr, kGridLine);
    cairo_move_to(cr, x, plot.y);
    cairo_line_to(cr, x, plot.bottom());
    cairo_stroke(cr);
    draw_text(cr, x, plot.bottom() + 20, fmt::format("{:.{}f}%", value, x_ticks.decimals), x_label);
  }
  set_colour(cr, colours::kMuted);
  cairo_move_to(cr, plot.x + 0.5, plot.y);
  cairo_line_to(cr, plot.x + 0.5, plot.bottom() + 0.5);
  cairo_line_to(cr, plot.right(), plot.bottom() + 0.5);
  cairo_stroke(cr);
  draw_text_centred(cr, {plot.x, plot.bottom() + 28, plot.width, kAxisTitleBand},
                    "the model's own pictures rejected (" + scores.known_source + ")",
                    kAxisTitleStyle);
  draw_text_upwards(cr, plot.x - 8 - kTickLabelWidth - kAxisTitleBand / 2, plot.centre_y(),
                    "other pictures rejected", kAxisTitleStyle);

  // The curve, as steps (each threshold moves one of the shares), clipped to the plot.
  cairo_save(cr);
  cairo_rectangle(cr, plot.x, plot.y - kMarkerRadius, plot.width + kMarkerRadius,
                  plot.height + kMarkerRadius);
  cairo_clip(cr);
  set_colour(cr, colours::kTraining);
  cairo_set_line_width(cr, kLineWidth);
  cairo_move_to(cr, to_x(points.front().first), to_y(points.front().second));
  // Past the x axis's end the curve leaves the plot to the right: it stops at the edge.
  for (std::size_t i = 1; i < points.size(); ++i) {
    cairo_line_to(cr, to_x(points[i].first), to_y(points[i - 1].second));
    if (100 * points[i].first > x_ticks.high) break;
    cairo_line_to(cr, to_x(points[i].first), to_y(points[i].second));
  }
  cairo_stroke(cr);
  // The model's threshold.
  const double mx = to_x(at.known), my = to_y(at.unknown);
  set_colour(cr, colours::kWrong);
  cairo_arc(cr, mx, my, kMarkerRadius, 0, 2 * std::numbers::pi);
  cairo_fill(cr);
  cairo_restore(cr);
  TextStyle note{.size = 13, .colour = colours::kWrong};
  const std::string label = fmt::format("threshold {:g}: {}, {}", scores.threshold,
                                        percent(at.known, 2), percent(at.unknown, 1));
  const bool room_right = mx + 12 + text_width(cr, label, note) < plot.right();
  note.align = room_right ? Align::left : Align::right;
  draw_text(cr, room_right ? mx + 12 : mx - 12, my + 22, label, note);
  return canvas.finish();
}

}  // namespace imgcls
