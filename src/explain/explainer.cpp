// Explainer (imgcls/explain.hpp): the five methods over a gradient plan (src/plan/) for the
// gradient methods and a Predictor for occlusion. Shapes: one input x [H, W, C]; a batch of
// them [N, H, W, C]; logits [N, classes]; maps [H, W].
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/check.hpp"
#include "explain/maps.hpp"
#include "imgcls/error.hpp"
#include "imgcls/explain.hpp"
#include "imgcls/loss.hpp"
#include "imgcls/predictor.hpp"
#include "plan/gradient_plan.hpp"

namespace imgcls {

namespace {

constexpr std::int64_t kOcclusionPatchFraction = 7;  // default patch: the shorter side / 7
constexpr std::int64_t kOcclusionChunk = 64;         // occluded copies held at once

struct MethodName {
  ExplainMethod method;
  std::string_view name;
};
constexpr MethodName kMethodNames[] = {
    {ExplainMethod::saliency, "saliency"},
    {ExplainMethod::gradient_x_input, "gradxinput"},
    {ExplainMethod::integrated_gradients, "integrated-gradients"},
    {ExplainMethod::gradcam, "gradcam"},
    {ExplainMethod::occlusion, "occlusion"},
};

// [N, classes]: row n is 1 at `target`, so backward differentiates the sum of the N
// images' target logits, each image's gradient its own.
Tensor one_hot_rows(std::int64_t rows, std::int64_t classes, std::int64_t target) {
  Tensor diff({rows, classes});
  for (std::int64_t n = 0; n < rows; ++n) diff[n * classes + target] = 1.0f;
  return diff;
}

// Where a patch of `patch` starts along an axis of `size`: every `stride`, and last at
// size - patch so that the far edge is covered.
std::vector<std::int64_t> patch_starts(std::int64_t size, std::int64_t patch, std::int64_t stride) {
  std::vector<std::int64_t> starts;
  for (std::int64_t s = 0; s + patch <= size; s += stride) starts.push_back(s);
  if (starts.back() != size - patch) starts.push_back(size - patch);
  return starts;
}

}  // namespace

std::string_view to_string(ExplainMethod method) {
  for (const MethodName& m : kMethodNames)
    if (m.method == method) return m.name;
  return "?";
}

std::string explain_method_names() {
  std::string names;
  for (const MethodName& m : kMethodNames)
    names += fmt::format("{}{}", names.empty() ? "" : ", ", m.name);
  return names;
}

ExplainMethod parse_explain_method(std::string_view name, const std::string& source) {
  for (const MethodName& m : kMethodNames)
    if (m.name == name) return m.method;
  if (name == "grad-cam") return ExplainMethod::gradcam;  // as Selvaraju et al. spell it
  throw InputError(source, fmt::format("\"{}\" is not an explanation method", name),
                   "the methods are " + explain_method_names());
}

struct Explainer::Impl {
  const Sequential& model;
  std::int64_t height = 0, width = 0, channels = 0, classes = 0;
  std::map<std::int64_t, plan::GradientPlan> plans;  // by batch size
  std::optional<Predictor> predictor;                // occlusion's forward passes

  explicit Impl(const Sequential& m) : model(m) {
    const Shape& input = model.input_shape();
    if (input.size() != 3)
      throw InputError("the model's input " + to_string(input),
                       "explanations need a model of images [H, W, C]");
    height = input[0];
    width = input[1];
    channels = input[2];
    classes = element_count(model.output_shape());
  }

  plan::GradientPlan& plan_for(std::int64_t batch) {
    auto found = plans.find(batch);
    if (found == plans.end()) found = plans.try_emplace(batch, model, batch).first;
    return found->second;
  }

  std::int64_t pixels() const { return height * width; }

  // x [1, H, W, C] -> the target's input gradient [1, H, W, C], from a forward already run
  // on plan_for(1).
  const Tensor& input_gradient(std::int64_t target) {
    return plan_for(1).backward(one_hot_rows(1, classes, target));
  }

