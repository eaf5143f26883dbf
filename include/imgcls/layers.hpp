// Layers: the building blocks of a Sequential model, Keras-style.
//
//   model.add(layers::Conv2D({.filters = 32, .kernel_size = 3, .activation = Activation::relu}));
//
// Every layer works on batches. Image activations are NHWC ([N, H, W, C]); after Flatten
// they are [N, F]. A layer learns its input shape when the model builds it, so nobody
// types a derived size.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "imgcls/error.hpp"
#include "imgcls/rng.hpp"
#include "imgcls/runtime.hpp"
#include "imgcls/tensor.hpp"

namespace imgcls {

enum class Mode { train, infer };
enum class Activation { none, relu };
enum class Padding { valid, same };

// A trainable tensor and its gradient, both owned by the layer.
struct Param {
  std::string name;  // "conv2d_0.weight"
  Tensor* value;
  Tensor* grad;
};

// The executable form of a layer and what a plan asks of it (src/layers/kernel.hpp): the
// library compiles models into plans of kernels; layers are not run directly.
class Kernel;
struct KernelSpec;

// A layer is the math of one step of a model: its kind and options, the shapes it takes and
// gives, its parameters and their initialisation. How it runs (oneDNN primitives, buffers,
// fusion with its neighbours, precision) belongs to the kernels a plan makes from it, so a
// built and initialised layer is never changed by running it: a model can be shared, const,
// by any number of threads.
class Layer {
 public:
  virtual ~Layer() = default;

  // "Conv2D", "Dense", ...
  virtual std::string kind() const = 0;
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }

  // Checks the layer against one sample's input shape ([H, W, C] or [F]), allocates its
  // parameters, and returns one sample's output shape. Throws InputError on a shape the
  // layer cannot take.
  virtual Shape build(const Shape& input_shape) = 0;
  // Glorot-uniform kernels, zero biases (Keras defaults). No-op for layers without weights.
  virtual void initialize(Rng& /*rng*/) {}

  // Trainable tensors, each with its gradient (written by training).
  virtual std::vector<Param> params() { return {}; }
  // State that is not trained by gradients but is part of the model, saved and loaded with
  // it (BatchNorm's moving mean and variance); grad is null.
  virtual std::vector<Param> buffers() { return {}; }

  // The options that rebuild this layer: {"type": kind(), ...options}.
  virtual nlohmann::json config() const = 0;

  // A kernel that runs this built layer as `spec` asks (src/layers/kernel.hpp). The layer
  // must outlive it.
  virtual std::unique_ptr<Kernel> make_kernel(const KernelSpec& spec) const = 0;

 private:
  std::string name_;
};

namespace layers {

struct Conv2DOptions {
  std::int64_t filters = 0;
  std::int64_t kernel_size = 3;
  std::int64_t strides = 1;
  Padding padding = Padding::valid;
  Activation activation = Activation::none;
};
struct Pool2DOptions {
  std::int64_t pool_size = 2;
  std::int64_t strides = 0;  // 0: same as pool_size
};
struct DenseOptions {
  std::int64_t units = 0;
  Activation activation = Activation::none;
};
struct BatchNormOptions {
  // Training updates moving = momentum * moving + (1 - momentum) * batch statistic; [0, 1].
  double momentum = 0.99;
  // Added to the variance before the square root; > 0.
  double epsilon = 1e-3;
};
struct DropoutOptions {
  double rate = 0.5;  // probability of dropping a value, in [0, 1)
};
struct LeakyReLUOptions {
  double alpha = 0.3;  // slope for negative inputs, >= 0 (Keras's default)
};
struct NormalizationOptions {
  double epsilon = 1e-6;  // added to the variance before the square root; > 0
};
struct ELUOptions {
  double alpha = 1.0;  // the negative saturation value is -alpha, >= 0 (Keras's default)
};

// src [N, H, W, C] -> dst [N, H', W', filters]; weights [filters, C, k, k], bias [filters].
std::unique_ptr<Layer> Conv2D(const Conv2DOptions& options);
// src [N, H, W, C] -> dst [N, floor((H - p) / s) + 1, ..., C]
std::unique_ptr<Layer> MaxPool2D(const Pool2DOptions& options = {});
// Same shapes as MaxPool2D; each output is the mean of its window.
std::unique_ptr<Layer> AvgPool2D(const Pool2DOptions& options = {});
// src [N, F] -> dst [N, units]; weights [units, F], bias [units].
std::unique_ptr<Layer> Dense(const DenseOptions& options);
// Elementwise max(x, 0), any shape.
std::unique_ptr<Layer> ReLU();
// src [N, H, W, C] -> dst [N, H*W*C], in NHWC order (as Keras).
std::unique_ptr<Layer> Flatten();
// Batch normalisation, Keras-style, over the channels of src [N, H, W, C] or the features
// of [N, F]: dst = gamma * (src - mean) / sqrt(variance + epsilon) + beta per channel.
// Mode::train uses this batch's mean and (biased) variance, back-propagates through them,
// and updates the moving statistics; Mode::infer uses the moving statistics. Parameters
// gamma [C] (initially 1) and beta [C] (0); buffers moving_mean [C] (0) and
// moving_variance [C] (1).
std::unique_ptr<Layer> BatchNorm(const BatchNormOptions& options = {});
// Inverted dropout, any shape: Mode::train zeroes each value with probability `rate` and
// scales the kept ones by 1 / (1 - rate), drawing the mask from the noise seed
// (set_noise_seed), so that a step replays exactly; Mode::infer is the identity.
std::unique_ptr<Layer> Dropout(const DropoutOptions& options = {});
// Elementwise src > 0 ? src : alpha * src, any shape.
std::unique_ptr<Layer> LeakyReLU(const LeakyReLUOptions& options = {});
// Keras's Normalization: src [N, H, W, C] or [N, C] -> (src - mean[c]) / sqrt(variance[c] +
// epsilon) per channel c, with mean and variance buffers (saved with the model, not trained;
// initially 0 and 1) set from training images by adapt_normalization (imgcls/train.hpp).
std::unique_ptr<Layer> Normalization(const NormalizationOptions& options = {});
// Elementwise src > 0 ? src : alpha * (exp(src) - 1), any shape (Clevert et al. 2015).
std::unique_ptr<Layer> ELU(const ELUOptions& options = {});
// src [N, H, W, C] -> dst [N, C]: the mean of each channel over H x W.
std::unique_ptr<Layer> GlobalAvgPool();

// Rebuilds a layer from its config(); throws InputError naming `where` and the bad key.
std::unique_ptr<Layer> from_config(const nlohmann::json& config, const std::string& where);

}  // namespace layers

}  // namespace imgcls
