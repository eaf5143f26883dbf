// Convolution through oneDNN: forward (with the post-op fused), backward-data and
// backward-weights built from the forward primitive descriptor as their hint.
// Activations stay NHWC; oneDNN picks the weight layout (format_tag::any), and the plain
// OIHW weights are reordered into it (18K floats for the seed's conv2, negligible next to
// the convolution itself).
#include "backend/backend.hpp"
#include "backend/dnnl_common.hpp"

namespace imgcls::backend {

using dnnl::algorithm;
using dnnl::prop_kind;

struct Conv2d::Impl {
  Conv2dGeometry g;
  dnnl::memory::desc src_md, dst_md, weights_any_md, bias_md;
  dnnl::convolution_forward::primitive_desc forward_pd;
  WeightedPrimitives primitives;

  Impl(const Conv2dGeometry& geometry, PostOp post_op)
      : g(geometry),
        src_md(f32_desc({g.batch, g.in_c, g.in_h, g.in_w}, tag::nhwc)),
        dst_md(f32_desc({g.batch, g.out_c, g.out_h(), g.out_w()}, tag::nhwc)),
        weights_any_md(f32_desc(weight_dims(), tag::any)),
        bias_md(f32_desc({g.out_c}, tag::x)),
        forward_pd(dnnl::convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct,
                                                   src_md, weights_any_md, bias_md, dst_md, spatial_strides(g.window),
                                                   padding_before(g.window), padding_after(g.window)),
                   post_op_attr(post_op), context().engine),
        primitives(forward_pd, src_md, dst_md, f32_desc(weight_dims(), tag::oihw), bias_md) {}

  dnnl::memory::dims weight_dims() const { return {g.out_c, g.in_c, g.window.kernel_h, g.window.kernel_w}; }

  // Backward primitives are built on the first backward call, so inference never pays.
  WeightedPrimitives& for_backward() {
    if (primitives.has_backward()) return primitives;
    auto& engine = context().engine;
    const dnnl::convolution_backward_data::primitive_desc data_pd(
        dnnl::convolution_backward_data::desc(algorithm::convolution_direct, src_md, weights_any_md, dst_md,
                                              spatial_strides(g.window), padding_before(g.window),
                                              padding_after(g.window)),
        owned_scratchpad_attr(), engine, forward_pd);
    const dnnl::convolution_backward_weights::primitive_desc weights_pd(
        dnnl::convolution_backward_weights::desc(algorithm::convolution_direct, src_md, weights_any_md, bias_md,
                                                 dst_md, spatial_strides(g.window), padding_before(g.window),
                                                 padding_after(g.window)),
        owned_scratchpad_attr(), engine, forward_pd);
    primitives.set_backward(data_pd, weights_pd);
    return primitives;
  }
};

Conv2d::Conv2d(const Conv2dGeometry& geometry, PostOp post_op)
    : impl_(std::make_unique<Impl>(geometry, post_op)) {}
Conv2d::~Conv2d() = default;

void Conv2d::forward(const float* src, const float* weights, const float* bias, float* dst) {
  impl_->primitives.forward(src, weights, bias, dst);
}

void Conv2d::backward_data(const float* diff_dst, const float* weights, float* diff_src) {
  impl_->for_backward().backward_data(diff_dst, weights, diff_src);
}

void Conv2d::backward_weights(const float* src, const float* diff_dst, float* diff_weights, float* diff_bias) {
  impl_->for_backward().backward_weights(src, diff_dst, diff_weights, diff_bias);
}

}  // namespace imgcls::backend
