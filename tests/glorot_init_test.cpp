// Sequential::initialize(seed) gives Keras's default initial values, checked as
// distributions rather than against stored numbers:
//  - every Conv2D and Dense kernel is Glorot-uniform: U(-L, L), L = sqrt(6 / (fan_in +
//    fan_out)), with fan_in = C * k * k and fan_out = filters * k * k for Conv2D and
//    fan_in = F, fan_out = units for Dense (the fans stated by hand for a few shapes, then
//    derived from the weight shapes for every preset);
//  - biases are exactly 0; BatchNorm's gamma 1, beta 0, moving mean 0, moving variance 1,
//    whatever the values held before;
//  - the same seed gives the same weights, another seed others, and two equal layers of
//    one model get different weights.
// Tolerances for n weights drawn from U(-L, L): every |w| <= L (plus float rounding of L);
// max |w| >= L (1 - 14 / n) (a fresh sample fails that with probability e^-14); the mean
// within 5 standard errors of 0 (sd L / sqrt(3n)); the mean square within 5 standard
// errors of L^2 / 3 (sd L^2 sqrt(4 / (45 n))); the Kolmogorov-Smirnov distance to
// U(-L, L) under 1.95 / sqrt(n) (the 0.1% level). The seeds are fixed, so each check is a
// fixed computation; the margins say how unlikely a correct initialiser is to miss them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "imgcls/layers.hpp"
#include "imgcls/model.hpp"