  Tensor saliency(std::int64_t target) {
    const Tensor& gradient = input_gradient(target);
    Tensor map({height, width});
    for (std::int64_t p = 0; p < pixels(); ++p)
      for (std::int64_t c = 0; c < channels; ++c)
        map[p] = std::max(map[p], std::abs(gradient[p * channels + c]));
    return map;
  }

  Tensor gradient_x_input(const Tensor& x, std::int64_t target) {
    const Tensor& gradient = input_gradient(target);
    Tensor map({height, width});
    for (std::int64_t p = 0; p < pixels(); ++p)
      for (std::int64_t c = 0; c < channels; ++c)
        map[p] += gradient[p * channels + c] * x[p * channels + c];
    return map;
  }

  // The path baseline + alpha (x - baseline), alpha = (k + 0.5) / steps, in batches of up
  // to kInferenceBatch; the gradient summed in double.
  Tensor integrated_gradients(const Tensor& x, std::int64_t target, const ExplainOptions& o) {
    const std::int64_t sample = x.size();
    std::vector<double> gradient_sum(static_cast<std::size_t>(sample), 0.0);
    for (std::int64_t first = 0; first < o.steps; first += kInferenceBatch) {
      const std::int64_t count = std::min(kInferenceBatch, o.steps - first);
      Tensor points({count, height, width, channels});  // [count, H, W, C]
      for (std::int64_t n = 0; n < count; ++n) {
        const auto alpha = static_cast<float>((double(first + n) + 0.5) / double(o.steps));
        for (std::int64_t i = 0; i < sample; ++i)
          points[n * sample + i] = o.baseline + alpha * (x[i] - o.baseline);
      }
      plan::GradientPlan& plan = plan_for(count);
      plan.forward(points);
      const Tensor& gradient = plan.backward(one_hot_rows(count, classes, target));
      for (std::int64_t n = 0; n < count; ++n)
        for (std::int64_t i = 0; i < sample; ++i)
          gradient_sum[static_cast<std::size_t>(i)] += gradient[n * sample + i];
    }
    Tensor map({height, width});
    for (std::int64_t p = 0; p < pixels(); ++p) {
      double sum = 0.0;
      for (std::int64_t c = 0; c < channels; ++c) {
        const std::int64_t i = p * channels + c;
        sum += (double(x[i]) - o.baseline) * gradient_sum[static_cast<std::size_t>(i)];
      }
      map[p] = static_cast<float>(sum / double(o.steps));
    }
    return map;
  }

  // The layer Grad-CAM weighs by default: the last Conv2D's block, that is the last Conv2D
  // followed by the layers after it that keep its output's shape (BatchNorm, an activation,
  // Dropout), so that the map is the convolution's activated output, before pooling
  // coarsens it; without a Conv2D, the last layer with an image output.
  std::optional<std::size_t> last_convolution_block() const {
    std::optional<std::size_t> block;
    for (std::size_t i = 0; i < model.layer_count(); ++i)
      if (model.layer(i).kind() == "Conv2D") block = i;
    if (!block) return std::nullopt;
    while (*block + 1 < model.layer_count() &&
           model.output_shape_of(*block + 1) == model.output_shape_of(*block))
      ++*block;
    return block;
  }

  // The layer Grad-CAM weighs: by name, or the default above.
  std::size_t gradcam_layer(const std::string& name) const {
    std::string image_layers;
    std::optional<std::size_t> last;
    for (std::size_t i = 0; i < model.layer_count(); ++i) {
      if (model.output_shape_of(i).size() != 3) continue;
      last = i;
      image_layers += fmt::format("{}{} {}", image_layers.empty() ? "" : ", ",
                                  model.layer(i).name(), to_string(model.output_shape_of(i)));
      if (!name.empty() && model.layer(i).name() == name) return i;
    }
    if (!last)
      throw InputError("the model", "Grad-CAM needs a layer whose output is an image [H, W, C]",
                       "this model has none; use another method");
    if (name.empty()) return last_convolution_block().value_or(*last);
    for (std::size_t i = 0; i < model.layer_count(); ++i)
      if (model.layer(i).name() == name)
        throw InputError(
            "layer " + name,
            "its output " + to_string(model.output_shape_of(i)) + " is not an image [H, W, C]",
            "layers with image outputs: " + image_layers);
    throw InputError("layer " + name, "the model has no layer of that name",
                     "layers with image outputs: " + image_layers);
  }

