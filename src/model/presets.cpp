// Preset architectures, built with the same public API a user has, for any input shape and
// class count (MNIST's by default).
#include <fmt/core.h>

#include "imgcls/model.hpp"

namespace imgcls::presets {

namespace {
// The model's input, and a Normalization first when asked for.
Sequential start(const PresetOptions& options) {
  Sequential model(options.input_shape);
  if (options.normalize) model.add(layers::Normalization());
  return model;
}

// Conv2D (k x k) relu, MaxPool 2, Conv2D 3x3 relu, MaxPool 2, Flatten, Dense relu, Dense
// classes: the seed and fast models.
Sequential conv_pool_twice(const PresetOptions& options, std::int64_t filters1,
                           std::int64_t kernel1, std::int64_t filters2, std::int64_t units) {
  Sequential model = start(options);
  model.add(layers::Conv2D(
      {.filters = filters1, .kernel_size = kernel1, .activation = Activation::relu}));
  model.add(layers::MaxPool2D({.pool_size = 2}));
  model.add(
      layers::Conv2D({.filters = filters2, .kernel_size = 3, .activation = Activation::relu}));
  model.add(layers::MaxPool2D({.pool_size = 2}));
  model.add(layers::Flatten());
  model.add(layers::Dense({.units = units, .activation = Activation::relu}));
  model.add(layers::Dense({.units = options.classes}));
  return model;
}
}  // namespace

Sequential seed(const PresetOptions& options) { return conv_pool_twice(options, 32, 3, 64, 64); }

Sequential fast(const PresetOptions& options) { return conv_pool_twice(options, 16, 5, 32, 256); }

Sequential lenet5(const PresetOptions& options) {
  Sequential model = start(options);
  model.add(layers::Conv2D(
      {.filters = 6, .kernel_size = 5, .padding = Padding::same, .activation = Activation::relu}));
  model.add(layers::AvgPool2D({.pool_size = 2}));
  model.add(layers::Conv2D({.filters = 16, .kernel_size = 5, .activation = Activation::relu}));
  model.add(layers::AvgPool2D({.pool_size = 2}));
  model.add(layers::Flatten());
  model.add(layers::Dense({.units = 120, .activation = Activation::relu}));
  model.add(layers::Dense({.units = 84, .activation = Activation::relu}));
  model.add(layers::Dense({.units = options.classes}));
  return model;
}

namespace {
// Conv2D 3x3 "same" without activation, then BatchNorm, then ReLU: the normalisation sits
// between the convolution and its activation, so the ReLU cannot be fused into the conv.
// Moving statistics that follow the weights within about 10 steps (Keras's 0.99 takes about
// 100): with Adam at 1e-3 the weights move fast enough in the first epochs that 0.99 leaves
// the inference statistics behind them (measured: 91.6% test accuracy after one epoch,
// 99.0% once the statistics caught up with the same weights).
constexpr double kBatchNormMomentum = 0.9;

void add_conv_bn_relu(Sequential& model, std::int64_t filters, std::int64_t strides) {
  model.add(layers::Conv2D(
      {.filters = filters, .kernel_size = 3, .strides = strides, .padding = Padding::same}));
  model.add(layers::BatchNorm({.momentum = kBatchNormMomentum}));
  model.add(layers::ReLU());
}
}  // namespace

// Each block's second convolution has stride 2 and does the downsampling a MaxPool2D would
// (a learned pooling): 28x28 -> 14x14 -> 7x7. Computing it at the lower resolution makes
// the network 2.3x cheaper than [conv, conv, max pool] blocks (8.2M instead of 19M
// multiply-adds per image), which keeps an epoch on 2 cores well under a minute.
Sequential strong(const PresetOptions& options) {
  constexpr double kConvDropout = 0.25, kDenseDropout = 0.4;
  constexpr std::int64_t kDownsample = 2;
  Sequential model = start(options);
  for (std::int64_t filters : {32, 64}) {
    add_conv_bn_relu(model, filters, 1);
    add_conv_bn_relu(model, filters, kDownsample);
    model.add(layers::Dropout({.rate = kConvDropout}));
  }
  model.add(layers::Flatten());
  model.add(layers::Dense({.units = 256}));
  model.add(layers::BatchNorm({.momentum = kBatchNormMomentum}));
  model.add(layers::ReLU());
  model.add(layers::Dropout({.rate = kDenseDropout}));
  model.add(layers::Dense({.units = options.classes}));
  return model;
}

// The convolutions see a block's full resolution before its pooling halves it, as in the
// ResNet-free CIFAR-10 records (KellerJordan/cifar10-airbench): conv, pool, norm, relu.
Sequential cifar(const PresetOptions& options) {
  Sequential model = start(options);
  add_conv_bn_relu(model, 32, 1);
  for (std::int64_t filters : {64, 128, 256}) {
    model.add(layers::Conv2D({.filters = filters, .kernel_size = 3, .padding = Padding::same}));
    model.add(layers::MaxPool2D({.pool_size = 2}));
    model.add(layers::BatchNorm({.momentum = kBatchNormMomentum}));
    model.add(layers::ReLU());
    add_conv_bn_relu(model, filters, 1);
  }
  model.add(layers::GlobalAvgPool());
  model.add(layers::Dense({.units = options.classes}));
  return model;
}

std::string names() { return "seed, fast, lenet5, strong, cifar"; }

Sequential by_name(const std::string& name, const PresetOptions& options) {
  const auto built = [&](Sequential (*make)(const PresetOptions&)) {
    try {
      return make(options);
    } catch (const InputError& e) {
      throw InputError(
          fmt::format("preset {} for {} pictures", name, to_string(options.input_shape)),
          e.source() + ": " + e.problem(), "use larger pictures or another preset");
    }
  };
  if (name == "seed") return built(seed);
  if (name == "fast") return built(fast);
  if (name == "lenet5") return built(lenet5);
  if (name == "strong") return built(strong);
  if (name == "cifar") return built(cifar);
  throw InputError(name, "not a preset architecture nor an existing file", "presets: " + names());
}

}  // namespace imgcls::presets
