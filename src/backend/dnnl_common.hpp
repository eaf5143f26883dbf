// Private to src/backend: the oneDNN engine and stream, descriptor helpers, and
// FormatBridge, which lets a primitive use its preferred weight format while the rest of
// imgcls keeps weights in plain layouts. Only src/backend/*.cpp include this file.
#pragma once

#include <dnnl.hpp>
#include <vector>

#include "backend/backend.hpp"
#include "core/check.hpp"
#include "imgcls/runtime.hpp"
#include "tensor/geometry.hpp"

namespace imgcls::backend {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

// The one CPU engine and its in-order stream, created on first use.
struct Context {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
};
Context& context();
// This thread's stream on the engine: primitives run from several threads at once (one plan
// per thread), and a oneDNN stream is not to be shared between threads.
dnnl::stream& thread_stream();

inline dnnl::memory::desc f32_desc(const dnnl::memory::dims& dims, tag format) {
  return dnnl::memory::desc(dims, dt::f32, format);
}

// Attributes for every primitive: the scratchpad is owned by the primitive's wrapper
// (allocated once, passed at every execution) instead of being allocated by the library.
inline dnnl::primitive_attr owned_scratchpad_attr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}
inline dnnl::memory scratchpad_for(const dnnl::primitive_desc_base& pd) {
  return dnnl::memory(pd.scratchpad_desc(), context().engine);
}

// Owned scratchpad plus the post-op fused into a forward primitive.
inline dnnl::primitive_attr post_op_attr(PostOp post_op) {
  dnnl::primitive_attr attr = owned_scratchpad_attr();
  if (post_op == PostOp::relu) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    attr.set_post_ops(ops);
  }
  return attr;
}

// A user buffer viewed as oneDNN memory; the pointer is rebound on every call.
inline dnnl::memory bind(dnnl::memory& memory, const float* data) {
  memory.set_data_handle(const_cast<float*>(data));
  return memory;
}

// Moves a tensor between the plain fp32 layout imgcls keeps (user) and what a primitive
// computes on (primitive): its chosen layout, bf16, or the dense copy of a strided view.
// When both are equal no copy is made.
class FormatBridge {
 public:
  FormatBridge() = default;
  FormatBridge(const dnnl::memory::desc& user, const dnnl::memory::desc& primitive);
  // Memory in the primitive's layout holding the values of `user_data`.
  dnnl::memory to_primitive(const float* user_data);
  // The same for a dense user tensor that seldom changes (weights between updates): the
  // conversion is skipped when `user_data` holds the values of the last call, bit for bit,
  // compared with a copy kept here (a read of the weights instead of a reorder into a new
  // layout).
  dnnl::memory to_primitive_if_changed(const float* user_data);
  // Memory the primitive writes into; call to_user() afterwards.
  dnnl::memory primitive_output(float* user_data);
  void to_user(float* user_data);
  const dnnl::memory::desc& primitive_desc() const { return primitive_md_; }
  // What the last to_primitive() returned.
  dnnl::memory last_converted() const { return same_ ? user_ : primitive_; }

 private:
  bool same_ = true;
  dnnl::memory::desc primitive_md_;
  dnnl::memory user_, primitive_;
  dnnl::reorder to_primitive_, to_user_;
  std::vector<float> converted_from_;  // to_primitive_if_changed: the values last converted
};

// The data type convolution and inner product multiply in. bf16 only where the CPU
// multiplies it in hardware (bf16_supported()): elsewhere oneDNN would emulate it, slower
// than fp32, or have no bf16 convolution at all.
inline dt compute_type(Precision precision) {
  IMGCLS_CHECK(
      precision == Precision::fp32 || bf16_supported(),
      "bf16 needs a CPU with AVX512-BF16 or AMX (as oneDNN sees it); this one has neither");
  return precision == Precision::bf16 ? dt::bf16 : dt::f32;
}

// What convolution and inner product share once their primitive descriptors exist: the
// forward, backward-data and backward-weights primitives, the bridges between the fp32
// buffers imgcls passes (src_user may be a strided view: the part of a larger image the
// op reads) and what each primitive computes on (dense, bf16 or fp32, weights in the
// primitive's layout), the owned scratchpads, and execution on plain float pointers.
// dst, bias and the weight gradients are fp32 in both precisions.
class WeightedPrimitives {
 public:
  WeightedPrimitives(const dnnl::primitive_desc& forward, const dnnl::memory::desc& src_user,
                     const dnnl::memory::desc& dst, const dnnl::memory::desc& weights_user,
                     const dnnl::memory::desc& bias);
  bool has_backward() const { return has_backward_; }
  // Both descriptors were built with the forward one as their hint.
  void set_backward(const dnnl::primitive_desc& backward_data,
                    const dnnl::primitive_desc& backward_weights);

  void forward(const float* src, const float* weights, const float* bias, float* dst);
  // diff_weights (with diff_bias) and diff_src are each skipped when null; diff_dst is
  // converted once for both. With as_forward, `src` and `weights` hold what the last
  // forward used, and that forward's converted copies are reused (its src always, its
  // weights when backward-data wants their layout): no second crop or bf16 conversion.
  void backward(const float* src, const float* diff_dst, const float* weights, float* diff_weights,
                float* diff_bias, float* diff_src, bool as_forward);

 private:
  dnnl::memory::desc src_user_, weights_user_, dst_user_;
  dnnl::primitive forward_, backward_data_, backward_weights_;
  dnnl::memory dst_, bias_, forward_scratchpad_;
  dnnl::memory diff_bias_, backward_data_scratchpad_, backward_weights_scratchpad_;
  FormatBridge src_, forward_weights_;
  FormatBridge diff_dst_, backward_data_weights_, diff_src_, diff_weights_;
  bool has_backward_ = false;
  bool data_weights_as_forward_ = false;  // backward-data reads the forward's weight layout
  bool forward_ran_ = false;
};

inline dnnl::memory::dims spatial_strides(const Window2d& w) { return {w.stride_h, w.stride_w}; }
inline dnnl::memory::dims spatial_kernel(const Window2d& w) { return {w.kernel_h, w.kernel_w}; }
inline dnnl::memory::dims padding_before(const Window2d& w) { return {w.pad_top, w.pad_left}; }
inline dnnl::memory::dims padding_after(const Window2d& w) { return {w.pad_bottom, w.pad_right}; }

}  // namespace imgcls::backend