  // From a forward already run on plan_for(1).
  Tensor gradcam(std::size_t layer, std::int64_t target) {
    input_gradient(target);
    plan::GradientPlan& plan = plan_for(1);
    const Tensor& activations = plan.output(layer);        // A [1, h, w, K]
    const Tensor& gradient = plan.output_gradient(layer);  // dA [1, h, w, K]
    const std::int64_t h = activations.dim(1), w = activations.dim(2), k = activations.dim(3);
    std::vector<double> alpha(static_cast<std::size_t>(k), 0.0);  // [K]
    for (std::int64_t p = 0; p < h * w; ++p)
      for (std::int64_t c = 0; c < k; ++c)
        alpha[static_cast<std::size_t>(c)] += gradient[p * k + c];
    for (double& a : alpha) a /= double(h * w);
    Tensor cam({h, w});
    for (std::int64_t p = 0; p < h * w; ++p) {
      double sum = 0.0;
      for (std::int64_t c = 0; c < k; ++c)
        sum += alpha[static_cast<std::size_t>(c)] * activations[p * k + c];
      cam[p] = static_cast<float>(std::max(sum, 0.0));
    }
    return maps::resize_bilinear(cam, height, width);
  }

  Tensor occlusion(const Tensor& x, std::int64_t target, float logit, const ExplainOptions& o) {
    const std::int64_t patch =
        o.patch > 0 ? o.patch
                    : std::max<std::int64_t>(1, std::lround(double(std::min(height, width)) /
                                                            double(kOcclusionPatchFraction)));
    if (patch > std::min(height, width))
      throw InputError(fmt::format("occlusion patch {}", patch),
                       fmt::format("larger than the model's {}x{} input", height, width));
    const std::int64_t stride = o.stride > 0 ? o.stride : std::max<std::int64_t>(1, patch / 2);
    struct Corner {
      std::int64_t y, x;
    };
    std::vector<Corner> corners;
    for (std::int64_t y : patch_starts(height, patch, stride))
      for (std::int64_t xs : patch_starts(width, patch, stride)) corners.push_back({y, xs});

    if (!predictor) predictor.emplace(model);
    const std::int64_t sample = x.size();
    std::vector<double> drop_sum(static_cast<std::size_t>(pixels()), 0.0);
    std::vector<std::int32_t> covered(static_cast<std::size_t>(pixels()), 0);
    for (std::size_t first = 0; first < corners.size(); first += kOcclusionChunk) {
      const auto count =
          static_cast<std::int64_t>(std::min<std::size_t>(kOcclusionChunk, corners.size() - first));
      Tensor occluded({count, height, width, channels});  // [count, H, W, C]
      for (std::int64_t n = 0; n < count; ++n) {
        float* image = occluded.data() + n * sample;
        std::copy(x.data(), x.data() + sample, image);
        const Corner& at = corners[first + static_cast<std::size_t>(n)];
        for (std::int64_t y = at.y; y < at.y + patch; ++y)
          std::fill(image + (y * width + at.x) * channels,
                    image + (y * width + at.x + patch) * channels, o.baseline);
      }
      const Tensor logits = predictor->logits(occluded);  // [count, classes]
      for (std::int64_t n = 0; n < count; ++n) {
        const double drop = double(logit) - logits[n * classes + target];
        const Corner& at = corners[first + static_cast<std::size_t>(n)];
        for (std::int64_t y = at.y; y < at.y + patch; ++y)
          for (std::int64_t xs = at.x; xs < at.x + patch; ++xs) {
            drop_sum[static_cast<std::size_t>(y * width + xs)] += drop;
            ++covered[static_cast<std::size_t>(y * width + xs)];
          }
      }
    }
    Tensor map({height, width});
    for (std::int64_t p = 0; p < pixels(); ++p)
      map[p] = static_cast<float>(drop_sum[static_cast<std::size_t>(p)] /
                                  covered[static_cast<std::size_t>(p)]);
    return map;
  }

