// Training pieces, small and fast: Adam's first step and convergence on a quadratic; the loss
// (softmax cross-entropy) on hand-computed values and at extreme logits; fit learning a tiny
// synthetic task and being bit-for-bit deterministic for a seed and thread count;
// evaluate/predict shapes, probabilities summing to 1, and agreement between batch sizes.
#include "imgcls/train.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "imgcls/error.hpp"
#include "imgcls/loss.hpp"
#include "imgcls/model.hpp"
#include "imgcls/optim.hpp"
#include "imgcls/runtime.hpp"

namespace imgcls {
namespace {

using testing::HasSubstr;

// --- Adam ---

TEST(Adam, FirstStepMovesEachParameterByTheLearningRate) {
  // After one step m = (1 - b1) g and v = (1 - b2) g^2, so the bias-corrected update is
  // lr * g / (|g| + eps): a step of lr against the sign of the gradient.
  Tensor value({4}, {1.0f, -2.0f, 0.5f, 0.0f}), grad({4}, {0.5f, -3.0f, 1e-3f, 20.0f});
  const std::vector<Param> params{{"p", &value, &grad}};
  const AdamOptions options{.learning_rate = 1e-2f};
  Adam adam(options);
  const Tensor before = value;
  adam.step(params);
  for (std::int64_t i = 0; i < 4; ++i) {
    const double g = grad[i];
    const double want = before[i] - options.learning_rate * g / (std::abs(g) + options.epsilon);
    EXPECT_NEAR(value[i], want, 1e-6) << i;  // a few float ulps at |p| <= 2
  }
  EXPECT_EQ(adam.steps_taken(), 1);
}

TEST(Adam, MinimisesAQuadratic) {
  // f(p) = sum (p - target)^2, gradient 2 (p - target).
  const std::vector<float> target{0.5f, -1.5f, 2.0f, 0.0f, 3.0f};
  Tensor value({5}), grad({5});
  const std::vector<Param> params{{"p", &value, &grad}};
  const auto loss = [&] {
    double sum = 0.0;
    for (std::int64_t i = 0; i < 5; ++i) sum += std::pow(value[i] - target[std::size_t(i)], 2);
    return sum;
  };
  Adam adam({.learning_rate = 0.05f});
  const double initial = loss();
  for (int step = 0; step < 500; ++step) {
    for (std::int64_t i = 0; i < 5; ++i) grad[i] = 2.0f * (value[i] - target[std::size_t(i)]);
    adam.step(params);
  }
  EXPECT_LT(loss(), 1e-3 * initial) << "initial " << initial;
}

// --- softmax cross-entropy ---

TEST(SoftmaxCrossEntropy, HandComputedExample) {
  // Row 0: log(e^1 + e^2 + e^3) - 3 = 0.4076059644; row 1: log 3 = 1.0986122887.
  const Tensor logits({2, 3}, {1.0f, 2.0f, 3.0f, 0.0f, 0.0f, 0.0f});
  const std::vector<std::int32_t> labels{2, 0};
  Tensor diff;
  const double loss = softmax_cross_entropy(logits, labels, &diff);
  EXPECT_NEAR(loss, (0.4076059644 + 1.0986122887) / 2, 1e-7);
  // (softmax - onehot) / N; softmax([1, 2, 3]) = [0.0900306, 0.2447285, 0.6652410].
  const std::vector<double> want{0.0900306 / 2,     0.2447285 / 2, (0.6652410 - 1) / 2,
                                 (1.0 / 3 - 1) / 2, 1.0 / 6,       1.0 / 6};
  ASSERT_EQ(diff.shape(), logits.shape());
  for (std::int64_t i = 0; i < 6; ++i)
    EXPECT_NEAR(diff[i], want[std::size_t(i)], 1e-6) << i;  // 7 digits given above
}

TEST(SoftmaxCrossEntropy, StableAtExtremeLogits) {
  const Tensor logits({1, 3}, {1000.0f, 1000.0f, -1000.0f});
  const std::vector<std::int32_t> labels{2};
  Tensor diff, probabilities;
  // log(2 e^1000) + 1000, computed without overflow.
  EXPECT_NEAR(softmax_cross_entropy(logits, labels, &diff), 2000.0 + std::log(2.0), 1e-9);
  EXPECT_NEAR(diff[0], 0.5, 1e-7);
  EXPECT_NEAR(diff[2], -1.0, 1e-7);
  softmax(logits, probabilities);
  EXPECT_NEAR(probabilities[0], 0.5, 1e-7);
  EXPECT_NEAR(probabilities[1], 0.5, 1e-7);
  EXPECT_EQ(probabilities[2], 0.0f);
}

// --- fit / evaluate / predict on a tiny synthetic task ---

// 6x6 images of three classes: class c has a bright horizontal band at rows 2c and 2c + 1,
// over uniform noise in [0, 0.3).
Dataset stripes(std::int64_t n, std::uint64_t seed) {
  Tensor images({n, 6, 6, 1});
  Dataset data;
  Rng rng(seed);
  for (std::int64_t i = 0; i < n; ++i) {
    const auto label = static_cast<std::int32_t>(rng.uniform_index(3));
    data.labels.push_back(label);
    for (std::int64_t y = 0; y < 6; ++y)
      for (std::int64_t x = 0; x < 6; ++x)
        images[(i * 6 + y) * 6 + x] = rng.uniform(0.0f, 0.3f) + (y / 2 == label ? 0.7f : 0.0f);
  }
  data.images = PixelTensor::from_unit(images);
  return data;
}

Sequential tiny_model() {
  Sequential model({6, 6, 1});
  model.add(layers::Conv2D({.filters = 4, .kernel_size = 3, .activation = Activation::relu}));
  model.add(layers::MaxPool2D({.pool_size = 2}));
  model.add(layers::Flatten());
  model.add(layers::Dense({.units = 3}));
  model.initialize(3);
  return model;
}

std::vector<std::vector<float>> weights_of(Sequential& model) {
  std::vector<std::vector<float>> weights;
  for (const Param& p : model.params()) weights.push_back(p.value->values());
  return weights;
}

std::vector<std::vector<float>> train_tiny(std::uint64_t seed) {
  set_num_threads(2);
  Sequential model = tiny_model();
  Adam adam;
  fit(model, adam, stripes(100, 1), {.epochs = 2, .batch_size = 16, .seed = seed});
  return weights_of(model);
}

TEST(Fit, SameSeedAndThreadsGiveIdenticalWeights) {
  const auto first = train_tiny(5), second = train_tiny(5);
  EXPECT_EQ(first, second);  // bit for bit
  Sequential untrained = tiny_model();
  EXPECT_NE(first, weights_of(untrained)) << "fit did not change the weights";
  EXPECT_NE(first, train_tiny(6)) << "the seed does not reach the shuffle";
}

TEST(Fit, LearnsTheSyntheticTask) {
  Sequential model = tiny_model();
  Adam adam({.learning_rate = 1e-2f});
  const Dataset train = stripes(300, 1), test = stripes(100, 2);
  const History history = fit(model, adam, train, {.epochs = 8, .batch_size = 16});
  ASSERT_EQ(history.epochs.size(), 8u);
  EXPECT_LT(history.epochs.back().loss, 0.5 * history.epochs.front().loss);
  EXPECT_EQ(history.epochs.back().epoch, 8);
  EXPECT_GE(evaluate(model, test).accuracy, 0.95);  // the bands are far apart: easy
}

TEST(Fit, RefusesImagesOfAnotherShape) {
  Sequential model = tiny_model();
  Adam adam;
  Dataset wrong{PixelTensor({4, 5, 5, 1}), {0, 1, 2, 0}};
  try {
    fit(model, adam, wrong, {.epochs = 1});
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("[5, 5, 1]"));
    EXPECT_THAT(e.what(), HasSubstr("[6, 6, 1]"));
  }
}

TEST(Fit, StopsWithAnErrorWhenTheLossIsNotFinite) {
  // A NaN weight (a run that diverged): no ReLU between it and the logits (a ReLU would map
  // NaN to 0).
  Sequential model({6, 6, 1});
  model.add(layers::Flatten());
  model.add(layers::Dense({.units = 3}));
  model.initialize(1);
  (*model.params()[0].value)[5] = NAN;
  Adam adam;
  Dataset data = stripes(32, 1);
  try {
    fit(model, adam, data, {.epochs = 1, .batch_size = 32});
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("nan"));
  }
}

