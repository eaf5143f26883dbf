// Pooling through oneDNN, NHWC. Max pooling over windows without padding (every Pool2D
// layer's) runs oneDNN's forward_inference, which keeps no positions, and its backward here
// finds each window's maximum again in src: oneDNN's training forward, which writes the
// argmax positions into a workspace, and its backward took four to five times as long as
// forward_inference on an Intel Xeon (family 6 model 167), where they were 20% of the
// seed's training step. Other pooling (padded max windows, average) is oneDNN's forward and
// backward; a padded max pooling keeps the workspace here, one per geometry.
#include <algorithm>
#include <vector>

#include "backend/backend.hpp"
#include "backend/dnnl_common.hpp"
#include "core/check.hpp"
#include "core/parallel.hpp"

namespace imgcls::backend {

namespace {

// Max pooling's gradient over one image, windows without padding: each window's gradient
// goes to the first position, row by row, holding its maximum in src (what the reference
// does, and where oneDNN's workspace points). offsets: of each window position from the
// window's first, in that order. Branch-free over blocks of channels, so it vectorises.
IMGCLS_VECTOR_CLONES
void max_pool_backward_image(const Pool2dGeometry& g, const std::vector<std::int64_t>& offsets,
                             const float* src, const float* gradient, float* diff_src) {
  using i64 = std::int64_t;
  constexpr i64 kBlock = 16;  // channels at a time: one AVX-512 register
  const i64 channels = g.channels, row = g.in_w * channels;
  const Window2d& w = g.window;
  std::fill(diff_src, diff_src + g.in_h * row, 0.0f);
  for (i64 oy = 0; oy < g.out_h(); ++oy)
    for (i64 ox = 0; ox < g.out_w(); ++ox, gradient += channels) {
      const i64 corner = oy * w.stride_h * row + ox * w.stride_w * channels;
      for (i64 c0 = 0; c0 < channels; c0 += kBlock) {
        const i64 block = std::min(kBlock, channels - c0);
        float top[kBlock], open[kBlock];  // the window's maximum; 1 until it is given
        const float* first = src + corner + c0;
        for (i64 c = 0; c < block; ++c) top[c] = first[c];
        for (std::size_t k = 1; k < offsets.size(); ++k) {
          const float* at = src + corner + offsets[k] + c0;
          for (i64 c = 0; c < block; ++c) top[c] = at[c] > top[c] ? at[c] : top[c];
        }
        for (i64 c = 0; c < block; ++c) open[c] = 1.0f;
        for (const i64 offset : offsets) {
          const float* at = src + corner + offset + c0;
          float* to = diff_src + corner + offset + c0;
          for (i64 c = 0; c < block; ++c) {
            const bool take = open[c] != 0.0f && at[c] == top[c];
            to[c] += take ? gradient[c0 + c] : 0.0f;
            open[c] = take ? 0.0f : open[c];
          }
        }
      }
    }
}

// The offsets max_pool_backward_image takes: of each window position from the first, row
// by row, in an NHWC image of g's size.
std::vector<std::int64_t> window_offsets(const Pool2dGeometry& g) {
  std::vector<std::int64_t> offsets;
  for (std::int64_t y = 0; y < g.window.kernel_h; ++y)
    for (std::int64_t x = 0; x < g.window.kernel_w; ++x)
      offsets.push_back((y * g.in_w + x) * g.channels);
  return offsets;
}

// The same over a batch, in parallel over images, so every diff_src element is summed in
// one order whatever the thread count.
void max_pool_backward(const Pool2dGeometry& g, const std::vector<std::int64_t>& offsets,
                       const float* src, const float* diff_dst, float* diff_src) {
  using i64 = std::int64_t;
  const i64 image = g.in_h * g.in_w * g.channels, out_image = g.out_h() * g.out_w() * g.channels;
#pragma omp parallel for schedule(static)
  for (i64 n = 0; n < g.batch; ++n)
    max_pool_backward_image(g, offsets, src + n * image, diff_dst + n * out_image,
                            diff_src + n * image);
}

}  // namespace

struct Pool2d::Impl {
  Pool2dGeometry g;
  bool with_backward;
  bool own_backward;  // max pooling without padding: forward_inference, backward here
  std::vector<std::int64_t> offsets;  // own_backward's: window_offsets(g)
  dnnl::algorithm algorithm;
  dnnl::memory::desc src_md, dst_md;
  dnnl::pooling_forward::primitive_desc forward_pd;
  dnnl::pooling_forward forward;
  dnnl::memory src, dst, workspace, forward_scratchpad;

  bool backward_ready = false;
  dnnl::pooling_backward backward;
  dnnl::memory diff_src, diff_dst, backward_scratchpad;

  Impl(const Pool2dGeometry& geometry, PoolKind kind, bool keeps_positions)
      : g(geometry),
        with_backward(keeps_positions),
        own_backward(kind == PoolKind::max && !has_padding(geometry.window)) {
    auto& engine = context().engine;
    if (own_backward) offsets = window_offsets(g);
    algorithm = kind == PoolKind::max ? dnnl::algorithm::pooling_max
                                      : dnnl::algorithm::pooling_avg_exclude_padding;
    src_md = f32_desc({g.batch, g.channels, g.in_h, g.in_w}, tag::nhwc);
    dst_md = f32_desc({g.batch, g.channels, g.out_h(), g.out_w()}, tag::nhwc);
    const dnnl::pooling_forward::desc desc(
        with_backward && !own_backward ? dnnl::prop_kind::forward_training
                                       : dnnl::prop_kind::forward_inference,
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

void Pool2d::backward(const float* src, const float* diff_dst, float* diff_src) {
  auto& s = *impl_;
  IMGCLS_CHECK(s.with_backward, "pooling made for forward only");
  if (s.own_backward) return max_pool_backward(s.g, s.offsets, src, diff_dst, diff_src);
  s.prepare_backward();
  auto& stream = thread_stream();
  s.backward.execute(stream, {{DNNL_ARG_DIFF_DST, bind(s.diff_dst, diff_dst)},
                              {DNNL_ARG_DIFF_SRC, bind(s.diff_src, diff_src)},
                              {DNNL_ARG_WORKSPACE, s.workspace},
                              {DNNL_ARG_SCRATCHPAD, s.backward_scratchpad}});
  stream.wait();
}

}  // namespace imgcls::backend
