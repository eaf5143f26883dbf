// ReLU: dst = max(src, 0), any shape. A memory-bound loop, vectorised and parallel (after a
// BatchNorm it runs on every activation of the network); a Conv2D or Dense with activation
// "relu" fuses it instead.
#include "core/check.hpp"
#include "layers/kernel.hpp"
#include "layers/registry.hpp"
#include "ref/ops.hpp"

namespace imgcls::layers {

namespace {

class ReLULayer final : public Layer {
 public:
  std::string kind() const override { return "ReLU"; }
  Shape build(const Shape& input_shape) override { return input_shape; }
  nlohmann::json config() const override { return {{"type", kind()}}; }
  std::unique_ptr<Kernel> make_kernel(const KernelSpec& spec) const override;
};

class ReLUKernel final : public Kernel {
 public:
  void forward(const Tensor& src, Tensor& dst) override {
    dst.resize(src.shape());
    const std::int64_t count = src.size();
    const float* in = src.data();
    float* out = dst.data();
    constexpr std::int64_t kParallelFrom = 1 << 16;  // below this, threads cost more than they save
#pragma omp parallel for simd if (count >= kParallelFrom)
    for (std::int64_t i = 0; i < count; ++i) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
  }
  void backward(const Tensor& /*src*/, const Tensor& dst, const Tensor& diff_dst, Tensor* diff_src,
                const std::vector<Tensor*>& /*diff_params*/) override {
    if (!diff_src) return;
    detail::gradient_before_activation(Activation::relu, dst, diff_dst, *diff_src);
  }
};

std::unique_ptr<Kernel> ReLULayer::make_kernel(const KernelSpec& /*spec*/) const {
  return std::make_unique<ReLUKernel>();
}

}  // namespace

std::unique_ptr<Layer> ReLU() { return std::make_unique<ReLULayer>(); }

LayerKind layer_kind_relu() {
  LayerKind kind;
  kind.name = "ReLU";
  kind.from_config = [](detail::OptionReader& /*read*/) { return ReLU(); };
  kind.to_onnx = [](const Layer& layer, OnnxGraph& graph) {
    graph.node("Relu", layer.name(), {graph.input()}, graph.output());
  };
  kind.reference.forward = [](const Layer& /*layer*/, const Tensor& src, Tensor& dst) {
    dst.resize(src.shape());
    ref::relu_forward(src.size(), src.data(), dst.data());
  };
  kind.reference.backward = [](const Layer& /*layer*/, const Tensor& /*src*/, const Tensor& dst,
                               const Tensor& diff_dst, Tensor& diff_src,
                               std::vector<Tensor>& diff_params) {
    diff_src.resize(dst.shape());
    ref::relu_backward(dst.size(), dst.data(), diff_dst.data(), diff_src.data());
    diff_params.clear();
  };
  kind.examples = {{{{"type", "ReLU"}}, {2, 5, 4, 3}}, {{{"type", "ReLU"}}, {3, 10}}};
  return kind;
}

}  // namespace imgcls::layers
