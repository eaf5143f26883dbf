// What augmentation (augment_image, AugmentOptions) does to pictures, measured on synthetic
// probes over many seeded draws rather than compared with stored outputs:
//  - shift: the centroid of a round blob moves by up to max_shift px on each axis, the two
//    axes drawn independently and uniformly (mean 0, the whole range used);
//  - rotation: the orientation of an elongated bar (from its second moments) turns by up to
//    max_rotation_degrees, uniformly, about the image centre (an off-centre blob's
//    centroid turns about the centre by the same angle);
//  - scale: a blob's size (the square root of its mass ratio, and its spread) changes by a
//    factor in [1 - s, 1 + s], uniformly, about the centre;
//  - each component alone leaves the other two measures unchanged, the defaults combine
//    all three, every channel moves together, and zero options leave the image unchanged.
// Measurement: bilinear sampling preserves a smooth blob's centroid exactly and its mass
// nearly, away from the border, so each measure reads its transform to within the slack
// constants below (observed errors: 0.003 px, 0.013 degrees, 0.0004 in scale, a seventh of
// the slack or less). Uniformity: a Kolmogorov-Smirnov
// test against U(-max, max) at the 0.1% level (D < 1.95 / sqrt(n)); the draws are seeded,
// so each check is a fixed computation, not a flaky one.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <functional>
#include <iostream>
#include <numbers>
#include <string>
#include <vector>

#include "data/augment.hpp"
#include "imgcls/rng.hpp"
#include "imgcls/train.hpp"

namespace imgcls {
namespace {

using i64 = std::int64_t;

// A canvas larger than MNIST's 28x28 so that the probes can be wide: a wide Gaussian keeps
// the grid's aliasing out of the mass (a sigma-2.5 blob at scale 1.1 reads 0.5% too large;
// this one, 0.05%) and still stays clear of the border at the largest options tested.
constexpr i64 kSide = 56;
constexpr double kCentre = (kSide - 1) / 2.0;
constexpr int kDraws = 2000;
constexpr double kDegreesPerRadian = 180.0 / std::numbers::pi;

// How far a measure may stray from the transform it reads (interpolation, float rounding,
// the thin Gaussian tails the border cuts off).
constexpr double kShiftSlackPx = 0.02;
constexpr double kRotationSlackDegrees = 0.1;
constexpr double kScaleSlack = 0.003;
// "The whole range is used": the extreme draws reach within 3% of each end.
constexpr double kReachShare = 0.97;
// Kolmogorov-Smirnov critical value at the 0.1% level, times sqrt(n).
constexpr double kKolmogorovSmirnov = 1.95;

// A single-channel picture, 0 = background, ink > 0.
using Picture = std::vector<float>;

// exp(-(u^2 / (2 sigma_u^2) + v^2 / (2 sigma_v^2))) with u along the x axis, centred on
// (centre_x, centre_y).
Picture gaussian(double centre_x, double centre_y, double sigma_u, double sigma_v) {
  Picture picture(kSide * kSide);
  for (i64 y = 0; y < kSide; ++y)
    for (i64 x = 0; x < kSide; ++x) {
      const double u = double(x) - centre_x, v = double(y) - centre_y;
      picture[y * kSide + x] =
          float(std::exp(-(u * u / (2 * sigma_u * sigma_u) + v * v / (2 * sigma_v * sigma_v))));
    }
  return picture;
}

// A round blob for shifts.
Picture round_blob() { return gaussian(kCentre, kCentre, 2.0, 2.0); }
// A wide round blob for sizes.
Picture size_blob() { return gaussian(kCentre, kCentre, 4.5, 4.5); }
// A bar along the x axis through the centre (orientation 0), wide enough for its mass to
// read the scale as well.
Picture bar() { return gaussian(kCentre, kCentre, 7.0, 3.5); }
// A blob right of the centre: its centroid's angle about the centre shows the rotation.
constexpr double kOffCentre = 10.0;
Picture off_centre_blob() { return gaussian(kCentre + kOffCentre, kCentre, 2.0, 2.0); }

// Mass, centroid and central second moments of a picture, in double.
struct Moments {
  double mass = 0, x = 0, y = 0, xx = 0, yy = 0, xy = 0;

