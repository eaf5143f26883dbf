// The compute backend: oneDNN primitives behind a small API of plain float pointers.
// Layouts at this boundary are fixed: activations NHWC, conv weights OIHW, dense weights
// [out, in], biases [K], all fp32. Each object is built once for one geometry (batch size
// included) and precision, and reused; it owns its primitives, reorders and workspaces.
// With Precision::bf16, convolution and inner product convert their inputs to bf16
// internally and still read and write fp32 at this boundary. dnnl.hpp stays inside
// src/backend/*.cpp.
#pragma once

#include <cstdint>
#include <memory>

#include "imgcls/runtime.hpp"
#include "tensor/geometry.hpp"

namespace imgcls::backend {

// Threads used by every primitive (and by imgcls's own parallel loops).
void set_num_threads(int threads);
int num_threads();

// An activation applied to a primitive's output inside the primitive.
enum class PostOp { none, relu };

// The height and width of a stored NHWC image batch, when an op reads only its top-left part.
struct Extent2d {
  std::int64_t h = 0, w = 0;
};

class Conv2d {
 public:
  // stored_src: the size of the src images as stored, when larger than the geometry's
  // in_h x in_w: the convolution then reads only their top-left in_h x in_w pixels (a
  // following pooling layer never looks at the outputs the rest would feed), and
  // backward writes zero gradient to the pixels it did not read. {0, 0}: the geometry's.
  Conv2d(const Conv2dGeometry& geometry, PostOp post_op, Precision precision = Precision::fp32,
         Extent2d stored_src = {});
  ~Conv2d();
  Conv2d(const Conv2d&) = delete;
  Conv2d& operator=(const Conv2d&) = delete;

  // src [N, H, W, C], weights [K, C, kh, kw], bias [K] -> dst [N, OH, OW, K]
  void forward(const float* src, const float* weights, const float* bias, float* dst);
  // Both gradients of the last forward; diff_dst [N, OH, OW, K] is the gradient before the
  // post-op (the pre-activation gradient). src, diff_dst -> diff_weights [K, C, kh, kw] and
  // diff_bias [K] (overwritten); when diff_src is not null, diff_dst, weights -> diff_src
  // [N, H, W, C]. src and weights must hold what that forward used (the forward's
  // converted src and weights are reused).
  void backward(const float* src, const float* diff_dst, const float* weights, float* diff_weights,
                float* diff_bias, float* diff_src);
  // Each half of backward alone, for any weights (nothing is reused).
  void backward_data(const float* diff_dst, const float* weights, float* diff_src);
  void backward_weights(const float* src, const float* diff_dst, float* diff_weights,
                        float* diff_bias);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

enum class PoolKind { max, average };

class Pool2d {
 public:
  // with_backward false: forward only (oneDNN's forward_inference, which keeps no positions);
  // backward is then a programming error.
  Pool2d(const Pool2dGeometry& geometry, PoolKind kind, bool with_backward);
  ~Pool2d();
  Pool2d(const Pool2d&) = delete;
  Pool2d& operator=(const Pool2d&) = delete;

  // src [N, H, W, C] -> dst [N, OH, OW, C]; keeps the max positions for backward (when made
  // with it).
  void forward(const float* src, float* dst);
  // diff_dst [N, OH, OW, C] -> diff_src [N, H, W, C], using the last forward's positions or,
  // for max pooling without padding, the maxima found again in src (the last forward's).
  void backward(const float* src, const float* diff_dst, float* diff_src);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class Dense {
 public:
  Dense(const DenseGeometry& geometry, PostOp post_op, Precision precision = Precision::fp32);
  ~Dense();
  Dense(const Dense&) = delete;
  Dense& operator=(const Dense&) = delete;

  // src [N, in], weights [out, in], bias [out] -> dst [N, out]
  void forward(const float* src, const float* weights, const float* bias, float* dst);
  // As Conv2d::backward.
  void backward(const float* src, const float* diff_dst, const float* weights, float* diff_weights,
                float* diff_bias, float* diff_src);
  // diff_dst [N, out] (pre-activation gradient), weights -> diff_src [N, in]
  void backward_data(const float* diff_dst, const float* weights, float* diff_src);
  // src, diff_dst -> diff_weights [out, in], diff_bias [out] (overwritten)
  void backward_weights(const float* src, const float* diff_dst, float* diff_weights,
                        float* diff_bias);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Batch normalisation over the channels of an NHWC batch ([N, C] is H = W = 1): the
// statistics of each channel cover its N * H * W values. scale (gamma), shift (beta), mean and
// variance are [C]; variances are biased (divided by N * H * W), as the reference
// (ref/ops.hpp) defines.
class BatchNorm {
 public:
  BatchNorm(const ChannelGeometry& geometry, float epsilon);
  ~BatchNorm();
  BatchNorm(const BatchNorm&) = delete;
  BatchNorm& operator=(const BatchNorm&) = delete;

  // src, scale, shift -> dst, and this batch's mean and variance.
  void forward_training(const float* src, const float* scale, const float* shift, float* dst,
                        float* mean, float* variance);
  // src, scale, shift and the given mean and variance -> dst.
  void forward_inference(const float* src, const float* scale, const float* shift,
                         const float* mean, const float* variance, float* dst);
  // Gradients of forward_training (through the batch statistics it wrote) or of
  // forward_inference (statistics constant): diff_dst -> diff_src, diff_scale, diff_shift.
  // shift is not read by the gradients but oneDNN takes it as an argument.
  void backward_training(const float* src, const float* diff_dst, const float* scale,
                         const float* shift, const float* mean, const float* variance,
                         float* diff_src, float* diff_scale, float* diff_shift);
  void backward_inference(const float* src, const float* diff_dst, const float* scale,
                          const float* shift, const float* mean, const float* variance,
                          float* diff_src, float* diff_scale, float* diff_shift);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Elementwise activations over `count` values, with a parameter alpha:
//   leaky_relu  dst = src > 0 ? src : alpha * src
//   elu         dst = src > 0 ? src : alpha * (exp(src) - 1)
enum class EltwiseKind { leaky_relu, elu };

class Eltwise {
 public:
  Eltwise(EltwiseKind kind, std::int64_t count, float alpha);
  ~Eltwise();
  Eltwise(const Eltwise&) = delete;
  Eltwise& operator=(const Eltwise&) = delete;

  void forward(const float* src, float* dst);
  // src: the forward input; diff_src = d(dst)/d(src) * diff_dst.
  void backward(const float* src, const float* diff_dst, float* diff_src);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace imgcls::backend
