// MaxPool2D and AvgPool2D (see pool2d.hpp): the layer, its kernel (oneDNN pooling through
// backend::Pool2d, which keeps the max positions of the last forward for backward), its
// reference (ref::*_pool2d_*) and the two registry records.
#include "layers/pool2d.hpp"

#include <fmt/core.h>

#include "core/check.hpp"
#include "layers/registry.hpp"
#include "ref/ops.hpp"

namespace imgcls::layers {

namespace {

// src [N, H, W, C] (or its top-left part, spec.input_part) -> dst [N, OH, OW, C] (or its
// top-left part, spec.output_part, when the input part computes no more than that)
class Pool2DKernel final : public Kernel {
 public:
  Pool2DKernel(const Pool2DLayer& layer, const KernelSpec& spec)
      : layer_(layer),
        input_relu_backward_(spec.masks_input_relu ? Activation::relu : Activation::none) {
    IMGCLS_CHECK(!spec.masks_input_relu || layer.pool_kind() == backend::PoolKind::max,
                 "{}: only max pooling passes gradient to window maxima alone", layer.name());
    geometry_ = layer.geometry();
    geometry_.batch = spec.batch;
    IMGCLS_CHECK(!spec.output_part || spec.input_part,
                 "{}: an output part comes from an input part", layer.name());
    if (spec.input_part) {
      const Shape& part = *spec.input_part;
      geometry_.in_h = part.at(0);
      geometry_.in_w = part.at(1);
      const Pool2dGeometry& full = layer.geometry();
      const Shape out = spec.output_part.value_or(Shape{full.out_h(), full.out_w(), full.channels});
      IMGCLS_CHECK(part.at(2) == geometry_.channels && geometry_.out_h() == out.at(0) &&
                       geometry_.out_w() == out.at(1),
                   "{}: input part {} does not give the output {}", layer.name(), to_string(part),
                   to_string(out));
    }
    primitives_ = std::make_unique<backend::Pool2d>(geometry_, layer.pool_kind(), spec.backward);
  }

  void forward(const Tensor& src, Tensor& dst) override {
    const auto& g = geometry_;
    detail::check_src(layer_.name(), src, g.batch, {g.in_h, g.in_w, g.channels});
    dst.resize({g.batch, g.out_h(), g.out_w(), g.channels});
    primitives_->forward(src.data(), dst.data());
  }

  // Reads the positions kept by the last forward: backward follows the forward of the same
  // batch, as in every training step.
  void backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, Tensor* diff_src,
                const std::vector<Tensor*>& /*diff_params*/) override {
    IMGCLS_CHECK(diff_dst.shape() == dst.shape(), "{}: diff_dst {} vs dst {}", layer_.name(),
                 to_string(diff_dst.shape()), to_string(dst.shape()));
    if (!diff_src) return;
    const Tensor& diff =
        detail::gradient_before_activation(input_relu_backward_, dst, diff_dst, scratch_);
    diff_src->resize(src.shape());
    primitives_->backward(src.data(), diff.data(), diff_src->data());
  }

