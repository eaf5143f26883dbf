// Shape-preserving and reshaping layers without weights: ReLU and Flatten; and from_config,
// which builds any layer kind from its JSON options.
#include "core/check.hpp"
#include "layers/common.hpp"

namespace imgcls::layers {

namespace {

// ReLU: dst = max(src, 0), any shape. A memory-bound loop, vectorised and parallel (after
// a BatchNorm it runs on every activation of the network); a Conv2D or Dense with
// activation "relu" fuses it instead.
class ReLULayer final : public Layer {
 public:
  std::string kind() const override { return "ReLU"; }
  Shape build(const Shape& input_shape) override { return input_shape; }

  void forward(const Tensor& src, Tensor& dst, Mode /*mode*/) override {
    dst.resize(src.shape());
    const std::int64_t count = src.size();
    const float* in = src.data();
    float* out = dst.data();
    constexpr std::int64_t kParallelFrom = 1 << 16;  // below this, threads cost more than they save
#pragma omp parallel for simd if (count >= kParallelFrom)
    for (std::int64_t i = 0; i < count; ++i) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
  }

  void backward(const Tensor& /*src*/, const Tensor& dst, const Tensor& diff_dst,
                Tensor* diff_src) override {
    if (!diff_src) return;
    detail::gradient_before_activation(Activation::relu, dst, diff_dst, *diff_src);
  }

  nlohmann::json config() const override { return {{"type", kind()}}; }
};

// Flatten: src [N, H, W, C] -> dst [N, H*W*C] in NHWC order; the bytes do not move.
class FlattenLayer final : public Layer {
 public:
  std::string kind() const override { return "Flatten"; }
  Shape build(const Shape& input_shape) override { return {element_count(input_shape)}; }

  void forward(const Tensor& src, Tensor& dst, Mode /*mode*/) override {
    dst.resize({src.dim(0), src.size() / std::max<std::int64_t>(src.dim(0), 1)});
    std::copy(src.data(), src.data() + src.size(), dst.data());
  }

  void backward(const Tensor& src, const Tensor& /*dst*/, const Tensor& diff_dst,
                Tensor* diff_src) override {
    if (!diff_src) return;
    diff_src->resize(src.shape());
    std::copy(diff_dst.data(), diff_dst.data() + diff_dst.size(), diff_src->data());
  }

  nlohmann::json config() const override { return {{"type", kind()}}; }
};

}  // namespace

std::unique_ptr<Layer> ReLU() { return std::make_unique<ReLULayer>(); }
std::unique_ptr<Layer> Flatten() { return std::make_unique<FlattenLayer>(); }

std::unique_ptr<Layer> from_config(const nlohmann::json& config, const std::string& where) {
  constexpr const char* kLayerTypes =
      "one of Conv2D, MaxPool2D, AvgPool2D, Dense, ReLU, Flatten, BatchNorm, Dropout, "
      "LeakyReLU, GlobalAvgPool";
  detail::OptionReader read(config, where);
  if (!config.contains("type") || !config.at("type").is_string())
    throw InputError(where, "a layer needs a string \"type\"", kLayerTypes);
  const std::string type = config.at("type").get<std::string>();
  std::unique_ptr<Layer> layer;
  if (type == "Conv2D") {
    Conv2DOptions options;
    options.filters = read.positive_int("filters", 0, true);
    options.kernel_size = read.positive_int("kernel_size", 3, false);
    options.strides = read.positive_int("strides", 1, false);
    options.padding = read.padding("padding");
    options.activation = read.activation("activation");
    layer = Conv2D(options);
  } else if (type == "MaxPool2D" || type == "AvgPool2D") {
    Pool2DOptions options;
    options.pool_size = read.positive_int("pool_size", 2, false);
    options.strides = read.positive_int("strides", options.pool_size, false);
    layer = type == "MaxPool2D" ? MaxPool2D(options) : AvgPool2D(options);
  } else if (type == "Dense") {
    DenseOptions options;
    options.units = read.positive_int("units", 0, true);
    options.activation = read.activation("activation");
    layer = Dense(options);
  } else if (type == "ReLU") {
    layer = ReLU();
  } else if (type == "Flatten") {
    layer = Flatten();
  } else if (type == "BatchNorm") {
    BatchNormOptions options;
    options.momentum = read.real("momentum", options.momentum, false, detail::kMomentumRange);
    options.epsilon = read.real("epsilon", options.epsilon, false, detail::kEpsilonRange);
    layer = BatchNorm(options);
  } else if (type == "Dropout") {
    DropoutOptions options;
    options.rate = read.real("rate", 0.0, true, detail::kDropoutRateRange);
    layer = Dropout(options);
  } else if (type == "LeakyReLU") {
    LeakyReLUOptions options;
    options.alpha = read.real("alpha", options.alpha, false, detail::kLeakyAlphaRange);
    layer = LeakyReLU(options);
  } else if (type == "GlobalAvgPool") {
    layer = GlobalAvgPool();
  } else {
    throw InputError(where, "unknown layer type \"" + type + "\"", kLayerTypes);
  }
  read.finish();
  return layer;
}

}  // namespace imgcls::layers
