// Conv2D: src [N, H, W, C] -> dst [N, H', W', filters], with an optional activation fused
// into the oneDNN convolution. Keeps nothing beyond its parameters: backward reads the
// src and dst the model passes back.
#include <fmt/core.h>

#include "core/check.hpp"
#include "layers/common.hpp"

namespace imgcls::layers {

namespace {

// Keras/TensorFlow padding: "same" gives ceil(in / stride) outputs, with the odd pixel of
// padding at the bottom/right.
void set_padding(Padding padding, std::int64_t in, std::int64_t kernel, std::int64_t stride,
                 std::int64_t& before, std::int64_t& after) {
  before = after = 0;
  if (padding == Padding::valid) return;
  const std::int64_t out = (in + stride - 1) / stride;
  const std::int64_t total = std::max<std::int64_t>((out - 1) * stride + kernel - in, 0);
  before = total / 2;
  after = total - before;
}

class Conv2DLayer final : public Layer {
 public:
  explicit Conv2DLayer(const Conv2DOptions& options) : options_(options) {}

  std::string kind() const override { return "Conv2D"; }

  Shape build(const Shape& input_shape) override {
    if (input_shape.size() != 3)
      throw InputError(name(), "Conv2D needs an image input [H, W, C], got " +
                                   to_string(input_shape));
    if (options_.filters < 1 || options_.kernel_size < 1 || options_.strides < 1)
      throw InputError(name(), "filters, kernel_size and strides must be positive");
    auto& g = geometry_;
    g.in_h = input_shape[0];
    g.in_w = input_shape[1];
    g.in_c = input_shape[2];
    g.out_c = options_.filters;
    auto& w = g.window;
    w.kernel_h = w.kernel_w = options_.kernel_size;
    w.stride_h = w.stride_w = options_.strides;
    set_padding(options_.padding, g.in_h, w.kernel_h, w.stride_h, w.pad_top, w.pad_bottom);
    set_padding(options_.padding, g.in_w, w.kernel_w, w.stride_w, w.pad_left, w.pad_right);
    if (g.in_h + w.pad_top + w.pad_bottom < w.kernel_h ||
        g.in_w + w.pad_left + w.pad_right < w.kernel_w)
      throw InputError(name(), fmt::format("a {0}x{0} kernel does not fit the input {1}",
                                           options_.kernel_size, to_string(input_shape)),
                       "use padding \"same\", a smaller kernel, or fewer pooling layers before");
    detail::check_parameter_count(name(), {g.out_c, g.in_c, w.kernel_h, w.kernel_w});
    weights_ = Tensor({g.out_c, g.in_c, w.kernel_h, w.kernel_w});
    bias_ = Tensor({g.out_c});
    diff_weights_ = Tensor(weights_.shape());
    diff_bias_ = Tensor(bias_.shape());
    return {g.out_h(), g.out_w(), g.out_c};
  }

  void initialize(Rng& rng) override {
    const std::int64_t receptive = geometry_.window.kernel_h * geometry_.window.kernel_w;
    detail::glorot_uniform(weights_, geometry_.in_c * receptive, geometry_.out_c * receptive,
                           rng);
    bias_.fill(0.0f);
  }

  void forward(const Tensor& src, Tensor& dst, Mode /*mode*/) override {
    const std::int64_t batch = src.dim(0);
    IMGCLS_CHECK(src.shape() == (Shape{batch, geometry_.in_h, geometry_.in_w, geometry_.in_c}),
                 "{}: src {}", name(), to_string(src.shape()));
    dst.resize({batch, geometry_.out_h(), geometry_.out_w(), geometry_.out_c});
    primitives(batch).forward(src.data(), weights_.data(), bias_.data(), dst.data());
  }

  void backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst,
                Tensor* diff_src) override {
    IMGCLS_CHECK(diff_dst.shape() == dst.shape(), "{}: diff_dst {} vs dst {}", name(),
                 to_string(diff_dst.shape()), to_string(dst.shape()));
    const Tensor& diff_pre =
        detail::gradient_before_activation(backward_activation_, dst, diff_dst, scratch_);
    auto& prims = primitives(src.dim(0));
    prims.backward_weights(src.data(), diff_pre.data(), diff_weights_.data(), diff_bias_.data());
    if (diff_src) {
      diff_src->resize(src.shape());
      prims.backward_data(diff_pre.data(), weights_.data(), diff_src->data());
    }
  }

  bool ends_with_relu() const override { return options_.activation == Activation::relu; }
  void skip_relu_backward() override { backward_activation_ = Activation::none; }

  std::vector<Param> params() override {
    return {{name() + ".weight", &weights_, &diff_weights_},
            {name() + ".bias", &bias_, &diff_bias_}};
  }

  nlohmann::json config() const override {
    return {{"type", kind()},
            {"filters", options_.filters},
            {"kernel_size", options_.kernel_size},
            {"strides", options_.strides},
            {"padding", detail::to_string(options_.padding)},
            {"activation", detail::to_string(options_.activation)}};
  }

 private:
  backend::Conv2d& primitives(std::int64_t batch) {
    return cache_.get(batch, [&] {
      Conv2dGeometry g = geometry_;
      g.batch = batch;
      return std::make_unique<backend::Conv2d>(g, detail::to_post_op(options_.activation));
    });
  }

  Conv2DOptions options_;
  Conv2dGeometry geometry_;
  Activation backward_activation_ = options_.activation;  // none when the next layer masks
  Tensor weights_, bias_, diff_weights_, diff_bias_, scratch_;
  detail::PerBatchSize<backend::Conv2d> cache_;
};

}  // namespace

std::unique_ptr<Layer> Conv2D(const Conv2DOptions& options) {
  return std::make_unique<Conv2DLayer>(options);
}

}  // namespace imgcls::layers
