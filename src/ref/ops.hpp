// Reference ops: naive loops that define what every op computes (the executable spec).
// Tests hold the oneDNN backend to these. Same layouts as the backend: activations NHWC,
// conv weights OIHW, dense weights [out, in]. Backward functions overwrite their outputs.
#pragma once

#include "tensor/geometry.hpp"

namespace imgcls::ref {

// src [N, H, W, C], weights [K, C, kh, kw], bias [K] -> dst [N, OH, OW, K]
void conv2d_forward(const Conv2dGeometry& g, const float* src, const float* weights,
                    const float* bias, float* dst);
// diff_dst [N, OH, OW, K], weights -> diff_src [N, H, W, C]
void conv2d_backward_data(const Conv2dGeometry& g, const float* diff_dst, const float* weights,
                          float* diff_src);
// src, diff_dst -> diff_weights [K, C, kh, kw], diff_bias [K]
void conv2d_backward_weights(const Conv2dGeometry& g, const float* src, const float* diff_dst,
                             float* diff_weights, float* diff_bias);

// src [N, H, W, C] -> dst [N, OH, OW, C]; padding never wins a max; average excludes padding.
void max_pool2d_forward(const Pool2dGeometry& g, const float* src, float* dst);
// The gradient goes to the first maximum of each window (row-major order).
void max_pool2d_backward(const Pool2dGeometry& g, const float* src, const float* diff_dst,
                         float* diff_src);
void avg_pool2d_forward(const Pool2dGeometry& g, const float* src, float* dst);
void avg_pool2d_backward(const Pool2dGeometry& g, const float* diff_dst, float* diff_src);

// src [N, in], weights [out, in], bias [out] -> dst [N, out]
void dense_forward(const DenseGeometry& g, const float* src, const float* weights,
                   const float* bias, float* dst);
void dense_backward_data(const DenseGeometry& g, const float* diff_dst, const float* weights,
                         float* diff_src);
void dense_backward_weights(const DenseGeometry& g, const float* src, const float* diff_dst,
                            float* diff_weights, float* diff_bias);

// dst = max(src, 0), elementwise over `count` values.
void relu_forward(std::int64_t count, const float* src, float* dst);
// diff_src = diff_dst where dst > 0, else 0 (dst: the forward output).
void relu_backward(std::int64_t count, const float* dst, const float* diff_dst, float* diff_src);

// dst = src where src > 0, else alpha * src.
void leaky_relu_forward(std::int64_t count, float alpha, const float* src, float* dst);
// diff_src = diff_dst where src > 0, else alpha * diff_dst (src: the forward input; at 0 the
// slope is alpha, as oneDNN).
void leaky_relu_backward(std::int64_t count, float alpha, const float* src, const float* diff_dst,
                         float* diff_src);

// dst = src where src > 0, else alpha * (exp(src) - 1).
void elu_forward(std::int64_t count, float alpha, const float* src, float* dst);
// diff_src = diff_dst where src > 0, else alpha * exp(src) * diff_dst (src: the forward input).
void elu_backward(std::int64_t count, float alpha, const float* src, const float* diff_dst,
                  float* diff_src);

// src [N, H, W, C] -> dst [N, C]: the mean of each channel over H x W.
void global_avg_pool_forward(const ChannelGeometry& g, const float* src, float* dst);
// diff_dst [N, C] -> diff_src [N, H, W, C] = diff_dst / (H * W) at every position.
void global_avg_pool_backward(const ChannelGeometry& g, const float* diff_dst, float* diff_src);

// Batch normalisation per channel c over the M = N * H * W values x of src [N, H, W, C]
// (or [N, C]):
//   dst = scale[c] * (x - mean[c]) / sqrt(variance[c] + epsilon) + shift[c].
// Training: mean and variance are this batch's, the variance biased (divided by M); both are
// written out. Inference: mean and variance are given (the running statistics).
void batch_norm_forward_training(const ChannelGeometry& g, float epsilon, const float* src,
                                 const float* scale, const float* shift, float* dst, float* mean,
                                 float* variance);
void batch_norm_forward_inference(const ChannelGeometry& g, float epsilon, const float* src,
                                  const float* scale, const float* shift, const float* mean,
                                  const float* variance, float* dst);
// Gradients of forward_training, through the batch statistics: with xhat the normalised src
// and sums over the M values of a channel,
//   diff_shift = sum(diff_dst), diff_scale = sum(diff_dst * xhat),
//   diff_src = scale * (diff_dst - (diff_shift + xhat * diff_scale) / M) / sqrt(variance + eps).
// mean and variance: those forward_training wrote.
void batch_norm_backward_training(const ChannelGeometry& g, float epsilon, const float* src,
                                  const float* diff_dst, const float* scale, const float* mean,
                                  const float* variance, float* diff_src, float* diff_scale,
                                  float* diff_shift);
// Gradients of forward_inference (mean and variance constant):
//   diff_src = scale / sqrt(variance + epsilon) * diff_dst; diff_scale, diff_shift as above.
void batch_norm_backward_inference(const ChannelGeometry& g, float epsilon, const float* src,
                                   const float* diff_dst, const float* scale, const float* mean,
                                   const float* variance, float* diff_src, float* diff_scale,
                                   float* diff_shift);

}  // namespace imgcls::ref
