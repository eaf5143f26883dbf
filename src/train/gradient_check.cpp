// Central-difference gradient checker for layers and the loss (contract in
// include/imgcls/gradient_check.hpp).
#include "imgcls/gradient_check.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <numeric>
#include <vector>

#include "core/check.hpp"
#include "imgcls/loss.hpp"
#include "layers/kernel.hpp"

namespace imgcls {

namespace {

// A tensor under test: its values (perturbed in place, one point at a time) and the
// analytic gradient that backward gave for it.
struct Target {
  std::string name;
  Tensor* value;
  std::vector<float> analytic;
};

void fill_uniform(Tensor& tensor, float low, float high, Rng& rng) {
  for (std::int64_t i = 0; i < tensor.size(); ++i) tensor[i] = rng.uniform(low, high);
}

// Up to max_points distinct indices of [0, size), ascending (partial Fisher-Yates).
std::vector<std::int64_t> choose_points(std::int64_t size, int max_points, Rng& rng) {
  std::vector<std::int64_t> all(static_cast<std::size_t>(size));
  std::iota(all.begin(), all.end(), 0);
  const std::size_t count = std::min(all.size(), static_cast<std::size_t>(max_points));
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t j = i + rng.uniform_index(all.size() - i);
    std::swap(all[i], all[j]);
  }
  all.resize(count);
  std::sort(all.begin(), all.end());
  return all;
}

double root_mean_square(const std::vector<float>& values) {
  if (values.empty()) return 0.0;
  double sum = 0.0;
  for (float v : values) sum += double(v) * v;
  return std::sqrt(sum / static_cast<double>(values.size()));
}

// |a - b| relative to the larger of |a|, |b| and the tensor's typical gradient; NaN counts
// as infinitely wrong so that a NaN gradient cannot pass.
double gradient_error(double a, double b, double typical) {
  const double scale =
      std::max({std::abs(a), std::abs(b), typical, std::numeric_limits<double>::min()});
  const double error = std::abs(a - b) / scale;
  return std::isnan(error) ? std::numeric_limits<double>::infinity() : error;
}

// Counts one checked point and keeps it when it is the worst so far.
void record(const std::string& name, std::int64_t index, double analytic, double numeric,
            double typical, double error, GradientCheckResult& result) {
  ++result.checked;
  if (result.checked == 1 || error > result.max_error) {
    result.max_error = error;
    result.worst = fmt::format(
        "{}[{}]: analytic {:.7g}, numeric {:.7g} (error {:.3g}, typical "
        "gradient {:.3g})",
        name, index, analytic, numeric, error, typical);
  }
}

// Compares target.analytic with central differences of loss() at the chosen points and
// folds the outcome into result. loss_at_x: loss() with nothing perturbed.
template <class Loss>
void check_target(const Target& target, Loss loss, double loss_at_x,
                  const GradientCheckOptions& options, Rng& rng, GradientCheckResult& result) {
  const double typical = root_mean_square(target.analytic);
  for (std::int64_t i : choose_points(target.value->size(), options.max_points, rng)) {
    float& x = (*target.value)[i];
    const float x0 = x;
    // f at x0 + k h / 2 for k = -2..2, at the points actually used after rounding to float.
    constexpr int kPoints = 5, kCenter = 2;
    double at[kPoints], loss_at[kPoints];
    for (int k = 0; k < kPoints; ++k) {
      x = static_cast<float>(double(x0) + (k - kCenter) * options.step / 2);
      at[k] = x;
      loss_at[k] = k == kCenter ? loss_at_x : loss();
    }
    x = x0;
    const double analytic = target.analytic[static_cast<std::size_t>(i)];
    if (!std::all_of(loss_at, loss_at + kPoints, [](double v) { return std::isfinite(v); })) {
      record(target.name, i, analytic, NAN, typical, INFINITY, result);
      continue;
    }
    // Linear on [x - h, x + h] means all four half-step slopes agree; a kink anywhere in
    // there bends at least one of them.
    double slopes[kPoints - 1];
    for (int k = 0; k + 1 < kPoints; ++k)
      slopes[k] = (loss_at[k + 1] - loss_at[k]) / (at[k + 1] - at[k]);
    const auto [low, high] = std::minmax_element(std::begin(slopes), std::end(slopes));
    if (gradient_error(*low, *high, typical) > options.tolerance) {
      ++result.skipped;
      continue;
    }
    const double central = (loss_at[kPoints - 1] - loss_at[0]) / (at[kPoints - 1] - at[0]);
    record(target.name, i, analytic, central, typical, gradient_error(analytic, central, typical),
           result);
  }
}

void check_options(const GradientCheckOptions& options) {
  IMGCLS_CHECK(options.step > 0.0 && options.tolerance > 0.0 && options.max_points >= 1,
               "step {} tolerance {} max_points {}", options.step, options.tolerance,
               options.max_points);
}

}  // namespace

