// Reference ops: straightforward loops in double accumulation, written for clarity, not
// speed. If a fast path disagrees with these beyond the stated tolerance, the fast path is
// wrong.
#include "ref/ops.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace imgcls::ref {

namespace {
using i64 = std::int64_t;

i64 nhwc(i64 n, i64 y, i64 x, i64 c, i64 h, i64 w, i64 channels) {
  return ((n * h + y) * w + x) * channels + c;
}
i64 oihw(i64 k, i64 c, i64 y, i64 x, i64 channels, i64 kh, i64 kw) {
  return ((k * channels + c) * kh + y) * kw + x;
}
}  // namespace

void conv2d_forward(const Conv2dGeometry& g, const float* src, const float* weights,
                    const float* bias, float* dst) {
  const auto& w = g.window;
  const i64 oh = g.out_h(), ow = g.out_w();
  for (i64 n = 0; n < g.batch; ++n)
    for (i64 oy = 0; oy < oh; ++oy)
      for (i64 ox = 0; ox < ow; ++ox)
        for (i64 k = 0; k < g.out_c; ++k) {
          double sum = bias[k];
          for (i64 ky = 0; ky < w.kernel_h; ++ky)
            for (i64 kx = 0; kx < w.kernel_w; ++kx) {
              const i64 iy = oy * w.stride_h - w.pad_top + ky;
              const i64 ix = ox * w.stride_w - w.pad_left + kx;
              if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w) continue;
              for (i64 c = 0; c < g.in_c; ++c)
                sum += double(src[nhwc(n, iy, ix, c, g.in_h, g.in_w, g.in_c)]) *
                       weights[oihw(k, c, ky, kx, g.in_c, w.kernel_h, w.kernel_w)];
            }
          dst[nhwc(n, oy, ox, k, oh, ow, g.out_c)] = static_cast<float>(sum);
        }
}

void conv2d_backward_data(const Conv2dGeometry& g, const float* diff_dst, const float* weights,
                          float* diff_src) {
  const auto& w = g.window;
  const i64 oh = g.out_h(), ow = g.out_w();
  std::vector<double> acc(static_cast<std::size_t>(g.batch * g.in_h * g.in_w * g.in_c), 0.0);
  for (i64 n = 0; n < g.batch; ++n)
    for (i64 oy = 0; oy < oh; ++oy)
      for (i64 ox = 0; ox < ow; ++ox)
        for (i64 k = 0; k < g.out_c; ++k) {
          const double d = diff_dst[nhwc(n, oy, ox, k, oh, ow, g.out_c)];
          for (i64 ky = 0; ky < w.kernel_h; ++ky)
            for (i64 kx = 0; kx < w.kernel_w; ++kx) {
              const i64 iy = oy * w.stride_h - w.pad_top + ky;
              const i64 ix = ox * w.stride_w - w.pad_left + kx;
              if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w) continue;
              for (i64 c = 0; c < g.in_c; ++c)
                acc[static_cast<std::size_t>(nhwc(n, iy, ix, c, g.in_h, g.in_w, g.in_c))] +=
                    d * weights[oihw(k, c, ky, kx, g.in_c, w.kernel_h, w.kernel_w)];
            }
        }
  std::transform(acc.begin(), acc.end(), diff_src, [](double v) { return float(v); });
}

void conv2d_backward_weights(const Conv2dGeometry& g, const float* src, const float* diff_dst,
                             float* diff_weights, float* diff_bias) {
  const auto& w = g.window;
  const i64 oh = g.out_h(), ow = g.out_w();
  std::vector<double> acc_w(static_cast<std::size_t>(g.out_c * g.in_c * w.kernel_h * w.kernel_w));
  std::vector<double> acc_b(static_cast<std::size_t>(g.out_c));
  for (i64 n = 0; n < g.batch; ++n)
    for (i64 oy = 0; oy < oh; ++oy)
      for (i64 ox = 0; ox < ow; ++ox)
        for (i64 k = 0; k < g.out_c; ++k) {
          const double d = diff_dst[nhwc(n, oy, ox, k, oh, ow, g.out_c)];
          acc_b[static_cast<std::size_t>(k)] += d;
          for (i64 ky = 0; ky < w.kernel_h; ++ky)
            for (i64 kx = 0; kx < w.kernel_w; ++kx) {
              const i64 iy = oy * w.stride_h - w.pad_top + ky;
              const i64 ix = ox * w.stride_w - w.pad_left + kx;
              if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w) continue;
              for (i64 c = 0; c < g.in_c; ++c)
                acc_w[static_cast<std::size_t>(
                    oihw(k, c, ky, kx, g.in_c, w.kernel_h, w.kernel_w))] +=
                    d * src[nhwc(n, iy, ix, c, g.in_h, g.in_w, g.in_c)];
            }
        }
  std::transform(acc_w.begin(), acc_w.end(), diff_weights, [](double v) { return float(v); });
  std::transform(acc_b.begin(), acc_b.end(), diff_bias, [](double v) { return float(v); });
}

