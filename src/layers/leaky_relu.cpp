// LeakyReLU: dst = src > 0 ? src : alpha * src, any shape, through oneDNN eltwise_relu with
// alpha as the negative slope. Backward reads the forward's src.
#include "core/check.hpp"
#include "layers/kernel.hpp"
#include "layers/registry.hpp"
#include "ref/ops.hpp"

namespace imgcls::layers {

namespace {

class LeakyReLULayer final : public Layer {
 public:
  explicit LeakyReLULayer(const LeakyReLUOptions& options) : options_(options) {}

  std::string kind() const override { return "LeakyReLU"; }
  Shape build(const Shape& input_shape) override {
    detail::check_option(name(), "alpha", options_.alpha, detail::kLeakyAlphaRange);
    sample_shape_ = input_shape;
    return input_shape;
  }
  nlohmann::json config() const override { return {{"type", kind()}, {"alpha", options_.alpha}}; }
  std::unique_ptr<Kernel> make_kernel(const KernelSpec& spec) const override;

  float alpha() const { return static_cast<float>(options_.alpha); }
  const Shape& sample_shape() const { return sample_shape_; }

 private:
  LeakyReLUOptions options_;
  Shape sample_shape_;
};

class LeakyReLUKernel final : public Kernel {
 public:
  LeakyReLUKernel(const LeakyReLULayer& layer, const KernelSpec& spec)
      : layer_(layer),
        batch_(spec.batch),
        primitives_(backend::EltwiseKind::leaky_relu,
                    spec.batch * element_count(layer.sample_shape()), layer.alpha()) {}

  void forward(const Tensor& src, Tensor& dst) override {
    detail::check_src(layer_.name(), src, batch_, layer_.sample_shape());
    dst.resize(src.shape());
    primitives_.forward(src.data(), dst.data());
  }
  void backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst, Tensor* diff_src,
                const std::vector<Tensor*>& /*diff_params*/) override {
    IMGCLS_CHECK(diff_dst.shape() == dst.shape() && src.shape() == dst.shape(),
                 "{}: src {}, dst {}, diff_dst {}", layer_.name(), to_string(src.shape()),
                 to_string(dst.shape()), to_string(diff_dst.shape()));
    if (!diff_src) return;
    diff_src->resize(src.shape());
    primitives_.backward(src.data(), diff_dst.data(), diff_src->data());
  }

 private:
  const LeakyReLULayer& layer_;
  std::int64_t batch_;
  backend::Eltwise primitives_;
};

std::unique_ptr<Kernel> LeakyReLULayer::make_kernel(const KernelSpec& spec) const {
  return std::make_unique<LeakyReLUKernel>(*this, spec);
}

const LeakyReLULayer& as_leaky(const Layer& layer) {
  return dynamic_cast<const LeakyReLULayer&>(layer);
}

}  // namespace

std::unique_ptr<Layer> LeakyReLU(const LeakyReLUOptions& options) {
  return std::make_unique<LeakyReLULayer>(options);
}

LayerKind layer_kind_leaky_relu() {
  LayerKind kind;
  kind.name = "LeakyReLU";
  kind.from_config = [](detail::OptionReader& read) {
    LeakyReLUOptions options;
    options.alpha = read.real("alpha", options.alpha, false, detail::kLeakyAlphaRange);
    return LeakyReLU(options);
  };
  kind.to_onnx = [](const Layer& layer, OnnxGraph& graph) {
    graph.node("LeakyRelu", layer.name(), {graph.input()}, graph.output(),
               {{"alpha", static_cast<double>(as_leaky(layer).alpha())}});
  };
  kind.reference.forward = [](const Layer& layer, const Tensor& src, Tensor& dst) {
    dst.resize(src.shape());
    ref::leaky_relu_forward(src.size(), as_leaky(layer).alpha(), src.data(), dst.data());
  };
  kind.reference.backward = [](const Layer& layer, const Tensor& src, const Tensor& /*dst*/,
                               const Tensor& diff_dst, Tensor& diff_src,
                               std::vector<Tensor>& diff_params) {
    diff_src.resize(src.shape());
    ref::leaky_relu_backward(src.size(), as_leaky(layer).alpha(), src.data(), diff_dst.data(),
                             diff_src.data());
    diff_params.clear();
  };
  kind.examples = {{{{"type", "LeakyReLU"}, {"alpha", 0.2}}, {2, 5, 4, 3}},
                   {{{"type", "LeakyReLU"}}, {3, 10}}};
  kind.fuzz_tokens = {"alpha"};
  return kind;
}

}  // namespace imgcls::layers
