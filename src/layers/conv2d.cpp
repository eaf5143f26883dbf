// Conv2D (see conv2d.hpp): the layer, its kernel (oneDNN through backend::Conv2d), its
// reference (ref::conv2d_*) and its registry record.
#include "layers/conv2d.hpp"

#include <fmt/core.h>

#include <algorithm>

#include "core/check.hpp"
#include "layers/registry.hpp"
#include "ref/ops.hpp"

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

// Output trimming along one axis: keeps the padding before; `in` shrinks to the rows the
// first `out` outputs read, and the padding after to what they still need past the input.
void trim(std::int64_t out, std::int64_t& in, std::int64_t kernel, std::int64_t stride,
          std::int64_t pad_before, std::int64_t& pad_after) {
  const std::int64_t span = (out - 1) * stride + kernel;  // padded rows read
  const std::int64_t read = std::min(in, span - pad_before);
  pad_after = span - pad_before - read;
  in = read;
}

// src [N, H, W, C] (or its top-left part, spec.input_part) -> dst [N, H', W', K] (or its
// top-left part, spec.output_part)
class Conv2DKernel final : public Kernel {
 public:
  Conv2DKernel(const Conv2DLayer& layer, const KernelSpec& spec)
      : layer_(layer),
        batch_(spec.batch),
        backward_activation_(spec.next_masks_relu ? Activation::none : layer.options().activation) {
    const Conv2dGeometry& full = layer.geometry();
    computed_ = full;
    computed_.batch = spec.batch;
    if (spec.output_part) {
      const Shape& part = *spec.output_part;
      IMGCLS_CHECK(part.size() == 3 && part[2] == full.out_c && part[0] >= 1 &&
                       part[0] <= full.out_h() && part[1] >= 1 && part[1] <= full.out_w(),
                   "{}: output part {} of {}x{}x{}", layer.name(), to_string(part), full.out_h(),
                   full.out_w(), full.out_c);
      trim(part[0], computed_.in_h, full.window.kernel_h, full.window.stride_h, full.window.pad_top,
           computed_.window.pad_bottom);
      trim(part[1], computed_.in_w, full.window.kernel_w, full.window.stride_w,
           full.window.pad_left, computed_.window.pad_right);
      IMGCLS_CHECK(computed_.out_h() == part[0] && computed_.out_w() == part[1],
                   "{}: trimmed to {}x{}, wanted {}", layer.name(), computed_.out_h(),
                   computed_.out_w(), to_string(part));
    }
    stored_ = {full.in_h, full.in_w, full.in_c};
    if (spec.input_part) {
      stored_ = *spec.input_part;
      IMGCLS_CHECK(stored_.size() == 3 && stored_[2] == full.in_c && stored_[0] >= computed_.in_h &&
                       stored_[0] <= full.in_h && stored_[1] >= computed_.in_w &&
                       stored_[1] <= full.in_w,
                   "{}: input part {} does not hold the {}x{} the output reads", layer.name(),
                   to_string(stored_), computed_.in_h, computed_.in_w);
    }
    const Precision precision = spec.mode == Mode::train ? spec.precision : Precision::fp32;
    primitives_ =
        std::make_unique<backend::Conv2d>(computed_, detail::to_post_op(layer.options().activation),
                                          precision, backend::Extent2d{stored_[0], stored_[1]});
  }

  void forward(const Tensor& src, Tensor& dst) override {
    detail::check_src(layer_.name(), src, batch_, stored_);
    dst.resize({batch_, computed_.out_h(), computed_.out_w(), computed_.out_c});
    primitives_->forward(src.data(), layer_.weights().data(), layer_.bias().data(), dst.data());
  }

  void backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, Tensor* diff_src,
                const std::vector<Tensor*>& diff_params) override {
    IMGCLS_CHECK(
        diff_dst.shape() == dst.shape() && (diff_params.empty() || diff_params.size() == 2),
        "{}: diff_dst {} vs dst {}", layer_.name(), to_string(diff_dst.shape()),
        to_string(dst.shape()));
    const Tensor& diff_pre =
        detail::gradient_before_activation(backward_activation_, dst, diff_dst, scratch_);
    if (diff_src) diff_src->resize(src.shape());
    primitives_->backward(src.data(), diff_pre.data(), layer_.weights().data(),
                          diff_params.empty() ? nullptr : diff_params[0]->data(),
                          diff_params.empty() ? nullptr : diff_params[1]->data(),
                          diff_src ? diff_src->data() : nullptr);
  }

 private:
  const Conv2DLayer& layer_;
  std::int64_t batch_;
  Activation backward_activation_;  // none when the next layer masks
  Conv2dGeometry computed_;         // the full geometry, or its trimmed part
  Shape stored_;                    // one sample of src: the full input, or its top-left part
  std::unique_ptr<backend::Conv2d> primitives_;
  Tensor scratch_;
};

const Conv2DLayer& as_conv(const Layer& layer) { return dynamic_cast<const Conv2DLayer&>(layer); }

}  // namespace

