// Conv2D: src [N, H, W, C] -> dst [N, H', W', filters], with an optional activation fused
// into the oneDNN convolution. Keeps nothing beyond its parameters: backward reads the
// src and dst the model passes back. Inside a model followed by pooling that never reads
// the last output rows or columns, it computes only the part that is read (see
// Layer::compute_output_part).
#include <algorithm>

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
    computed_ = geometry_;
    return {g.out_h(), g.out_w(), g.out_c};
  }

  void initialize(Rng& rng) override {
    const std::int64_t receptive = geometry_.window.kernel_h * geometry_.window.kernel_w;
    detail::glorot_uniform(weights_, geometry_.in_c * receptive, geometry_.out_c * receptive,
                           rng);
    bias_.fill(0.0f);
  }

  void forward(const Tensor& src, Tensor& dst, Mode mode) override {
    const std::int64_t batch = src.dim(0);
    IMGCLS_CHECK(src.shape() == (Shape{batch, geometry_.in_h, geometry_.in_w, geometry_.in_c}),
                 "{}: src {}", name(), to_string(src.shape()));
    dst.resize({batch, computed_.out_h(), computed_.out_w(), computed_.out_c});
    primitives(batch, mode == Mode::train ? training_precision() : Precision::fp32).forward(src.data(), weights_.data(), bias_.data(), dst.data());
  }

  void backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst,
                Tensor* diff_src) override {
    IMGCLS_CHECK(diff_dst.shape() == dst.shape(), "{}: diff_dst {} vs dst {}", name(),
                 to_string(diff_dst.shape()), to_string(dst.shape()));
    const Tensor& diff_pre =
        detail::gradient_before_activation(backward_activation_, dst, diff_dst, scratch_);
    if (diff_src) diff_src->resize(src.shape());
    primitives(src.dim(0), training_precision())
        .backward(src.data(), diff_pre.data(), weights_.data(), diff_weights_.data(),
                  diff_bias_.data(), diff_src ? diff_src->data() : nullptr);
  }

  void set_training_precision(Precision precision) override { training_precision_ = precision; }

  // Computes only the top-left out_h x out_w outputs of `part`: the convolution then reads
  // only the input rows and columns those outputs need (with the padding they need).
  bool compute_output_part(const Shape& part) override {
    if (part.size() != 3 || part[2] != geometry_.out_c || part[0] > geometry_.out_h() ||
        part[1] > geometry_.out_w() || part[0] < 1 || part[1] < 1)
      return false;
    computed_ = geometry_;
    trim(part[0], computed_.in_h, computed_.window.kernel_h, computed_.window.stride_h,
         computed_.window.pad_top, computed_.window.pad_bottom);
    trim(part[1], computed_.in_w, computed_.window.kernel_w, computed_.window.stride_w,
         computed_.window.pad_left, computed_.window.pad_right);
    IMGCLS_CHECK(computed_.out_h() == part[0] && computed_.out_w() == part[1], "{}: trimmed to {}x{}, wanted {}",
                 name(), computed_.out_h(), computed_.out_w(), to_string(part));
    cache_.clear();
    return true;
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
  // bf16 pays where a convolution multiplies many channels; on images of a few channels (the
  // seed's first layer reads 1) it is memory-bound, its bf16 kernels are no faster, and
  // converting its large output gradient to bf16 costs more than they save, so it stays fp32.
  static constexpr std::int64_t kMinBf16Channels = 8;
  Precision training_precision() const {
    return geometry_.in_c < kMinBf16Channels ? Precision::fp32 : training_precision_;
  }

  // Keeps the padding before; `in` shrinks to the rows the first `out` outputs read, and the
  // padding after to what they still need past the input.
  static void trim(std::int64_t out, std::int64_t& in, std::int64_t kernel, std::int64_t stride,
                   std::int64_t pad_before, std::int64_t& pad_after) {
    const std::int64_t span = (out - 1) * stride + kernel;  // padded rows read
    const std::int64_t read = std::min(in, span - pad_before);
    pad_after = span - pad_before - read;
    in = read;
  }

  backend::Conv2d& primitives(std::int64_t batch, Precision precision) {
    return cache_.get(batch, precision, [&] {
      Conv2dGeometry g = computed_;
      g.batch = batch;
      return std::make_unique<backend::Conv2d>(g, detail::to_post_op(options_.activation), precision,
                                               backend::Extent2d{geometry_.in_h, geometry_.in_w});
    });
  }

  Conv2DOptions options_;
  Conv2dGeometry geometry_;  // as declared: the full output
  Conv2dGeometry computed_;  // what is computed: geometry_, or its top-left part (compute_output_part)
  Precision training_precision_ = Precision::fp32;
  Activation backward_activation_ = options_.activation;  // none when the next layer masks
  Tensor weights_, bias_, diff_weights_, diff_bias_, scratch_;
  detail::PerBatchSize<backend::Conv2d> cache_;
};

}  // namespace

std::unique_ptr<Layer> Conv2D(const Conv2DOptions& options) {
  return std::make_unique<Conv2DLayer>(options);
}

}  // namespace imgcls::layers