  // Orientation of the principal axis, degrees in (-90, 90], in pixel coordinates (x right,
  // y down).
  double orientation_degrees() const {
    return 0.5 * std::atan2(2 * xy, xx - yy) * kDegreesPerRadian;
  }
  // RMS distance from the centroid.
  double spread() const { return std::sqrt(xx + yy); }
};

Moments moments(const Picture& picture) {
  Moments m;
  for (i64 y = 0; y < kSide; ++y)
    for (i64 x = 0; x < kSide; ++x) {
      const double w = picture[y * kSide + x];
      m.mass += w;
      m.x += w * double(x);
      m.y += w * double(y);
    }
  m.x /= m.mass;
  m.y /= m.mass;
  for (i64 y = 0; y < kSide; ++y)
    for (i64 x = 0; x < kSide; ++x) {
      const double w = picture[y * kSide + x], dx = double(x) - m.x, dy = double(y) - m.y;
      m.xx += w * dx * dx;
      m.yy += w * dy * dy;
      m.xy += w * dx * dy;
    }
  m.xx /= m.mass;
  m.yy /= m.mass;
  m.xy /= m.mass;
  return m;
}

// Applies one draw to every probe: each probe gets its own copy of the generator in the
// same state, so all see the same shift, rotation and scale.
std::vector<Moments> augment_probes(const std::vector<Picture>& probes,
                                    const AugmentOptions& options, Rng& rng) {
  std::vector<Moments> measured;
  Rng after = rng;
  for (const Picture& probe : probes) {
    Rng same = rng;
    Picture out(probe.size());
    augment_image(probe.data(), out.data(), kSide, kSide, 1, options, same);
    measured.push_back(moments(out));
    after = same;
  }
  rng = after;
  return measured;
}

// The values one measure took over all draws.
struct Sample {
  std::string what;
  std::vector<double> values;

