// Dense (see dense.hpp): the layer, its kernel (oneDNN inner product through
// backend::Dense), its reference (ref::dense_*) and its registry record.
#include "layers/dense.hpp"

#include "core/check.hpp"
#include "layers/registry.hpp"
#include "ref/ops.hpp"

namespace imgcls::layers {

namespace {

// src [N, F] -> dst [N, units]
class DenseKernel final : public Kernel {
 public:
  DenseKernel(const DenseLayer& layer, const KernelSpec& spec)
      : layer_(layer),
        batch_(spec.batch),
        backward_activation_(spec.next_masks_relu ? Activation::none : layer.options().activation) {
    DenseGeometry g = layer.geometry();
    g.batch = spec.batch;
    const Precision precision = spec.mode == Mode::train ? spec.precision : Precision::fp32;
    primitives_ = std::make_unique<backend::Dense>(
        g, detail::to_post_op(layer.options().activation), precision);
  }

  void forward(const Tensor& src, Tensor& dst) override {
    const DenseGeometry& g = layer_.geometry();
    detail::check_src(layer_.name(), src, batch_, {g.in_features});
    dst.resize({batch_, g.out_features});
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
  const DenseLayer& layer_;
  std::int64_t batch_;
  Activation backward_activation_;  // none when the next layer masks
  std::unique_ptr<backend::Dense> primitives_;
  Tensor scratch_;
};

const DenseLayer& as_dense(const Layer& layer) { return dynamic_cast<const DenseLayer&>(layer); }

}  // namespace

Shape DenseLayer::build(const Shape& input_shape) {
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

void DenseLayer::initialize(Rng& rng) {
  detail::glorot_uniform(weights_, geometry_.in_features, geometry_.out_features, rng);
  bias_.fill(0.0f);
}

std::vector<Param> DenseLayer::params() {
  return {{name() + ".weight", &weights_, &diff_weights_}, {name() + ".bias", &bias_, &diff_bias_}};
}

nlohmann::json DenseLayer::config() const {
  return {{"type", kind()},
          {"units", options_.units},
          {"activation", detail::to_string(options_.activation)}};
}

std::unique_ptr<Kernel> DenseLayer::make_kernel(const KernelSpec& spec) const {
  return std::make_unique<DenseKernel>(*this, spec);
}

std::unique_ptr<Layer> Dense(const DenseOptions& options) {
  return std::make_unique<DenseLayer>(options);
}

LayerKind layer_kind_dense() {
  LayerKind kind;
  kind.name = "Dense";
  kind.from_config = [](detail::OptionReader& read) {
    DenseOptions options;
    options.units = read.positive_int("units", 0, true);
    options.activation = read.activation("activation");
    return Dense(options);
  };
  // src [N, F] -> Gemm (-> Relu) -> dst [N, units]; weights [units, F], hence transB.
  kind.to_onnx = [](const Layer& layer, OnnxGraph& graph) {
    const DenseLayer& dense = as_dense(layer);
    const bool relu = dense.options().activation == Activation::relu;
    const std::string gemm_out = relu ? layer.name() + "/gemm" : graph.output();
    graph.node("Gemm", layer.name(),
               {graph.input(), graph.initializer(layer.name() + ".weight", dense.weights()),
                graph.initializer(layer.name() + ".bias", dense.bias())},
               gemm_out, {{"transB", std::int64_t{1}}});
    if (relu) graph.node("Relu", layer.name() + "/relu", {gemm_out}, graph.output());
  };
  kind.reference.forward = [](const Layer& layer, const Tensor& src, Tensor& dst) {
    const DenseLayer& dense = as_dense(layer);
    DenseGeometry g = dense.geometry();
    g.batch = src.dim(0);
    dst.resize({g.batch, g.out_features});
    ref::dense_forward(g, src.data(), dense.weights().data(), dense.bias().data(), dst.data());
    if (dense.options().activation == Activation::relu)
      ref::relu_forward(dst.size(), dst.data(), dst.data());
  };
  kind.reference.backward = [](const Layer& layer, const Tensor& src, const Tensor& dst,
                               const Tensor& diff_dst, Tensor& diff_src,
                               std::vector<Tensor>& diff_params) {
    const DenseLayer& dense = as_dense(layer);
    DenseGeometry g = dense.geometry();
    g.batch = src.dim(0);
    Tensor diff_pre(diff_dst.shape());
    if (dense.options().activation == Activation::relu)
      ref::relu_backward(dst.size(), dst.data(), diff_dst.data(), diff_pre.data());
    else
      diff_pre = diff_dst;
    diff_src.resize(src.shape());
    diff_params = {Tensor(dense.weights().shape()), Tensor(dense.bias().shape())};
    ref::dense_backward_data(g, diff_pre.data(), dense.weights().data(), diff_src.data());
    ref::dense_backward_weights(g, src.data(), diff_pre.data(), diff_params[0].data(),
                                diff_params[1].data());
  };
  kind.reference_tolerance = 1e-4;
  kind.examples = {
      {{{"type", "Dense"}, {"units", 5}, {"activation", "relu"}}, {3, 11}},
      {{{"type", "Dense"}, {"units", 4}}, {1, 7}},
  };
  kind.fuzz_tokens = {"units", "activation", "relu", "none", "linear"};
  return kind;
}

}  // namespace imgcls::layers
