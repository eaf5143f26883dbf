// The compute backend: oneDNN primitives behind a small API of plain float pointers.
// Layouts at this boundary are fixed: activations NHWC, conv weights OIHW, dense weights
// [out, in], biases [K]. Each object is built once for one geometry (batch size included)
// and reused; it owns its primitives, reorders and workspaces. dnnl.hpp stays inside
// src/backend/*.cpp.
#pragma once

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

}  // namespace imgcls::backend
