// Adam. The update is a memory-bound loop over ~122K parameters for the seed model,
// written so the compiler vectorises it; the bias corrections are folded into two scalars.
#include <cmath>

#include "core/check.hpp"
#include "imgcls/optim.hpp"

namespace imgcls {

Adam::Adam(const AdamOptions& options) : options_(options) {}

void Adam::step(const std::vector<Param>& params) {
  if (first_moment_.empty()) {
    for (const Param& p : params) {
      first_moment_.emplace_back(static_cast<std::size_t>(p.value->size()), 0.0f);
      second_moment_.emplace_back(static_cast<std::size_t>(p.value->size()), 0.0f);
    }
  }
  IMGCLS_CHECK(first_moment_.size() == params.size(), "Adam state for {} params, given {}",
               first_moment_.size(), params.size());
  ++step_;
  const double t = static_cast<double>(step_);
  const float b1 = options_.beta1, b2 = options_.beta2;
  const float step_size =
      static_cast<float>(options_.learning_rate / (1.0 - std::pow(double(b1), t)));
  const float inv_sqrt_correction2 =
      static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(double(b2), t)));
  const float eps = options_.epsilon;
  for (std::size_t i = 0; i < params.size(); ++i) {
    float* value = params[i].value->data();
    const float* grad = params[i].grad->data();
    float* m = first_moment_[i].data();
    float* v = second_moment_[i].data();
    const std::int64_t n = params[i].value->size();
    IMGCLS_CHECK(static_cast<std::int64_t>(first_moment_[i].size()) == n,
                 "Adam state size changed for {}", params[i].name);
    constexpr std::int64_t kParallelFrom = 1 << 14;
#pragma omp parallel for simd if (n >= kParallelFrom)
    for (std::int64_t j = 0; j < n; ++j) {
      m[j] = b1 * m[j] + (1.0f - b1) * grad[j];
      v[j] = b2 * v[j] + (1.0f - b2) * grad[j] * grad[j];
      value[j] -= step_size * m[j] / (std::sqrt(v[j]) * inv_sqrt_correction2 + eps);
    }
  }
}

}  // namespace imgcls