namespace {
// Calls visit(n, oy, ox, c, dst_index, window_indices) for every output of a pooling.
template <class Visit>
void for_each_pool_window(const Pool2dGeometry& g, Visit visit) {
  const auto& w = g.window;
  const i64 oh = g.out_h(), ow = g.out_w();
  std::vector<i64> inside;
  for (i64 n = 0; n < g.batch; ++n)
    for (i64 oy = 0; oy < oh; ++oy)
      for (i64 ox = 0; ox < ow; ++ox)
        for (i64 c = 0; c < g.channels; ++c) {
          inside.clear();
          for (i64 ky = 0; ky < w.kernel_h; ++ky)
            for (i64 kx = 0; kx < w.kernel_w; ++kx) {
              const i64 iy = oy * w.stride_h - w.pad_top + ky;
              const i64 ix = ox * w.stride_w - w.pad_left + kx;
              if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w) continue;
              inside.push_back(nhwc(n, iy, ix, c, g.in_h, g.in_w, g.channels));
            }
          visit(nhwc(n, oy, ox, c, oh, ow, g.channels), inside);
        }
}
}  // namespace

void max_pool2d_forward(const Pool2dGeometry& g, const float* src, float* dst) {
  for_each_pool_window(g, [&](i64 out, const std::vector<i64>& inside) {
    float best = -std::numeric_limits<float>::infinity();
    for (i64 i : inside) best = std::max(best, src[i]);
    dst[out] = best;
  });
}

void max_pool2d_backward(const Pool2dGeometry& g, const float* src, const float* diff_dst,
                         float* diff_src) {
  std::fill(diff_src, diff_src + g.batch * g.in_h * g.in_w * g.channels, 0.0f);
  for_each_pool_window(g, [&](i64 out, const std::vector<i64>& inside) {
    if (inside.empty()) return;
    i64 best = inside.front();
    for (i64 i : inside)
      if (src[i] > src[best]) best = i;
    diff_src[best] += diff_dst[out];
  });
}

void avg_pool2d_forward(const Pool2dGeometry& g, const float* src, float* dst) {
  for_each_pool_window(g, [&](i64 out, const std::vector<i64>& inside) {
    double sum = 0.0;
    for (i64 i : inside) sum += src[i];
    dst[out] = inside.empty() ? 0.0f : static_cast<float>(sum / double(inside.size()));
  });
}

void avg_pool2d_backward(const Pool2dGeometry& g, const float* diff_dst, float* diff_src) {
  std::fill(diff_src, diff_src + g.batch * g.in_h * g.in_w * g.channels, 0.0f);
  for_each_pool_window(g, [&](i64 out, const std::vector<i64>& inside) {
    for (i64 i : inside) diff_src[i] += diff_dst[out] / static_cast<float>(inside.size());
  });
}

void dense_forward(const DenseGeometry& g, const float* src, const float* weights,
                   const float* bias, float* dst) {
  for (i64 n = 0; n < g.batch; ++n)
    for (i64 o = 0; o < g.out_features; ++o) {
      double sum = bias[o];
      for (i64 i = 0; i < g.in_features; ++i)
        sum += double(src[n * g.in_features + i]) * weights[o * g.in_features + i];
      dst[n * g.out_features + o] = static_cast<float>(sum);
    }
}