GradientCheckResult check_layer_gradients(Layer& layer, const Shape& input_shape,
                                          const GradientCheckOptions& options) {
  check_options(options);
  IMGCLS_CHECK(input_shape.size() >= 2 && input_shape[0] >= 1,
               "input_shape must be [N, ...sample] with N >= 1, got {}", to_string(input_shape));
  Rng rng(options.seed);
  layer.build(Shape(input_shape.begin() + 1, input_shape.end()));
  layer.initialize(rng);

  Tensor src(input_shape), dst, probe_dst, diff_src;
  fill_uniform(src, -1.0f, 1.0f, rng);
  // A training kernel, plain (no fusion with neighbours); the same noise (a Dropout mask) in
  // every forward, so that the function is fixed.
  const std::unique_ptr<Kernel> kernel =
      layer.make_kernel({.batch = input_shape[0], .mode = Mode::train});
  const std::uint64_t noise_seed = derive_seed(options.seed, 1);
  kernel->set_noise_seed(noise_seed);
  kernel->forward(src, dst);
  Tensor weights_of_dst(dst.shape());  // R: loss = sum(dst * R), so d(loss)/d(dst) = R
  fill_uniform(weights_of_dst, -1.0f, 1.0f, rng);
  std::vector<Tensor*> diff_params;
  for (const Param& p : layer.params()) diff_params.push_back(p.grad);
  kernel->backward(src, dst, weights_of_dst, &diff_src, diff_params);
  IMGCLS_CHECK(diff_src.shape() == src.shape(), "{}: diff_src {} for src {}", layer.kind(),
               to_string(diff_src.shape()), to_string(src.shape()));

  std::vector<Target> targets{{"input", &src, diff_src.values()}};
  for (const Param& p : layer.params()) {
    IMGCLS_CHECK(p.grad->shape() == p.value->shape(), "{}: gradient {} for a parameter {}", p.name,
                 to_string(p.grad->shape()), to_string(p.value->shape()));
    targets.push_back({p.name.empty() ? "parameter" : p.name, p.value, p.grad->values()});
  }

  const auto loss = [&] {
    kernel->set_noise_seed(noise_seed);
    kernel->forward(src, probe_dst);
    IMGCLS_CHECK(probe_dst.shape() == dst.shape(), "{}: dst changed shape", layer.kind());
    double sum = 0.0;
    for (std::int64_t i = 0; i < probe_dst.size(); ++i)
      sum += double(probe_dst[i]) * weights_of_dst[i];
    return sum;
  };
  const double loss_at_x = loss();
  GradientCheckResult result;
  result.tolerance = options.tolerance;
  for (const Target& target : targets) check_target(target, loss, loss_at_x, options, rng, result);
  return result;
}

GradientCheckResult check_loss_gradients(const Shape& logits_shape,
                                         const GradientCheckOptions& options) {
  check_options(options);
  IMGCLS_CHECK(logits_shape.size() == 2 && logits_shape[0] >= 1 && logits_shape[1] >= 1,
               "logits_shape must be [N, K], got {}", to_string(logits_shape));
  Rng rng(options.seed);
  Tensor logits(logits_shape), diff_logits;
  constexpr float kLogitRange = 3.0f;  // wide enough for confident and unsure rows
  fill_uniform(logits, -kLogitRange, kLogitRange, rng);
  std::vector<std::int32_t> labels(static_cast<std::size_t>(logits_shape[0]));
  for (auto& label : labels)
    label =
        static_cast<std::int32_t>(rng.uniform_index(static_cast<std::uint64_t>(logits_shape[1])));

  const double loss_at_x = softmax_cross_entropy(logits, labels, &diff_logits);
  const auto loss = [&] { return softmax_cross_entropy(logits, labels, nullptr); };
  GradientCheckResult result;
  result.tolerance = options.tolerance;
  check_target({"logits", &logits, diff_logits.values()}, loss, loss_at_x, options, rng, result);
  return result;
}

}  // namespace imgcls
