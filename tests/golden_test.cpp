// Parity with PyTorch: the seed model (presets::seed) against the fixture that
// tests/golden/make_seed_fixture.py wrote (a float64 PyTorch reference of the same network,
// stored as float32). With the fixture's initial weights and batch [8, 28, 28, 1] this checks
// the logits, the loss, the gradient of every parameter, the loss in each of 10 Adam steps
// (lr 1e-3, eps 1e-7) and every parameter after those steps.
//
// Tolerances (imgcls computes in float32, the reference in float64):
//  - logits and gradients: max |imgcls - torch| <= 1e-4 * max |torch| over each tensor
//    (float32 rounding over sums of up to ~15K terms is ~1e-6 of the tensor's scale);
//  - loss and the 10 Adam losses: |imgcls - torch| <= 1e-5 * |torch|;
//  - parameters after 10 Adam steps: |imgcls - torch| <= 1e-4 absolute per element. Each
//    step moves a parameter by up to lr = 1e-3; Adam divides by sqrt(v), so a gradient that
//    is ~0 up to rounding can take a step of either sign, which bounds how tight this can be.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "imgcls/loss.hpp"
#include "imgcls/model.hpp"
#include "imgcls/optim.hpp"
#include "io/safetensors.hpp"
#include "plan/training_plan.hpp"

namespace imgcls {
namespace {

constexpr double kTensorTolerance = 1e-4;      // relative to the tensor's largest entry
constexpr double kLossTolerance = 1e-5;        // relative
constexpr double kAdamWeightTolerance = 1e-4;  // absolute
constexpr int kAdamSteps = 10;

// imgcls parameter names in model order, and the fixture's names for them.
const std::vector<std::pair<std::string, std::string>> kParamNames = {
    {"conv2d_0.weight", "conv1.weight"}, {"conv2d_0.bias", "conv1.bias"},
    {"conv2d_2.weight", "conv2.weight"}, {"conv2d_2.bias", "conv2.bias"},
    {"dense_5.weight", "fc1.weight"},    {"dense_5.bias", "fc1.bias"},
    {"dense_6.weight", "fc2.weight"},    {"dense_6.bias", "fc2.bias"},
};

class GoldenSeed : public testing::Test {
 protected:
  void SetUp() override {
    fixture_ = io::read_safetensors(IMGCLS_TEST_DATA_DIR "/seed_fixture.safetensors");
    const auto& labels = stored("labels");
    ASSERT_EQ(labels.dtype, "I32");
    labels_ = labels.i32;
    input_ = stored("input").to_tensor();
    ASSERT_EQ(input_.shape(), (Shape{8, 28, 28, 1}));
    load_initial_weights();
  }

  const io::StoredTensor& stored(const std::string& name) const {
    const auto found = fixture_.tensors.find(name);
    if (found == fixture_.tensors.end()) throw std::runtime_error("fixture has no " + name);
    return found->second;
  }

  // Copies the fixture's initial weights into the model, checking names and shapes.
  void load_initial_weights() {
    const std::vector<Param> params = model_.params();
    ASSERT_EQ(params.size(), kParamNames.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
      const auto& [ours, theirs] = kParamNames[i];
      ASSERT_EQ(params[i].name, ours);
      const io::StoredTensor& source = stored(theirs);
      ASSERT_EQ(source.shape, params[i].value->shape()) << ours;
      std::copy(source.f32.begin(), source.f32.end(), params[i].value->data());
    }
  }

