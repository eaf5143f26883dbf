// An inference plan: a model compiled for batches of one size, Mode::infer, fp32. It owns the
// kernels and the activations; the model is only read, so any number of plans (one per
// thread) can run one const model at once.
#pragma once

#include <memory>
#include <vector>

#include "imgcls/model.hpp"
#include "layers/kernel.hpp"

namespace imgcls::plan {

class InferencePlan {
 public:
  // The model must outlive the plan and keep its weights' storage (values may change).
  InferencePlan(const Sequential& model, std::int64_t batch);

  std::int64_t batch() const { return batch_; }
  // images [batch, ...input] -> logits [batch, ...output]; valid until the next forward.
  const Tensor& forward(const Tensor& images);

 private:
  std::int64_t batch_;
  std::vector<std::unique_ptr<Kernel>> kernels_;
  std::vector<Tensor> outputs_;  // outputs_[i]: layer i's dst of the last forward
};

}  // namespace imgcls::plan
