// Optimizer state handling, Adam/AdamW, SGD, and learning-rate schedules. Updates are
// memory-bound loops over the parameters, written so the compiler vectorises them and
// split across threads for the large tensors.
#include <cmath>
#include <numbers>

#include "core/check.hpp"
#include "core/parallel.hpp"
#include "imgcls/optim.hpp"

namespace imgcls {

namespace {
constexpr std::int64_t kParallelFrom = 1 << 14;  // elements; smaller tensors stay on one thread

struct AdamCoefficients {
  float beta1, beta2, epsilon, step_size, inv_sqrt_correction2, l2, shrink;
};

IMGCLS_VECTOR_CLONES
void adam_update(float* value, const float* grad, float* m, float* v, std::int64_t n,
                 const AdamCoefficients& c) {
#pragma omp simd
  for (std::int64_t j = 0; j < n; ++j) {
    const float g = grad[j] + c.l2 * value[j];
    m[j] = c.beta1 * m[j] + (1.0f - c.beta1) * g;
    v[j] = c.beta2 * v[j] + (1.0f - c.beta2) * g * g;
    value[j] = c.shrink * value[j] -
               c.step_size * m[j] / (std::sqrt(v[j]) * c.inv_sqrt_correction2 + c.epsilon);
  }
}
}  // namespace

void Optimizer::ensure_state(const std::vector<Param>& params, int per_param) {
  if (buffers_.empty())
    for (int k = 0; k < per_param; ++k)
      for (const Param& p : params)
        buffers_.emplace_back(static_cast<std::size_t>(p.value->size()), 0.0f);
  IMGCLS_CHECK(buffers_.size() == params.size() * static_cast<std::size_t>(per_param),
               "optimizer state for {} buffers, given {} params", buffers_.size(), params.size());
  for (std::size_t i = 0; i < buffers_.size(); ++i)
    IMGCLS_CHECK(
        static_cast<std::int64_t>(buffers_[i].size()) == params[i % params.size()].value->size(),
        "optimizer state size changed for {}", params[i].name);
}

void Optimizer::restore_state(std::int64_t steps_taken, std::vector<std::vector<float>> buffers) {
  IMGCLS_CHECK(steps_taken >= 0, "negative step count {}", steps_taken);
  step_ = steps_taken;
  buffers_ = std::move(buffers);
}

Adam::Adam(const AdamOptions& options) : options_(options) {}

void Adam::step(const std::vector<Param>& params) {
  ensure_state(params, 2);
  ++step_;
  const double t = static_cast<double>(step_);
  const float b1 = options_.beta1, b2 = options_.beta2;
  const float lr = options_.learning_rate;
  const AdamCoefficients c{
      .beta1 = b1,
      .beta2 = b2,
      .epsilon = options_.epsilon,
      .step_size = static_cast<float>(lr / (1.0 - std::pow(double(b1), t))),
      .inv_sqrt_correction2 = static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(double(b2), t))),
      .l2 = options_.decoupled_weight_decay ? 0.0f : options_.weight_decay,
      .shrink = options_.decoupled_weight_decay ? 1.0f - lr * options_.weight_decay : 1.0f};
  for (std::size_t i = 0; i < params.size(); ++i) {
    float* value = params[i].value->data();
    const float* grad = params[i].grad->data();
    float* m = buffers_[i].data();
    float* v = buffers_[i + params.size()].data();
    parallel_ranges(
        params[i].value->size(), kParallelFrom, [&](std::int64_t begin, std::int64_t end) {
          adam_update(value + begin, grad + begin, m + begin, v + begin, end - begin, c);
        });
  }
}

Sgd::Sgd(const SgdOptions& options) : options_(options) {}

void Sgd::step(const std::vector<Param>& params) {
  const bool momentum = options_.momentum != 0.0f;
  ensure_state(params, momentum ? 1 : 0);
  ++step_;
  const float lr = options_.learning_rate, mu = options_.momentum, wd = options_.weight_decay;
  const bool nesterov = options_.nesterov;
  for (std::size_t i = 0; i < params.size(); ++i) {
    float* value = params[i].value->data();
    const float* grad = params[i].grad->data();
    float* velocity = momentum ? buffers_[i].data() : nullptr;
    const std::int64_t n = params[i].value->size();
#pragma omp parallel for simd if (n >= kParallelFrom)
    for (std::int64_t j = 0; j < n; ++j) {
      const float g = grad[j] + wd * value[j];
      float update = g;
      if (velocity) {
        velocity[j] = mu * velocity[j] + g;
        update = nesterov ? g + mu * velocity[j] : velocity[j];
      }
      value[j] -= lr * update;
    }
  }
}

float scheduled_learning_rate(const ScheduleOptions& s, std::int64_t step, std::int64_t total_steps,
                              std::int64_t steps_per_epoch) {
  IMGCLS_CHECK(total_steps > 0 && steps_per_epoch > 0 && step >= 0, "step {} of {} ({} per epoch)",
               step, total_steps, steps_per_epoch);
  const double progress = std::min(1.0, double(step) / double(total_steps));
  constexpr double kOneCycleStartDivisor = 25.0, kOneCycleEndDivisor = 1e4;
  switch (s.kind) {
    case ScheduleKind::constant:
      return s.lr_initial;
    case ScheduleKind::step: {
      const auto drops = (step / steps_per_epoch) / std::max(1, s.step_epochs);
      return static_cast<float>(s.lr_initial * std::pow(double(s.step_gamma), double(drops)));
    }
    case ScheduleKind::cosine:
      return static_cast<float>(s.lr_min + 0.5 * (s.lr_initial - s.lr_min) *
                                               (1.0 + std::cos(std::numbers::pi * progress)));
    case ScheduleKind::one_cycle: {
      // PyTorch's OneCycleLR with cosine annealing: up from peak/25 to the peak over the
      // warm-up, then down to peak/(25 * 1e4).
      const double start = s.lr_initial / kOneCycleStartDivisor;
      const double end = start / kOneCycleEndDivisor;
      const double warmup = std::max(1e-9, double(s.warmup_fraction));
      const auto cosine_between = [](double from, double to, double t) {
        return to + 0.5 * (from - to) * (1.0 + std::cos(std::numbers::pi * t));
      };
      if (progress < warmup)
        return static_cast<float>(cosine_between(start, s.lr_initial, progress / warmup));
      return static_cast<float>(
          cosine_between(s.lr_initial, end, (progress - warmup) / (1.0 - warmup)));
    }
  }
  return s.lr_initial;
}

}  // namespace imgcls
