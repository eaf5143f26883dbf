// Convolution through oneDNN: forward (with the post-op fused), backward-data and
// backward-weights built from the forward primitive descriptor as their hint.
// Activations stay NHWC fp32 at the boundary; oneDNN picks the weight layout
// (format_tag::any), and the plain OIHW weights are reordered into it (18K values for the
// seed's conv2, negligible next to the convolution itself). In bf16, src and diff_dst are
// converted on the way in; dst, diff_src and the weight gradients come out fp32.
#include <algorithm>
#include <optional>

#include "backend/backend.hpp"
#include "backend/conv2d_grey3x3.hpp"
#include "backend/dnnl_common.hpp"
#include "core/check.hpp"

namespace imgcls::backend {

using dnnl::algorithm;
using dnnl::prop_kind;

struct Conv2d::Impl {
  Conv2dGeometry g;
  Extent2d stored;
  dnnl::memory::desc src_md, src_user_md, diff_src_md, dst_md, weights_any_md, diff_weights_any_md,
      bias_md;
  dnnl::convolution_forward::primitive_desc forward_pd;
  WeightedPrimitives primitives;
  std::optional<GreyConv3x3> grey;  // fp32 3x3 on grey images: forward and weight gradients

  Impl(const Conv2dGeometry& geometry, PostOp post_op, Precision precision, Extent2d stored_src)
      : g(geometry),
        stored(stored_src.h == 0 ? Extent2d{g.in_h, g.in_w} : stored_src),
        src_md(dnnl::memory::desc(src_dims(), compute_type(precision), tag::nhwc)),
        src_user_md(stored_view()),
        diff_src_md(f32_desc(src_dims(), tag::nhwc)),
        dst_md(f32_desc({g.batch, g.out_c, g.out_h(), g.out_w()}, tag::nhwc)),
        weights_any_md(dnnl::memory::desc(weight_dims(), compute_type(precision), tag::any)),
        diff_weights_any_md(f32_desc(weight_dims(), tag::any)),
        bias_md(f32_desc({g.out_c}, tag::x)),
        forward_pd(dnnl::convolution_forward::desc(
                       prop_kind::forward_training, algorithm::convolution_direct, src_md,
                       weights_any_md, bias_md, dst_md, spatial_strides(g.window),
                       padding_before(g.window), padding_after(g.window)),
                   post_op_attr(post_op), context().engine),
        primitives(forward_pd, src_user_md, dst_md, f32_desc(weight_dims(), tag::oihw), bias_md) {
    IMGCLS_CHECK(stored.h >= g.in_h && stored.w >= g.in_w,
                 "stored src {}x{} is smaller than the convolution's {}x{}", stored.h, stored.w,
                 g.in_h, g.in_w);
    if (precision == Precision::fp32 && GreyConv3x3::suits(g)) grey.emplace(g, stored, post_op);
  }

  dnnl::memory::dims src_dims() const { return {g.batch, g.in_c, g.in_h, g.in_w}; }
  dnnl::memory::dims weight_dims() const {
    return {g.out_c, g.in_c, g.window.kernel_h, g.window.kernel_w};
  }
  bool reads_part() const { return stored.h != g.in_h || stored.w != g.in_w; }

  // The fp32 src as stored: dense NHWC, or the top-left in_h x in_w of larger images.
  dnnl::memory::desc stored_view() const {
    if (!reads_part()) return f32_desc(src_dims(), tag::nhwc);
    const dnnl::memory::dim c = g.in_c;
    return dnnl::memory::desc(src_dims(), dt::f32,
                              dnnl::memory::dims{stored.h * stored.w * c, 1, stored.w * c, c});
  }

  // Backward primitives are built on the first backward call, so inference never pays.
  WeightedPrimitives& for_backward() {
    if (primitives.has_backward()) return primitives;
    auto& engine = context().engine;
    const dnnl::memory::desc diff_dst_md(dst_md.dims(), src_md.data_type(), tag::nhwc);
    const dnnl::convolution_backward_data::primitive_desc data_pd(
        dnnl::convolution_backward_data::desc(
            algorithm::convolution_direct, diff_src_md, weights_any_md, diff_dst_md,
            spatial_strides(g.window), padding_before(g.window), padding_after(g.window)),
        owned_scratchpad_attr(), engine, forward_pd);
    const dnnl::convolution_backward_weights::primitive_desc weights_pd(
        dnnl::convolution_backward_weights::desc(
            algorithm::convolution_direct, src_md, diff_weights_any_md, bias_md, diff_dst_md,
            spatial_strides(g.window), padding_before(g.window), padding_after(g.window)),
        owned_scratchpad_attr(), engine, forward_pd);
    primitives.set_backward(data_pd, weights_pd);
    return primitives;
  }

  // The stored pixels the convolution did not read get zero gradient.
  void zero_unread(float* diff_src) const {
    if (!reads_part()) return;
    const std::int64_t c = g.in_c, row = stored.w * c, image = stored.h * row;
    for (std::int64_t n = 0; n < g.batch; ++n) {
      float* at = diff_src + n * image;
      for (std::int64_t y = 0; y < g.in_h; ++y)
        std::fill(at + y * row + g.in_w * c, at + (y + 1) * row, 0.0f);
      std::fill(at + g.in_h * row, at + image, 0.0f);
    }
  }
};

Conv2d::Conv2d(const Conv2dGeometry& geometry, PostOp post_op, Precision precision,
               Extent2d stored_src)
    : impl_(std::make_unique<Impl>(geometry, post_op, precision, stored_src)) {}
Conv2d::~Conv2d() = default;

void Conv2d::forward(const float* src, const float* weights, const float* bias, float* dst) {
  if (impl_->grey) return impl_->grey->forward(src, weights, bias, dst);
  impl_->primitives.forward(src, weights, bias, dst);
}

void Conv2d::backward(const float* src, const float* diff_dst, const float* weights,
                      float* diff_weights, float* diff_bias, float* diff_src) {
  if (impl_->grey && diff_weights) {
    impl_->grey->backward_weights(src, diff_dst, diff_weights, diff_bias);
    diff_weights = diff_bias = nullptr;
  }
  if (!diff_weights && !diff_src) return;
  impl_->for_backward().backward(src, diff_dst, weights, diff_weights, diff_bias, diff_src, true);
  if (diff_src) impl_->zero_unread(diff_src);
}

void Conv2d::backward_data(const float* diff_dst, const float* weights, float* diff_src) {
  impl_->for_backward().backward(nullptr, diff_dst, weights, nullptr, nullptr, diff_src, false);
  impl_->zero_unread(diff_src);
}

void Conv2d::backward_weights(const float* src, const float* diff_dst, float* diff_weights,
                              float* diff_bias) {
  if (impl_->grey) return impl_->grey->backward_weights(src, diff_dst, diff_weights, diff_bias);
  impl_->for_backward().backward(src, diff_dst, nullptr, diff_weights, diff_bias, nullptr, false);
}

}  // namespace imgcls::backend
