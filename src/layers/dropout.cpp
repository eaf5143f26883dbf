// Dropout: inverted dropout, any shape. A plain loop is the implementation and the spec:
// dst = src * mask with mask 0 (probability rate) or 1 / (1 - rate). The mask is drawn in
// fixed chunks of values, chunk k of the j-th forward since set_noise_seed(seed) from
// Rng(derive_seed(seed, j, k)): the chunks can be drawn in parallel and the mask does not
// depend on the thread count. Backward multiplies by the same mask. Mode::infer is the
// identity.
#include <algorithm>

#include "core/check.hpp"
#include "layers/kernel.hpp"
#include "layers/registry.hpp"

namespace imgcls::layers {

namespace {

class DropoutLayer final : public Layer {
 public:
  explicit DropoutLayer(const DropoutOptions& options) : options_(options) {}

  std::string kind() const override { return "Dropout"; }
  Shape build(const Shape& input_shape) override {
    detail::check_option(name(), "rate", options_.rate, detail::kDropoutRateRange);
    return input_shape;
  }
  nlohmann::json config() const override { return {{"type", kind()}, {"rate", options_.rate}}; }
  std::unique_ptr<Kernel> make_kernel(const KernelSpec& spec) const override;

  double rate() const { return options_.rate; }

 private:
  DropoutOptions options_;
};

class DropoutKernel final : public Kernel {
 public:
  DropoutKernel(const DropoutLayer& layer, const KernelSpec& spec)
      : layer_(layer), masks_(spec.mode == Mode::train && layer.rate() > 0.0) {}

  void set_noise_seed(std::uint64_t seed) override {
    noise_seed_ = seed;
    forwards_since_seed_ = 0;
  }

  void forward(const Tensor& src, Tensor& dst) override {
    dst.resize(src.shape());
    if (!masks_) {
      std::copy(src.data(), src.data() + src.size(), dst.data());
      return;
    }
    // Drop when a uniform 64-bit draw falls below rate * 2^64: one integer compare per value.
    constexpr double kTwoTo64 = 18446744073709551616.0;
    const auto drop_below = static_cast<std::uint64_t>(layer_.rate() * kTwoTo64);
    const auto keep_scale = static_cast<float>(1.0 / (1.0 - layer_.rate()));
    const std::uint64_t stream = forwards_since_seed_++;
    mask_.resize(src.shape());
    float* mask = mask_.data();
    const float* in = src.data();
    float* out = dst.data();
    const std::int64_t count = src.size();
    const std::int64_t chunks = (count + kChunk - 1) / kChunk;
    const std::uint64_t seed = noise_seed_;
#pragma omp parallel for if (chunks > 1)
    for (std::int64_t chunk = 0; chunk < chunks; ++chunk) {
      Rng rng(derive_seed(seed, stream, static_cast<std::uint64_t>(chunk)));
      const std::int64_t end = std::min(count, (chunk + 1) * kChunk);
      for (std::int64_t i = chunk * kChunk; i < end; ++i) {
        mask[i] = rng.next_u64() < drop_below ? 0.0f : keep_scale;
        out[i] = in[i] * mask[i];
      }
    }
  }

  void backward(const Tensor& src, const Tensor& /*dst*/, const Tensor& diff_dst, Tensor* diff_src,
                const std::vector<Tensor*>& /*diff_params*/) override {
    IMGCLS_CHECK(diff_dst.shape() == src.shape(), "{}: diff_dst {} vs src {}", layer_.name(),
                 to_string(diff_dst.shape()), to_string(src.shape()));
    if (!diff_src) return;
    diff_src->resize(src.shape());
    if (!masks_) {
      std::copy(diff_dst.data(), diff_dst.data() + diff_dst.size(), diff_src->data());
      return;
    }
    IMGCLS_CHECK(mask_.shape() == src.shape(), "{}: mask {} vs src {}", layer_.name(),
                 to_string(mask_.shape()), to_string(src.shape()));
    const std::int64_t count = src.size();
    const float* diff_in = diff_dst.data();
    const float* mask = mask_.data();
    float* diff_out = diff_src->data();
#pragma omp parallel for simd if (count > kChunk)
    for (std::int64_t i = 0; i < count; ++i) diff_out[i] = diff_in[i] * mask[i];
  }

 private:
  static constexpr std::int64_t kChunk = 1 << 14;  // values per random stream
  const DropoutLayer& layer_;
  bool masks_;                         // Mode::train with a rate above 0
  std::uint64_t noise_seed_ = 0x5eed;  // until set_noise_seed is called
  std::uint64_t forwards_since_seed_ = 0;
  Tensor mask_;
};

std::unique_ptr<Kernel> DropoutLayer::make_kernel(const KernelSpec& spec) const {
  return std::make_unique<DropoutKernel>(*this, spec);
}

void copy_of(const Tensor& from, Tensor& to) {
  to.resize(from.shape());
  std::copy(from.data(), from.data() + from.size(), to.data());
}

}  // namespace

std::unique_ptr<Layer> Dropout(const DropoutOptions& options) {
  return std::make_unique<DropoutLayer>(options);
}

LayerKind layer_kind_dropout() {
  LayerKind kind;
  kind.name = "Dropout";
  kind.from_config = [](detail::OptionReader& read) {
    DropoutOptions options;
    options.rate = read.real("rate", 0.0, true, detail::kDropoutRateRange);
    return Dropout(options);
  };
  kind.to_onnx = [](const Layer& layer, OnnxGraph& graph) {
    graph.node("Identity", layer.name(), {graph.input()}, graph.output());  // inference: no dropout
  };
  kind.reference.forward = [](const Layer& /*layer*/, const Tensor& src, Tensor& dst) {
    copy_of(src, dst);
  };
  kind.reference.backward = [](const Layer& /*layer*/, const Tensor& /*src*/, const Tensor& /*dst*/,
                               const Tensor& diff_dst, Tensor& diff_src,
                               std::vector<Tensor>& diff_params) {
    copy_of(diff_dst, diff_src);
    diff_params.clear();
  };
  kind.examples = {
      {{{"type", "Dropout"}, {"rate", 0.5}}, {3, 4, 5, 2}},
      {{{"type", "Dropout"}, {"rate", 0.25}}, {2, 9}},
  };
  kind.fuzz_tokens = {"rate"};
  return kind;
}

}  // namespace imgcls::layers
