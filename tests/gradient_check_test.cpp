// Runs the library's gradient checker (imgcls/gradient_check.hpp) on every layer kind and on
// the loss: Conv2D valid / same / stride 2 (including asymmetric "same" padding), with and
// without ReLU; MaxPool2D; AvgPool2D; GlobalAvgPool; Dense with and without ReLU; ReLU;
// LeakyReLU; Flatten; BatchNorm in training mode (images and flat); Dropout with a fixed
// mask; softmax cross-entropy. Each check must pass (every checked point within the checker's
// default tolerance, 1e-2 in its error measure) and must have checked most of its points, so it
// cannot pass by skipping them all as kinks. Negative tests wrap a layer so that its
// backward is 10% wrong, and require the checker to notice.
#include "imgcls/gradient_check.hpp"

#include <gtest/gtest.h>

#include <memory>

#include "imgcls/layers.hpp"
#include "layers/kernel.hpp"

namespace imgcls {
namespace {

using layers::Conv2D;
using layers::Dense;

// Most points must be checked rather than skipped. Kinks are where a ReLU input or a
// window's runner-up lies within the step (1e-3) of the switch; with these small shapes
// that is usually none of them, and at most about 15% over the seeds tried.
constexpr double kMinCheckedShare = 0.75;

void expect_gradients_ok(Layer& layer, const Shape& input_shape) {
  const GradientCheckResult result = check_layer_gradients(layer, input_shape);
  const int total = result.checked + result.skipped;
  EXPECT_TRUE(result.ok()) << "worst: " << result.worst;
  EXPECT_GE(result.checked, kMinCheckedShare * total)
      << result.checked << " checked, " << result.skipped << " skipped at kinks";
  EXPECT_GE(result.checked, 50) << "too few points checked to mean anything";
}

TEST(GradientCheck, Conv2DValid) {
  expect_gradients_ok(*Conv2D({.filters = 4, .kernel_size = 3}), {2, 7, 6, 3});
}

TEST(GradientCheck, Conv2DValidRelu) {
  expect_gradients_ok(*Conv2D({.filters = 4, .kernel_size = 3, .activation = Activation::relu}),
                      {2, 7, 6, 3});
}

TEST(GradientCheck, Conv2DSame) {
  expect_gradients_ok(*Conv2D({.filters = 3, .kernel_size = 3, .padding = Padding::same}),
                      {2, 5, 5, 2});
}

TEST(GradientCheck, Conv2DSameRelu) {
  expect_gradients_ok(*Conv2D({.filters = 3,
                               .kernel_size = 3,
                               .padding = Padding::same,
                               .activation = Activation::relu}),
                      {2, 5, 5, 2});
}

// On a 6x6 input, "same" with stride 2 and a 3x3 kernel pads 0 at top/left and 1 at
// bottom/right (TensorFlow's rule): the asymmetric case.
TEST(GradientCheck, Conv2DSameStride2Asymmetric) {
  expect_gradients_ok(
      *Conv2D({.filters = 3, .kernel_size = 3, .strides = 2, .padding = Padding::same}),
      {2, 6, 6, 2});
}

TEST(GradientCheck, Conv2DValidStride2Relu) {
  expect_gradients_ok(
      *Conv2D({.filters = 3, .kernel_size = 3, .strides = 2, .activation = Activation::relu}),
      {2, 7, 7, 2});
}

TEST(GradientCheck, Conv2DKernel5SameStride2Relu) {
  expect_gradients_ok(*Conv2D({.filters = 2,
                               .kernel_size = 5,
                               .strides = 2,
                               .padding = Padding::same,
                               .activation = Activation::relu}),
                      {1, 7, 7, 3});
}

TEST(GradientCheck, MaxPool2D) {
  expect_gradients_ok(*layers::MaxPool2D({.pool_size = 2}), {2, 6, 6, 3});
}

TEST(GradientCheck, MaxPool2DOddSizeOverlapping) {
  expect_gradients_ok(*layers::MaxPool2D({.pool_size = 3, .strides = 2}), {2, 7, 7, 2});
}

TEST(GradientCheck, Dense) { expect_gradients_ok(*Dense({.units = 5}), {3, 12}); }

TEST(GradientCheck, DenseRelu) {
  expect_gradients_ok(*Dense({.units = 5, .activation = Activation::relu}), {3, 12});
}

TEST(GradientCheck, ReLU) { expect_gradients_ok(*layers::ReLU(), {2, 5, 5, 3}); }

TEST(GradientCheck, Flatten) { expect_gradients_ok(*layers::Flatten(), {2, 5, 4, 3}); }

TEST(GradientCheck, AvgPool2D) {
  expect_gradients_ok(*layers::AvgPool2D({.pool_size = 2}), {2, 6, 6, 3});
}

TEST(GradientCheck, AvgPool2DOddSizeOverlapping) {
  expect_gradients_ok(*layers::AvgPool2D({.pool_size = 3, .strides = 2}), {2, 7, 7, 2});
}

TEST(GradientCheck, GlobalAvgPool) { expect_gradients_ok(*layers::GlobalAvgPool(), {2, 5, 3, 4}); }

TEST(GradientCheck, LeakyReLU) {
  expect_gradients_ok(*layers::LeakyReLU({.alpha = 0.3}), {2, 5, 5, 3});
}

// The checker runs forward in Mode::train: the gradient is the full one, through the batch
// mean and variance (a backward that treated them as constants is off by O(1)).
TEST(GradientCheck, BatchNormTrainingImages) {
  expect_gradients_ok(*layers::BatchNorm(), {3, 4, 5, 3});
}

TEST(GradientCheck, BatchNormTrainingFlat) { expect_gradients_ok(*layers::BatchNorm(), {6, 7}); }

// Every forward of the checker sets the same noise seed, so the mask is fixed; the dropped
// values have gradient 0 on both sides.
TEST(GradientCheck, Dropout) { expect_gradients_ok(*layers::Dropout({.rate = 0.3}), {2, 5, 5, 3}); }

TEST(GradientCheck, SoftmaxCrossEntropy) {
  for (const Shape& shape : {Shape{1, 10}, Shape{4, 10}, Shape{3, 2}}) {
    const GradientCheckResult result = check_loss_gradients(shape);
    EXPECT_TRUE(result.ok()) << to_string(shape) << " worst: " << result.worst;
    // The loss is smooth: nothing may be skipped.
    EXPECT_EQ(result.skipped, 0) << to_string(shape);
    EXPECT_EQ(result.checked, shape[0] * shape[1]) << to_string(shape);
  }
}

// A layer whose backward is wrong on purpose: it wraps a correct one and its kernel scales
// either d(loss)/d(src) or every parameter gradient by `factor` (1.1; 1 for a wrapper that
// must pass).
class WrongGradient final : public Layer {
 public:
  enum class Corrupt { diff_src, params };
  WrongGradient(std::unique_ptr<Layer> inner, Corrupt corrupt, float factor = 1.1f)
      : inner_(std::move(inner)), corrupt_(corrupt), factor_(factor) {}

