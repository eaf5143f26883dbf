// Private to src/backend: forward and backward-weights of 3x3 convolutions over grey images
// (the seed's first layer), where oneDNN 2.6's kernels are slow (see conv2d_grey3x3.cpp).
// Conv2d uses them in fp32 when suits() says so; backward-data stays with oneDNN.
#pragma once

#include <vector>

#include "backend/backend.hpp"
#include "tensor/geometry.hpp"

namespace imgcls::backend {

class GreyConv3x3 {
 public:
  // One input channel, a 3x3 window without padding (any stride), a multiple of 16 filters.
  static bool suits(const Conv2dGeometry& geometry);
  // stored: the size of the src images as stored (the convolution reads their top-left
  // in_h x in_w), as Conv2d's stored_src.
  GreyConv3x3(const Conv2dGeometry& geometry, Extent2d stored, PostOp post_op);
  // src [N, stored.h, stored.w, 1], weights [K, 1, 3, 3], bias [K] -> dst [N, OH, OW, K],
  // with the post-op applied.
  void forward(const float* src, const float* weights, const float* bias, float* dst);
  // src, diff_dst [N, OH, OW, K] -> diff_weights [K, 1, 3, 3] and diff_bias [K], overwritten.
  void backward_weights(const float* src, const float* diff_dst, float* diff_weights,
                        float* diff_bias);

 private:
  Conv2dGeometry g_;
  Extent2d stored_;
  PostOp post_op_;
  std::vector<float> taps_;      // the weights as [9][K]
  std::vector<double> partial_;  // one weight gradient per thread
};

}  // namespace imgcls::backend