void dense_backward_data(const DenseGeometry& g, const float* diff_dst, const float* weights,
                         float* diff_src) {
  for (i64 n = 0; n < g.batch; ++n)
    for (i64 i = 0; i < g.in_features; ++i) {
      double sum = 0.0;
      for (i64 o = 0; o < g.out_features; ++o)
        sum += double(diff_dst[n * g.out_features + o]) * weights[o * g.in_features + i];
      diff_src[n * g.in_features + i] = static_cast<float>(sum);
    }
}

void dense_backward_weights(const DenseGeometry& g, const float* src, const float* diff_dst,
                            float* diff_weights, float* diff_bias) {
  for (i64 o = 0; o < g.out_features; ++o) {
    double bias_sum = 0.0;
    for (i64 n = 0; n < g.batch; ++n) bias_sum += diff_dst[n * g.out_features + o];
    diff_bias[o] = static_cast<float>(bias_sum);
    for (i64 i = 0; i < g.in_features; ++i) {
      double sum = 0.0;
      for (i64 n = 0; n < g.batch; ++n)
        sum += double(diff_dst[n * g.out_features + o]) * src[n * g.in_features + i];
      diff_weights[o * g.in_features + i] = static_cast<float>(sum);
    }
  }
}

void relu_forward(std::int64_t count, const float* src, float* dst) {
  for (i64 i = 0; i < count; ++i) dst[i] = src[i] > 0.0f ? src[i] : 0.0f;
}

void relu_backward(std::int64_t count, const float* dst, const float* diff_dst, float* diff_src) {
  for (i64 i = 0; i < count; ++i) diff_src[i] = dst[i] > 0.0f ? diff_dst[i] : 0.0f;
}

void leaky_relu_forward(std::int64_t count, float alpha, const float* src, float* dst) {
  for (i64 i = 0; i < count; ++i) dst[i] = src[i] > 0.0f ? src[i] : alpha * src[i];
}

void leaky_relu_backward(std::int64_t count, float alpha, const float* src, const float* diff_dst,
                         float* diff_src) {
  for (i64 i = 0; i < count; ++i) diff_src[i] = src[i] > 0.0f ? diff_dst[i] : alpha * diff_dst[i];
}

void elu_forward(std::int64_t count, float alpha, const float* src, float* dst) {
  for (i64 i = 0; i < count; ++i) dst[i] = src[i] > 0.0f ? src[i] : alpha * std::expm1(src[i]);
}

void elu_backward(std::int64_t count, float alpha, const float* src, const float* diff_dst,
                  float* diff_src) {
  for (i64 i = 0; i < count; ++i)
    diff_src[i] = src[i] > 0.0f ? diff_dst[i] : alpha * std::exp(src[i]) * diff_dst[i];
}

void global_avg_pool_forward(const ChannelGeometry& g, const float* src, float* dst) {
  const i64 positions = g.height * g.width;
  for (i64 n = 0; n < g.batch; ++n)
    for (i64 c = 0; c < g.channels; ++c) {
      double sum = 0.0;
      for (i64 p = 0; p < positions; ++p) sum += src[(n * positions + p) * g.channels + c];
      dst[n * g.channels + c] = static_cast<float>(sum / double(positions));
    }
}

void global_avg_pool_backward(const ChannelGeometry& g, const float* diff_dst, float* diff_src) {
  const i64 positions = g.height * g.width;
  for (i64 n = 0; n < g.batch; ++n)
    for (i64 p = 0; p < positions; ++p)
      for (i64 c = 0; c < g.channels; ++c)
        diff_src[(n * positions + p) * g.channels + c] =
            static_cast<float>(double(diff_dst[n * g.channels + c]) / double(positions));
}

