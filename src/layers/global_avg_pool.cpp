// GlobalAvgPool: src [N, H, W, C] -> dst [N, C], the mean of each channel over H x W.
// oneDNN average pooling with one H x W window; its [N, 1, 1, C] output is [N, C] in memory.
#include "core/check.hpp"
#include "layers/kernel.hpp"
#include "layers/registry.hpp"
#include "ref/ops.hpp"

namespace imgcls::layers {

namespace {

class GlobalAvgPoolLayer final : public Layer {
 public:
  std::string kind() const override { return "GlobalAvgPool"; }
  Shape build(const Shape& input_shape) override {
    if (input_shape.size() != 3)
      throw InputError(
          name(), "GlobalAvgPool needs an image input [H, W, C], got " + to_string(input_shape));
    auto& g = geometry_;
    g.in_h = input_shape[0];
    g.in_w = input_shape[1];
    g.channels = input_shape[2];
    g.window.kernel_h = g.in_h;
    g.window.kernel_w = g.in_w;
    return {g.channels};
  }
  nlohmann::json config() const override { return {{"type", kind()}}; }
  std::unique_ptr<Kernel> make_kernel(const KernelSpec& spec) const override;

  const Pool2dGeometry& geometry() const { return geometry_; }  // one window covering the image

 private:
  Pool2dGeometry geometry_;
};

class GlobalAvgPoolKernel final : public Kernel {
 public:
  GlobalAvgPoolKernel(const GlobalAvgPoolLayer& layer, const KernelSpec& spec) : layer_(layer) {
    geometry_ = layer.geometry();
    geometry_.batch = spec.batch;
    primitives_ =
        std::make_unique<backend::Pool2d>(geometry_, backend::PoolKind::average, spec.backward);
  }

  void forward(const Tensor& src, Tensor& dst) override {
    const auto& g = geometry_;
    detail::check_src(layer_.name(), src, g.batch, {g.in_h, g.in_w, g.channels});
    dst.resize({g.batch, g.channels});
    primitives_->forward(src.data(), dst.data());
  }
  void backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, Tensor* diff_src,
                const std::vector<Tensor*>& /*diff_params*/) override {
    IMGCLS_CHECK(diff_dst.shape() == dst.shape(), "{}: diff_dst {} vs dst {}", layer_.name(),
                 to_string(diff_dst.shape()), to_string(dst.shape()));
    if (!diff_src) return;
    diff_src->resize(src.shape());
    primitives_->backward(src.data(), diff_dst.data(), diff_src->data());
  }

 private:
  const GlobalAvgPoolLayer& layer_;
  Pool2dGeometry geometry_;
  std::unique_ptr<backend::Pool2d> primitives_;
};

std::unique_ptr<Kernel> GlobalAvgPoolLayer::make_kernel(const KernelSpec& spec) const {
  return std::make_unique<GlobalAvgPoolKernel>(*this, spec);
}

ChannelGeometry channel_geometry(const Layer& layer, const Tensor& src) {
  const Pool2dGeometry& g = dynamic_cast<const GlobalAvgPoolLayer&>(layer).geometry();
  return {.batch = src.dim(0), .height = g.in_h, .width = g.in_w, .channels = g.channels};
}

}  // namespace

std::unique_ptr<Layer> GlobalAvgPool() { return std::make_unique<GlobalAvgPoolLayer>(); }

LayerKind layer_kind_global_avg_pool() {
  LayerKind kind;
  kind.name = "GlobalAvgPool";
  kind.from_config = [](detail::OptionReader& /*read*/) { return GlobalAvgPool(); };
  // src [N, C, H, W] -> GlobalAveragePool -> [N, C, 1, 1] -> Flatten -> dst [N, C]
  kind.to_onnx = [](const Layer& layer, OnnxGraph& graph) {
    const std::string pooled = layer.name() + "/pooled";
    graph.node("GlobalAveragePool", layer.name(), {graph.input()}, pooled);
    graph.node("Flatten", layer.name() + "/flatten", {pooled}, graph.output(),
               {{"axis", std::int64_t{1}}});
  };
  kind.reference.forward = [](const Layer& layer, const Tensor& src, Tensor& dst) {
    const ChannelGeometry g = channel_geometry(layer, src);
    dst.resize({g.batch, g.channels});
    ref::global_avg_pool_forward(g, src.data(), dst.data());
  };
  kind.reference.backward = [](const Layer& layer, const Tensor& src, const Tensor& /*dst*/,
                               const Tensor& diff_dst, Tensor& diff_src,
                               std::vector<Tensor>& diff_params) {
    diff_src.resize(src.shape());
    ref::global_avg_pool_backward(channel_geometry(layer, src), diff_dst.data(), diff_src.data());
    diff_params.clear();
  };
  kind.examples = {{{{"type", "GlobalAvgPool"}}, {2, 5, 4, 3}}};
  return kind;
}

}  // namespace imgcls::layers
