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
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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

  // src [N, ...input] -> dst [N, ...output]; dst is resized as needed.
  virtual void forward(const Tensor& src, Tensor& dst, Mode mode) = 0;
  // Given this layer's last forward src and dst, and d(loss)/d(dst): overwrites the
  // parameter gradients and, when diff_src is not null, writes d(loss)/d(src).
  virtual void backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst,
                        Tensor* diff_src) = 0;

  virtual std::vector<Param> params() { return {}; }
  // State that is not trained by gradients but is part of the model, saved and loaded with
  // it (BatchNorm's moving mean and variance); grad is null.
  virtual std::vector<Param> buffers() { return {}; }
  // Layers that draw random numbers in training (Dropout) take them from this seed, set
  // before every training step, so a step can be replayed exactly.
  virtual void set_noise_seed(std::uint64_t /*seed*/) {}

  // Training-time fusion, arranged by Sequential::add. Max pooling of a ReLU output sends
  // gradient only to window maxima, so masking the pooled gradient where the pooled output
  // is 0 equals masking the full-size gradient afterwards, at a quarter of the memory
  // traffic. ends_with_relu(): this layer's output is a fused ReLU. absorb_input_relu_backward():
  // asked of the next layer; returns true if it will apply that mask from now on.
  // skip_relu_backward(): the previous layer's answer was yes, so drop the own mask.
  virtual bool ends_with_relu() const { return false; }
  virtual bool absorb_input_relu_backward() { return false; }
  virtual void skip_relu_backward() {}

  // Output trimming, arranged by Sequential::add. A pooling layer whose windows do not
  // reach its input's last rows or columns (MaxPool 2x2 over 11x11 reads only 10x10) says
  // so in input_part_read(): the top-left part of one input sample it reads. The previous
  // layer is then asked compute_output_part(part); a Conv2D agrees and from then on
  // computes and returns only that part (17% less work for the seed's conv2), and the
  // pooling layer is told read_trimmed_input(part), after which its input tensors have
  // that shape. Results and gradients are unchanged; the declared output shapes (summary,
  // export) stay the full ones.
  virtual Shape input_part_read(const Shape& input_shape) const { return input_shape; }
  virtual bool compute_output_part(const Shape& /*part*/) { return false; }
  virtual void read_trimmed_input(const Shape& /*part*/) {}

  // The arithmetic of Mode::train forward and of backward (see Precision); Mode::infer
  // always computes in fp32. Only layers that multiply (Conv2D, Dense) act on it.
  virtual void set_training_precision(Precision /*precision*/) {}

  // The options that rebuild this layer: {"type": kind(), ...options}.
  virtual nlohmann::json config() const = 0;

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
// src [N, H, W, C] -> dst [N, C]: the mean of each channel over H x W.
std::unique_ptr<Layer> GlobalAvgPool();

// Rebuilds a layer from its config(); throws InputError naming `where` and the bad key.
std::unique_ptr<Layer> from_config(const nlohmann::json& config, const std::string& where);

}  // namespace layers

}  // namespace imgcls
