// Dense: src [N, F] -> dst [N, units], with an optional activation fused into the oneDNN
// inner product.
#include "core/check.hpp"
#include "layers/common.hpp"

namespace imgcls::layers {

namespace {

class DenseLayer final : public Layer {
 public:
  explicit DenseLayer(const DenseOptions& options) : options_(options) {}

  std::string kind() const override { return "Dense"; }

  Shape build(const Shape& input_shape) override {
    if (input_shape.size() != 1)
      throw InputError(name(), "Dense needs a flat input [F], got " + to_string(input_shape),
                       "add a Flatten layer before it");
    if (options_.units < 1) throw InputError(name(), "units must be positive");
    geometry_.in_features = input_shape[0];
    geometry_.out_features = options_.units;
    detail::check_parameter_count(name(), {geometry_.out_features, geometry_.in_features});
    weights_ = Tensor({geometry_.out_features, geometry_.in_features});
    bias_ = Tensor({geometry_.out_features});
    diff_weights_ = Tensor(weights_.shape());
    diff_bias_ = Tensor(bias_.shape());
    return {geometry_.out_features};
  }

  void initialize(Rng& rng) override {
    detail::glorot_uniform(weights_, geometry_.in_features, geometry_.out_features, rng);
    bias_.fill(0.0f);
  }

  void forward(const Tensor& src, Tensor& dst, Mode mode) override {
    const std::int64_t batch = src.dim(0);
    IMGCLS_CHECK(src.shape() == (Shape{batch, geometry_.in_features}), "{}: src {}", name(),
                 to_string(src.shape()));
    dst.resize({batch, geometry_.out_features});
    const Precision precision = mode == Mode::train ? training_precision_ : Precision::fp32;
    primitives(batch, precision).forward(src.data(), weights_.data(), bias_.data(), dst.data());
  }

  void backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst,
                Tensor* diff_src) override {
    IMGCLS_CHECK(diff_dst.shape() == dst.shape(), "{}: diff_dst {} vs dst {}", name(),
                 to_string(diff_dst.shape()), to_string(dst.shape()));
    const Tensor& diff_pre =
        detail::gradient_before_activation(backward_activation_, dst, diff_dst, scratch_);
    if (diff_src) diff_src->resize(src.shape());
    primitives(src.dim(0), training_precision_)
        .backward(src.data(), diff_pre.data(), weights_.data(), diff_weights_.data(),
                  diff_bias_.data(), diff_src ? diff_src->data() : nullptr);
  }

  void set_training_precision(Precision precision) override { training_precision_ = precision; }

  bool ends_with_relu() const override { return options_.activation == Activation::relu; }
  void skip_relu_backward() override { backward_activation_ = Activation::none; }

  std::vector<Param> params() override {
    return {{name() + ".weight", &weights_, &diff_weights_},
            {name() + ".bias", &bias_, &diff_bias_}};
  }

  nlohmann::json config() const override {
    return {{"type", kind()},
            {"units", options_.units},
            {"activation", detail::to_string(options_.activation)}};
  }

 private:
  backend::Dense& primitives(std::int64_t batch, Precision precision) {
    return cache_.get(batch, precision, [&] {
      DenseGeometry g = geometry_;
      g.batch = batch;
      return std::make_unique<backend::Dense>(g, detail::to_post_op(options_.activation), precision);
    });
  }

  DenseOptions options_;
  DenseGeometry geometry_;
  Activation backward_activation_ = options_.activation;  // none when the next layer masks
  Precision training_precision_ = Precision::fp32;
  Tensor weights_, bias_, diff_weights_, diff_bias_, scratch_;
  detail::PerBatchSize<backend::Dense> cache_;
};

}  // namespace

std::unique_ptr<Layer> Dense(const DenseOptions& options) {
  return std::make_unique<DenseLayer>(options);
}

}  // namespace imgcls::layers
