// BatchNorm: src [N, H, W, C] or [N, C] -> dst of the same shape, normalised per channel.
// Training normalises with the batch's statistics, keeps them for backward and folds them
// into the moving statistics (Keras: moving = momentum * moving + (1 - momentum) * batch,
// with the biased batch variance); inference normalises with the moving statistics.
#include "core/check.hpp"
#include "layers/kernel.hpp"
#include "layers/registry.hpp"
#include "ref/ops.hpp"

namespace imgcls::layers {

namespace {

class BatchNormLayer final : public Layer {
 public:
  explicit BatchNormLayer(const BatchNormOptions& options) : options_(options) {}

  std::string kind() const override { return "BatchNorm"; }

  Shape build(const Shape& input_shape) override {
    if (input_shape.size() != 1 && input_shape.size() != 3)
      throw InputError(name(),
                       "BatchNorm needs an input [H, W, C] or [F], got " + to_string(input_shape));
    detail::check_option(name(), "momentum", options_.momentum, detail::kMomentumRange);
    detail::check_option(name(), "epsilon", options_.epsilon, detail::kEpsilonRange);
    sample_shape_ = input_shape;
    auto& g = geometry_;
    g.channels = input_shape.back();
    g.height = input_shape.size() == 3 ? input_shape[0] : 1;
    g.width = input_shape.size() == 3 ? input_shape[1] : 1;
    const Shape channel_shape{g.channels};
    for (Tensor* t : {&gamma_, &beta_, &diff_gamma_, &diff_beta_, &moving_mean_, &moving_variance_})
      *t = Tensor(channel_shape);
    reset();
    return input_shape;
  }

  void initialize(Rng& /*rng*/) override { reset(); }

  std::vector<Param> params() override {
    return {{name() + ".gamma", &gamma_, &diff_gamma_}, {name() + ".beta", &beta_, &diff_beta_}};
  }
  std::vector<Param> buffers() override {
    return {{name() + ".moving_mean", &moving_mean_, nullptr},
            {name() + ".moving_variance", &moving_variance_, nullptr}};
  }

  nlohmann::json config() const override {
    return {{"type", kind()}, {"momentum", options_.momentum}, {"epsilon", options_.epsilon}};
  }

  std::unique_ptr<Kernel> make_kernel(const KernelSpec& spec) const override;

  const BatchNormOptions& options() const { return options_; }
  const Shape& sample_shape() const { return sample_shape_; }
  const ChannelGeometry& geometry() const { return geometry_; }  // batch 0
  const Tensor& gamma() const { return gamma_; }
  const Tensor& beta() const { return beta_; }
  const Tensor& moving_mean() const { return moving_mean_; }
  const Tensor& moving_variance() const { return moving_variance_; }

 private:
  void reset() {
    gamma_.fill(1.0f);
    beta_.fill(0.0f);
    moving_mean_.fill(0.0f);
    moving_variance_.fill(1.0f);
  }

  BatchNormOptions options_;
  Shape sample_shape_;
  ChannelGeometry geometry_;
  Tensor gamma_, beta_, diff_gamma_, diff_beta_;  // [C]
  Tensor moving_mean_, moving_variance_;          // [C]
};

// src -> dst, with this batch's statistics (Mode::train; kept for backward and for
// update_buffers) or the moving statistics (Mode::infer).
class BatchNormKernel final : public Kernel {
 public:
  BatchNormKernel(const BatchNormLayer& layer, const KernelSpec& spec)
      : layer_(layer), spec_(spec) {
    ChannelGeometry g = layer.geometry();
    g.batch = spec.batch;
    primitives_ =
        std::make_unique<backend::BatchNorm>(g, static_cast<float>(layer.options().epsilon));
    batch_mean_ = Tensor({g.channels});
    batch_variance_ = Tensor({g.channels});
  }

  void forward(const Tensor& src, Tensor& dst) override {
    detail::check_src(layer_.name(), src, spec_.batch, layer_.sample_shape());
    dst.resize(src.shape());
    if (spec_.mode == Mode::infer)
      primitives_->forward_inference(src.data(), layer_.gamma().data(), layer_.beta().data(),
                                     layer_.moving_mean().data(), layer_.moving_variance().data(),
                                     dst.data());
    else
      primitives_->forward_training(src.data(), layer_.gamma().data(), layer_.beta().data(),
                                    dst.data(), batch_mean_.data(), batch_variance_.data());
  }

  // Through the batch statistics after a Mode::train forward, with the moving statistics
  // held constant in Mode::infer.
  void backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, Tensor* diff_src,
                const std::vector<Tensor*>& diff_params) override {
    IMGCLS_CHECK(diff_dst.shape() == dst.shape() && src.shape() == dst.shape() &&
                     (diff_params.empty() || diff_params.size() == 2),
                 "{}: src {}, dst {}, diff_dst {}", layer_.name(), to_string(src.shape()),
                 to_string(dst.shape()), to_string(diff_dst.shape()));
    // oneDNN computes diff_src together with the parameter gradients; what the caller does
    // not want goes to scratch.
    Tensor& diff = diff_src ? *diff_src : scratch_;
    diff.resize(src.shape());
    Tensor& diff_gamma = diff_params.empty() ? scratch_gamma_ : *diff_params[0];
    Tensor& diff_beta = diff_params.empty() ? scratch_beta_ : *diff_params[1];
    diff_gamma.resize(layer_.gamma().shape());
    diff_beta.resize(layer_.beta().shape());
    if (spec_.mode == Mode::train)
      primitives_->backward_training(src.data(), diff_dst.data(), layer_.gamma().data(),
                                     layer_.beta().data(), batch_mean_.data(),
                                     batch_variance_.data(), diff.data(), diff_gamma.data(),
                                     diff_beta.data());
    else
      primitives_->backward_inference(src.data(), diff_dst.data(), layer_.gamma().data(),
                                      layer_.beta().data(), layer_.moving_mean().data(),
                                      layer_.moving_variance().data(), diff.data(),
                                      diff_gamma.data(), diff_beta.data());
  }

