// What BatchNorm, Dropout, LeakyReLU and GlobalAvgPool do beyond their gradients (which
// gradient_check_test covers) and their ops (ops_vs_ref_test):
//  - BatchNorm: Mode::train normalises with the batch statistics and updates the moving ones
//    as Keras does (moving = momentum * moving + (1 - momentum) * batch, biased variance);
//    Mode::infer uses the moving statistics and leaves them alone; options are honoured.
//  - Dropout: drops a share `rate` of the values (statistically), scales the kept ones by
//    1 / (1 - rate), replays its mask for the same noise seed whatever the thread count, is
//    the identity in inference and at rate 0; Sequential gives each Dropout its own stream.
//  - config() / from_config round trips, defaults, and refusal of unknown keys, wrong types
//    and out-of-range values with an InputError naming the key; the same ranges at build().
//  - presets (parameter counts, summary, by_name), and model files and checkpoints keeping
//    BatchNorm's moving statistics (identical inference predictions after a round trip).
// Tolerances: statistics are compared with the test's own double-precision loops within
// 1e-5 * (1 + |expected|) (float accumulation over at most a few hundred values); the drop
// share within 0.005 of the rate over 200,000 draws (5 standard deviations); round trips
// exactly.
#include <fmt/core.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "imgcls/error.hpp"
#include "imgcls/io.hpp"
#include "imgcls/layers.hpp"
#include "imgcls/model.hpp"
#include "imgcls/optim.hpp"
#include "imgcls/predictor.hpp"
#include "imgcls/runtime.hpp"
#include "io/safetensors.hpp"
#include "plan/training_plan.hpp"
#include "support/layer_runner.hpp"

