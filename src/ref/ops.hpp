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

}  // namespace imgcls::ref
