// LeakyReLU: dst = src > 0 ? src : alpha * src, any shape, through oneDNN eltwise_relu with
// alpha as the negative slope. Backward reads the forward's src.
#include "core/check.hpp"
#include "layers/common.hpp"

namespace imgcls::layers {

namespace {

class LeakyReLULayer final : public Layer {
 public:
  explicit LeakyReLULayer(const LeakyReLUOptions& options) : options_(options) {}

  std::string kind() const override { return "LeakyReLU"; }

  Shape build(const Shape& input_shape) override {
    detail::check_option(name(), "alpha", options_.alpha, detail::kLeakyAlphaRange);
    sample_size_ = element_count(input_shape);
    return input_shape;
  }

  void forward(const Tensor& src, Tensor& dst, Mode /*mode*/) override {
    const std::int64_t batch = src.dim(0);
    IMGCLS_CHECK(src.size() == batch * sample_size_, "{}: src {}", name(), to_string(src.shape()));
    dst.resize(src.shape());
    primitives(batch).forward(src.data(), dst.data());
  }

  void backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst,
                Tensor* diff_src) override {
    IMGCLS_CHECK(diff_dst.shape() == dst.shape() && src.shape() == dst.shape(),
                 "{}: src {}, dst {}, diff_dst {}", name(), to_string(src.shape()),
                 to_string(dst.shape()), to_string(diff_dst.shape()));
    if (!diff_src) return;
    diff_src->resize(src.shape());
    primitives(src.dim(0)).backward(src.data(), diff_dst.data(), diff_src->data());
  }

  nlohmann::json config() const override { return {{"type", kind()}, {"alpha", options_.alpha}}; }

 private:
  backend::LeakyRelu& primitives(std::int64_t batch) {
    return cache_.get(batch, [&] {
      return std::make_unique<backend::LeakyRelu>(batch * sample_size_,
                                                  static_cast<float>(options_.alpha));
    });
  }

  LeakyReLUOptions options_;
  std::int64_t sample_size_ = 0;
  detail::PerBatchSize<backend::LeakyRelu> cache_;
};

}  // namespace

std::unique_ptr<Layer> LeakyReLU(const LeakyReLUOptions& options) {
  return std::make_unique<LeakyReLULayer>(options);
}

}  // namespace imgcls::layers