Shape Conv2DLayer::build(const Shape& input_shape) {
  if (input_shape.size() != 3)
    throw InputError(name(),
                     "Conv2D needs an image input [H, W, C], got " + to_string(input_shape));
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
    throw InputError(name(),
                     fmt::format("a {0}x{0} kernel does not fit the input {1}",
                                 options_.kernel_size, to_string(input_shape)),
                     "use padding \"same\", a smaller kernel, or fewer pooling layers before");
  detail::check_parameter_count(name(), {g.out_c, g.in_c, w.kernel_h, w.kernel_w});
  weights_ = Tensor({g.out_c, g.in_c, w.kernel_h, w.kernel_w});
  bias_ = Tensor({g.out_c});
  diff_weights_ = Tensor(weights_.shape());
  diff_bias_ = Tensor(bias_.shape());
  return {g.out_h(), g.out_w(), g.out_c};
}

void Conv2DLayer::initialize(Rng& rng) {
  const std::int64_t receptive = geometry_.window.kernel_h * geometry_.window.kernel_w;
  detail::glorot_uniform(weights_, geometry_.in_c * receptive, geometry_.out_c * receptive, rng);
  bias_.fill(0.0f);
}

std::vector<Param> Conv2DLayer::params() {
  return {{name() + ".weight", &weights_, &diff_weights_}, {name() + ".bias", &bias_, &diff_bias_}};
}

nlohmann::json Conv2DLayer::config() const {
  return {{"type", kind()},
          {"filters", options_.filters},
          {"kernel_size", options_.kernel_size},
          {"strides", options_.strides},
          {"padding", detail::to_string(options_.padding)},
          {"activation", detail::to_string(options_.activation)}};
}

std::unique_ptr<Kernel> Conv2DLayer::make_kernel(const KernelSpec& spec) const {
  return std::make_unique<Conv2DKernel>(*this, spec);
}

std::unique_ptr<Layer> Conv2D(const Conv2DOptions& options) {
  return std::make_unique<Conv2DLayer>(options);
}

LayerKind layer_kind_conv2d() {
  LayerKind kind;
  kind.name = "Conv2D";
  kind.from_config = [](detail::OptionReader& read) {
    Conv2DOptions options;
    options.filters = read.positive_int("filters", 0, true);
    options.kernel_size = read.positive_int("kernel_size", 3, false);
    options.strides = read.positive_int("strides", 1, false);
    options.padding = read.padding("padding");
    options.activation = read.activation("activation");
    return Conv2D(options);
  };
  // src [N, C, H, W] -> Conv (-> Relu) -> dst [N, filters, H', W']; pads as built.
  kind.to_onnx = [](const Layer& layer, OnnxGraph& graph) {
    const Conv2DLayer& conv = as_conv(layer);
    const Window2d& w = conv.geometry().window;
    const bool relu = conv.options().activation == Activation::relu;
    const std::string conv_out = relu ? layer.name() + "/conv" : graph.output();
    graph.node(
        "Conv", layer.name(),
        {graph.input(), graph.initializer(layer.name() + ".weight", conv.weights()),
         graph.initializer(layer.name() + ".bias", conv.bias())},
        conv_out,
        {{"kernel_shape", std::vector<std::int64_t>{w.kernel_h, w.kernel_w}},
         {"strides", std::vector<std::int64_t>{w.stride_h, w.stride_w}},
         {"pads", std::vector<std::int64_t>{w.pad_top, w.pad_left, w.pad_bottom, w.pad_right}}});
    if (relu) graph.node("Relu", layer.name() + "/relu", {conv_out}, graph.output());
  };
  kind.reference.forward = [](const Layer& layer, const Tensor& src, Tensor& dst) {
    const Conv2DLayer& conv = as_conv(layer);
    Conv2dGeometry g = conv.geometry();
    g.batch = src.dim(0);
    dst.resize({g.batch, g.out_h(), g.out_w(), g.out_c});
    ref::conv2d_forward(g, src.data(), conv.weights().data(), conv.bias().data(), dst.data());
    if (conv.options().activation == Activation::relu)
      ref::relu_forward(dst.size(), dst.data(), dst.data());
  };
  kind.reference.backward = [](const Layer& layer, const Tensor& src, const Tensor& dst,
                               const Tensor& diff_dst, Tensor& diff_src,
                               std::vector<Tensor>& diff_params) {
    const Conv2DLayer& conv = as_conv(layer);
    Conv2dGeometry g = conv.geometry();
    g.batch = src.dim(0);
    Tensor diff_pre(diff_dst.shape());
    if (conv.options().activation == Activation::relu)
      ref::relu_backward(dst.size(), dst.data(), diff_dst.data(), diff_pre.data());
    else
      diff_pre = diff_dst;
    diff_src.resize(src.shape());
    diff_params = {Tensor(conv.weights().shape()), Tensor(conv.bias().shape())};
    ref::conv2d_backward_data(g, diff_pre.data(), conv.weights().data(), diff_src.data());
    ref::conv2d_backward_weights(g, src.data(), diff_pre.data(), diff_params[0].data(),
                                 diff_params[1].data());
  };
  kind.reference_tolerance = 1e-4;
  kind.examples = {
      {{{"type", "Conv2D"}, {"filters", 4}, {"kernel_size", 3}, {"activation", "relu"}},
       {2, 7, 6, 3}},
      {{{"type", "Conv2D"},
        {"filters", 3},
        {"kernel_size", 3},
        {"strides", 2},
        {"padding", "same"}},
       {1, 9, 8, 2}},
      {{{"type", "Conv2D"}, {"filters", 16}, {"kernel_size", 3}}, {3, 10, 9, 1}},
  };
  kind.fuzz_tokens = {"filters",    "kernel_size", "strides", "padding",
                      "activation", "same",        "valid",   "relu"};
  return kind;
}

}  // namespace imgcls::layers