  double min() const { return *std::min_element(values.begin(), values.end()); }
  double max() const { return *std::max_element(values.begin(), values.end()); }
  double mean() const {
    double sum = 0;
    for (double v : values) sum += v;
    return sum / double(values.size());
  }
  double standard_deviation() const {
    const double m = mean();
    double sum = 0;
    for (double v : values) sum += (v - m) * (v - m);
    return std::sqrt(sum / double(values.size() - 1));
  }
  // Kolmogorov-Smirnov distance to U(low, high).
  double ks_uniform(double low, double high) const {
    std::vector<double> sorted = values;
    std::sort(sorted.begin(), sorted.end());
    const double n = double(sorted.size());
    double distance = 0;
    for (std::size_t i = 0; i < sorted.size(); ++i) {
      const double cdf = std::clamp((sorted[i] - low) / (high - low), 0.0, 1.0);
      distance =
          std::max({distance, std::abs(cdf - double(i) / n), std::abs(double(i + 1) / n - cdf)});
    }
    return distance;
  }
  std::string summary() const {
    return what + ": min " + std::to_string(min()) + ", max " + std::to_string(max()) + ", mean " +
           std::to_string(mean()) + ", sd " + std::to_string(standard_deviation());
  }
};

// The observed numbers, in the test's output and its XML report.
void report(const Sample& sample) {
  std::cout << "  measured " << sample.summary() << "\n";
  ::testing::Test::RecordProperty(sample.what, sample.summary());
}

// `sample` is spread uniformly over [centre - half_range, centre + half_range]: never
// outside it by more than `slack`, reaching near both ends, centred, with the standard
// deviation of a uniform distribution, and passing the Kolmogorov-Smirnov test.
void expect_uniform(const Sample& sample, double centre, double half_range, double slack) {
  SCOPED_TRACE(sample.summary());
  const double n = double(sample.values.size());
  EXPECT_GE(sample.min(), centre - half_range - slack) << sample.what << " goes below the range";
  EXPECT_LE(sample.max(), centre + half_range + slack) << sample.what << " goes above the range";
  EXPECT_LE(sample.min(), centre - kReachShare * half_range)
      << sample.what << " never nears the low end";
  EXPECT_GE(sample.max(), centre + kReachShare * half_range)
      << sample.what << " never nears the high end";
  const double uniform_sd = half_range / std::sqrt(3.0);
  EXPECT_NEAR(sample.mean(), centre, 4 * uniform_sd / std::sqrt(n))
      << sample.what << " is off-centre";
  EXPECT_NEAR(sample.standard_deviation(), uniform_sd, 0.05 * uniform_sd) << sample.what;
  EXPECT_LT(sample.ks_uniform(centre - half_range, centre + half_range),
            kKolmogorovSmirnov / std::sqrt(n))
      << sample.what << " is not uniform over the range";
  report(sample);
}

// Every value within `tolerance` of `value`.
void expect_constant(const Sample& sample, double value, double tolerance) {
  SCOPED_TRACE(sample.summary());
  EXPECT_GE(sample.min(), value - tolerance) << sample.what;
  EXPECT_LE(sample.max(), value + tolerance) << sample.what;
  report(sample);
}

// Draws `kDraws` augmentations of the probes and passes each draw's measures to `record`.
void draw_many(const std::vector<Picture>& probes, const AugmentOptions& options,
               const std::function<void(const std::vector<Moments>& before,
                                        const std::vector<Moments>& after)>& record) {
  std::vector<Moments> before;
  for (const Picture& probe : probes) before.push_back(moments(probe));
  Rng rng(20261207);
  for (int i = 0; i < kDraws; ++i) record(before, augment_probes(probes, options, rng));
}

double size_ratio(const Moments& before, const Moments& after) {
  return std::sqrt(after.mass / before.mass);
}

TEST(Augment, ZeroOptionsLeaveTheImageUnchanged) {
  const AugmentOptions none{.max_shift = 0, .max_rotation_degrees = 0, .max_scale_change = 0};
  Rng noise(3);
  for (const auto& [height, width, channels] :
       {std::array<i64, 3>{kSide, kSide, 1}, {28, 28, 1}, {13, 17, 3}, {1, 5, 2}}) {
    std::vector<float> src(static_cast<std::size_t>(height * width * channels));
    for (float& v : src) v = noise.uniform(-1.0f, 2.0f);
    Rng rng(7);
    for (int draw = 0; draw < 20; ++draw) {
      std::vector<float> dst(src.size(), -99.0f);
      augment_image(src.data(), dst.data(), height, width, channels, none, rng);
      EXPECT_EQ(std::memcmp(src.data(), dst.data(), src.size() * sizeof(float)), 0)
          << height << "x" << width << "x" << channels << ", draw " << draw;
    }
  }
}

// Shift alone: with 2 px (the default) and 4 px, to show the option is read.
TEST(Augment, ShiftAloneMovesByUpToMaxShiftOnEachAxisIndependently) {
  for (const float max_shift : {2.0f, 4.0f}) {
    SCOPED_TRACE("max_shift " + std::to_string(max_shift));
    const AugmentOptions options{
        .max_shift = max_shift, .max_rotation_degrees = 0, .max_scale_change = 0};
    const std::string tag = "shift " + std::to_string(int(max_shift)) + " px: ";
    Sample dx{tag + "centroid dx (px)", {}}, dy{tag + "centroid dy (px)", {}};
    Sample orientation{tag + "bar orientation (deg)", {}}, size{tag + "size ratio", {}};
    draw_many({round_blob(), bar()}, options, [&](const auto& before, const auto& after) {
      dx.values.push_back(after[0].x - before[0].x);
      dy.values.push_back(after[0].y - before[0].y);
      orientation.values.push_back(after[1].orientation_degrees());
      size.values.push_back(size_ratio(before[0], after[0]));
    });
    expect_uniform(dx, 0.0, max_shift, kShiftSlackPx);
    expect_uniform(dy, 0.0, max_shift, kShiftSlackPx);
    expect_constant(orientation, 0.0, kRotationSlackDegrees);
    expect_constant(size, 1.0, kScaleSlack);

    // Independent axes: no correlation, and both near their ends together as often as
    // independence predicts (a shift drawn along a random direction would do neither).
    double covariance = 0;
    int both_far = 0;
    for (std::size_t i = 0; i < dx.values.size(); ++i) {
      covariance += dx.values[i] * dy.values[i];
      both_far +=
          std::abs(dx.values[i]) > 0.75 * max_shift && std::abs(dy.values[i]) > 0.75 * max_shift;
    }
    const double correlation =
        covariance / double(kDraws) / (dx.standard_deviation() * dy.standard_deviation());
    EXPECT_LT(std::abs(correlation), 4.0 / std::sqrt(double(kDraws)));
    const double expected_both_far = kDraws / 16.0;  // P(|u| > 3/4) = 1/4 on each axis
    EXPECT_NEAR(both_far, expected_both_far, 4 * std::sqrt(expected_both_far));
  }
}

// Rotation alone: 10 degrees (the default) and 25.
TEST(Augment, RotationAloneTurnsAboutTheCentreByUpToMaxDegrees) {
  for (const float max_degrees : {10.0f, 25.0f}) {
    SCOPED_TRACE("max_rotation_degrees " + std::to_string(max_degrees));
    const AugmentOptions options{
        .max_shift = 0, .max_rotation_degrees = max_degrees, .max_scale_change = 0};
    const std::string tag = "rotation " + std::to_string(int(max_degrees)) + " deg: ";
    Sample orientation{tag + "bar orientation (deg)", {}},
        centroid_moved{tag + "bar centroid moved (px)", {}};
    Sample size{tag + "size ratio", {}}, radius{tag + "off-centre blob radius (px)", {}};
    Sample angle_gap{tag + "blob angle about centre - bar orientation (deg)", {}};
    draw_many({bar(), off_centre_blob()}, options, [&](const auto& before, const auto& after) {
      const double theta = after[0].orientation_degrees();
      orientation.values.push_back(theta);
      centroid_moved.values.push_back(
          std::hypot(after[0].x - before[0].x, after[0].y - before[0].y));
      size.values.push_back(size_ratio(before[0], after[0]));
      const double bx = after[1].x - kCentre, by = after[1].y - kCentre;
      radius.values.push_back(std::hypot(bx, by));
      angle_gap.values.push_back(std::atan2(by, bx) * kDegreesPerRadian - theta);
    });
    expect_uniform(orientation, 0.0, max_degrees, kRotationSlackDegrees);
    expect_constant(centroid_moved, 0.0, kShiftSlackPx);
    expect_constant(size, 1.0, kScaleSlack);
    // About the centre: the off-centre blob keeps its distance and turns with the bar.
    expect_constant(radius, kOffCentre, kShiftSlackPx);
    expect_constant(angle_gap, 0.0, kRotationSlackDegrees);
  }
}

// Scale alone: 10% (the default) and 20%.
TEST(Augment, ScaleAloneResizesAboutTheCentreWithinMaxChange) {
  for (const float max_change : {0.1f, 0.2f}) {
    SCOPED_TRACE("max_scale_change " + std::to_string(max_change));
    const AugmentOptions options{
        .max_shift = 0, .max_rotation_degrees = 0, .max_scale_change = max_change};
    const std::string tag = "scale " + std::to_string(int(std::lround(max_change * 100))) + "%: ";
    Sample size{tag + "size ratio (sqrt of mass ratio)", {}},
        spread_vs_size{tag + "spread ratio / size ratio", {}};
    Sample centroid_moved{tag + "centroid moved (px)", {}},
        orientation{tag + "bar orientation (deg)", {}};
    draw_many({size_blob(), bar()}, options, [&](const auto& before, const auto& after) {
      const double ratio = size_ratio(before[0], after[0]);
      size.values.push_back(ratio);
      spread_vs_size.values.push_back(after[0].spread() / before[0].spread() / ratio);
      centroid_moved.values.push_back(
          std::hypot(after[0].x - before[0].x, after[0].y - before[0].y));
      orientation.values.push_back(after[1].orientation_degrees());
    });
    expect_uniform(size, 1.0, max_change, kScaleSlack);
    // The spread (RMS radius) grows with the size: a true zoom, not a brightness change.
    // Bilinear sampling blurs by up to 1/4 px^2 of variance, hence the wider tolerance.
    expect_constant(spread_vs_size, 1.0, 0.01);
    expect_constant(centroid_moved, 0.0, kShiftSlackPx);
    expect_constant(orientation, 0.0, kRotationSlackDegrees);
  }
}

// The defaults (2 px, 10 degrees, 10%) together, read from one elongated probe: its
// centroid gives the shift (rotation and scale are about the centre, where it sits), its
// orientation the rotation, its mass the scale.
TEST(Augment, DefaultOptionsCombineShiftRotationAndScale) {
  const AugmentOptions defaults;
  ASSERT_EQ(defaults.max_shift, 2.0f);
  ASSERT_EQ(defaults.max_rotation_degrees, 10.0f);
  ASSERT_EQ(defaults.max_scale_change, 0.1f);
  Sample dx{"defaults: centroid dx (px)", {}}, dy{"defaults: centroid dy (px)", {}};
  Sample orientation{"defaults: bar orientation (deg)", {}}, size{"defaults: size ratio", {}};
  draw_many({bar()}, defaults, [&](const auto& before, const auto& after) {
    dx.values.push_back(after[0].x - before[0].x);
    dy.values.push_back(after[0].y - before[0].y);
    orientation.values.push_back(after[0].orientation_degrees());
    size.values.push_back(size_ratio(before[0], after[0]));
  });
  expect_uniform(dx, 0.0, 2.0, kShiftSlackPx);
  expect_uniform(dy, 0.0, 2.0, kShiftSlackPx);
  expect_uniform(orientation, 0.0, 10.0, kRotationSlackDegrees);
  expect_uniform(size, 1.0, 0.1, kScaleSlack);
}

// Channels share one draw: channel c of a picture that is (c + 1) x the bar stays (c + 1) x
// channel 0 after augmentation.
TEST(Augment, AllChannelsMoveTogether) {
  constexpr i64 kChannels = 3;
  const Picture probe = bar();
  std::vector<float> src(probe.size() * kChannels), dst(src.size());
  for (std::size_t i = 0; i < probe.size(); ++i)
    for (i64 c = 0; c < kChannels; ++c) src[i * kChannels + c] = float(c + 1) * probe[i];
  Rng rng(11);
  double changed = 0;
  for (int draw = 0; draw < 50; ++draw) {
    augment_image(src.data(), dst.data(), kSide, kSide, kChannels, AugmentOptions{}, rng);
    for (std::size_t i = 0; i < probe.size(); ++i) {
      changed = std::max(changed, double(std::abs(dst[i * kChannels] - probe[i])));
      for (i64 c = 1; c < kChannels; ++c)
        ASSERT_NEAR(dst[i * kChannels + c], float(c + 1) * dst[i * kChannels], 1e-5)
            << "draw " << draw << ", pixel " << i << ", channel " << c;
    }
  }
  EXPECT_GT(changed, 0.1) << "augmentation changed nothing";
}

// Elastic alone (Simard's alpha 34, sigma 4): every draw warps the picture, and the warp is
// local: a blob moves by the field where it is (a smoothed field's standard deviation: about
// alpha * sqrt(1/3 / (4 pi sigma^2)) = 1.4 px an axis), two blobs 10 px apart move by different
// amounts, the mean move is 0, and twice the alpha moves twice as far.
TEST(Augment, ElasticAloneWarpsLocallyWithAMoveThatGrowsWithAlpha) {
  const Picture centre = round_blob(), off = off_centre_blob();
  const Moments centre_before = moments(centre), off_before = moments(off);
  double rms_at_34 = 0;
  for (const float alpha : {34.0f, 68.0f}) {
    SCOPED_TRACE("alpha " + std::to_string(alpha));
    const AugmentOptions elastic{.max_shift = 0,
                                 .max_rotation_degrees = 0,
                                 .max_scale_change = 0,
                                 .elastic_alpha = alpha,
                                 .elastic_sigma = 4.0f};
    Rng rng(21);
    double sum_x = 0, sum_squares = 0;
    int apart = 0;
    for (int draw = 0; draw < kDraws / 4; ++draw) {
      const std::vector<Moments> after = augment_probes({centre, off}, elastic, rng);
      const double cx = after[0].x - centre_before.x, cy = after[0].y - centre_before.y;
      const double ox = after[1].x - off_before.x, oy = after[1].y - off_before.y;
      ASSERT_LT(std::hypot(cx, cy), 6.0 * alpha / 34.0) << "draw " << draw;
      sum_x += cx;
      sum_squares += cx * cx + cy * cy;
      if (std::hypot(cx - ox, cy - oy) > 0.05) ++apart;
    }
    const double n = kDraws / 4.0, rms = std::sqrt(sum_squares / (2 * n));
    std::cout << "[ elastic  ] alpha " << alpha << ": rms move " << rms << " px an axis, mean x "
              << sum_x / n << ", blobs moved apart in " << apart << " of " << n << " draws\n";
    EXPECT_GT(rms, 0.7 * alpha / 34.0);
    EXPECT_LT(rms, 2.5 * alpha / 34.0);
    EXPECT_LT(std::abs(sum_x / n), 0.3 * alpha / 34.0);
    EXPECT_GT(apart, 0.9 * n) << "the field moved both blobs alike: a shift, not a warp";
    if (alpha == 34.0f)
      rms_at_34 = rms;
    else
      EXPECT_NEAR(rms / rms_at_34, 2.0, 0.3);
  }
}

// A change of pen width alone: in place (the centroid of a symmetric bar stays), thicker (more
// ink) or thinner (less) about half the time each, and only as often as stroke_change says.
TEST(Augment, StrokeChangeThickensOrThinsAsOftenAsAsked) {
  const Picture probe = bar();
  const Moments before = moments(probe);
  for (const float chance : {1.0f, 0.4f}) {
    SCOPED_TRACE("stroke_change " + std::to_string(chance));
    const AugmentOptions pen{
        .max_shift = 0, .max_rotation_degrees = 0, .max_scale_change = 0, .stroke_change = chance};
    Rng rng(5);
    int thicker = 0, thinner = 0, unchanged = 0;
    for (int draw = 0; draw < kDraws; ++draw) {
      const Moments after = augment_probes({probe}, pen, rng)[0];
      ASSERT_NEAR(after.x, before.x, 1e-6) << "draw " << draw;
      ASSERT_NEAR(after.y, before.y, 1e-6) << "draw " << draw;
      if (after.mass > before.mass * 1.01)
        ++thicker;
      else if (after.mass < before.mass * 0.99)
        ++thinner;
      else if (after.mass == before.mass)
        ++unchanged;
    }
    EXPECT_EQ(thicker + thinner + unchanged, kDraws) << "a draw changed the ink by under 1%";
    // Binomial shares, each within 4 standard deviations (at most 0.011 for 2000 draws).
    EXPECT_NEAR(double(thicker + thinner) / kDraws, chance, 0.045);
    EXPECT_NEAR(double(thicker) / kDraws, chance / 2, 0.045);
  }
}

}  // namespace
}  // namespace imgcls