  void check_options(const ExplainOptions& o) const {
    if (o.target_class < -1 || o.target_class >= classes)
      throw InputError(fmt::format("class {}", o.target_class),
                       fmt::format("the model has {} classes, 0 to {}", classes, classes - 1));
    if (o.method == ExplainMethod::integrated_gradients && o.steps < 1)
      throw InputError(fmt::format("{} steps", o.steps),
                       "integrated gradients need at least one step");
    if (o.method == ExplainMethod::occlusion && (o.patch < 0 || o.stride < 0))
      throw InputError(fmt::format("occlusion patch {}, stride {}", o.patch, o.stride),
                       "the patch and its stride must be positive (0: the defaults)");
  }

  Explanation explain(const Tensor& input, const ExplainOptions& o) {
    IMGCLS_CHECK(input.shape() == model.input_shape(), "input {} for a model of {}",
                 to_string(input.shape()), to_string(model.input_shape()));
    check_options(o);
    const std::size_t layer = o.method == ExplainMethod::gradcam ? gradcam_layer(o.layer) : 0;
    Tensor x = input;
    x.reshape({1, height, width, channels});
    Tensor logits = plan_for(1).forward(x);  // [1, classes]
    Tensor probabilities;
    softmax(logits, probabilities);
    Explanation e;
    e.method = o.method;
    e.predicted_class = std::max_element(probabilities.data(), probabilities.data() + classes) -
                        probabilities.data();
    e.predicted_probability = probabilities[e.predicted_class];
    e.target_class = o.target_class >= 0 ? o.target_class : e.predicted_class;
    e.probability = probabilities[e.target_class];
    switch (o.method) {
      case ExplainMethod::saliency:
        e.map = saliency(e.target_class);
        break;
      case ExplainMethod::gradient_x_input:
        e.map = gradient_x_input(x, e.target_class);
        e.is_signed = true;
        break;
      case ExplainMethod::integrated_gradients:
        e.map = integrated_gradients(x, e.target_class, o);
        e.is_signed = true;
        break;
      case ExplainMethod::gradcam:
        e.map = gradcam(layer, e.target_class);
        e.layer = model.layer(layer).name();
        break;
      case ExplainMethod::occlusion:
        e.map = occlusion(x, e.target_class, logits[e.target_class], o);
        e.is_signed = true;
        break;
    }
    return e;
  }
};

Explainer::Explainer(const Sequential& model) : impl_(std::make_unique<Impl>(model)) {}
Explainer::~Explainer() = default;
Explainer::Explainer(Explainer&&) noexcept = default;

Explanation Explainer::explain(const Tensor& input, const ExplainOptions& options) {
  return impl_->explain(input, options);
}

Explanation Explainer::explain(const Image& input, const ExplainOptions& options) {
  IMGCLS_CHECK(input.height == impl_->height && input.width == impl_->width &&
                   input.channels == impl_->channels,
               "a {}x{}x{} image for a model of {}", input.height, input.width, input.channels,
               to_string(impl_->model.input_shape()));
  return impl_->explain(Tensor(impl_->model.input_shape(), input.pixels), options);
}

std::vector<std::vector<double>> map_rows(const Tensor& map) {
  IMGCLS_CHECK(map.rank() == 2, "a map {} is not [H, W]", to_string(map.shape()));
  std::vector<std::vector<double>> rows(static_cast<std::size_t>(map.dim(0)));
  for (std::int64_t y = 0; y < map.dim(0); ++y)
    for (std::int64_t x = 0; x < map.dim(1); ++x)
      rows[static_cast<std::size_t>(y)].push_back(
          std::stod(fmt::format("{}", map[y * map.dim(1) + x])));
  return rows;
}

Explanation explain(const Sequential& model, const Tensor& input, const ExplainOptions& options) {
  return Explainer(model).explain(input, options);
}

}  // namespace imgcls
