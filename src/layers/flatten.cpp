// Flatten: src [N, H, W, C] -> dst [N, H*W*C] in NHWC order, as Keras; the values do not move.
#include <algorithm>

#include "layers/kernel.hpp"
#include "layers/registry.hpp"

namespace imgcls::layers {

namespace {

class FlattenLayer final : public Layer {
 public:
  std::string kind() const override { return "Flatten"; }
  Shape build(const Shape& input_shape) override { return {element_count(input_shape)}; }
  nlohmann::json config() const override { return {{"type", kind()}}; }
  std::unique_ptr<Kernel> make_kernel(const KernelSpec& spec) const override;
};

class FlattenKernel final : public Kernel {
 public:
  void forward(const Tensor& src, Tensor& dst) override {
    dst.resize({src.dim(0), src.size() / std::max<std::int64_t>(src.dim(0), 1)});
    std::copy(src.data(), src.data() + src.size(), dst.data());
  }
  void backward(const Tensor& src, const Tensor& /*dst*/, const Tensor& diff_dst, Tensor* diff_src,
                const std::vector<Tensor*>& /*diff_params*/) override {
    if (!diff_src) return;
    diff_src->resize(src.shape());
    std::copy(diff_dst.data(), diff_dst.data() + diff_dst.size(), diff_src->data());
  }
};

std::unique_ptr<Kernel> FlattenLayer::make_kernel(const KernelSpec& /*spec*/) const {
  return std::make_unique<FlattenKernel>();
}

}  // namespace

std::unique_ptr<Layer> Flatten() { return std::make_unique<FlattenLayer>(); }

LayerKind layer_kind_flatten() {
  LayerKind kind;
  kind.name = "Flatten";
  kind.from_config = [](detail::OptionReader& /*read*/) { return Flatten(); };
  // src [N, C, H, W] -> Transpose -> [N, H, W, C] -> Flatten -> dst [N, H*W*C]: imgcls's
  // order. A flat src passes through.
  kind.to_onnx = [](const Layer& layer, OnnxGraph& graph) {
    if (graph.input_shape().size() == 1) {
      graph.node("Identity", layer.name(), {graph.input()}, graph.output());
      return;
    }
    const std::string nhwc = layer.name() + "/nhwc";
    graph.node("Transpose", layer.name() + "/to_nhwc", {graph.input()}, nhwc,
               {{"perm", std::vector<std::int64_t>{0, 2, 3, 1}}});
    graph.node("Flatten", layer.name(), {nhwc}, graph.output(), {{"axis", std::int64_t{1}}});
  };
  kind.reference.forward = [](const Layer& /*layer*/, const Tensor& src, Tensor& dst) {
    dst.resize({src.dim(0), src.size() / src.dim(0)});
    std::copy(src.data(), src.data() + src.size(), dst.data());
  };
  kind.reference.backward = [](const Layer& /*layer*/, const Tensor& src, const Tensor& /*dst*/,
                               const Tensor& diff_dst, Tensor& diff_src,
                               std::vector<Tensor>& diff_params) {
    diff_src.resize(src.shape());
    std::copy(diff_dst.data(), diff_dst.data() + diff_dst.size(), diff_src.data());
    diff_params.clear();
  };
  kind.examples = {{{{"type", "Flatten"}}, {2, 3, 4, 5}}, {{{"type", "Flatten"}}, {2, 6}}};
  return kind;
}

}  // namespace imgcls::layers
