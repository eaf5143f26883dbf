// Private to src/backend: backward-weights for 3x3 convolutions over grey images, where
// oneDNN 2.6's kernel is slow (see conv2d_few_channels.cpp). Conv2d uses it in fp32 when
// suits() says so.
#pragma once

#include <vector>

#include "backend/backend.hpp"
#include "tensor/geometry.hpp"

namespace imgcls::backend {

class FewChannelsBackwardWeights {
 public:
  static bool suits(const Conv2dGeometry& geometry);
  // stored: the size of the src images as stored (the convolution reads their top-left
  // in_h x in_w), as Conv2d's stored_src.
  FewChannelsBackwardWeights(const Conv2dGeometry& geometry, Extent2d stored);
  // src [N, stored.h, stored.w, C], diff_dst [N, OH, OW, K] -> diff_weights [K, C, kh, kw]
  // and diff_bias [K], overwritten.
  void run(const float* src, const float* diff_dst, float* diff_weights, float* diff_bias);

 private:
  Conv2dGeometry g_;
  Extent2d stored_;
  std::vector<double> partial_;  // one gradient per thread
};

}  // namespace imgcls::backend
