// MaxPool2D and AvgPool2D: src [N, H, W, C] -> dst [N, floor((H - p) / s) + 1,
// floor((W - p) / s) + 1, C]. Max pooling's primitive keeps the argmax workspace of the
// last forward for backward; average pooling divides by the window size.
#include <fmt/core.h>

#include "core/check.hpp"
#include "layers/common.hpp"

namespace imgcls::layers {

namespace {

class Pool2DLayer final : public Layer {
 public:
  Pool2DLayer(const Pool2DOptions& options, backend::PoolKind kind) : options_(options), kind_(kind) {
    if (options_.strides == 0) options_.strides = options_.pool_size;
  }

  std::string kind() const override {
    return kind_ == backend::PoolKind::max ? "MaxPool2D" : "AvgPool2D";
  }

  Shape build(const Shape& input_shape) override {
    if (input_shape.size() != 3)
      throw InputError(name(), kind() + " needs an image input [H, W, C], got " +
                                   to_string(input_shape));
    if (options_.pool_size < 1 || options_.strides < 1)
      throw InputError(name(), "pool_size and strides must be positive");
    if (input_shape[0] < options_.pool_size || input_shape[1] < options_.pool_size)
      throw InputError(name(),
                       fmt::format("a {0}x{0} pool does not fit the input {1}", options_.pool_size,
                                   to_string(input_shape)));
    auto& g = geometry_;
    g.in_h = input_shape[0];
    g.in_w = input_shape[1];
    g.channels = input_shape[2];
    g.window.kernel_h = g.window.kernel_w = options_.pool_size;
    g.window.stride_h = g.window.stride_w = options_.strides;
    return {g.out_h(), g.out_w(), g.channels};
  }

  void forward(const Tensor& src, Tensor& dst, Mode /*mode*/) override {
    const std::int64_t batch = src.dim(0);
    IMGCLS_CHECK(src.shape() == (Shape{batch, geometry_.in_h, geometry_.in_w, geometry_.channels}),
                 "{}: src {}", name(), to_string(src.shape()));
    dst.resize({batch, geometry_.out_h(), geometry_.out_w(), geometry_.channels});
    primitives(batch).forward(src.data(), dst.data());
  }

  // Reads the positions kept by the last forward of the same batch size: backward must
  // follow the forward of the same batch, as in every training step.
  void backward(const Tensor& src, const Tensor& dst, const Tensor& diff_dst,
                Tensor* diff_src) override {
    IMGCLS_CHECK(diff_dst.shape() == dst.shape(), "{}: diff_dst {} vs dst {}", name(),
                 to_string(diff_dst.shape()), to_string(dst.shape()));
    if (!diff_src) return;
    const Tensor& diff =
        detail::gradient_before_activation(input_relu_backward_, dst, diff_dst, scratch_);
    diff_src->resize(src.shape());
    primitives(src.dim(0)).backward(diff.data(), diff_src->data());
  }

  // Only max pooling passes gradient to the window maxima alone.
  bool absorb_input_relu_backward() override {
    if (kind_ != backend::PoolKind::max) return false;
    input_relu_backward_ = Activation::relu;
    return true;
  }

  // The windows (no padding) cover rows up to (out_h - 1) * stride + pool_size.
  Shape input_part_read(const Shape& input_shape) const override {
    if (input_shape.size() != 3) return input_shape;
    const auto& g = geometry_;
    return {(g.out_h() - 1) * g.window.stride_h + g.window.kernel_h,
            (g.out_w() - 1) * g.window.stride_w + g.window.kernel_w, g.channels};
  }

  void read_trimmed_input(const Shape& part) override {
    Pool2dGeometry g = geometry_;
    g.in_h = part.at(0);
    g.in_w = part.at(1);
    IMGCLS_CHECK(part.at(2) == g.channels && g.out_h() == geometry_.out_h() && g.out_w() == geometry_.out_w(),
                 "{}: input part {} changes the output", name(), to_string(part));
    geometry_ = g;
    cache_.clear();
  }

  nlohmann::json config() const override {
    return {{"type", kind()}, {"pool_size", options_.pool_size}, {"strides", options_.strides}};
  }

 private:
  backend::Pool2d& primitives(std::int64_t batch) {
    return cache_.get(batch, [&] {
      Pool2dGeometry g = geometry_;
      g.batch = batch;
      return std::make_unique<backend::Pool2d>(g, kind_);
    });
  }

  Pool2DOptions options_;
  backend::PoolKind kind_;
  Pool2dGeometry geometry_;
  Activation input_relu_backward_ = Activation::none;  // relu: mask diff_dst where dst == 0
  Tensor scratch_;
  detail::PerBatchSize<backend::Pool2d> cache_;
};

}  // namespace

std::unique_ptr<Layer> MaxPool2D(const Pool2DOptions& options) {
  return std::make_unique<Pool2DLayer>(options, backend::PoolKind::max);
}

std::unique_ptr<Layer> AvgPool2D(const Pool2DOptions& options) {
  return std::make_unique<Pool2DLayer>(options, backend::PoolKind::average);
}

}  // namespace imgcls::layers
