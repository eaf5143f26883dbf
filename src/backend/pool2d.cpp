// Pooling through oneDNN, NHWC. Max pooling's training forward keeps a workspace (the argmax
// positions) that its backward reads; the workspace lives here, one per geometry. Made
// without backward, the forward is oneDNN's forward_inference, which writes none.
#include "backend/backend.hpp"
#include "backend/dnnl_common.hpp"
#include "core/check.hpp"

namespace imgcls::backend {

struct Pool2d::Impl {
  Pool2dGeometry g;
  bool with_backward;
  dnnl::algorithm algorithm;
  dnnl::memory::desc src_md, dst_md;
  dnnl::pooling_forward::primitive_desc forward_pd;
  dnnl::pooling_forward forward;
  dnnl::memory src, dst, workspace, forward_scratchpad;

  bool backward_ready = false;
  dnnl::pooling_backward backward;
  dnnl::memory diff_src, diff_dst, backward_scratchpad;

  Impl(const Pool2dGeometry& geometry, PoolKind kind, bool keeps_positions)
      : g(geometry), with_backward(keeps_positions) {
    auto& engine = context().engine;
    algorithm = kind == PoolKind::max ? dnnl::algorithm::pooling_max
                                      : dnnl::algorithm::pooling_avg_exclude_padding;
    src_md = f32_desc({g.batch, g.channels, g.in_h, g.in_w}, tag::nhwc);
    dst_md = f32_desc({g.batch, g.channels, g.out_h(), g.out_w()}, tag::nhwc);
    const dnnl::pooling_forward::desc desc(
        with_backward ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference,
        algorithm, src_md, dst_md, spatial_strides(g.window), spatial_kernel(g.window),
        padding_before(g.window), padding_after(g.window));
    forward_pd = dnnl::pooling_forward::primitive_desc(desc, owned_scratchpad_attr(), engine);
    forward_scratchpad = scratchpad_for(forward_pd);
    forward = dnnl::pooling_forward(forward_pd);
    src = dnnl::memory(src_md, engine, DNNL_MEMORY_NONE);
    dst = dnnl::memory(dst_md, engine, DNNL_MEMORY_NONE);
    workspace = dnnl::memory(forward_pd.workspace_desc(), engine);
  }

  void prepare_backward() {
    if (backward_ready) return;
    IMGCLS_CHECK(with_backward, "pooling made for forward only");
    auto& engine = context().engine;
    const dnnl::pooling_backward::desc desc(algorithm, src_md, dst_md, spatial_strides(g.window),
                                            spatial_kernel(g.window), padding_before(g.window),
                                            padding_after(g.window));
    const dnnl::pooling_backward::primitive_desc pd(desc, owned_scratchpad_attr(), engine,
                                                    forward_pd);
    backward_scratchpad = scratchpad_for(pd);
    backward = dnnl::pooling_backward(pd);
    diff_src = dnnl::memory(src_md, engine, DNNL_MEMORY_NONE);
    diff_dst = dnnl::memory(dst_md, engine, DNNL_MEMORY_NONE);
    backward_ready = true;
  }
};

Pool2d::Pool2d(const Pool2dGeometry& geometry, PoolKind kind, bool with_backward)
    : impl_(std::make_unique<Impl>(geometry, kind, with_backward)) {}
Pool2d::~Pool2d() = default;

void Pool2d::forward(const float* src, float* dst) {
  auto& s = *impl_;
  auto& stream = thread_stream();
  s.forward.execute(stream, {{DNNL_ARG_SRC, bind(s.src, src)},
                             {DNNL_ARG_DST, bind(s.dst, dst)},
                             {DNNL_ARG_WORKSPACE, s.workspace},
                             {DNNL_ARG_SCRATCHPAD, s.forward_scratchpad}});
  stream.wait();
}

void Pool2d::backward(const float* diff_dst, float* diff_src) {
  auto& s = *impl_;
  s.prepare_backward();
  auto& stream = thread_stream();
  s.backward.execute(stream, {{DNNL_ARG_DIFF_DST, bind(s.diff_dst, diff_dst)},
                              {DNNL_ARG_DIFF_SRC, bind(s.diff_src, diff_src)},
                              {DNNL_ARG_WORKSPACE, s.workspace},
                              {DNNL_ARG_SCRATCHPAD, s.backward_scratchpad}});
  stream.wait();
}

}  // namespace imgcls::backend
