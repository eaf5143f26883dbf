// Geometry of 2-D windowed ops (convolution, pooling): input size, window, stride,
// padding and the derived output size; and of per-channel ops (batch normalisation, global
// pooling). Shared by the oneDNN backend and the reference ops, so both read the same
// numbers. Layouts: src/dst NHWC, conv weights OIHW.
#pragma once

#include <cstdint>

namespace imgcls {

struct Window2d {
  std::int64_t kernel_h = 1, kernel_w = 1;
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
};

inline bool has_padding(const Window2d& w) {
  return w.pad_top != 0 || w.pad_left != 0 || w.pad_bottom != 0 || w.pad_right != 0;
}

// Output extent of a window sliding over `in` (floor division, as Keras and PyTorch).
inline std::int64_t window_output_size(std::int64_t in, std::int64_t kernel, std::int64_t stride,
                                       std::int64_t pad_before, std::int64_t pad_after) {
  return (in + pad_before + pad_after - kernel) / stride + 1;
}

// Convolution: src [N, H, W, C] * weights [K, C, kh, kw] + bias [K] -> dst [N, OH, OW, K]
struct Conv2dGeometry {
  std::int64_t batch = 0, in_h = 0, in_w = 0, in_c = 0, out_c = 0;
  Window2d window;
  std::int64_t out_h() const {
    return window_output_size(in_h, window.kernel_h, window.stride_h, window.pad_top,
                              window.pad_bottom);
  }
  std::int64_t out_w() const {
    return window_output_size(in_w, window.kernel_w, window.stride_w, window.pad_left,
                              window.pad_right);
  }
};

// Pooling: src [N, H, W, C] -> dst [N, OH, OW, C]
struct Pool2dGeometry {
  std::int64_t batch = 0, in_h = 0, in_w = 0, channels = 0;
  Window2d window;
  std::int64_t out_h() const {
    return window_output_size(in_h, window.kernel_h, window.stride_h, window.pad_top,
                              window.pad_bottom);
  }
  std::int64_t out_w() const {
    return window_output_size(in_w, window.kernel_w, window.stride_w, window.pad_left,
                              window.pad_right);
  }
};

// Fully connected: src [N, in] x weights [out, in]^T + bias [out] -> dst [N, out]
struct DenseGeometry {
  std::int64_t batch = 0, in_features = 0, out_features = 0;
};

// A batch seen per channel: src [N, H, W, C], or [N, C] with H = W = 1. Batch normalisation
// and global pooling work over the N * H * W (or H * W) values of each channel.
struct ChannelGeometry {
  std::int64_t batch = 0, height = 1, width = 1, channels = 0;
  std::int64_t values_per_channel() const { return batch * height * width; }
  std::int64_t size() const { return values_per_channel() * channels; }
};

}  // namespace imgcls