TEST(EvaluateAndPredict, ShapesAndProbabilities) {
  Sequential model = tiny_model();
  const Dataset data = stripes(23, 4);
  const Evaluation result = evaluate(model, data, 5);  // 5 does not divide 23
  EXPECT_EQ(result.count, 23);
  ASSERT_EQ(result.probabilities.shape(), (Shape{23, 3}));
  ASSERT_EQ(result.predicted.size(), 23u);
  std::int64_t correct = 0;
  double loss = 0.0;
  for (std::int64_t i = 0; i < 23; ++i) {
    const float* row = result.probabilities.data() + i * 3;
    EXPECT_NEAR(row[0] + row[1] + row[2], 1.0, 1e-6) << i;  // float rounding of 3 terms
    for (int k = 0; k < 3; ++k) EXPECT_TRUE(row[k] >= 0.0f && row[k] <= 1.0f);
    const std::int32_t predicted = result.predicted[std::size_t(i)];
    EXPECT_EQ(row[predicted], *std::max_element(row, row + 3));
    correct += predicted == data.labels[std::size_t(i)];
    loss -= std::log(double(row[data.labels[std::size_t(i)]]));
  }
  EXPECT_DOUBLE_EQ(result.accuracy, double(correct) / 23);
  EXPECT_NEAR(result.loss, loss / 23, 1e-9);

  // predict in one batch of 1000 and in batches of 4 (other primitives): same numbers up to
  // float rounding of the forward pass.
  const Tensor whole = predict(model, data.images.to_unit());
  const Tensor pieces = predict(model, data.images.to_unit(), 4);
  ASSERT_EQ(whole.shape(), (Shape{23, 3}));
  ASSERT_EQ(pieces.shape(), whole.shape());
  for (std::int64_t i = 0; i < whole.size(); ++i) EXPECT_NEAR(pieces[i], whole[i], 1e-6) << i;
  for (std::int64_t i = 0; i < whole.size(); ++i)
    EXPECT_NEAR(result.probabilities[i], whole[i], 1e-6) << i;
}

}  // namespace
}  // namespace imgcls