namespace imgcls {
namespace {

using i64 = std::int64_t;
using nlohmann::json;
using testing::HasSubstr;

constexpr double kStatTolerance = 1e-5;

Tensor random_tensor(const Shape& shape, float low, float high, Rng& rng) {
  Tensor t(shape);
  for (i64 i = 0; i < t.size(); ++i) t[i] = rng.uniform(low, high);
  return t;
}

void expect_near_relative(double got, double want, const std::string& what) {
  EXPECT_LE(std::abs(got - want), kStatTolerance * (1.0 + std::abs(want)))
      << what << ": got " << got << ", want " << want;
}

// Per-channel mean and biased variance of src viewed as [M, C], in double.
struct ChannelStats {
  std::vector<double> mean, variance;
};
ChannelStats channel_stats(const Tensor& src, i64 channels) {
  const i64 rows = src.size() / channels;
  ChannelStats s{std::vector<double>(static_cast<std::size_t>(channels)),
                 std::vector<double>(static_cast<std::size_t>(channels))};
  for (i64 c = 0; c < channels; ++c) {
    double sum = 0.0, squares = 0.0;
    for (i64 m = 0; m < rows; ++m) sum += src[m * channels + c];
    const double mean = sum / double(rows);
    for (i64 m = 0; m < rows; ++m)
      squares += (src[m * channels + c] - mean) * (src[m * channels + c] - mean);
    s.mean[static_cast<std::size_t>(c)] = mean;
    s.variance[static_cast<std::size_t>(c)] = squares / double(rows);
  }
  return s;
}

Param find(const std::vector<Param>& tensors, const std::string& suffix) {
  for (const Param& p : tensors)
    if (p.name.ends_with(suffix)) return p;
  ADD_FAILURE() << "no tensor named *" << suffix;
  return {};
}

// A batch whose channels have different means and spreads, so a mix-up of channels shows.
Tensor channel_shifted_batch(const Shape& shape, Rng& rng) {
  Tensor t = random_tensor(shape, -1.0f, 1.0f, rng);
  const i64 channels = shape.back();
  for (i64 i = 0; i < t.size(); ++i) {
    const auto c = static_cast<float>(i % channels);
    t[i] = t[i] * (1.0f + c) + 2.0f * c - 1.0f;
  }
  return t;
}

// --- BatchNorm -------------------------------------------------------------------------

TEST(BatchNormLayer, StartsAtGammaOneBetaZeroMeanZeroVarianceOne) {
  auto bn = layers::BatchNorm();
  testing_support::LayerRunner bn_run(*bn);
  bn->set_name("bn");
  bn->build({4, 4, 3});
  Rng rng(1);
  bn->initialize(rng);
  ASSERT_EQ(bn->params().size(), 2u);
  ASSERT_EQ(bn->buffers().size(), 2u);
  for (const auto& [suffix, value] : {std::pair{".gamma", 1.0f}, {".beta", 0.0f}}) {
    const Param p = find(bn->params(), suffix);
    ASSERT_NE(p.grad, nullptr);
    EXPECT_EQ(p.value->shape(), Shape{3});
    for (i64 c = 0; c < 3; ++c) EXPECT_EQ((*p.value)[c], value) << suffix;
  }
  for (const auto& [suffix, value] :
       {std::pair{".moving_mean", 0.0f}, {".moving_variance", 1.0f}}) {
    const Param b = find(bn->buffers(), suffix);
    EXPECT_EQ(b.grad, nullptr) << "buffers are not trained";
    EXPECT_EQ(b.value->shape(), Shape{3});
    for (i64 c = 0; c < 3; ++c) EXPECT_EQ((*b.value)[c], value) << suffix;
  }
}

TEST(BatchNormLayer, TrainingNormalisesWithBatchStatisticsAndUpdatesMovingOnesLikeKeras) {
  constexpr double kMomentum = 0.99, kEpsilon = 1e-3;
  constexpr i64 kChannels = 3;
  auto bn = layers::BatchNorm();
  testing_support::LayerRunner bn_run(*bn);
  bn->build({5, 4, kChannels});
  Rng rng(2);
  bn->initialize(rng);
  const Param moving_mean = find(bn->buffers(), ".moving_mean");
  const Param moving_variance = find(bn->buffers(), ".moving_variance");
  std::vector<double> want_mean(kChannels, 0.0), want_variance(kChannels, 1.0);
  for (int step = 0; step < 3; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    const Tensor src = channel_shifted_batch({2, 5, 4, kChannels}, rng);
    Tensor dst;
    bn_run.forward(src, dst, Mode::train);
    const ChannelStats batch = channel_stats(src, kChannels);
    const ChannelStats out = channel_stats(dst, kChannels);
    for (std::size_t c = 0; c < kChannels; ++c) {
      want_mean[c] = kMomentum * want_mean[c] + (1 - kMomentum) * batch.mean[c];
      want_variance[c] = kMomentum * want_variance[c] + (1 - kMomentum) * batch.variance[c];
      expect_near_relative((*moving_mean.value)[static_cast<i64>(c)], want_mean[c], "moving mean");
      expect_near_relative((*moving_variance.value)[static_cast<i64>(c)], want_variance[c],
                           "moving variance");
      // gamma 1, beta 0: the output has mean 0 and variance v / (v + epsilon).
      expect_near_relative(out.mean[c], 0.0, "output mean");
      expect_near_relative(out.variance[c], batch.variance[c] / (batch.variance[c] + kEpsilon),
                           "output variance");
    }
  }
}

TEST(BatchNormLayer, InferenceUsesMovingStatisticsAndLeavesThemAlone) {
  constexpr double kEpsilon = 1e-3;
  constexpr i64 kFeatures = 4;
  auto bn = layers::BatchNorm();
  testing_support::LayerRunner bn_run(*bn);
  bn->build({kFeatures});
  Rng rng(3);
  bn->initialize(rng);
  Tensor dst;
  for (int step = 0; step < 5; ++step)
    bn_run.forward(channel_shifted_batch({8, kFeatures}, rng), dst, Mode::train);
  for (const Param& p : bn->params()) *p.value = random_tensor(p.value->shape(), 0.5f, 1.5f, rng);
  const std::vector<float> mean = find(bn->buffers(), ".moving_mean").value->values();
  const std::vector<float> variance = find(bn->buffers(), ".moving_variance").value->values();
  const std::vector<float> gamma = find(bn->params(), ".gamma").value->values();
  const std::vector<float> beta = find(bn->params(), ".beta").value->values();

  const Tensor src = channel_shifted_batch({6, kFeatures}, rng);
  Tensor infer_dst, train_dst;
  bn_run.forward(src, infer_dst, Mode::infer);
  EXPECT_EQ(find(bn->buffers(), ".moving_mean").value->values(), mean)
      << "inference moved the mean";
  EXPECT_EQ(find(bn->buffers(), ".moving_variance").value->values(), variance);
  double largest_difference = 0.0;
  bn_run.forward(src, train_dst, Mode::train);
  for (i64 i = 0; i < src.size(); ++i) {
    const auto c = static_cast<std::size_t>(i % kFeatures);
    const double want = gamma[c] * (src[i] - mean[c]) / std::sqrt(variance[c] + kEpsilon) + beta[c];
    expect_near_relative(infer_dst[i], want, "inference output " + std::to_string(i));
    largest_difference =
        std::max(largest_difference, double(std::abs(infer_dst[i] - train_dst[i])));
  }
  // After 5 steps the moving statistics are still near 0 and 1, far from the batch's.
  EXPECT_GT(largest_difference, 0.1) << "inference and training outputs should differ";
}

TEST(BatchNormLayer, MomentumAndEpsilonOptionsAreUsed) {
  constexpr double kMomentum = 0.5, kEpsilon = 0.25;
  constexpr i64 kFeatures = 2;
  auto bn = layers::BatchNorm({.momentum = kMomentum, .epsilon = kEpsilon});
  testing_support::LayerRunner bn_run(*bn);
  bn->build({kFeatures});
  Rng rng(4);
  bn->initialize(rng);
  const Tensor src = channel_shifted_batch({10, kFeatures}, rng);
  Tensor dst;
  bn_run.forward(src, dst, Mode::train);
  const ChannelStats batch = channel_stats(src, kFeatures), out = channel_stats(dst, kFeatures);
  for (std::size_t c = 0; c < kFeatures; ++c) {
    expect_near_relative((*find(bn->buffers(), ".moving_mean").value)[static_cast<i64>(c)],
                         (1 - kMomentum) * batch.mean[c], "moving mean");
    expect_near_relative((*find(bn->buffers(), ".moving_variance").value)[static_cast<i64>(c)],
                         kMomentum + (1 - kMomentum) * batch.variance[c], "moving variance");
    expect_near_relative(out.variance[c], batch.variance[c] / (batch.variance[c] + kEpsilon),
                         "output variance");
  }
}

// --- Dropout ---------------------------------------------------------------------------

constexpr double kRate = 0.3;
constexpr i64 kDraws = 200000;
constexpr double kShareTolerance = 0.005;  // 5 standard deviations of the share

TEST(DropoutLayer, DropsAboutRateAndScalesKeptValuesByInverseKeep) {
  auto dropout = layers::Dropout({.rate = kRate});
  testing_support::LayerRunner dropout_run(*dropout);
  dropout->build({kDraws / 4});
  Rng rng(5);
  const Tensor src = random_tensor({4, kDraws / 4}, 0.5f, 1.5f, rng);  // never 0 itself
  Tensor dst;
  dropout_run.set_noise_seed(42);
  dropout_run.forward(src, dst, Mode::train);
  const auto keep_scale = static_cast<float>(1.0 / (1.0 - kRate));
  i64 dropped = 0;
  double sum_src = 0.0, sum_dst = 0.0;
  for (i64 i = 0; i < src.size(); ++i) {
    sum_src += src[i];
    sum_dst += dst[i];
    if (dst[i] == 0.0f) {
      ++dropped;
      continue;
    }
    ASSERT_FLOAT_EQ(dst[i], src[i] * keep_scale) << "element " << i;
  }
  EXPECT_NEAR(double(dropped) / double(src.size()), kRate, kShareTolerance);
  EXPECT_NEAR(sum_dst / sum_src, 1.0, 0.01) << "inverted dropout keeps the expectation";
}

TEST(DropoutLayer, MaskReplaysForTheSameSeedAndBackwardUsesIt) {
  auto dropout = layers::Dropout({.rate = kRate});
  testing_support::LayerRunner dropout_run(*dropout);
  dropout->build({1000});
  Rng rng(6);
  const Tensor src = random_tensor({3, 1000}, 0.5f, 1.5f, rng);
  const Tensor diff_dst = random_tensor(src.shape(), -1.0f, 1.0f, rng);
  Tensor first, again, other, diff_src;
  dropout_run.set_noise_seed(7);
  dropout_run.forward(src, first, Mode::train);
  dropout_run.set_noise_seed(8);
  dropout_run.forward(src, other, Mode::train);
  dropout_run.set_noise_seed(7);
  dropout_run.forward(src, again, Mode::train);
  EXPECT_EQ(first.values(), again.values()) << "the same seed must replay the mask";
  i64 disagree = 0;
  for (i64 i = 0; i < src.size(); ++i) disagree += (first[i] == 0.0f) != (other[i] == 0.0f);
  // Independent masks disagree at 2 * 0.3 * 0.7 = 42% of the positions.
  EXPECT_GT(double(disagree) / double(src.size()), 0.3) << "another seed must give another mask";

  dropout_run.backward(src, again, diff_dst, &diff_src);
  const auto keep_scale = static_cast<float>(1.0 / (1.0 - kRate));
  for (i64 i = 0; i < src.size(); ++i)
    ASSERT_FLOAT_EQ(diff_src[i], again[i] == 0.0f ? 0.0f : diff_dst[i] * keep_scale)
        << "element " << i;
}

// The mask is drawn in chunks from streams fixed by (seed, forward, chunk), so one thread
// and two draw the same mask.
TEST(DropoutLayer, MaskDoesNotDependOnTheThreadCount) {
  auto dropout = layers::Dropout({.rate = kRate});
  testing_support::LayerRunner dropout_run(*dropout);
  dropout->build({kDraws});
  Rng rng(9);
  const Tensor src = random_tensor({1, kDraws}, 0.5f, 1.5f, rng);
  const int threads = num_threads();
  std::vector<std::vector<float>> masks;
  for (int t : {1, 2}) {
    set_num_threads(t);
    Tensor dst;
    dropout_run.set_noise_seed(11);
    dropout_run.forward(src, dst, Mode::train);
    masks.push_back(dst.values());
  }
  set_num_threads(threads);
  EXPECT_EQ(masks[0], masks[1]);
}

TEST(DropoutLayer, InferenceAndRateZeroAreTheIdentity) {
  Rng rng(7);
  const Tensor src = random_tensor({2, 4, 4, 3}, -1.0f, 1.0f, rng);
  const Tensor diff_dst = random_tensor(src.shape(), -1.0f, 1.0f, rng);
  struct Case {
    double rate;
    Mode mode;
  };
  for (const Case& c : {Case{0.5, Mode::infer}, Case{0.0, Mode::train}}) {
    SCOPED_TRACE("rate " + std::to_string(c.rate));
    auto dropout = layers::Dropout({.rate = c.rate});
    testing_support::LayerRunner dropout_run(*dropout);
    dropout->build({4, 4, 3});
    dropout_run.set_noise_seed(1);
    Tensor dst, diff_src;
    dropout_run.forward(src, dst, c.mode);
    dropout_run.backward(src, dst, diff_dst, &diff_src);
    EXPECT_EQ(dst.values(), src.values());
    EXPECT_EQ(diff_src.values(), diff_dst.values());
  }
}

// Two Dropouts in a row: if Sequential gave both the same stream they would drop the same
// positions (share 0.3); independent streams drop 1 - 0.7^2 = 51%.
TEST(DropoutLayer, SequentialGivesEachDropoutItsOwnStream) {
  Sequential model({kDraws});
  model.add(layers::Dropout({.rate = kRate}));
  model.add(layers::Dropout({.rate = kRate}));
  Rng rng(8);
  const Tensor src = random_tensor({1, kDraws}, 0.5f, 1.5f, rng);
  plan::TrainingPlan plan(model, Precision::fp32);
  const std::vector<float> first = plan.forward(src, 3).values();
  EXPECT_EQ(plan.forward(src, 3).values(), first) << "a step must replay";
  const double dropped =
      double(std::count(first.begin(), first.end(), 0.0f)) / double(first.size());
  EXPECT_NEAR(dropped, 1.0 - (1.0 - kRate) * (1.0 - kRate), kShareTolerance);
}

// --- LeakyReLU and GlobalAvgPool --------------------------------------------------------

TEST(LeakyReLULayer, DefaultSlopeIsKerasPointThree) {
  auto leaky = layers::LeakyReLU();
  testing_support::LayerRunner leaky_run(*leaky);
  EXPECT_EQ(leaky->config(), (json{{"type", "LeakyReLU"}, {"alpha", 0.3}}));
  leaky->build({4});
  const Tensor src({1, 4}, {-2.0f, -0.5f, 0.5f, 2.0f});
  Tensor dst;
  leaky_run.forward(src, dst, Mode::infer);
  const std::vector<float> want{-0.6f, -0.15f, 0.5f, 2.0f};
  for (std::size_t i = 0; i < want.size(); ++i)
    EXPECT_FLOAT_EQ(dst[static_cast<i64>(i)], want[i]) << "element " << i;
}

TEST(LayerShapes, NewLayersInferShapesAndRefuseWrongInputs) {
  EXPECT_EQ(layers::GlobalAvgPool()->build({5, 7, 3}), Shape{3});
  EXPECT_EQ(layers::BatchNorm()->build({5, 7, 3}), (Shape{5, 7, 3}));
  EXPECT_EQ(layers::BatchNorm()->build({10}), Shape{10});
  EXPECT_EQ(layers::Dropout()->build({2, 3}), (Shape{2, 3}));
  EXPECT_EQ(layers::LeakyReLU()->build({6}), Shape{6});
  EXPECT_THROW(layers::GlobalAvgPool()->build({10}), InputError);
  EXPECT_THROW(layers::BatchNorm()->build({4, 4}), InputError);
}

// --- Configs ---------------------------------------------------------------------------

TEST(LayerConfig, NewLayersRoundTrip) {
  std::vector<std::unique_ptr<Layer>> all;
  all.push_back(layers::BatchNorm({.momentum = 0.9, .epsilon = 1e-5}));
  all.push_back(layers::Dropout({.rate = 0.25}));
  all.push_back(layers::LeakyReLU({.alpha = 0.1}));
  all.push_back(layers::GlobalAvgPool());
  for (const auto& layer : all) {
    const json config = layer->config();
    SCOPED_TRACE(config.dump());
    EXPECT_EQ(config.at("type"), layer->kind());
    const auto rebuilt = layers::from_config(config, "test");
    EXPECT_EQ(rebuilt->kind(), layer->kind());
    EXPECT_EQ(rebuilt->config(), config);
  }
}

TEST(LayerConfig, OmittedOptionsTakeKerasDefaultsAndIntegersAreNumbers) {
  EXPECT_EQ(layers::from_config({{"type", "BatchNorm"}}, "t")->config(),
            (json{{"type", "BatchNorm"}, {"momentum", 0.99}, {"epsilon", 0.001}}));
  EXPECT_EQ(layers::from_config({{"type", "LeakyReLU"}}, "t")->config(),
            (json{{"type", "LeakyReLU"}, {"alpha", 0.3}}));
  EXPECT_EQ(layers::from_config({{"type", "LeakyReLU"}, {"alpha", 1}}, "t")->config().at("alpha"),
            1.0);
  EXPECT_EQ(layers::from_config({{"type", "Dropout"}, {"rate", 0}}, "t")->config().at("rate"), 0.0);
}

TEST(LayerConfig, NewLayersRejectBadOptionsNamingTheKey) {
  struct Bad {
    json config;
    std::string key;  // must appear in the message
  };
  const Bad cases[] = {
      {{{"type", "Dropout"}}, "\"rate\""},  // required
      {{{"type", "Dropout"}, {"rate", 1.0}}, "\"rate\""},
      {{{"type", "Dropout"}, {"rate", -0.1}}, "\"rate\""},
      {{{"type", "Dropout"}, {"rate", "0.5"}}, "\"rate\""},
      {{{"type", "Dropout"}, {"rate", 0.5}, {"seed", 1}}, "\"seed\""},
      {{{"type", "LeakyReLU"}, {"alpha", -0.1}}, "\"alpha\""},
      {{{"type", "LeakyReLU"}, {"alpha", true}}, "\"alpha\""},
      {{{"type", "LeakyReLU"}, {"alpha", nullptr}}, "\"alpha\""},
      {{{"type", "LeakyReLU"}, {"negative_slope", 0.1}}, "\"negative_slope\""},
      {{{"type", "BatchNorm"}, {"momentum", 1.5}}, "\"momentum\""},
      {{{"type", "BatchNorm"}, {"momentum", -0.01}}, "\"momentum\""},
      {{{"type", "BatchNorm"}, {"epsilon", 0}}, "\"epsilon\""},
      {{{"type", "BatchNorm"}, {"epsilon", -1e-3}}, "\"epsilon\""},
      {{{"type", "BatchNorm"}, {"epsilon", "small"}}, "\"epsilon\""},
      {{{"type", "BatchNorm"}, {"axis", -1}}, "\"axis\""},
      {{{"type", "GlobalAvgPool"}, {"pool_size", 2}}, "\"pool_size\""},
  };
  for (const Bad& bad : cases) {
    SCOPED_TRACE(bad.config.dump());
    try {
      layers::from_config(bad.config, "spec.json: layer 3");
      ADD_FAILURE() << "accepted";
    } catch (const InputError& e) {
      EXPECT_EQ(e.source(), "spec.json: layer 3");
      EXPECT_THAT(e.problem(), HasSubstr(bad.key));
    }
  }
}

TEST(LayerOptions, OutOfRangeOptionsAreRefusedWhenBuilt) {
  struct Bad {
    std::unique_ptr<Layer> layer;
    std::string key;
  };
  std::vector<Bad> cases;
  cases.push_back({layers::Dropout({.rate = 1.0}), "rate"});
  cases.push_back({layers::Dropout({.rate = NAN}), "rate"});
  cases.push_back({layers::BatchNorm({.momentum = 1.01}), "momentum"});
  cases.push_back({layers::BatchNorm({.epsilon = 0.0}), "epsilon"});
  cases.push_back({layers::LeakyReLU({.alpha = -1.0}), "alpha"});
  cases.push_back({layers::LeakyReLU({.alpha = INFINITY}), "alpha"});
  for (Bad& bad : cases) {
    SCOPED_TRACE(bad.key);
    Sequential model({4, 4, 2});
    try {
      model.add(std::move(bad.layer));
      ADD_FAILURE() << "accepted";
    } catch (const InputError& e) {
      EXPECT_THAT(e.problem(), HasSubstr("\"" + bad.key + "\""));
    }
  }
}

// --- Presets -----------------------------------------------------------------------------

TEST(Presets, ParameterCountsAndOutputs) {
  struct Expected {
    std::string name;
    i64 trainable, non_trainable;
  };
  // strong: convs 320 + 9,248 + 18,496 + 36,928; BatchNorms 2 x (32 + 32 + 64 + 64 + 256)
  // trainable and as many moving statistics; Dense 3,136 x 256 + 256 and 256 x 10 + 10.
  // fast: convs 16 x 25 + 16 and 32 x 16 x 9 + 32; Dense 800 x 256 + 256 and 256 x 10 + 10.
  const Expected expected[] = {
      {"seed", 121930, 0}, {"fast", 212682, 0}, {"lenet5", 61706, 0}, {"strong", 871530, 896}};
  for (const Expected& e : expected) {
    SCOPED_TRACE(e.name);
    const Sequential model = presets::by_name(e.name);
    EXPECT_EQ(model.parameter_count(), e.trainable);
    EXPECT_EQ(model.non_trainable_count(), e.non_trainable);
    EXPECT_EQ(model.input_shape(), (Shape{28, 28, 1}));
    EXPECT_EQ(model.output_shape(), Shape{10});
    EXPECT_THAT(model.summary(), HasSubstr(fmt::format("Total params: {}\nTrainable params: {}\n"
                                                       "Non-trainable params: {}\n",
                                                       e.trainable + e.non_trainable, e.trainable,
                                                       e.non_trainable)));
  }
}

TEST(Presets, StrongRoundTripsThroughItsConfig) {
  const Sequential model = presets::strong();
  EXPECT_EQ(Sequential::from_config(model.config(), "strong").config(), model.config());
}

TEST(Presets, UnknownNameListsThePresets) {
  try {
    presets::by_name("vgg16");
    ADD_FAILURE() << "accepted";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("seed, fast, lenet5, strong, cifar"));
  }
}

// --- Model files and checkpoints ------------------------------------------------------------

class BatchNormFileTest : public testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = std::filesystem::temp_directory_path() /
           ("imgcls_layer_semantics_test_" + std::to_string(::getpid()) + "_" +
            std::to_string(counter++));
    std::filesystem::create_directories(dir_);
    model_.add(layers::Conv2D({.filters = 4, .kernel_size = 3, .padding = Padding::same}));
    model_.add(layers::BatchNorm());
    model_.add(layers::LeakyReLU());
    model_.add(layers::Dropout({.rate = 0.2}));
    model_.add(layers::GlobalAvgPool());
    model_.add(layers::Dense({.units = 6}));
    model_.add(layers::BatchNorm({.momentum = 0.9}));
    model_.add(layers::ReLU());
    model_.add(layers::Dense({.units = 3}));
    model_.initialize(7);
    // Training forwards move the moving statistics away from their initial 0 and 1.
    Rng rng(9);
    plan::TrainingPlan plan(model_, Precision::fp32);
    for (std::uint64_t step = 0; step < 4; ++step)
      plan.forward(random_tensor({5, 9, 9, 1}, 0.0f, 1.0f, rng), step);
    batch_ = random_tensor({6, 9, 9, 1}, 0.0f, 1.0f, rng);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // Buffers equal value for value, and equal predictions in inference.
  void expect_same_state(Sequential& loaded) {
    const std::vector<Param> want = model_.buffers(), got = loaded.buffers();
    ASSERT_EQ(got.size(), want.size());
    ASSERT_EQ(want.size(), 4u);
    for (std::size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got[i].name, want[i].name);
      EXPECT_EQ(got[i].value->values(), want[i].value->values()) << want[i].name;
    }
    const std::vector<float> expected = Predictor(model_).logits(batch_).values();
    EXPECT_EQ(Predictor(loaded).logits(batch_).values(), expected);
  }

  std::filesystem::path dir_;
  Sequential model_{Shape{9, 9, 1}};
  Tensor batch_;
};

