// Fully connected layers through oneDNN inner product: src [N, in] plain fp32 at the
// boundary, weights plain [out, in] in fp32 (in bf16 converted to the layout oneDNN picks),
// the post-op fused into forward. In bf16, src, weights and diff_dst are converted on the
// way in.
#include "backend/backend.hpp"
#include "backend/dnnl_common.hpp"

namespace imgcls::backend {

using dnnl::prop_kind;

struct Dense::Impl {
  DenseGeometry g;
  dnnl::memory::desc src_md, src_user_md, dst_md, diff_dst_md, weights_any_md, diff_weights_any_md,
      bias_md;
  dnnl::inner_product_forward::primitive_desc forward_pd;
  WeightedPrimitives primitives;

  Impl(const DenseGeometry& geometry, PostOp post_op, Precision precision)
      : g(geometry),
        src_md(dnnl::memory::desc({g.batch, g.in_features}, compute_type(precision), tag::nc)),
        src_user_md(f32_desc({g.batch, g.in_features}, tag::nc)),
        dst_md(f32_desc({g.batch, g.out_features}, tag::nc)),
        diff_dst_md(
            dnnl::memory::desc({g.batch, g.out_features}, compute_type(precision), tag::nc)),
        weights_any_md(dnnl::memory::desc({g.out_features, g.in_features}, compute_type(precision),
                                          weight_tag(precision))),
        diff_weights_any_md(f32_desc({g.out_features, g.in_features}, weight_tag(precision))),
        bias_md(f32_desc({g.out_features}, tag::x)),
        forward_pd(dnnl::inner_product_forward::desc(prop_kind::forward_training, src_md,
                                                     weights_any_md, bias_md, dst_md),
                   post_op_attr(post_op), context().engine),
        primitives(forward_pd, src_user_md, dst_md,
                   f32_desc({g.out_features, g.in_features}, tag::oi), bias_md) {}

  // fp32: the plain [out, in] layout imgcls keeps, so no weight reorder at all: oneDNN's gemm
  // path on it beats its blocked brgemm plus the reorders at every batch size measured for
  // the seed's fc1 (bench/bench_ops.cpp, 2 threads: batch 1 forward 5 us vs 36; batch 32
  // forward + both backward 125 us vs 159; batch 256 794 vs 837). bf16: oneDNN's choice,
  // since the weights are converted anyway.
  static tag weight_tag(Precision precision) {
    return precision == Precision::fp32 ? tag::oi : tag::any;
  }

  WeightedPrimitives& for_backward() {
    if (primitives.has_backward()) return primitives;
    auto& engine = context().engine;
    const dnnl::inner_product_backward_data::primitive_desc data_pd(
        dnnl::inner_product_backward_data::desc(src_user_md, weights_any_md, diff_dst_md),
        owned_scratchpad_attr(), engine, forward_pd);
    const dnnl::inner_product_backward_weights::primitive_desc weights_pd(
        dnnl::inner_product_backward_weights::desc(src_md, diff_weights_any_md, bias_md,
                                                   diff_dst_md),
        owned_scratchpad_attr(), engine, forward_pd);
    primitives.set_backward(data_pd, weights_pd);
    return primitives;
  }
};

Dense::Dense(const DenseGeometry& geometry, PostOp post_op, Precision precision)
    : impl_(std::make_unique<Impl>(geometry, post_op, precision)) {}
Dense::~Dense() = default;

void Dense::forward(const float* src, const float* weights, const float* bias, float* dst) {
  impl_->primitives.forward(src, weights, bias, dst);
}

void Dense::backward(const float* src, const float* diff_dst, const float* weights,
                     float* diff_weights, float* diff_bias, float* diff_src) {
  impl_->for_backward().backward(src, diff_dst, weights, diff_weights, diff_bias, diff_src, true);
}

void Dense::backward_data(const float* diff_dst, const float* weights, float* diff_src) {
  impl_->for_backward().backward(nullptr, diff_dst, weights, nullptr, nullptr, diff_src, false);
}

void Dense::backward_weights(const float* src, const float* diff_dst, float* diff_weights,
                             float* diff_bias) {
  impl_->for_backward().backward(src, diff_dst, nullptr, diff_weights, diff_bias, nullptr, false);
}

}  // namespace imgcls::backend
