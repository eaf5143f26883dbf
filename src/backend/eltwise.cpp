// Elementwise activations through oneDNN eltwise: leaky ReLU is eltwise_relu with a
// negative slope alpha, ELU is eltwise_elu. The values are one flat array (the layout does not
// matter); the backward primitive reads the forward's src and is built from the forward as its
// hint.
#include "backend/backend.hpp"
#include "backend/dnnl_common.hpp"

namespace imgcls::backend {

namespace {
dnnl::algorithm algorithm_of(EltwiseKind kind) {
  switch (kind) {
    case EltwiseKind::leaky_relu:
      return dnnl::algorithm::eltwise_relu;
    case EltwiseKind::elu:
      return dnnl::algorithm::eltwise_elu;
  }
  return dnnl::algorithm::undef;
}
}  // namespace

struct Eltwise::Impl {
  dnnl::algorithm algorithm;
  float alpha;
  dnnl::memory::desc data_md;
  dnnl::eltwise_forward::primitive_desc forward_pd;
  dnnl::eltwise_forward forward;
  dnnl::memory src, dst, forward_scratchpad;

  bool backward_ready = false;
  dnnl::eltwise_backward backward;
  dnnl::memory diff_src, diff_dst, backward_scratchpad;

  Impl(EltwiseKind kind, std::int64_t count, float alpha_value)
      : algorithm(algorithm_of(kind)), alpha(alpha_value) {
    auto& engine = context().engine;
    data_md = f32_desc({count}, tag::x);
    const dnnl::eltwise_forward::desc desc(dnnl::prop_kind::forward_training, algorithm, data_md,
                                           alpha);
    forward_pd = dnnl::eltwise_forward::primitive_desc(desc, owned_scratchpad_attr(), engine);
    forward = dnnl::eltwise_forward(forward_pd);
    forward_scratchpad = scratchpad_for(forward_pd);
    src = dnnl::memory(data_md, engine, DNNL_MEMORY_NONE);
    dst = dnnl::memory(data_md, engine, DNNL_MEMORY_NONE);
  }

  void prepare_backward() {
    if (backward_ready) return;
    auto& engine = context().engine;
    const dnnl::eltwise_backward::desc desc(algorithm, data_md, data_md, alpha);
    const dnnl::eltwise_backward::primitive_desc pd(desc, owned_scratchpad_attr(), engine,
                                                    forward_pd);
    backward = dnnl::eltwise_backward(pd);
    backward_scratchpad = scratchpad_for(pd);
    diff_src = dnnl::memory(data_md, engine, DNNL_MEMORY_NONE);
    diff_dst = dnnl::memory(data_md, engine, DNNL_MEMORY_NONE);
    backward_ready = true;
  }
};

Eltwise::Eltwise(EltwiseKind kind, std::int64_t count, float alpha)
    : impl_(std::make_unique<Impl>(kind, count, alpha)) {}
Eltwise::~Eltwise() = default;

void Eltwise::forward(const float* src, float* dst) {
  auto& s = *impl_;
  auto& stream = thread_stream();
  s.forward.execute(stream, {{DNNL_ARG_SRC, bind(s.src, src)},
                             {DNNL_ARG_DST, bind(s.dst, dst)},
                             {DNNL_ARG_SCRATCHPAD, s.forward_scratchpad}});
  stream.wait();
}

void Eltwise::backward(const float* src, const float* diff_dst, float* diff_src) {
  auto& s = *impl_;
  s.prepare_backward();
  auto& stream = thread_stream();
  s.backward.execute(stream, {{DNNL_ARG_SRC, bind(s.src, src)},
                              {DNNL_ARG_DIFF_DST, bind(s.diff_dst, diff_dst)},
                              {DNNL_ARG_DIFF_SRC, bind(s.diff_src, diff_src)},
                              {DNNL_ARG_SCRATCHPAD, s.backward_scratchpad}});
  stream.wait();
}

}  // namespace imgcls::backend
