// A training plan: a model compiled for training steps (Mode::train, at a precision). It owns
// the kernels (one set per batch size met: the training batch and the last, smaller one),
// the activations and their gradients; backward writes every trainable parameter's gradient
// into the model's gradient tensors, and training forwards fold batch statistics into the
// model's buffers (BatchNorm).
//
// Fine-tuning freezes the first layers of a model: they run as in inference (arrange.hpp),
// their buffers are left as they are, and backward never reaches them.
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "imgcls/model.hpp"
#include "layers/kernel.hpp"

namespace imgcls::plan {

class TrainingPlan {
 public:
  // The model must outlive the plan; its layers are neither added nor rebuilt meanwhile.
  // Precision::bf16 requires bf16_supported() (UsageError otherwise). The first
  // `frozen_layers` layers (<= the layer count) are fixed: see backward.
  TrainingPlan(Sequential& model, Precision precision, std::size_t frozen_layers = 0);

  // A training step's forward: images [N, ...input] -> logits [N, ...output], valid until the
  // next forward. Random layers (Dropout) draw from noise_seed, each its own stream
  // derive_seed(noise_seed, layer index), so that a step replays exactly.
  const Tensor& forward(const Tensor& images, std::uint64_t noise_seed);
  // d(loss)/d(logits) of the last forward -> the gradient of every parameter of the layers
  // after the frozen ones. Backward runs from the last layer down to the first of those
  // layers that has parameters, and computes no d(loss)/d(src) there: the layers below it
  // have no parameter to train. The frozen layers' gradient tensors are not written.
  void backward(const Tensor& diff_logits);

 private:
  struct Kernels {
    std::vector<std::unique_ptr<Kernel>> by_layer;
  };
  Kernels& kernels_for(std::int64_t batch);

  Sequential& model_;
  Precision precision_;
  std::size_t frozen_layers_;
  // The first layer backward reaches: the first after the frozen ones with parameters (the
  // layer count when there is none).
  std::size_t first_trained_;
  std::map<std::int64_t, Kernels> by_batch_;
  std::vector<std::vector<Tensor*>> diff_params_;  // per layer: its parameters' gradients
  std::vector<std::vector<Tensor*>> buffers_;      // per layer: its buffers
  Kernels* last_ = nullptr;                        // the kernels of the last forward
  const Tensor* last_input_ = nullptr;
  std::vector<Tensor> outputs_;  // outputs_[i]: layer i's dst of the last forward
  std::vector<Tensor> diffs_;    // diffs_[i]: d(loss)/d(src of layer i + 1)
};

}  // namespace imgcls::plan
