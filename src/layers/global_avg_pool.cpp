// GlobalAvgPool: src [N, H, W, C] -> dst [N, C], the mean of each channel over H x W.
// oneDNN average pooling with one H x W window; its [N, 1, 1, C] output is [N, C] in memory.
#include "core/check.hpp"
#include "layers/common.hpp"

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

  void forward(const Tensor& src, Tensor& dst, Mode /*mode*/) override {
    const std::int64_t batch = src.dim(0);
    IMGCLS_CHECK(src.shape() == (Shape{batch, geometry_.in_h, geometry_.in_w, geometry_.channels}),
                 "{}: src {}", name(), to_string(src.shape()));
    dst.resize({batch, geometry_.channels});
    primitives(batch).forward(src.data(), dst.data());
  }

  void backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst,
                Tensor* diff_src) override {
    IMGCLS_CHECK(diff_dst.shape() == dst.shape(), "{}: diff_dst {} vs dst {}", name(),
                 to_string(diff_dst.shape()), to_string(dst.shape()));
    if (!diff_src) return;
    diff_src->resize(src.shape());
    primitives(src.dim(0)).backward(diff_dst.data(), diff_src->data());
  }

  nlohmann::json config() const override { return {{"type", kind()}}; }

 private:
  backend::Pool2d& primitives(std::int64_t batch) {
    return cache_.get(batch, [&] {
      Pool2dGeometry g = geometry_;
      g.batch = batch;
      return std::make_unique<backend::Pool2d>(g, backend::PoolKind::average);
    });
  }

  Pool2dGeometry geometry_;  // one window covering the whole image
  detail::PerBatchSize<backend::Pool2d> cache_;
};

}  // namespace

std::unique_ptr<Layer> GlobalAvgPool() { return std::make_unique<GlobalAvgPoolLayer>(); }

}  // namespace imgcls::layers
