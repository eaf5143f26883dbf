// Preset architectures, built with the same public API a user has.
#include "imgcls/model.hpp"

namespace imgcls::presets {

Sequential seed() {
  Sequential model({28, 28, 1});
  model.add(layers::Conv2D({.filters = 32, .kernel_size = 3, .activation = Activation::relu}));
  model.add(layers::MaxPool2D({.pool_size = 2}));
  model.add(layers::Conv2D({.filters = 64, .kernel_size = 3, .activation = Activation::relu}));
  model.add(layers::MaxPool2D({.pool_size = 2}));
  model.add(layers::Flatten());
  model.add(layers::Dense({.units = 64, .activation = Activation::relu}));
  model.add(layers::Dense({.units = 10}));
  return model;
}

Sequential lenet5() {
  Sequential model({28, 28, 1});
  model.add(layers::Conv2D({.filters = 6, .kernel_size = 5, .padding = Padding::same, .activation = Activation::relu}));
  model.add(layers::AvgPool2D({.pool_size = 2}));
  model.add(layers::Conv2D({.filters = 16, .kernel_size = 5, .activation = Activation::relu}));
  model.add(layers::AvgPool2D({.pool_size = 2}));
  model.add(layers::Flatten());
  model.add(layers::Dense({.units = 120, .activation = Activation::relu}));
  model.add(layers::Dense({.units = 84, .activation = Activation::relu}));
  model.add(layers::Dense({.units = 10}));
  return model;
}

namespace {
// Conv2D 3x3 "same" without activation, then BatchNorm, then ReLU: the normalisation
// sits between the convolution and its activation, so the ReLU cannot be fused.
void add_conv_bn_relu(Sequential& model, std::int64_t filters) {
  model.add(layers::Conv2D({.filters = filters, .kernel_size = 3, .padding = Padding::same}));
  model.add(layers::BatchNorm());
  model.add(layers::ReLU());
}
}  // namespace

Sequential strong() {
  constexpr double kConvDropout = 0.25, kDenseDropout = 0.4;
  Sequential model({28, 28, 1});
  for (std::int64_t filters : {32, 64}) {
    add_conv_bn_relu(model, filters);
    add_conv_bn_relu(model, filters);
    model.add(layers::MaxPool2D({.pool_size = 2}));
    model.add(layers::Dropout({.rate = kConvDropout}));
  }
  model.add(layers::Flatten());
  model.add(layers::Dense({.units = 256}));
  model.add(layers::BatchNorm());
  model.add(layers::ReLU());
  model.add(layers::Dropout({.rate = kDenseDropout}));
  model.add(layers::Dense({.units = 10}));
  return model;
}

Sequential by_name(const std::string& name) {
  if (name == "seed") return seed();
  if (name == "lenet5") return lenet5();
  if (name == "strong") return strong();
  throw InputError(name, "not a preset architecture nor an existing file",
                   "presets: seed, lenet5, strong");
}

}  // namespace imgcls::presets
