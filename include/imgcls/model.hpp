// Sequential: a stack of layers, built (shape-inferred and checked) as layers are added. The
// model is the math only (layers, shapes, weights, what its outputs mean); running it is
// the job of plans compiled from it: fit() trains through one, Predictor (predictor.hpp)
// infers through one, and a model used only for inference can be const and shared.
//
//   imgcls::Sequential model({28, 28, 1});
//   model.add(layers::Conv2D({.filters = 32, .activation = Activation::relu}));
//   ...
//   model.initialize(seed);
//   std::cout << model.summary();
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "imgcls/layers.hpp"
#include "imgcls/preprocess.hpp"

namespace imgcls {

// "None of these" (a digits model's "not a digit"): a model trained with negatives (pictures
// that are none of its classes; `imgcls train --negatives`) has one more output, its last,
// for them, and rejects a picture when that output's probability is at least `threshold`.
// answer() (predictor.hpp) applies the rule; model files keep it.
struct RejectionRule {
  float threshold = 0.5f;  // in (0, 1]
};

class Sequential {
 public:
  // input_shape: one sample, e.g. {28, 28, 1} (H, W, C).
  explicit Sequential(Shape input_shape);

  // Builds the layer against the current output shape and appends it. Throws InputError
  // (naming the layer) when the shapes do not fit, or when the model would exceed its
  // bounds: 2^26 values per sample at any layer, 2^26 parameters in all (checked before
  // the weights are allocated). The input shape has the same bound per sample.
  Sequential& add(std::unique_ptr<Layer> layer);
  // Glorot-uniform kernels and zero biases, drawn from Rng(seed) in layer order.
  void initialize(std::uint64_t seed);

  // Every layer's trainable parameters, in layer order.
  std::vector<Param> params();
  // Every layer's non-trainable state (BatchNorm's moving statistics), in layer order; model
  // files and checkpoints keep them beside the parameters.
  std::vector<Param> buffers();
  // params() then buffers(): everything that defines the model's outputs.
  std::vector<Param> params_and_buffers();
  // Trainable values (the sizes of params()); non_trainable_count: those of buffers().
  std::int64_t parameter_count() const;
  std::int64_t non_trainable_count() const;
  const Shape& input_shape() const { return input_shape_; }
  const Shape& output_shape() const {
    return output_shapes_.empty() ? input_shape_ : output_shapes_.back();
  }
  // Layer i's output, one sample.
  const Shape& output_shape_of(std::size_t i) const { return output_shapes_.at(i); }
  std::size_t layer_count() const { return layers_.size(); }
  const Layer& layer(std::size_t i) const { return *layers_.at(i); }
  Layer& layer(std::size_t i) { return *layers_.at(i); }

  // What the outputs mean and how pictures are made into inputs; saved in model files.
  // Class names default to "0", "1", ...; preprocessing to mnist_digit (see preprocess.hpp).
  void set_class_names(std::vector<std::string> names);
  const std::vector<std::string>& declared_class_names() const { return class_names_; }
  void set_preprocessing(Preprocessing preprocessing);
  Preprocessing preprocessing() const { return preprocessing_; }
  // The rejection rule, or none. Throws InputError for a threshold outside (0, 1] or a model
  // with fewer than two outputs (the rejection output and at least one class).
  void set_rejection(std::optional<RejectionRule> rule);
  const std::optional<RejectionRule>& rejection() const { return rejection_; }
  // The output that stands for "none of these" (the last), or -1 without a rejection rule.
  std::int64_t rejection_class() const;

  // A table like Keras's model.summary(): layer, output shape, parameter count, totals. The
  // parameters of the first `frozen_layers` layers (<= the layer count; fixed in fine-tuning,
  // FitOptions::frozen_layers) count as non-trainable, as Keras counts a frozen layer's.
  std::string summary(std::size_t frozen_layers = 0) const;