namespace imgcls {
namespace {

using i64 = std::int64_t;

constexpr double kStandardErrors = 5.0;
constexpr double kMaxShortfallTimesN = 14.0;  // (1 - 14/n)^n < e^-14
constexpr double kKolmogorovSmirnov = 1.95;   // 0.1% level, times sqrt(n)
constexpr double kLimitRounding = 1e-6;       // L is computed in float

double glorot_limit(i64 fan_in, i64 fan_out) { return std::sqrt(6.0 / double(fan_in + fan_out)); }

// What one weight tensor's values look like.
struct WeightStats {
  i64 count = 0;
  double max_abs = 0, mean = 0, mean_square = 0, ks_distance = 0;
};

WeightStats stats_of(const Tensor& weights, double limit) {
  WeightStats s;
  s.count = weights.size();
  std::vector<double> sorted;
  for (i64 i = 0; i < weights.size(); ++i) {
    const double w = weights[i];
    s.max_abs = std::max(s.max_abs, std::abs(w));
    s.mean += w;
    s.mean_square += w * w;
    sorted.push_back(w);
  }
  s.mean /= double(s.count);
  s.mean_square /= double(s.count);
  std::sort(sorted.begin(), sorted.end());
  const double n = double(s.count);
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    const double cdf = std::clamp((sorted[i] + limit) / (2 * limit), 0.0, 1.0);
    s.ks_distance =
        std::max({s.ks_distance, std::abs(cdf - double(i) / n), std::abs(double(i + 1) / n - cdf)});
  }
  return s;
}

// `weights` looks like n draws from U(-L, L), L from the given fans.
void expect_glorot_uniform(const Tensor& weights, i64 fan_in, i64 fan_out,
                           const std::string& what) {
  const double limit = glorot_limit(fan_in, fan_out);
  const WeightStats s = stats_of(weights, limit);
  const double n = double(s.count);
  std::cout << "  measured " << what << ": fan_in " << fan_in << ", fan_out " << fan_out << ", n "
            << s.count << ", L " << limit << ", max|w|/L " << s.max_abs / limit << ", mean/L "
            << s.mean / limit << ", mean square/(L^2/3) " << s.mean_square / (limit * limit / 3)
            << ", KS*sqrt(n) " << s.ks_distance * std::sqrt(n) << "\n";
  EXPECT_LE(s.max_abs, limit * (1 + kLimitRounding)) << what << ": a weight outside +-L";
  EXPECT_GE(s.max_abs, limit * (1 - kMaxShortfallTimesN / n)) << what << ": no weight near +-L";
  EXPECT_LE(std::abs(s.mean), kStandardErrors * limit / std::sqrt(3 * n)) << what << ": mean";
  EXPECT_NEAR(s.mean_square, limit * limit / 3,
              kStandardErrors * limit * limit * std::sqrt(4.0 / 45.0 / n))
      << what << ": variance";
  EXPECT_LT(s.ks_distance, kKolmogorovSmirnov / std::sqrt(n)) << what << ": not uniform";
}

// Puts values that initialize() must replace into every parameter and buffer.
void dirty(Sequential& model) {
  for (const Param& p : model.params_and_buffers()) p.value->fill(7.5f);
}

void expect_all_equal(const Tensor& t, float value, const std::string& what) {
  for (i64 i = 0; i < t.size(); ++i) ASSERT_EQ(t[i], value) << what << "[" << i << "]";
}

const Param& find(const std::vector<Param>& params, const std::string& name) {
  const auto it =
      std::find_if(params.begin(), params.end(), [&](const Param& p) { return p.name == name; });
  if (it == params.end()) throw std::runtime_error("no parameter " + name);
  return *it;
}

// The seed model's kernels, with the fans written out from Keras's definition.
TEST(GlorotInit, SeedModelKernelsHaveKerasFans) {
  Sequential model = presets::seed();
  dirty(model);
  model.initialize(1);
  const std::vector<Param> params = model.params();
  // Conv2D 32 3x3 over 1 channel: fan_in 1*9, fan_out 32*9.
  expect_glorot_uniform(*find(params, "conv2d_0.weight").value, 9, 288, "conv2d_0 (1 -> 32, 3x3)");
  // Conv2D 64 3x3 over 32 channels: fan_in 32*9, fan_out 64*9.
  expect_glorot_uniform(*find(params, "conv2d_2.weight").value, 288, 576,
                        "conv2d_2 (32 -> 64, 3x3)");
  // Dense 1600 -> 64 and 64 -> 10.
  expect_glorot_uniform(*find(params, "dense_5.weight").value, 1600, 64, "dense_5 (1600 -> 64)");
  expect_glorot_uniform(*find(params, "dense_6.weight").value, 64, 10, "dense_6 (64 -> 10)");
  for (const char* bias : {"conv2d_0.bias", "conv2d_2.bias", "dense_5.bias", "dense_6.bias"})
    expect_all_equal(*find(params, bias).value, 0.0f, bias);
}

// Other kernel sizes, channel counts, strides and padding; BatchNorm's values.
TEST(GlorotInit, OtherShapesAndBatchNorm) {
  Sequential model({12, 12, 3});
  model.add(
      layers::Conv2D({.filters = 16, .kernel_size = 5, .strides = 2, .padding = Padding::same}));
  model.add(layers::BatchNorm());
  model.add(layers::Conv2D({.filters = 8, .kernel_size = 1}));
  model.add(layers::Conv2D({.filters = 3, .kernel_size = 6}));
  model.add(layers::Flatten());
  model.add(layers::Dense({.units = 40}));
  model.add(layers::BatchNorm());
  model.add(layers::Dense({.units = 3}));
  dirty(model);
  model.initialize(42);
  const std::vector<Param> all = model.params_and_buffers();
  // Conv2D 16 5x5 over 3 channels: fan_in 3*25, fan_out 16*25 (stride and padding do not
  // enter the fans).
  expect_glorot_uniform(*find(all, "conv2d_0.weight").value, 75, 400, "conv2d_0 (3 -> 16, 5x5)");
  // Conv2D 8 1x1 over 16 channels: fan_in 16, fan_out 8.
  expect_glorot_uniform(*find(all, "conv2d_2.weight").value, 16, 8, "conv2d_2 (16 -> 8, 1x1)");
  // Conv2D 3 6x6 over 8 channels: fan_in 8*36, fan_out 3*36; output 1x1x3.
  expect_glorot_uniform(*find(all, "conv2d_3.weight").value, 288, 108, "conv2d_3 (8 -> 3, 6x6)");
  expect_glorot_uniform(*find(all, "dense_5.weight").value, 3, 40, "dense_5 (3 -> 40)");
  expect_glorot_uniform(*find(all, "dense_7.weight").value, 40, 3, "dense_7 (40 -> 3)");
  for (const char* bias :
       {"conv2d_0.bias", "conv2d_2.bias", "conv2d_3.bias", "dense_5.bias", "dense_7.bias"})
    expect_all_equal(*find(all, bias).value, 0.0f, bias);
  for (const std::string bn : {"batchnorm_1", "batchnorm_6"}) {
    expect_all_equal(*find(all, bn + ".gamma").value, 1.0f, bn + ".gamma");
    expect_all_equal(*find(all, bn + ".beta").value, 0.0f, bn + ".beta");
    expect_all_equal(*find(all, bn + ".moving_mean").value, 0.0f, bn + ".moving_mean");
    expect_all_equal(*find(all, bn + ".moving_variance").value, 1.0f, bn + ".moving_variance");
  }
}

// Every parameter and buffer of every preset, the fans derived from the weight shapes
// (Conv2D [filters, C, k, k], Dense [units, F]). A parameter of a kind this test does not
// know fails it, so a new layer kind cannot go unchecked.
TEST(GlorotInit, EveryPresetParameter) {
  for (const std::string name : {"seed", "lenet5", "strong"}) {
    SCOPED_TRACE(name);
    Sequential model = presets::by_name(name);
    dirty(model);
    model.initialize(3);
    for (const Param& p : model.params_and_buffers()) {
      const std::string suffix = p.name.substr(p.name.rfind('.') + 1);
      const Shape& shape = p.value->shape();
      if (suffix == "weight" && shape.size() == 4) {
        const i64 receptive = shape[2] * shape[3];
        expect_glorot_uniform(*p.value, shape[1] * receptive, shape[0] * receptive,
                              name + " " + p.name);
      } else if (suffix == "weight" && shape.size() == 2) {
        expect_glorot_uniform(*p.value, shape[1], shape[0], name + " " + p.name);
      } else if (suffix == "bias" || suffix == "beta" || suffix == "moving_mean") {
        expect_all_equal(*p.value, 0.0f, p.name);
      } else if (suffix == "gamma" || suffix == "moving_variance") {
        expect_all_equal(*p.value, 1.0f, p.name);
      } else {
        ADD_FAILURE() << "no expected initial value for " << p.name << " " << to_string(shape);
      }
    }
  }
}

std::vector<std::vector<float>> values_of(Sequential& model) {
  std::vector<std::vector<float>> values;
  for (const Param& p : model.params_and_buffers()) values.push_back(p.value->values());
  return values;
}

TEST(GlorotInit, SameSeedSameWeightsOtherSeedOthers) {
  Sequential a = presets::strong(), b = presets::strong(), c = presets::strong();
  a.initialize(5);
  b.initialize(5);
  c.initialize(6);
  EXPECT_EQ(values_of(a), values_of(b));
  // Re-initialising a model that has other values gives the same again.
  dirty(b);
  b.initialize(5);
  EXPECT_EQ(values_of(a), values_of(b));

  const std::vector<Param> pa = a.params(), pc = c.params();
  for (std::size_t i = 0; i < pa.size(); ++i) {
    if (pa[i].name.ends_with(".weight")) {
      i64 equal = 0;
      for (i64 j = 0; j < pa[i].value->size(); ++j) equal += (*pa[i].value)[j] == (*pc[i].value)[j];
      EXPECT_EQ(equal, 0) << pa[i].name << ": seeds 5 and 6 agree on " << equal << " weights";
    }
  }
}

TEST(GlorotInit, EqualLayersGetDifferentWeights) {
  Sequential model({32});
  model.add(layers::Dense({.units = 32}));
  model.add(layers::Dense({.units = 32}));
  model.initialize(9);
  const Tensor& first = *model.params()[0].value;
  const Tensor& second = *model.params()[2].value;
  ASSERT_EQ(first.shape(), second.shape());
  i64 equal = 0;
  for (i64 j = 0; j < first.size(); ++j) equal += first[j] == second[j];
  EXPECT_EQ(equal, 0);
  expect_glorot_uniform(first, 32, 32, "first Dense 32 -> 32");
  expect_glorot_uniform(second, 32, 32, "second Dense 32 -> 32");
}

}  // namespace
}  // namespace imgcls
