// Optimizers (update parameters from their gradients) and learning-rate schedules.
//
//   imgcls::Adam adam({.learning_rate = 1e-3f});
//   imgcls::Sgd sgd({.learning_rate = 0.05f, .momentum = 0.9f, .nesterov = true});
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "imgcls/layers.hpp"

namespace imgcls {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual std::string kind() const = 0;
  // Applies one update to every parameter from its current gradient. State is matched to
  // parameters by position: pass the same list every step.
  virtual void step(const std::vector<Param>& params) = 0;
  virtual float learning_rate() const = 0;
  virtual void set_learning_rate(float learning_rate) = 0;

  // The optimizer's state, for checkpoints: the number of steps taken and its per-parameter
  // buffers (moments, velocities), in a fixed order. Empty buffers before the first step.
  std::int64_t steps_taken() const { return step_; }
  std::vector<std::vector<float>>& state_buffers() { return buffers_; }
  // Restores a state saved from an optimizer of the same kind over the same parameters.
  void restore_state(std::int64_t steps_taken, std::vector<std::vector<float>> buffers);

 protected:
  // Allocates `per_param` zeroed buffers for each parameter on the first step.
  void ensure_state(const std::vector<Param>& params, int per_param);
  std::int64_t step_ = 0;
  std::vector<std::vector<float>> buffers_;
};

struct AdamOptions {
  float learning_rate = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-7f;  // Keras's default (PyTorch's is 1e-8)
  // Adam: added to the gradient as L2 (g += wd * p). AdamW: decoupled (p -= lr * wd * p).
  float weight_decay = 0.0f;
  bool decoupled_weight_decay = false;  // true: AdamW
};

// Adam (Kingma & Ba), in PyTorch's form:
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
class Adam final : public Optimizer {
 public:
  explicit Adam(const AdamOptions& options = {});
  std::string kind() const override { return options_.decoupled_weight_decay ? "adamw" : "adam"; }
  void step(const std::vector<Param>& params) override;
  float learning_rate() const override { return options_.learning_rate; }
  void set_learning_rate(float learning_rate) override { options_.learning_rate = learning_rate; }

 private:
  AdamOptions options_;
};

struct SgdOptions {
  float learning_rate = 0.01f;
  float momentum = 0.0f;
  bool nesterov = false;
  float weight_decay = 0.0f;  // L2, added to the gradient
};

// SGD with optional momentum, in PyTorch's form:
//   g += wd * p;  v = momentum * v + g;  p -= lr * (nesterov ? g + momentum * v : v)
class Sgd final : public Optimizer {
 public:
  explicit Sgd(const SgdOptions& options = {});
  std::string kind() const override { return "sgd"; }
  void step(const std::vector<Param>& params) override;
  float learning_rate() const override { return options_.learning_rate; }
  void set_learning_rate(float learning_rate) override { options_.learning_rate = learning_rate; }

 private:
  SgdOptions options_;
};

enum class ScheduleKind { constant, step, cosine, one_cycle };

struct ScheduleOptions {
  ScheduleKind kind = ScheduleKind::constant;
  float lr_initial = 1e-3f;  // constant/step/cosine: the start; one-cycle: the peak
  float lr_min = 0.0f;       // cosine: the end value
  int step_epochs = 2;       // step: multiply by step_gamma every step_epochs epochs
  float step_gamma = 0.5f;
  float warmup_fraction = 0.3f;  // one-cycle: share of steps rising from lr_initial/25
};

// The learning rate for a global step (0-based) out of total_steps, steps_per_epoch steps
// per epoch.
float scheduled_learning_rate(const ScheduleOptions& schedule, std::int64_t step,
                              std::int64_t total_steps, std::int64_t steps_per_epoch);

}  // namespace imgcls
