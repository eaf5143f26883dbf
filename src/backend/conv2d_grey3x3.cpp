// Backward-weights of a 3x3 convolution over grey images (the seed's first layer). oneDNN 2.6's
// kernel for it runs at about 40 GFLOPS here (0.33 ms of a 3 ms training step: with one input
// channel it has little to vectorise over, and it sums its per-thread partial results in a
// scalar-SSE loop). This loop vectorises over the output channels instead, with the sums in
// registers along each output row; each thread takes whole images and keeps its own gradient in
// double (9 * K values, 288 for the seed), and the threads' gradients are added at the end. The
// backend tests hold it to the reference ops like every op.
#include "backend/conv2d_grey3x3.hpp"

#include <omp.h>

#include <algorithm>

#include "core/parallel.hpp"

namespace imgcls::backend {

namespace {

constexpr std::int64_t kLanes = 16;  // one AVX-512 vector of floats; K is a multiple of it
constexpr std::int64_t kTaps = 9;    // 3x3, one input channel

// The 9 pixels under the window at `window` (top-left), row by row.
inline void window_pixels(const float* window, std::int64_t row, float* pixel) {
  for (std::int64_t i = 0; i < 3; ++i)
    for (std::int64_t j = 0; j < 3; ++j) pixel[i * 3 + j] = window[i * row + j];
}

// Adds one image's gradient into acc ([3][3][K]) and acc_bias ([K]). For each output row
// (and 32 output channels at a time) the diff_dst vectors are loaded once and multiplied by
// the 9 input pixels under each window: 18 float sums (9 taps x 2 vectors) stay in
// registers along the row, and each row's sums are added into acc in double. A weight
// gradient is a sum over the batch with much cancellation; double keeps its rounding far
// below the float rounding of the terms (a distributed run, which sums shards separately,
// then matches a single process: tests/mpi_test.cpp).
IMGCLS_VECTOR_CLONES
void accumulate_image(const Conv2dGeometry& g, Extent2d stored, const float* src,
                      const float* diff_dst, double* acc, double* acc_bias) {
  const std::int64_t K = g.out_c, oh = g.out_h(), ow = g.out_w(), sh = g.window.stride_h,
                     sw = g.window.stride_w;
  for (std::int64_t kb = 0; kb < K; kb += 2 * kLanes) {
    const bool pair = kb + kLanes < K;  // a second vector of output channels
    for (std::int64_t y = 0; y < oh; ++y) {
      float lo[kTaps][kLanes] = {}, hi[kTaps][kLanes] = {}, bias_lo[kLanes] = {},
            bias_hi[kLanes] = {};
      for (std::int64_t x = 0; x < ow; ++x) {
        float pixel[kTaps];
        window_pixels(src + (y * sh * stored.w + x * sw), stored.w, pixel);
        const float* grad = diff_dst + (y * ow + x) * K + kb;
#pragma omp simd
        for (std::int64_t k = 0; k < kLanes; ++k) {
          bias_lo[k] += grad[k];
          for (std::int64_t t = 0; t < kTaps; ++t) lo[t][k] += pixel[t] * grad[k];
        }
        if (pair) {
#pragma omp simd
          for (std::int64_t k = 0; k < kLanes; ++k) {
            bias_hi[k] += grad[kLanes + k];
            for (std::int64_t t = 0; t < kTaps; ++t) hi[t][k] += pixel[t] * grad[kLanes + k];
          }
        }
      }
      for (std::int64_t k = 0; k < kLanes; ++k) {
        acc_bias[kb + k] += bias_lo[k];
        if (pair) acc_bias[kb + kLanes + k] += bias_hi[k];
        for (std::int64_t t = 0; t < kTaps; ++t) {
          acc[t * K + kb + k] += lo[t][k];
          if (pair) acc[t * K + kb + kLanes + k] += hi[t][k];
        }
      }
    }
  }
}

// One image's outputs: for 16 output channels at a time, their 9 weights and bias stay in
// registers while the window slides.
IMGCLS_VECTOR_CLONES
void forward_image(const Conv2dGeometry& g, Extent2d stored, bool relu, const float* src,
                   const float* taps, const float* bias, float* dst) {
  const std::int64_t K = g.out_c, oh = g.out_h(), ow = g.out_w(), sh = g.window.stride_h,
                     sw = g.window.stride_w;
  for (std::int64_t kb = 0; kb < K; kb += kLanes) {
    float w[kTaps][kLanes], b[kLanes];
    for (std::int64_t k = 0; k < kLanes; ++k) {
      b[k] = bias[kb + k];
      for (std::int64_t t = 0; t < kTaps; ++t) w[t][k] = taps[t * K + kb + k];
    }
    for (std::int64_t y = 0; y < oh; ++y)
      for (std::int64_t x = 0; x < ow; ++x) {
        float pixel[kTaps];
        window_pixels(src + (y * sh * stored.w + x * sw), stored.w, pixel);
        float* out = dst + (y * ow + x) * K + kb;
#pragma omp simd
        for (std::int64_t k = 0; k < kLanes; ++k) {
          float sum = b[k];
          for (std::int64_t t = 0; t < kTaps; ++t) sum += pixel[t] * w[t][k];
          out[k] = relu ? std::max(sum, 0.0f) : sum;
        }
      }
  }
}

}  // namespace

bool GreyConv3x3::suits(const Conv2dGeometry& g) {
  // Grey images, a 3x3 window without padding, and output channels that fill whole vectors.
  const auto& w = g.window;
  return g.in_c == 1 && w.kernel_h == 3 && w.kernel_w == 3 && w.pad_top == 0 && w.pad_left == 0 &&
         w.pad_bottom == 0 && w.pad_right == 0 && g.out_c % kLanes == 0;
}

GreyConv3x3::GreyConv3x3(const Conv2dGeometry& geometry, Extent2d stored, PostOp post_op)
    : g_(geometry),
      stored_(stored),
      post_op_(post_op),
      taps_(static_cast<std::size_t>(kTaps * geometry.out_c)) {}

void GreyConv3x3::forward(const float* src, const float* weights, const float* bias, float* dst) {
  const std::int64_t K = g_.out_c;
  for (std::int64_t k = 0; k < K; ++k)
    for (std::int64_t t = 0; t < kTaps; ++t) taps_[t * K + k] = weights[k * kTaps + t];
  const std::int64_t image_in = stored_.h * stored_.w, image_out = g_.out_h() * g_.out_w() * K;
  const bool relu = post_op_ == PostOp::relu;
#pragma omp parallel for schedule(static)
  for (std::int64_t n = 0; n < g_.batch; ++n)
    forward_image(g_, stored_, relu, src + n * image_in, taps_.data(), bias, dst + n * image_out);
}

void GreyConv3x3::backward_weights(const float* src, const float* diff_dst, float* diff_weights,
                                   float* diff_bias) {
  const std::int64_t K = g_.out_c, C = g_.in_c, kh = g_.window.kernel_h, kw = g_.window.kernel_w;
  const std::int64_t per_thread = kh * kw * C * K + K;  // weights, then bias
  const int threads = omp_get_max_threads();
  partial_.assign(static_cast<std::size_t>(per_thread * threads), 0.0);
  const std::int64_t image_in = stored_.h * stored_.w * C, image_out = g_.out_h() * g_.out_w() * K;
#pragma omp parallel num_threads(threads)
  {
    const std::int64_t t = omp_get_thread_num(), team = omp_get_num_threads();
    double* acc = partial_.data() + t * per_thread;
    for (std::int64_t n = t; n < g_.batch; n += team)
      accumulate_image(g_, stored_, src + n * image_in, diff_dst + n * image_out, acc,
                       acc + per_thread - K);
  }
  // Sum the threads' partial results, [kh][kw][C][K] -> OIHW [K][C][kh][kw].
  for (std::int64_t t = 1; t < threads; ++t)
    for (std::int64_t v = 0; v < per_thread; ++v) partial_[v] += partial_[t * per_thread + v];
  for (std::int64_t k = 0; k < K; ++k) {
    for (std::int64_t c = 0; c < C; ++c)
      for (std::int64_t i = 0; i < kh; ++i)
        for (std::int64_t j = 0; j < kw; ++j)
          diff_weights[((k * C + c) * kh + i) * kw + j] =
              static_cast<float>(partial_[((i * kw + j) * C + c) * K + k]);
    diff_bias[k] = static_cast<float>(partial_[per_thread - K + k]);
  }
}

}  // namespace imgcls::backend
