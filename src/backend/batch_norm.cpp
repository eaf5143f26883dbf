// Batch normalisation through oneDNN, NHWC, with separate scale and shift ([C] each, the
// v2.6 flags use_scale | use_shift). Two passes, each built on first use: "batch" computes
// the statistics (forward_training writes mean and variance); "given" reads them
// (use_global_stats). Each pass's backward is built from its forward as the hint, so the
// batch pass's backward is the full gradient through the statistics.
#include "backend/backend.hpp"
#include "backend/dnnl_common.hpp"

namespace imgcls::backend {

using dnnl::normalization_flags;

namespace {
enum class Statistics { batch, given };
}  // namespace

struct BatchNorm::Impl {
  struct Pass {
    bool ready = false;
    dnnl::batch_normalization_forward::primitive_desc forward_pd;
    dnnl::batch_normalization_forward forward;
    dnnl::memory forward_scratchpad;
    bool backward_ready = false;
    dnnl::batch_normalization_backward backward;
    dnnl::memory backward_scratchpad;
  };

  ChannelGeometry g;
  float epsilon;
  dnnl::memory::desc data_md, channel_md;
  dnnl::memory src, dst, diff_src, diff_dst;
  dnnl::memory scale, shift, mean, variance, diff_scale, diff_shift;
  Pass batch_pass, given_pass;

  Impl(const ChannelGeometry& geometry, float eps) : g(geometry), epsilon(eps) {
    auto& engine = context().engine;
    data_md = f32_desc({g.batch, g.channels, g.height, g.width}, tag::nhwc);
    channel_md = f32_desc({g.channels}, tag::x);
    for (dnnl::memory* m : {&src, &dst, &diff_src, &diff_dst})
      *m = dnnl::memory(data_md, engine, DNNL_MEMORY_NONE);
    for (dnnl::memory* m : {&scale, &shift, &mean, &variance, &diff_scale, &diff_shift})
      *m = dnnl::memory(channel_md, engine, DNNL_MEMORY_NONE);
  }

  static normalization_flags flags(Statistics statistics) {
    const auto scale_shift = normalization_flags::use_scale | normalization_flags::use_shift;
    return statistics == Statistics::given ? scale_shift | normalization_flags::use_global_stats
                                           : scale_shift;
  }

  Pass& forward_pass(Statistics statistics) {
    Pass& pass = statistics == Statistics::batch ? batch_pass : given_pass;
    if (pass.ready) return pass;
    const dnnl::batch_normalization_forward::desc desc(dnnl::prop_kind::forward_training, data_md,
                                                       epsilon, flags(statistics));
    pass.forward_pd = dnnl::batch_normalization_forward::primitive_desc(
        desc, owned_scratchpad_attr(), context().engine);
    pass.forward = dnnl::batch_normalization_forward(pass.forward_pd);
    pass.forward_scratchpad = scratchpad_for(pass.forward_pd);
    pass.ready = true;
    return pass;
  }

  Pass& backward_pass(Statistics statistics) {
    Pass& pass = forward_pass(statistics);
    if (pass.backward_ready) return pass;
    const dnnl::batch_normalization_backward::desc desc(dnnl::prop_kind::backward, data_md, data_md,
                                                        epsilon, flags(statistics));
    const dnnl::batch_normalization_backward::primitive_desc pd(desc, owned_scratchpad_attr(),
                                                                context().engine, pass.forward_pd);
    pass.backward = dnnl::batch_normalization_backward(pd);
    pass.backward_scratchpad = scratchpad_for(pd);
    pass.backward_ready = true;
    return pass;
  }

  // oneDNN 2.6 counts shift among backward's inputs when use_shift is set, although the
  // gradients do not depend on it.
  void backward(Statistics statistics, const float* src_data, const float* diff_dst_data,
                const float* scale_data, const float* shift_data, const float* mean_data,
                const float* variance_data, float* diff_src_data, float* diff_scale_data,
                float* diff_shift_data) {
    Pass& pass = backward_pass(statistics);
    auto& stream = thread_stream();
    pass.backward.execute(stream, {{DNNL_ARG_SRC, bind(src, src_data)},
                                   {DNNL_ARG_DIFF_DST, bind(diff_dst, diff_dst_data)},
                                   {DNNL_ARG_SCALE, bind(scale, scale_data)},
                                   {DNNL_ARG_SHIFT, bind(shift, shift_data)},
                                   {DNNL_ARG_MEAN, bind(mean, mean_data)},
                                   {DNNL_ARG_VARIANCE, bind(variance, variance_data)},
                                   {DNNL_ARG_DIFF_SRC, bind(diff_src, diff_src_data)},
                                   {DNNL_ARG_DIFF_SCALE, bind(diff_scale, diff_scale_data)},
                                   {DNNL_ARG_DIFF_SHIFT, bind(diff_shift, diff_shift_data)},
                                   {DNNL_ARG_SCRATCHPAD, pass.backward_scratchpad}});
    stream.wait();
  }
};

BatchNorm::BatchNorm(const ChannelGeometry& geometry, float epsilon)
    : impl_(std::make_unique<Impl>(geometry, epsilon)) {}
BatchNorm::~BatchNorm() = default;

void BatchNorm::forward_training(const float* src, const float* scale, const float* shift,
                                 float* dst, float* mean, float* variance) {
  auto& s = *impl_;
  Impl::Pass& pass = s.forward_pass(Statistics::batch);
  auto& stream = thread_stream();
  pass.forward.execute(stream, {{DNNL_ARG_SRC, bind(s.src, src)},
                                {DNNL_ARG_SCALE, bind(s.scale, scale)},
                                {DNNL_ARG_SHIFT, bind(s.shift, shift)},
                                {DNNL_ARG_DST, bind(s.dst, dst)},
                                {DNNL_ARG_MEAN, bind(s.mean, mean)},
                                {DNNL_ARG_VARIANCE, bind(s.variance, variance)},
                                {DNNL_ARG_SCRATCHPAD, pass.forward_scratchpad}});
  stream.wait();
}

void BatchNorm::forward_inference(const float* src, const float* scale, const float* shift,
                                  const float* mean, const float* variance, float* dst) {
  auto& s = *impl_;
  Impl::Pass& pass = s.forward_pass(Statistics::given);
  auto& stream = thread_stream();
  pass.forward.execute(stream, {{DNNL_ARG_SRC, bind(s.src, src)},
                                {DNNL_ARG_SCALE, bind(s.scale, scale)},
                                {DNNL_ARG_SHIFT, bind(s.shift, shift)},
                                {DNNL_ARG_MEAN, bind(s.mean, mean)},
                                {DNNL_ARG_VARIANCE, bind(s.variance, variance)},
                                {DNNL_ARG_DST, bind(s.dst, dst)},
                                {DNNL_ARG_SCRATCHPAD, pass.forward_scratchpad}});
  stream.wait();
}

void BatchNorm::backward_training(const float* src, const float* diff_dst, const float* scale,
                                  const float* shift, const float* mean, const float* variance,
                                  float* diff_src, float* diff_scale, float* diff_shift) {
  impl_->backward(Statistics::batch, src, diff_dst, scale, shift, mean, variance, diff_src,
                  diff_scale, diff_shift);
}

void BatchNorm::backward_inference(const float* src, const float* diff_dst, const float* scale,
                                   const float* shift, const float* mean, const float* variance,
                                   float* diff_src, float* diff_scale, float* diff_shift) {
  impl_->backward(Statistics::given, src, diff_dst, scale, shift, mean, variance, diff_src,
                  diff_scale, diff_shift);
}

}  // namespace imgcls::backend