  void update_buffers(const std::vector<Tensor*>& buffers) override {
    IMGCLS_CHECK(spec_.mode == Mode::train && buffers.size() == 2,
                 "{}: update after a training forward", layer_.name());
    const auto momentum = static_cast<float>(layer_.options().momentum);
    Tensor& moving_mean = *buffers[0];
    Tensor& moving_variance = *buffers[1];
    for (std::int64_t c = 0; c < batch_mean_.size(); ++c) {
      moving_mean[c] = momentum * moving_mean[c] + (1.0f - momentum) * batch_mean_[c];
      moving_variance[c] = momentum * moving_variance[c] + (1.0f - momentum) * batch_variance_[c];
    }
  }

 private:
  const BatchNormLayer& layer_;
  KernelSpec spec_;
  std::unique_ptr<backend::BatchNorm> primitives_;
  Tensor batch_mean_, batch_variance_;  // [C], of the last Mode::train forward
  Tensor scratch_, scratch_gamma_, scratch_beta_;
};

std::unique_ptr<Kernel> BatchNormLayer::make_kernel(const KernelSpec& spec) const {
  return std::make_unique<BatchNormKernel>(*this, spec);
}

const BatchNormLayer& as_batch_norm(const Layer& layer) {
  return dynamic_cast<const BatchNormLayer&>(layer);
}

ChannelGeometry batch_geometry(const BatchNormLayer& layer, const Tensor& src) {
  ChannelGeometry g = layer.geometry();
  g.batch = src.dim(0);
  return g;
}

}  // namespace

std::unique_ptr<Layer> BatchNorm(const BatchNormOptions& options) {
  return std::make_unique<BatchNormLayer>(options);
}

LayerKind layer_kind_batch_norm() {
  LayerKind kind;
  kind.name = "BatchNorm";
  kind.from_config = [](detail::OptionReader& read) {
    BatchNormOptions options;
    options.momentum = read.real("momentum", options.momentum, false, detail::kMomentumRange);
    options.epsilon = read.real("epsilon", options.epsilon, false, detail::kEpsilonRange);
    return BatchNorm(options);
  };
  // src [N, C, H, W] or [N, C] -> dst of the same shape, with the moving statistics
  kind.to_onnx = [](const Layer& layer, OnnxGraph& graph) {
    const BatchNormLayer& bn = as_batch_norm(layer);
    graph.node("BatchNormalization", layer.name(),
               {graph.input(), graph.initializer(layer.name() + ".gamma", bn.gamma()),
                graph.initializer(layer.name() + ".beta", bn.beta()),
                graph.initializer(layer.name() + ".moving_mean", bn.moving_mean()),
                graph.initializer(layer.name() + ".moving_variance", bn.moving_variance())},
               graph.output(), {{"epsilon", bn.options().epsilon}});
  };
  kind.reference.forward = [](const Layer& layer, const Tensor& src, Tensor& dst) {
    const BatchNormLayer& bn = as_batch_norm(layer);
    dst.resize(src.shape());
    ref::batch_norm_forward_inference(batch_geometry(bn, src),
                                      static_cast<float>(bn.options().epsilon), src.data(),
                                      bn.gamma().data(), bn.beta().data(), bn.moving_mean().data(),
                                      bn.moving_variance().data(), dst.data());
  };
  kind.reference.backward = [](const Layer& layer, const Tensor& src, const Tensor& /*dst*/,
                               const Tensor& diff_dst, Tensor& diff_src,
                               std::vector<Tensor>& diff_params) {
    const BatchNormLayer& bn = as_batch_norm(layer);
    diff_src.resize(src.shape());
    diff_params = {Tensor(bn.gamma().shape()), Tensor(bn.beta().shape())};
    ref::batch_norm_backward_inference(
        batch_geometry(bn, src), static_cast<float>(bn.options().epsilon), src.data(),
        diff_dst.data(), bn.gamma().data(), bn.moving_mean().data(), bn.moving_variance().data(),
        diff_src.data(), diff_params[0].data(), diff_params[1].data());
  };
  kind.reference_tolerance = 1e-4;
  kind.examples = {
      {{{"type", "BatchNorm"}}, {4, 5, 4, 3}},
      {{{"type", "BatchNorm"}, {"momentum", 0.9}, {"epsilon", 0.01}}, {6, 7}},
  };
  kind.fuzz_tokens = {"momentum", "epsilon"};
  return kind;
}

}  // namespace imgcls::layers