  std::string kind() const override { return inner_->kind(); }
  Shape build(const Shape& input_shape) override { return inner_->build(input_shape); }
  void initialize(Rng& rng) override { inner_->initialize(rng); }
  std::vector<Param> params() override { return inner_->params(); }
  nlohmann::json config() const override { return inner_->config(); }
  std::unique_ptr<Kernel> make_kernel(const KernelSpec& spec) const override {
    return std::make_unique<WrongKernel>(inner_->make_kernel(spec), corrupt_, factor_);
  }

 private:
  class WrongKernel final : public Kernel {
   public:
    WrongKernel(std::unique_ptr<Kernel> inner, Corrupt corrupt, float factor)
        : inner_(std::move(inner)), corrupt_(corrupt), factor_(factor) {}
    void forward(const Tensor& src, Tensor& dst) override { inner_->forward(src, dst); }
    void backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, Tensor* diff_src,
                  const std::vector<Tensor*>& diff_params) override {
      inner_->backward(src, dst, diff_dst, diff_src, diff_params);
      if (corrupt_ == Corrupt::diff_src && diff_src) scale(*diff_src, factor_);
      if (corrupt_ == Corrupt::params)
        for (Tensor* grad : diff_params) scale(*grad, factor_);
    }

   private:
    static void scale(Tensor& t, float factor) {
      for (std::int64_t i = 0; i < t.size(); ++i) t[i] *= factor;
    }
    std::unique_ptr<Kernel> inner_;
    Corrupt corrupt_;
    float factor_;
  };

  std::unique_ptr<Layer> inner_;
  Corrupt corrupt_;
  float factor_;
};

TEST(GradientCheckDetects, WrongInputGradientOfConv2D) {
  WrongGradient layer(Conv2D({.filters = 4, .kernel_size = 3, .activation = Activation::relu}),
                      WrongGradient::Corrupt::diff_src);
  const GradientCheckResult result = check_layer_gradients(layer, {2, 7, 6, 3});
  EXPECT_FALSE(result.ok()) << "a 10% error went unnoticed; worst: " << result.worst;
  EXPECT_GT(result.max_error, 0.05);  // about 0.1 / 1.1 at the largest gradients
}

TEST(GradientCheckDetects, WrongParameterGradientOfDense) {
  WrongGradient layer(Dense({.units = 5}), WrongGradient::Corrupt::params);
  const GradientCheckResult result = check_layer_gradients(layer, {3, 12});
  EXPECT_FALSE(result.ok()) << "a 10% error went unnoticed; worst: " << result.worst;
  EXPECT_GT(result.max_error, 0.05);
}

TEST(GradientCheckDetects, WrongInputGradientOfBatchNorm) {
  WrongGradient layer(layers::BatchNorm(), WrongGradient::Corrupt::diff_src);
  const GradientCheckResult result = check_layer_gradients(layer, {3, 4, 5, 3});
  EXPECT_FALSE(result.ok()) << "a 10% error went unnoticed; worst: " << result.worst;
}

TEST(GradientCheckDetects, WrongParameterGradientOfBatchNorm) {
  WrongGradient layer(layers::BatchNorm(), WrongGradient::Corrupt::params);
  const GradientCheckResult result = check_layer_gradients(layer, {6, 7});
  EXPECT_FALSE(result.ok()) << "a 10% error went unnoticed; worst: " << result.worst;
}

TEST(GradientCheckDetects, WrongInputGradientOfMaxPool2D) {
  WrongGradient layer(layers::MaxPool2D({.pool_size = 2}), WrongGradient::Corrupt::diff_src);
  const GradientCheckResult result = check_layer_gradients(layer, {2, 6, 6, 3});
  EXPECT_FALSE(result.ok()) << "a 10% error went unnoticed; worst: " << result.worst;
}

// The same wrapper with a factor of 1 must pass: the wrapper itself is not what fails.
TEST(GradientCheckDetects, WrapperWithoutCorruptionPasses) {
  WrongGradient inputs(Conv2D({.filters = 4, .kernel_size = 3, .activation = Activation::relu}),
                       WrongGradient::Corrupt::diff_src, 1.0f);
  EXPECT_TRUE(check_layer_gradients(inputs, {2, 7, 6, 3}).ok());
  WrongGradient params(Dense({.units = 5}), WrongGradient::Corrupt::params, 1.0f);
  EXPECT_TRUE(check_layer_gradients(params, {3, 12}).ok());
}

}  // namespace
}  // namespace imgcls
