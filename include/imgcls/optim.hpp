// Optimizers: update parameters from their gradients.
#pragma once

#include <cstdint>
#include <vector>

#include "imgcls/layers.hpp"

namespace imgcls {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // Applies one update to every parameter from its current gradient.
  virtual void step(const std::vector<Param>& params) = 0;
  virtual float learning_rate() const = 0;
  virtual void set_learning_rate(float learning_rate) = 0;
};

struct AdamOptions {
  float learning_rate = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-7f;  // Keras's default (PyTorch's is 1e-8)
};

// Adam (Kingma & Ba), in PyTorch's form:
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// State is matched to parameters by position: pass the same list every step.
class Adam final : public Optimizer {
 public:
  explicit Adam(const AdamOptions& options = {});
  void step(const std::vector<Param>& params) override;
  float learning_rate() const override { return options_.learning_rate; }
  void set_learning_rate(float learning_rate) override { options_.learning_rate = learning_rate; }
  std::int64_t steps_taken() const { return step_; }

 private:
  AdamOptions options_;
  std::int64_t step_ = 0;
  std::vector<std::vector<float>> first_moment_, second_moment_;
};

}  // namespace imgcls
