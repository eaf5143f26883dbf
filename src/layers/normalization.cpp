// Normalization: src [N, H, W, C] or [N, C] -> dst of the same shape, each channel shifted
// and scaled by statistics of the training data: dst = (src - mean[c]) / sqrt(variance[c] +
// epsilon). Keras's preprocessing Normalization layer: mean and variance are buffers (saved
// in model files, never trained), set from the training images by adapt_normalization
// (imgcls/train.hpp) before training; initially 0 and 1, the identity. Because it is a layer,
// every way of running a model (predict, serve, the C interface, ONNX) applies it alike.
#include <cmath>

#include "core/check.hpp"
#include "layers/kernel.hpp"
#include "layers/registry.hpp"

namespace imgcls::layers {

namespace {

class NormalizationLayer final : public Layer {
 public:
  explicit NormalizationLayer(const NormalizationOptions& options) : options_(options) {}

  std::string kind() const override { return "Normalization"; }
  Shape build(const Shape& input_shape) override {
    if (input_shape.size() != 1 && input_shape.size() != 3)
      throw InputError(
          name(), "Normalization needs an input [H, W, C] or [F], got " + to_string(input_shape));
    detail::check_option(name(), "epsilon", options_.epsilon, detail::kEpsilonRange);
    sample_shape_ = input_shape;
    mean_ = Tensor({input_shape.back()});
    variance_ = Tensor({input_shape.back()});
    reset();
    return input_shape;
  }
  void initialize(Rng& /*rng*/) override { reset(); }
  std::vector<Param> buffers() override {
    return {{name() + ".mean", &mean_, nullptr}, {name() + ".variance", &variance_, nullptr}};
  }
  nlohmann::json config() const override {
    return {{"type", kind()}, {"epsilon", options_.epsilon}};
  }
  std::unique_ptr<Kernel> make_kernel(const KernelSpec& spec) const override;

  const Shape& sample_shape() const { return sample_shape_; }
  const Tensor& mean() const { return mean_; }
  // 1 / sqrt(variance + epsilon), per channel.
  std::vector<float> scales() const {
    std::vector<float> scale(static_cast<std::size_t>(variance_.size()));
    for (std::int64_t c = 0; c < variance_.size(); ++c)
      scale[static_cast<std::size_t>(c)] =
          static_cast<float>(1.0 / std::sqrt(double(variance_[c]) + options_.epsilon));
    return scale;
  }

 private:
  void reset() {
    mean_.fill(0.0f);
    variance_.fill(1.0f);
  }

  NormalizationOptions options_;
  Shape sample_shape_;
  Tensor mean_, variance_;  // [C]
};

// dst[i] = (src[i] - mean[c]) * scale[c], c = i % C; diff_src = diff_dst * scale[c].
void normalize(const NormalizationLayer& layer, const Tensor& src, Tensor& dst) {
  const std::vector<float> scale = layer.scales();
  const auto channels = static_cast<std::int64_t>(scale.size());
  dst.resize(src.shape());
  for (std::int64_t i = 0; i < src.size(); ++i)
    dst[i] = (src[i] - layer.mean()[i % channels]) * scale[static_cast<std::size_t>(i % channels)];
}

void normalize_gradient(const NormalizationLayer& layer, const Tensor& diff_dst, Tensor& diff_src) {
  const std::vector<float> scale = layer.scales();
  const auto channels = static_cast<std::int64_t>(scale.size());
  diff_src.resize(diff_dst.shape());
  for (std::int64_t i = 0; i < diff_dst.size(); ++i)
    diff_src[i] = diff_dst[i] * scale[static_cast<std::size_t>(i % channels)];
}

// A memory-bound loop over the input, once per batch: no oneDNN primitive pays for itself.
class NormalizationKernel final : public Kernel {
 public:
  NormalizationKernel(const NormalizationLayer& layer, const KernelSpec& spec)
      : layer_(layer), batch_(spec.batch) {}

  void forward(const Tensor& src, Tensor& dst) override {
    detail::check_src(layer_.name(), src, batch_, layer_.sample_shape());
    normalize(layer_, src, dst);
  }
  void backward(const Tensor& /*src*/, const Tensor& dst, const Tensor& diff_dst, Tensor* diff_src,
                const std::vector<Tensor*>& /*diff_params*/) override {
    IMGCLS_CHECK(diff_dst.shape() == dst.shape(), "{}: diff_dst {} vs dst {}", layer_.name(),
                 to_string(diff_dst.shape()), to_string(dst.shape()));
    if (diff_src) normalize_gradient(layer_, diff_dst, *diff_src);
  }

 private:
  const NormalizationLayer& layer_;
  std::int64_t batch_;
};

std::unique_ptr<Kernel> NormalizationLayer::make_kernel(const KernelSpec& spec) const {
  return std::make_unique<NormalizationKernel>(*this, spec);
}

const NormalizationLayer& as_normalization(const Layer& layer) {
  return dynamic_cast<const NormalizationLayer&>(layer);
}

}  // namespace

std::unique_ptr<Layer> Normalization(const NormalizationOptions& options) {
  return std::make_unique<NormalizationLayer>(options);
}

LayerKind layer_kind_normalization() {
  LayerKind kind;
  kind.name = "Normalization";
  kind.from_config = [](detail::OptionReader& read) {
    NormalizationOptions options;
    options.epsilon = read.real("epsilon", options.epsilon, false, detail::kEpsilonRange);
    return Normalization(options);
  };
  // src [N, C, H, W] (or [N, C]) -> Sub mean [C, 1, 1] -> Mul scale [C, 1, 1] -> dst
  kind.to_onnx = [](const Layer& layer, OnnxGraph& graph) {
    const NormalizationLayer& norm = as_normalization(layer);
    const std::vector<float> scale = norm.scales();
    const auto channels = static_cast<std::int64_t>(scale.size());
    const Shape broadcast =
        graph.input_shape().size() == 3 ? Shape{channels, 1, 1} : Shape{channels};
    const Tensor mean(broadcast, norm.mean().values());
    const Tensor scales(broadcast, scale);
    const std::string centred = layer.name() + "/centred";
    graph.node("Sub", layer.name() + "/sub",
               {graph.input(), graph.initializer(layer.name() + ".mean", mean)}, centred);
    graph.node("Mul", layer.name(), {centred, graph.initializer(layer.name() + ".scale", scales)},
               graph.output());
  };
  kind.reference.forward = [](const Layer& layer, const Tensor& src, Tensor& dst) {
    normalize(as_normalization(layer), src, dst);
  };
  kind.reference.backward = [](const Layer& layer, const Tensor& /*src*/, const Tensor& /*dst*/,
                               const Tensor& diff_dst, Tensor& diff_src,
                               std::vector<Tensor>& diff_params) {
    normalize_gradient(as_normalization(layer), diff_dst, diff_src);
    diff_params.clear();
  };
  kind.examples = {{{{"type", "Normalization"}}, {2, 5, 4, 3}},
                   {{{"type", "Normalization"}, {"epsilon", 0.001}}, {3, 10}}};
  kind.fuzz_tokens = {"epsilon"};
  return kind;
}

}  // namespace imgcls::layers
