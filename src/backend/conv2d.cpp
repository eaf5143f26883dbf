// Convolution through oneDNN: forward (with the post-op fused), backward-data and
// backward-weights built from the forward primitive descriptor as their hint.
// Activations stay NHWC; oneDNN picks the weight layout (format_tag::any), and
// FormatBridge reorders the plain OIHW weights into it (18K floats for the seed's conv2,
// negligible next to the convolution itself).
#include "backend/backend.hpp"
#include "backend/dnnl_common.hpp"

namespace imgcls::backend {

using dnnl::algorithm;
using dnnl::prop_kind;

struct Conv2d::Impl {
  Conv2dGeometry g;
  dnnl::memory::desc src_md, dst_md, weights_user_md, weights_any_md, bias_md;
  dnnl::convolution_forward::primitive_desc forward_pd;
  dnnl::convolution_forward forward;
  dnnl::memory src, dst, bias, forward_scratchpad;
  FormatBridge forward_weights;

  bool backward_ready = false;
  dnnl::convolution_backward_data backward_data;
  dnnl::convolution_backward_weights backward_weights;
  dnnl::memory diff_src, diff_dst, diff_bias, backward_data_scratchpad, backward_weights_scratchpad;
  FormatBridge backward_data_weights, diff_weights;

  Impl(const Conv2dGeometry& geometry, PostOp post_op) : g(geometry) {
    auto& engine = context().engine;
    src_md = f32_desc({g.batch, g.in_c, g.in_h, g.in_w}, tag::nhwc);
    dst_md = f32_desc({g.batch, g.out_c, g.out_h(), g.out_w()}, tag::nhwc);
    const dnnl::memory::dims weight_dims{g.out_c, g.in_c, g.window.kernel_h, g.window.kernel_w};
    weights_user_md = f32_desc(weight_dims, tag::oihw);
    weights_any_md = f32_desc(weight_dims, tag::any);
    bias_md = f32_desc({g.out_c}, tag::x);

    dnnl::primitive_attr attr = owned_scratchpad_attr();
    if (post_op == PostOp::relu) {
      dnnl::post_ops ops;
      ops.append_eltwise(1.0f, algorithm::eltwise_relu, 0.0f, 0.0f);
      attr.set_post_ops(ops);
    }
    const dnnl::convolution_forward::desc desc(
        prop_kind::forward_training, algorithm::convolution_direct, src_md, weights_any_md,
        bias_md, dst_md, spatial_strides(g.window), padding_before(g.window),
        padding_after(g.window));
    forward_pd = dnnl::convolution_forward::primitive_desc(desc, attr, engine);
    forward = dnnl::convolution_forward(forward_pd);
    src = dnnl::memory(src_md, engine, DNNL_MEMORY_NONE);
    dst = dnnl::memory(dst_md, engine, DNNL_MEMORY_NONE);
    bias = dnnl::memory(bias_md, engine, DNNL_MEMORY_NONE);
    forward_weights = FormatBridge(weights_user_md, forward_pd.weights_desc());
    forward_scratchpad = scratchpad_for(forward_pd);
  }

  // Backward primitives are built on the first backward call, so inference never pays.
  void prepare_backward() {
    if (backward_ready) return;
    auto& engine = context().engine;
    const dnnl::convolution_backward_data::desc data_desc(
        algorithm::convolution_direct, src_md, weights_any_md, dst_md, spatial_strides(g.window),
        padding_before(g.window), padding_after(g.window));
    const dnnl::convolution_backward_data::primitive_desc data_pd(data_desc, owned_scratchpad_attr(), engine, forward_pd);
    backward_data = dnnl::convolution_backward_data(data_pd);
    backward_data_weights = FormatBridge(weights_user_md, data_pd.weights_desc());

    const dnnl::convolution_backward_weights::desc weights_desc(
        algorithm::convolution_direct, src_md, weights_any_md, bias_md, dst_md,
        spatial_strides(g.window), padding_before(g.window), padding_after(g.window));
    const dnnl::convolution_backward_weights::primitive_desc weights_pd(weights_desc, owned_scratchpad_attr(), engine,
                                                                        forward_pd);
    backward_weights = dnnl::convolution_backward_weights(weights_pd);
    diff_weights = FormatBridge(weights_user_md, weights_pd.diff_weights_desc());

    backward_data_scratchpad = scratchpad_for(data_pd);
    backward_weights_scratchpad = scratchpad_for(weights_pd);
    diff_src = dnnl::memory(src_md, engine, DNNL_MEMORY_NONE);
    diff_dst = dnnl::memory(dst_md, engine, DNNL_MEMORY_NONE);
    diff_bias = dnnl::memory(bias_md, engine, DNNL_MEMORY_NONE);
    backward_ready = true;
  }
};

Conv2d::Conv2d(const Conv2dGeometry& geometry, PostOp post_op)
    : impl_(std::make_unique<Impl>(geometry, post_op)) {}
Conv2d::~Conv2d() = default;

void Conv2d::forward(const float* src, const float* weights, const float* bias, float* dst) {
  auto& s = *impl_;
  auto& stream = context().stream;
  s.forward.execute(stream, {{DNNL_ARG_SRC, bind(s.src, src)},
                             {DNNL_ARG_WEIGHTS, s.forward_weights.to_primitive(weights)},
                             {DNNL_ARG_BIAS, bind(s.bias, bias)},
                             {DNNL_ARG_DST, bind(s.dst, dst)},
                             {DNNL_ARG_SCRATCHPAD, s.forward_scratchpad}});
  stream.wait();
}

void Conv2d::backward_data(const float* diff_dst, const float* weights, float* diff_src) {
  auto& s = *impl_;
  s.prepare_backward();
  auto& stream = context().stream;
  s.backward_data.execute(stream,
                          {{DNNL_ARG_DIFF_DST, bind(s.diff_dst, diff_dst)},
                           {DNNL_ARG_WEIGHTS, s.backward_data_weights.to_primitive(weights)},
                           {DNNL_ARG_DIFF_SRC, bind(s.diff_src, diff_src)},
                           {DNNL_ARG_SCRATCHPAD, s.backward_data_scratchpad}});
  stream.wait();
}

void Conv2d::backward_weights(const float* src, const float* diff_dst, float* diff_weights,
                              float* diff_bias) {
  auto& s = *impl_;
  s.prepare_backward();
  auto& stream = context().stream;
  s.backward_weights.execute(
      stream, {{DNNL_ARG_SRC, bind(s.src, src)},
               {DNNL_ARG_DIFF_DST, bind(s.diff_dst, diff_dst)},
               {DNNL_ARG_DIFF_WEIGHTS, s.diff_weights.primitive_output(diff_weights)},
               {DNNL_ARG_DIFF_BIAS, bind(s.diff_bias, diff_bias)},
               {DNNL_ARG_SCRATCHPAD, s.backward_weights_scratchpad}});
  s.diff_weights.to_user(diff_weights);
  stream.wait();
}

}  // namespace imgcls::backend