  io::SafetensorsFile fixture_;
  Sequential model_ = presets::seed();
  Tensor input_;
  std::vector<std::int32_t> labels_;
};

// max |got - want| <= tolerance * max |want|, naming the worst element on failure.
testing::AssertionResult close_to_tensor_scale(const float* got, const std::vector<float>& want,
                                               double tolerance) {
  double scale = 0.0, worst = -1.0;
  std::size_t worst_index = 0;
  for (float w : want) scale = std::max(scale, double(std::abs(w)));
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double error = std::abs(double(got[i]) - want[i]);
    if (!(error <= worst)) {
      worst = std::isnan(error) ? INFINITY : error;
      worst_index = i;
    }
  }
  if (worst <= tolerance * scale) return testing::AssertionSuccess();
  return testing::AssertionFailure()
         << "element " << worst_index << ": imgcls " << got[worst_index] << ", torch "
         << want[worst_index] << "; error " << worst << " > " << tolerance << " * " << scale;
}

testing::AssertionResult close_absolute(const float* got, const std::vector<float>& want,
                                        double tolerance) {
  double worst = -1.0;
  std::size_t worst_index = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const double error = std::abs(double(got[i]) - want[i]);
    if (!(error <= worst)) {
      worst = std::isnan(error) ? INFINITY : error;
      worst_index = i;
    }
  }
  if (worst <= tolerance) return testing::AssertionSuccess();
  return testing::AssertionFailure()
         << "element " << worst_index << ": imgcls " << got[worst_index] << ", torch "
         << want[worst_index] << "; error " << worst << " > " << tolerance;
}

TEST_F(GoldenSeed, LogitsLossAndEveryGradient) {
  plan::TrainingPlan plan(model_, Precision::fp32);
  const Tensor& logits = plan.forward(input_, 0);
  ASSERT_EQ(logits.shape(), (Shape{8, 10}));
  EXPECT_TRUE(close_to_tensor_scale(logits.data(), stored("logits").f32, kTensorTolerance))
      << "logits";

  Tensor diff_logits;
  const double loss = softmax_cross_entropy(logits, labels_, &diff_logits);
  const double want_loss = stored("loss").f32.at(0);
  EXPECT_NEAR(loss, want_loss, kLossTolerance * want_loss);

  plan.backward(diff_logits);
  const std::vector<Param> params = model_.params();
  for (std::size_t i = 0; i < params.size(); ++i) {
    const std::string theirs = "grad." + kParamNames[i].second;
    EXPECT_TRUE(close_to_tensor_scale(params[i].grad->data(), stored(theirs).f32, kTensorTolerance))
        << params[i].name << " vs " << theirs;
  }
}

TEST_F(GoldenSeed, TenAdamStepsOnOneBatch) {
  Adam adam({.learning_rate = 1e-3f, .epsilon = 1e-7f});
  const std::vector<Param> params = model_.params();
  const std::vector<float>& want_losses = stored("adam.loss").f32;
  ASSERT_EQ(want_losses.size(), std::size_t{kAdamSteps});
  Tensor diff_logits;
  plan::TrainingPlan plan(model_, Precision::fp32);
  for (int step = 0; step < kAdamSteps; ++step) {
    const Tensor& logits = plan.forward(input_, 0);
    const double loss = softmax_cross_entropy(logits, labels_, &diff_logits);
    const double want = want_losses[static_cast<std::size_t>(step)];
    EXPECT_NEAR(loss, want, kLossTolerance * want) << "loss in the forward pass of step " << step;
    plan.backward(diff_logits);
    adam.step(params);
  }
  // The trajectory must actually descend, or the fixture would not test Adam at all.
  EXPECT_LT(want_losses.back(), want_losses.front());
  for (std::size_t i = 0; i < params.size(); ++i) {
    const std::string theirs = "adam." + kParamNames[i].second;
    EXPECT_TRUE(close_absolute(params[i].value->data(), stored(theirs).f32, kAdamWeightTolerance))
        << params[i].name << " vs " << theirs;
    // ... and moved away from the start, so matching them is not matching the initial values.
    EXPECT_FALSE(close_absolute(params[i].value->data(), stored(kParamNames[i].second).f32, 1e-4))
        << params[i].name << " did not move";
  }
}

}  // namespace
}  // namespace imgcls