 private:
  const Pool2DLayer& layer_;
  Activation input_relu_backward_;  // relu: mask diff_dst where dst == 0
  Pool2dGeometry geometry_;
  std::unique_ptr<backend::Pool2d> primitives_;
  Tensor scratch_;
};

const Pool2DLayer& as_pool(const Layer& layer) { return dynamic_cast<const Pool2DLayer&>(layer); }

// The record shared by both kinds.
LayerKind pool_kind(const std::string& name, backend::PoolKind pool) {
  const bool max = pool == backend::PoolKind::max;
  LayerKind kind;
  kind.name = name;
  kind.from_config = [pool](detail::OptionReader& read) -> std::unique_ptr<Layer> {
    Pool2DOptions options;
    options.pool_size = read.positive_int("pool_size", 2, false);
    options.strides = read.positive_int("strides", options.pool_size, false);
    return std::make_unique<Pool2DLayer>(options, pool);
  };
  // src [N, C, H, W] -> dst [N, C, H', W'], no padding, floor rounding
  kind.to_onnx = [max](const Layer& layer, OnnxGraph& graph) {
    const Window2d& w = as_pool(layer).geometry().window;
    graph.node(max ? "MaxPool" : "AveragePool", layer.name(), {graph.input()}, graph.output(),
               {{"kernel_shape", std::vector<std::int64_t>{w.kernel_h, w.kernel_w}},
                {"strides", std::vector<std::int64_t>{w.stride_h, w.stride_w}}});
  };
  kind.reference.forward = [max](const Layer& layer, const Tensor& src, Tensor& dst) {
    Pool2dGeometry g = as_pool(layer).geometry();
    g.batch = src.dim(0);
    dst.resize({g.batch, g.out_h(), g.out_w(), g.channels});
    (max ? ref::max_pool2d_forward : ref::avg_pool2d_forward)(g, src.data(), dst.data());
  };
  kind.reference.backward = [max](const Layer& layer, const Tensor& src, const Tensor& /*dst*/,
                                  const Tensor& diff_dst, Tensor& diff_src,
                                  std::vector<Tensor>& diff_params) {
    Pool2dGeometry g = as_pool(layer).geometry();
    g.batch = src.dim(0);
    diff_src.resize(src.shape());
    diff_params.clear();
    if (max)
      ref::max_pool2d_backward(g, src.data(), diff_dst.data(), diff_src.data());
    else
      ref::avg_pool2d_backward(g, diff_dst.data(), diff_src.data());
  };
  kind.examples = {
      {{{"type", name}, {"pool_size", 2}}, {2, 7, 6, 3}},
      {{{"type", name}, {"pool_size", 3}, {"strides", 2}}, {1, 9, 8, 2}},
  };
  kind.fuzz_tokens = {"pool_size", "strides"};
  return kind;
}

}  // namespace

Pool2DLayer::Pool2DLayer(const Pool2DOptions& options, backend::PoolKind kind)
    : options_(options), pool_kind_(kind) {
  if (options_.strides == 0) options_.strides = options_.pool_size;
}

Shape Pool2DLayer::build(const Shape& input_shape) {
  if (input_shape.size() != 3)
    throw InputError(name(),
                     kind() + " needs an image input [H, W, C], got " + to_string(input_shape));
  if (options_.pool_size < 1 || options_.strides < 1)
    throw InputError(name(), "pool_size and strides must be positive");
  if (input_shape[0] < options_.pool_size || input_shape[1] < options_.pool_size)
    throw InputError(name(), fmt::format("a {0}x{0} pool does not fit the input {1}",
                                         options_.pool_size, to_string(input_shape)));
  auto& g = geometry_;
  g.in_h = input_shape[0];
  g.in_w = input_shape[1];
  g.channels = input_shape[2];
  g.window.kernel_h = g.window.kernel_w = options_.pool_size;
  g.window.stride_h = g.window.stride_w = options_.strides;
  return {g.out_h(), g.out_w(), g.channels};
}

Shape Pool2DLayer::input_part_read() const {
  const auto& g = geometry_;
  return {(g.out_h() - 1) * g.window.stride_h + g.window.kernel_h,
          (g.out_w() - 1) * g.window.stride_w + g.window.kernel_w, g.channels};
}

nlohmann::json Pool2DLayer::config() const {
  return {{"type", kind()}, {"pool_size", options_.pool_size}, {"strides", options_.strides}};
}

std::unique_ptr<Kernel> Pool2DLayer::make_kernel(const KernelSpec& spec) const {
  return std::make_unique<Pool2DKernel>(*this, spec);
}

std::unique_ptr<Layer> MaxPool2D(const Pool2DOptions& options) {
  return std::make_unique<Pool2DLayer>(options, backend::PoolKind::max);
}

std::unique_ptr<Layer> AvgPool2D(const Pool2DOptions& options) {
  return std::make_unique<Pool2DLayer>(options, backend::PoolKind::average);
}

LayerKind layer_kind_max_pool2d() { return pool_kind("MaxPool2D", backend::PoolKind::max); }

LayerKind layer_kind_avg_pool2d() { return pool_kind("AvgPool2D", backend::PoolKind::average); }

}  // namespace imgcls::layers
