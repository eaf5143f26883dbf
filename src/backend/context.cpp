// The oneDNN engine, stream, thread count and FormatBridge.
#include <omp.h>

#include <cstring>

#include "backend/backend.hpp"
#include "backend/dnnl_common.hpp"
#include "core/check.hpp"

namespace imgcls::backend {

Context& context() {
  static Context instance;
  return instance;
}

dnnl::stream& thread_stream() {
  thread_local dnnl::stream stream{context().engine};
  return stream;
}

void set_num_threads(int threads) {
  IMGCLS_CHECK(threads >= 1, "thread count must be at least 1, got {}", threads);
  omp_set_num_threads(threads);
}

int num_threads() { return omp_get_max_threads(); }

FormatBridge::FormatBridge(const dnnl::memory::desc& user, const dnnl::memory::desc& primitive)
    : same_(user == primitive),
      primitive_md_(primitive),
      user_(user, context().engine, DNNL_MEMORY_NONE) {
  if (same_) return;
  primitive_ = dnnl::memory(primitive, context().engine);
  to_primitive_ = dnnl::reorder(user_, primitive_);
  to_user_ = dnnl::reorder(primitive_, user_);
}

dnnl::memory FormatBridge::to_primitive(const float* user_data) {
  bind(user_, user_data);
  if (same_) return user_;
  to_primitive_.execute(thread_stream(), user_, primitive_);
  return primitive_;
}

dnnl::memory FormatBridge::to_primitive_if_changed(const float* user_data) {
  if (same_) return to_primitive(user_data);
  const std::size_t count = user_.get_desc().get_size() / sizeof(float);
  if (converted_from_.size() == count &&
      std::memcmp(user_data, converted_from_.data(), count * sizeof(float)) == 0)
    return primitive_;
  dnnl::memory converted = to_primitive(user_data);
  converted_from_.assign(user_data, user_data + count);
  return converted;
}

dnnl::memory FormatBridge::primitive_output(float* user_data) {
  bind(user_, user_data);
  return same_ ? user_ : primitive_;
}

void FormatBridge::to_user(float* user_data) {
  if (same_) return;
  bind(user_, user_data);
  to_user_.execute(thread_stream(), primitive_, user_);
}

}  // namespace imgcls::backend

namespace imgcls::backend {

WeightedPrimitives::WeightedPrimitives(const dnnl::primitive_desc& forward,
                                       const dnnl::memory::desc& src_user,
                                       const dnnl::memory::desc& dst,
                                       const dnnl::memory::desc& weights_user,
                                       const dnnl::memory::desc& bias)
    : src_user_(src_user),
      weights_user_(weights_user),
      dst_user_(dst),
      forward_(forward),
      dst_(dst, context().engine, DNNL_MEMORY_NONE),
      bias_(bias, context().engine, DNNL_MEMORY_NONE),
      forward_scratchpad_(scratchpad_for(forward)),
      diff_bias_(bias, context().engine, DNNL_MEMORY_NONE),
      src_(src_user, forward.query_md(dnnl::query::src_md)),
      forward_weights_(weights_user, forward.query_md(dnnl::query::weights_md)) {
  IMGCLS_CHECK(forward.query_md(dnnl::query::dst_md) == dst,
               "the forward primitive must write fp32 dst as given");
}

void WeightedPrimitives::set_backward(const dnnl::primitive_desc& backward_data,
                                      const dnnl::primitive_desc& backward_weights) {
  IMGCLS_CHECK(backward_weights.query_md(dnnl::query::src_md) == src_.primitive_desc(),
               "backward weights must read src as forward does");
  const dnnl::memory::desc diff_dst = backward_data.query_md(dnnl::query::diff_dst_md);
  IMGCLS_CHECK(backward_weights.query_md(dnnl::query::diff_dst_md) == diff_dst,
               "backward data and backward weights must read diff_dst alike");
  backward_data_ = dnnl::primitive(backward_data);
  backward_weights_ = dnnl::primitive(backward_weights);
  backward_data_scratchpad_ = scratchpad_for(backward_data);
  backward_weights_scratchpad_ = scratchpad_for(backward_weights);
  diff_dst_ = FormatBridge(dst_user_, diff_dst);
  backward_data_weights_ =
      FormatBridge(weights_user_, backward_data.query_md(dnnl::query::weights_md));
  diff_src_ = FormatBridge(src_user_, backward_data.query_md(dnnl::query::diff_src_md));
  diff_weights_ =
      FormatBridge(weights_user_, backward_weights.query_md(dnnl::query::diff_weights_md));
  data_weights_as_forward_ =
      backward_data.query_md(dnnl::query::weights_md) == forward_weights_.primitive_desc();
  has_backward_ = true;
}

void WeightedPrimitives::forward(const float* src, const float* weights, const float* bias,
                                 float* dst) {
  auto& stream = thread_stream();
  forward_.execute(stream, {{DNNL_ARG_SRC, src_.to_primitive(src)},
                            {DNNL_ARG_WEIGHTS, forward_weights_.to_primitive_if_changed(weights)},
                            {DNNL_ARG_BIAS, bind(bias_, bias)},
                            {DNNL_ARG_DST, bind(dst_, dst)},
                            {DNNL_ARG_SCRATCHPAD, forward_scratchpad_}});
  stream.wait();
  forward_ran_ = true;
}

void WeightedPrimitives::backward(const float* src, const float* diff_dst, const float* weights,
                                  float* diff_weights, float* diff_bias, float* diff_src,
                                  bool as_forward) {
  IMGCLS_CHECK(has_backward_, "backward primitives not built");
  auto& stream = thread_stream();
  const dnnl::memory diff_dst_memory = diff_dst_.to_primitive(diff_dst);
  const bool reuse = as_forward && forward_ran_;
  if (diff_weights) {
    backward_weights_.execute(
        stream, {{DNNL_ARG_SRC, reuse ? src_.last_converted() : src_.to_primitive(src)},
                 {DNNL_ARG_DIFF_DST, diff_dst_memory},
                 {DNNL_ARG_DIFF_WEIGHTS, diff_weights_.primitive_output(diff_weights)},
                 {DNNL_ARG_DIFF_BIAS, bind(diff_bias_, diff_bias)},
                 {DNNL_ARG_SCRATCHPAD, backward_weights_scratchpad_}});
    diff_weights_.to_user(diff_weights);
  }
  if (diff_src) {
    backward_data_.execute(stream,
                           {{DNNL_ARG_DIFF_DST, diff_dst_memory},
                            {DNNL_ARG_WEIGHTS, reuse && data_weights_as_forward_
                                                   ? forward_weights_.last_converted()
                                                   : backward_data_weights_.to_primitive(weights)},
                            {DNNL_ARG_DIFF_SRC, diff_src_.primitive_output(diff_src)},
                            {DNNL_ARG_SCRATCHPAD, backward_data_scratchpad_}});
    diff_src_.to_user(diff_src);
  }
  stream.wait();
}

}  // namespace imgcls::backend