TEST_F(BatchNormFileTest, MovingStatisticsMovedBeforeSaving) {
  // Otherwise the round trips below would pass with freshly initialised statistics.
  const Param moving_variance = find(model_.buffers(), "batchnorm_1.moving_variance");
  EXPECT_GT(std::abs((*moving_variance.value)[0] - 1.0f), 1e-3f);
}

TEST_F(BatchNormFileTest, ModelFileKeepsMovingStatistics) {
  save_model(model_, path("model.safetensors"));
  Sequential loaded = load_model(path("model.safetensors"));
  EXPECT_EQ(loaded.non_trainable_count(), model_.non_trainable_count());
  expect_same_state(loaded);
}

TEST_F(BatchNormFileTest, ModelFileWithoutMovingStatisticsIsRefused) {
  save_model(model_, path("model.safetensors"));
  const io::SafetensorsFile file = io::read_safetensors(path("model.safetensors"));
  std::vector<Tensor> kept;
  std::vector<std::string> names;
  for (const auto& [name, stored] : file.tensors)
    if (!name.ends_with("moving_mean")) {
      names.push_back(name);
      kept.push_back(stored.to_tensor());
    }
  std::vector<std::pair<std::string, const Tensor*>> tensors;
  for (std::size_t i = 0; i < kept.size(); ++i) tensors.emplace_back(names[i], &kept[i]);
  std::map<std::string, std::string> metadata = file.metadata;
  metadata.erase("data_crc32");
  io::write_safetensors(path("damaged.safetensors"), metadata, tensors);
  try {
    load_model(path("damaged.safetensors"));
    ADD_FAILURE() << "accepted";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("moving_mean"));
  }
}

TEST_F(BatchNormFileTest, CheckpointKeepsMovingStatistics) {
  Adam adam;
  save_checkpoint(path("checkpoint.safetensors"), model_, adam, TrainingState{}, json::object());
  LoadedCheckpoint loaded = load_checkpoint(path("checkpoint.safetensors"));
  expect_same_state(loaded.model);
}

}  // namespace
}  // namespace imgcls
