// A gradient plan: a model compiled to differentiate its outputs with respect to its input
// and to every layer's output, for explanations (src/explain/). It runs inference
// semantics, Mode::infer in fp32: BatchNorm normalises with its moving statistics (its
// backward is then a per-channel scale), Dropout is the identity. Each kernel runs alone,
// as the registry checks it against its reference: no output trimming (every layer's whole
// output is computed, so any layer can be read) and no ReLU fusion in backward (the gradient
// at a layer's output is the gradient of that output, before the next layer masks anything).
//
// The model is only read: backward asks each kernel for d(src) alone (no parameter
// gradient is computed or written), so any number of plans (one per thread) can explain one
// const model at once, beside its Predictors.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "imgcls/model.hpp"
#include "layers/kernel.hpp"

namespace imgcls::plan {

class GradientPlan {
 public:
  // The model must outlive the plan and keep its weights' storage.
  GradientPlan(const Sequential& model, std::int64_t batch);

  std::int64_t batch() const { return batch_; }

  // images [batch, ...input] -> logits [batch, ...output]; every layer's output is kept
  // until the next forward.
  const Tensor& forward(const Tensor& images);
  // Layer i's output of the last forward: [batch, ...model.output_shape_of(i)].
  const Tensor& output(std::size_t layer) const;

  // After a forward: the gradient of f = sum over n, k of diff_logits[n, k] * logits[n, k]
  // (a one-hot row picks one class's logit per image) down to the input. Returns
  // d(f)/d(images) [batch, ...input], valid until the next backward.
  const Tensor& backward(const Tensor& diff_logits);
  // d(f)/d(layer i's output) of the last backward, shaped as output(i).
  const Tensor& output_gradient(std::size_t layer) const;

 private:
  const Sequential& model_;
  std::int64_t batch_;
  std::vector<std::unique_ptr<Kernel>> kernels_;
  Tensor input_;                   // the images of the last forward
  std::vector<Tensor> outputs_;    // outputs_[i]: layer i's dst of the last forward
  std::vector<Tensor> gradients_;  // gradients_[i]: d(f)/d(outputs_[i]) of the last backward
  Tensor input_gradient_;          // d(f)/d(images)
  bool backward_ran_ = false;
};

}  // namespace imgcls::plan
