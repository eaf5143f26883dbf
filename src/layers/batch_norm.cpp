// BatchNorm: src [N, H, W, C] or [N, C] -> dst of the same shape, normalised per channel.
// Training normalises with the batch's statistics, keeps them for backward and folds them
// into the moving statistics (Keras: moving = momentum * moving + (1 - momentum) * batch,
// with the biased batch variance); inference normalises with the moving statistics.
#include "core/check.hpp"
#include "layers/common.hpp"

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
    for (Tensor* t : {&gamma_, &beta_, &diff_gamma_, &diff_beta_, &moving_mean_, &moving_variance_,
                      &batch_mean_, &batch_variance_})
      *t = Tensor(channel_shape);
    reset();
    return input_shape;
  }

  void initialize(Rng& /*rng*/) override { reset(); }

  void forward(const Tensor& src, Tensor& dst, Mode mode) override {
    const std::int64_t batch = src.dim(0);
    Shape expected{batch};
    expected.insert(expected.end(), sample_shape_.begin(), sample_shape_.end());
    IMGCLS_CHECK(src.shape() == expected, "{}: src {}, expected {}", name(), to_string(src.shape()),
                 to_string(expected));
    dst.resize(src.shape());
    last_mode_ = mode;
    auto& prims = primitives(batch);
    if (mode == Mode::infer) {
      prims.forward_inference(src.data(), gamma_.data(), beta_.data(), moving_mean_.data(),
                              moving_variance_.data(), dst.data());
      return;
    }
    prims.forward_training(src.data(), gamma_.data(), beta_.data(), dst.data(), batch_mean_.data(),
                           batch_variance_.data());
    const auto momentum = static_cast<float>(options_.momentum);
    for (std::int64_t c = 0; c < geometry_.channels; ++c) {
      moving_mean_[c] = momentum * moving_mean_[c] + (1.0f - momentum) * batch_mean_[c];
      moving_variance_[c] = momentum * moving_variance_[c] + (1.0f - momentum) * batch_variance_[c];
    }
  }

  // The gradient of the last forward: through the batch statistics after Mode::train, with
  // the moving statistics held constant after Mode::infer.
  void backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst,
                Tensor* diff_src) override {
    IMGCLS_CHECK(diff_dst.shape() == dst.shape() && src.shape() == dst.shape(),
                 "{}: src {}, dst {}, diff_dst {}", name(), to_string(src.shape()),
                 to_string(dst.shape()), to_string(diff_dst.shape()));
    // oneDNN computes diff_src together with the parameter gradients; without a caller's
    // buffer it goes to scratch.
    Tensor& diff = diff_src ? *diff_src : scratch_;
    diff.resize(src.shape());
    auto& prims = primitives(src.dim(0));
    if (last_mode_ == Mode::train)
      prims.backward_training(src.data(), diff_dst.data(), gamma_.data(), beta_.data(),
                              batch_mean_.data(), batch_variance_.data(), diff.data(),
                              diff_gamma_.data(), diff_beta_.data());
    else
      prims.backward_inference(src.data(), diff_dst.data(), gamma_.data(), beta_.data(),
                               moving_mean_.data(), moving_variance_.data(), diff.data(),
                               diff_gamma_.data(), diff_beta_.data());
  }

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

 private:
  void reset() {
    gamma_.fill(1.0f);
    beta_.fill(0.0f);
    moving_mean_.fill(0.0f);
    moving_variance_.fill(1.0f);
  }

  backend::BatchNorm& primitives(std::int64_t batch) {
    return cache_.get(batch, [&] {
      ChannelGeometry g = geometry_;
      g.batch = batch;
      return std::make_unique<backend::BatchNorm>(g, static_cast<float>(options_.epsilon));
    });
  }

  BatchNormOptions options_;
  Shape sample_shape_;
  ChannelGeometry geometry_;
  Mode last_mode_ = Mode::infer;
  Tensor gamma_, beta_, diff_gamma_, diff_beta_;  // [C]
  Tensor moving_mean_, moving_variance_;          // [C]
  Tensor batch_mean_, batch_variance_;            // [C], of the last Mode::train forward
  Tensor scratch_;
  detail::PerBatchSize<backend::BatchNorm> cache_;
};

}  // namespace

std::unique_ptr<Layer> BatchNorm(const BatchNormOptions& options) {
  return std::make_unique<BatchNormLayer>(options);
}

}  // namespace imgcls::layers