namespace {
// Batch normalisation sees src as [M, C]: row m, channel c at m * C + c.
struct ChannelSums {
  std::vector<double> diff_shift, diff_scale;  // sum(diff_dst), sum(diff_dst * xhat)
};

double inverse_std(const float* variance, i64 c, float epsilon) {
  return 1.0 / std::sqrt(double(variance[c]) + double(epsilon));
}

ChannelSums batch_norm_parameter_gradients(const ChannelGeometry& g, float epsilon,
                                           const float* src, const float* diff_dst,
                                           const float* mean, const float* variance,
                                           float* diff_scale, float* diff_shift) {
  const i64 rows = g.values_per_channel(), channels = g.channels;
  ChannelSums sums{std::vector<double>(static_cast<std::size_t>(channels)),
                   std::vector<double>(static_cast<std::size_t>(channels))};
  for (i64 c = 0; c < channels; ++c) {
    const double inv_std = inverse_std(variance, c, epsilon);
    double sum_dy = 0.0, sum_dy_xhat = 0.0;
    for (i64 m = 0; m < rows; ++m) {
      const double dy = diff_dst[m * channels + c];
      sum_dy += dy;
      sum_dy_xhat += dy * (double(src[m * channels + c]) - mean[c]) * inv_std;
    }
    sums.diff_shift[static_cast<std::size_t>(c)] = sum_dy;
    sums.diff_scale[static_cast<std::size_t>(c)] = sum_dy_xhat;
    diff_shift[c] = static_cast<float>(sum_dy);
    diff_scale[c] = static_cast<float>(sum_dy_xhat);
  }
  return sums;
}
}  // namespace

void batch_norm_forward_training(const ChannelGeometry& g, float epsilon, const float* src,
                                 const float* scale, const float* shift, float* dst, float* mean,
                                 float* variance) {
  const i64 rows = g.values_per_channel(), channels = g.channels;
  for (i64 c = 0; c < channels; ++c) {
    double sum = 0.0;
    for (i64 m = 0; m < rows; ++m) sum += src[m * channels + c];
    const double batch_mean = sum / double(rows);
    double squares = 0.0;
    for (i64 m = 0; m < rows; ++m) {
      const double centred = src[m * channels + c] - batch_mean;
      squares += centred * centred;
    }
    mean[c] = static_cast<float>(batch_mean);
    variance[c] = static_cast<float>(squares / double(rows));
  }
  batch_norm_forward_inference(g, epsilon, src, scale, shift, mean, variance, dst);
}

void batch_norm_forward_inference(const ChannelGeometry& g, float epsilon, const float* src,
                                  const float* scale, const float* shift, const float* mean,
                                  const float* variance, float* dst) {
  const i64 rows = g.values_per_channel(), channels = g.channels;
  for (i64 c = 0; c < channels; ++c) {
    const double inv_std = inverse_std(variance, c, epsilon);
    for (i64 m = 0; m < rows; ++m) {
      const double xhat = (double(src[m * channels + c]) - mean[c]) * inv_std;
      dst[m * channels + c] = static_cast<float>(scale[c] * xhat + shift[c]);
    }
  }
}

void batch_norm_backward_training(const ChannelGeometry& g, float epsilon, const float* src,
                                  const float* diff_dst, const float* scale, const float* mean,
                                  const float* variance, float* diff_src, float* diff_scale,
                                  float* diff_shift) {
  const ChannelSums sums = batch_norm_parameter_gradients(g, epsilon, src, diff_dst, mean, variance,
                                                          diff_scale, diff_shift);
  const i64 rows = g.values_per_channel(), channels = g.channels;
  for (i64 c = 0; c < channels; ++c) {
    const double inv_std = inverse_std(variance, c, epsilon);
    const double sum_dy = sums.diff_shift[static_cast<std::size_t>(c)];
    const double sum_dy_xhat = sums.diff_scale[static_cast<std::size_t>(c)];
    for (i64 m = 0; m < rows; ++m) {
      const i64 i = m * channels + c;
      const double xhat = (double(src[i]) - mean[c]) * inv_std;
      diff_src[i] = static_cast<float>(
          scale[c] * inv_std * (diff_dst[i] - (sum_dy + xhat * sum_dy_xhat) / double(rows)));
    }
  }
}

void batch_norm_backward_inference(const ChannelGeometry& g, float epsilon, const float* src,
                                   const float* diff_dst, const float* scale, const float* mean,
                                   const float* variance, float* diff_src, float* diff_scale,
                                   float* diff_shift) {
  batch_norm_parameter_gradients(g, epsilon, src, diff_dst, mean, variance, diff_scale, diff_shift);
  const i64 rows = g.values_per_channel(), channels = g.channels;
  for (i64 c = 0; c < channels; ++c) {
    const double inv_std = inverse_std(variance, c, epsilon);
    for (i64 m = 0; m < rows; ++m)
      diff_src[m * channels + c] =
          static_cast<float>(scale[c] * inv_std * diff_dst[m * channels + c]);
  }
}

}  // namespace imgcls::ref