  // {"input_shape": [...], "layers": [layer configs]}; from_config rebuilds the model
  // (uninitialised) and rejects bad specs with an InputError naming `source`, among them a
  // model whose output is not a flat list of class scores [classes] (naming its last layer).
  nlohmann::json config() const;
  static Sequential from_config(const nlohmann::json& config, const std::string& source);

 private:
  Shape input_shape_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<Shape> output_shapes_;
  std::vector<std::int64_t> param_counts_;   // per layer: trainable values
  std::vector<std::int64_t> buffer_counts_;  // per layer: non-trainable values
  std::vector<std::string> class_names_;
  Preprocessing preprocessing_ = Preprocessing::mnist_digit;
  std::optional<RejectionRule> rejection_;
};

// The names of the model's output classes, one per output unit, in output order: those the
// model declares (set_class_names; kept in model files), else "0", "1", ... Every picture and
// report takes its names from here.
std::vector<std::string> class_names(const Sequential& model);
// The classes a picture can be given: class_names without the rejection output's name (its
// last) when the model has a rejection rule. Test data is labelled in these.
std::vector<std::string> answer_class_names(const Sequential& model);

namespace presets {
// What a preset is built for: the input (one image, [H, W, C]) and the number of classes.
// The defaults are MNIST's. With `normalize`, the first layer is a Normalization (adapted to
// the training data before training; see layers::Normalization).
struct PresetOptions {
  Shape input_shape = {28, 28, 1};
  std::int64_t classes = 10;
  bool normalize = false;
};

// The seed model: Conv2D 32 3x3 relu, MaxPool 2, Conv2D 64 3x3 relu, MaxPool 2, Flatten,
// Dense 64 relu, Dense classes (logits; softmax lives in the loss). 121,930 parameters for
// MNIST.
Sequential seed(const PresetOptions& options = {});
// The fast model, for the most accuracy per second of training (after
// tuomaso/train_mnist_fast): Conv2D 16 5x5 relu, MaxPool 2, Conv2D 32 3x3 relu, MaxPool 2,
// Flatten, Dense 256 relu, Dense classes. 212,682 parameters for MNIST; 0.9 million
// multiply-adds a picture, the seed's 2.5 million. `imgcls train --arch fast` trains it
// with its recipe (README, "99% in seconds"): one epoch, batch 256, Adam lr 0.01 with betas
// 0.7 and 0.9, one-cycle.
Sequential fast(const PresetOptions& options = {});
// LeNet-5: Conv2D 6 5x5 same relu, AvgPool 2, Conv2D 16 5x5 relu, AvgPool 2, Flatten, Dense
// 120 relu, Dense 84 relu, Dense classes. 61,706 parameters for MNIST.
Sequential lenet5(const PresetOptions& options = {});
// A deeper CNN with batch normalisation and dropout, for the best accuracy (with
// augmentation). Two blocks (32 filters, then 64) of: Conv2D 3x3 same, BatchNorm, ReLU,
// Conv2D 3x3 same stride 2 (downsampling in place of a max pool), BatchNorm, ReLU, Dropout
// 0.25; then Flatten, Dense 256, BatchNorm, ReLU, Dropout 0.4, Dense classes. 871,530
// parameters and 896 non-trainable moving statistics for MNIST.
Sequential strong(const PresetOptions& options = {});
// For small colour pictures (32x32, as CIFAR-10), VGG-style as the fast CIFAR-10 recipes
// are: Conv2D 32 3x3 same, BatchNorm, ReLU, then three blocks (64, 128, 256 filters) of
// Conv2D 3x3 same, MaxPool 2, BatchNorm, ReLU, Conv2D 3x3 same, BatchNorm, ReLU; then
// GlobalAvgPool and Dense classes. 1.2 million parameters; inputs of 8 x 8 or more.
Sequential cifar(const PresetOptions& options = {});
// The preset names, for messages: "seed, fast, lenet5, strong, cifar".
std::string names();
// A preset by name; throws InputError listing the names.
Sequential by_name(const std::string& name, const PresetOptions& options = {});
}  // namespace presets

}  // namespace imgcls
