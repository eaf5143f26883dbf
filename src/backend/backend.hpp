// The compute backend: oneDNN primitives behind a small API of plain float pointers.
// Layouts at this boundary are fixed: activations NHWC, conv weights OIHW, dense weights
// [out, in], biases [K]. Each object is built once for one geometry (batch size included)
// and reused; it owns its primitives, reorders and workspaces. dnnl.hpp stays inside
// src/backend/*.cpp.
#pragma once

#include <cstdint>
#include <memory>

#include "tensor/geometry.hpp"

namespace imgcls::backend {

// Threads used by every primitive (and by imgcls's own parallel loops).
void set_num_threads(int threads);
int num_threads();

// An activation applied to a primitive's output inside the primitive.
enum class PostOp { none, relu };

class Conv2d {
 public:
  Conv2d(const Conv2dGeometry& geometry, PostOp post_op);
  ~Conv2d();
  Conv2d(const Conv2d&) = delete;
  Conv2d& operator=(const Conv2d&) = delete;

  // src [N, H, W, C], weights [K, C, kh, kw], bias [K] -> dst [N, OH, OW, K]
  void forward(const float* src, const float* weights, const float* bias, float* dst);
  // diff_dst [N, OH, OW, K] (gradient before the post-op is undone: pass the
  // pre-activation gradient), weights -> diff_src [N, H, W, C]
  void backward_data(const float* diff_dst, const float* weights, float* diff_src);
  // src, diff_dst -> diff_weights [K, C, kh, kw], diff_bias [K] (overwritten)
  void backward_weights(const float* src, const float* diff_dst, float* diff_weights,
                        float* diff_bias);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

enum class PoolKind { max, average };

class Pool2d {
 public:
  Pool2d(const Pool2dGeometry& geometry, PoolKind kind);
  ~Pool2d();
  Pool2d(const Pool2d&) = delete;
  Pool2d& operator=(const Pool2d&) = delete;

  // src [N, H, W, C] -> dst [N, OH, OW, C]; keeps the max positions for backward.
  void forward(const float* src, float* dst);
  // diff_dst [N, OH, OW, C] -> diff_src [N, H, W, C], using the last forward's positions.
  void backward(const float* diff_dst, float* diff_src);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class Dense {
 public:
  Dense(const DenseGeometry& geometry, PostOp post_op);
  ~Dense();
  Dense(const Dense&) = delete;
  Dense& operator=(const Dense&) = delete;

  // src [N, in], weights [out, in], bias [out] -> dst [N, out]
  void forward(const float* src, const float* weights, const float* bias, float* dst);
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

// Leaky ReLU over `count` values: dst = src > 0 ? src : alpha * src.
class LeakyRelu {
 public:
  LeakyRelu(std::int64_t count, float alpha);
  ~LeakyRelu();
  LeakyRelu(const LeakyRelu&) = delete;
  LeakyRelu& operator=(const LeakyRelu&) = delete;

  void forward(const float* src, float* dst);
  // src: the forward input; diff_src = src > 0 ? diff_dst : alpha * diff_dst.
  void backward(const float* src, const float* diff_dst, float* diff_src);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace imgcls::backend
