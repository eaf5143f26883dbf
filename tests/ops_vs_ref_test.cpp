// Holds the oneDNN backend (src/backend) to the reference ops (src/ref, the executable spec)
// on seeded shapes: batch 1 and larger, odd spatial sizes, stride 1 and 2, valid, "same" and
// asymmetric (bottom/right = top/left + 1) padding, 1, 3 and 17 channels, 1 to 32 filters,
// kernels 1, 3, 5.
// Covers Conv2d forward (no post-op and fused ReLU), backward_data, backward_weights (weights
// and bias); Pool2d max and average, forward and backward; Dense forward (no post-op and
// ReLU), backward_data, backward_weights; BatchNorm forward (training: dst and the batch
// statistics; inference: given statistics) and backward (through batch statistics and with
// given ones); LeakyReLU forward and backward; GlobalAvgPool (through its layer) forward and
// backward.
//
// Tolerance, every op and every element: |backend - ref| <= 1e-4 * (1 + |ref|). The
// reference accumulates in double; oneDNN in float, in another order. Inputs are uniform in
// [-1, 1] and the longest sums have about 500 terms, so float rounding stays below
// about 1e-5 relative; a wrong index, a missing term or a wrong padding is off by O(0.1).
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "backend/backend.hpp"
#include "imgcls/layers.hpp"
#include "imgcls/rng.hpp"
#include "ref/ops.hpp"
#include "support/layer_runner.hpp"

namespace imgcls {
namespace {

using i64 = std::int64_t;
constexpr double kTolerance = 1e-4;

std::vector<float> random_values(i64 count, Rng& rng) {
  std::vector<float> values(static_cast<std::size_t>(count));
  for (float& v : values) v = rng.uniform(-1.0f, 1.0f);
  return values;
}

// Every element within kTolerance * (1 + |ref|); on failure, names the worst element.
testing::AssertionResult matches_reference(const std::vector<float>& backend,
                                           const std::vector<float>& ref) {
  if (backend.size() != ref.size())
    return testing::AssertionFailure() << "sizes " << backend.size() << " vs " << ref.size();
  double worst = 0.0;
  std::size_t worst_index = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double error = std::abs(double(backend[i]) - ref[i]) / (1.0 + std::abs(ref[i]));
    if (!(error <= worst)) {  // also catches NaN
      worst = std::isnan(error) ? INFINITY : error;
      worst_index = i;
    }
  }
  if (worst <= kTolerance) return testing::AssertionSuccess();
  return testing::AssertionFailure()
         << "element " << worst_index << ": backend " << backend[worst_index] << ", reference "
         << ref[worst_index] << " (relative error " << worst << " > " << kTolerance << ")";
}

enum class PadStyle { valid, same, asymmetric };

// "same": (k - 1) / 2 on every side; asymmetric: the same plus one more at bottom/right.
Window2d make_window(i64 kernel, i64 stride, PadStyle pad) {
  Window2d w{.kernel_h = kernel, .kernel_w = kernel, .stride_h = stride, .stride_w = stride};
  if (pad != PadStyle::valid) {
    w.pad_top = w.pad_left = (kernel - 1) / 2;
    w.pad_bottom = w.pad_right = (kernel - 1) / 2 + (pad == PadStyle::asymmetric ? 1 : 0);
  }
  return w;
}

std::string describe(const Window2d& w) {
  return fmt::format("kernel {}x{} stride {} pad top/left {}/{} bottom/right {}/{}", w.kernel_h,
                     w.kernel_w, w.stride_h, w.pad_top, w.pad_left, w.pad_bottom, w.pad_right);
}

// Sizes cycle through batch 1, odd sides and a seeded random side, so every kernel, channel
// count, padding and stride meets batch 1 and an odd size somewhere.
constexpr i64 kBatches[] = {1, 2, 3};
i64 pick_side(std::size_t case_index, Rng& rng) {
  switch (case_index % 3) {
    case 0:
      return 7;
    case 1:
      return 13;
    default:
      return 5 + static_cast<i64>(rng.uniform_index(9));  // 5..13
  }
}

std::vector<Conv2dGeometry> conv_cases() {
  Rng rng(2024);
  std::vector<Conv2dGeometry> cases;
  constexpr i64 kOutChannels[] = {1, 16, 4, 17, 32, 8};
  for (i64 kernel : {1, 3, 5})
    for (i64 channels : {1, 3, 17})
      for (PadStyle pad : {PadStyle::valid, PadStyle::same, PadStyle::asymmetric})
        for (i64 stride : {1, 2}) {
          const std::size_t i = cases.size();
          Conv2dGeometry g{.batch = kBatches[i % 3],
                           .in_h = pick_side(i, rng),
                           .in_w = pick_side(i + 1, rng),
                           .in_c = channels,
                           .out_c = kOutChannels[i % 6],
                           .window = make_window(kernel, stride, pad)};
          cases.push_back(g);
        }
  // 3x3 without padding over grey images with 16, 32 or 64 filters: imgcls's own forward
  // and backward-weights loops (conv2d_grey3x3.cpp).
  for (i64 filters : {16, 32, 64})
    for (i64 stride : {1, 2})
      cases.push_back({.batch = 3,
                       .in_h = 11,
                       .in_w = 9,
                       .in_c = 1,
                       .out_c = filters,
                       .window = make_window(3, stride, PadStyle::valid)});
  return cases;
}

std::string describe(const Conv2dGeometry& g) {
  return fmt::format("conv src [{}, {}, {}, {}] -> dst [{}, {}, {}, {}], {}", g.batch, g.in_h,
                     g.in_w, g.in_c, g.batch, g.out_h(), g.out_w(), g.out_c, describe(g.window));
}

TEST(Conv2dVsRef, ForwardWithAndWithoutRelu) {
  Rng rng(1);
  for (const Conv2dGeometry& g : conv_cases()) {
    SCOPED_TRACE(describe(g));
    const i64 dst_count = g.batch * g.out_h() * g.out_w() * g.out_c;
    const auto weights =
        random_values(g.out_c * g.in_c * g.window.kernel_h * g.window.kernel_w, rng);
    const auto bias = random_values(g.out_c, rng);
    backend::Conv2d plain(g, backend::PostOp::none), fused(g, backend::PostOp::relu);
    // Two inputs through the same objects: a primitive must not keep stale pointers.
    for (int round = 0; round < 2; ++round) {
      const auto src = random_values(g.batch * g.in_h * g.in_w * g.in_c, rng);
      std::vector<float> expected(static_cast<std::size_t>(dst_count));
      ref::conv2d_forward(g, src.data(), weights.data(), bias.data(), expected.data());
      std::vector<float> got(expected.size(), NAN);
      plain.forward(src.data(), weights.data(), bias.data(), got.data());
      EXPECT_TRUE(matches_reference(got, expected)) << "PostOp::none, round " << round;

      std::vector<float> expected_relu(expected.size());
      ref::relu_forward(dst_count, expected.data(), expected_relu.data());
      std::fill(got.begin(), got.end(), NAN);
      fused.forward(src.data(), weights.data(), bias.data(), got.data());
      EXPECT_TRUE(matches_reference(got, expected_relu)) << "PostOp::relu, round " << round;
    }
  }
}

TEST(Conv2dVsRef, BackwardDataAndWeights) {
  Rng rng(2);
  for (const Conv2dGeometry& g : conv_cases()) {
    SCOPED_TRACE(describe(g));
    const i64 src_count = g.batch * g.in_h * g.in_w * g.in_c;
    const i64 weight_count = g.out_c * g.in_c * g.window.kernel_h * g.window.kernel_w;
    const auto src = random_values(src_count, rng);
    const auto weights = random_values(weight_count, rng);
    const auto bias = random_values(g.out_c, rng);
    const auto diff_dst = random_values(g.batch * g.out_h() * g.out_w() * g.out_c, rng);

    std::vector<float> expected_diff_src(static_cast<std::size_t>(src_count));
    std::vector<float> expected_diff_weights(static_cast<std::size_t>(weight_count));
    std::vector<float> expected_diff_bias(static_cast<std::size_t>(g.out_c));
    ref::conv2d_backward_data(g, diff_dst.data(), weights.data(), expected_diff_src.data());
    ref::conv2d_backward_weights(g, src.data(), diff_dst.data(), expected_diff_weights.data(),
                                 expected_diff_bias.data());

    // Backward is built from the forward primitive as a hint; both post-ops must give the
    // same (pre-activation) backward.
    for (backend::PostOp post_op : {backend::PostOp::none, backend::PostOp::relu}) {
      SCOPED_TRACE(post_op == backend::PostOp::relu ? "built with PostOp::relu" : "PostOp::none");
      backend::Conv2d conv(g, post_op);
      std::vector<float> dst(diff_dst.size());
      conv.forward(src.data(), weights.data(), bias.data(), dst.data());
      std::vector<float> diff_src(expected_diff_src.size(), NAN);
      std::vector<float> diff_weights(expected_diff_weights.size(), NAN);
      std::vector<float> diff_bias(expected_diff_bias.size(), NAN);
      conv.backward_data(diff_dst.data(), weights.data(), diff_src.data());
      conv.backward_weights(src.data(), diff_dst.data(), diff_weights.data(), diff_bias.data());
      EXPECT_TRUE(matches_reference(diff_src, expected_diff_src)) << "diff_src";
      EXPECT_TRUE(matches_reference(diff_weights, expected_diff_weights)) << "diff_weights";
      EXPECT_TRUE(matches_reference(diff_bias, expected_diff_bias)) << "diff_bias";
    }
  }
}

std::vector<Pool2dGeometry> pool_cases() {
  Rng rng(77);
  std::vector<Pool2dGeometry> cases;
  // Padding stays below the kernel, so no window lies wholly in the padding.
  for (i64 kernel : {2, 3})
    for (i64 stride : {1, 2, 3})
      for (i64 channels : {1, 3, 17})
        for (int pad = 0; pad < 3; ++pad) {
          const std::size_t i = cases.size();
          Window2d w{
              .kernel_h = kernel, .kernel_w = kernel, .stride_h = stride, .stride_w = stride};
          if (pad == 1) w.pad_bottom = w.pad_right = 1;                           // asymmetric
          if (pad == 2) w.pad_top = w.pad_left = w.pad_bottom = w.pad_right = 1;  // symmetric
          cases.push_back({.batch = kBatches[i % 3],
                           .in_h = pick_side(i, rng),
                           .in_w = pick_side(i + 2, rng),
                           .channels = channels,
                           .window = w});
        }
  return cases;
}

std::string describe(const Pool2dGeometry& g) {
  return fmt::format("pool src [{}, {}, {}, {}] -> dst [{}, {}, {}, {}], {}", g.batch, g.in_h,
                     g.in_w, g.channels, g.batch, g.out_h(), g.out_w(), g.channels,
                     describe(g.window));
}

// Uniform random floats: ties inside a window (where max pooling's choice is a convention)
// have a probability of about 1e-6 per window, so the first-maximum rule of the reference
// and oneDNN's choice agree.
TEST(Pool2dVsRef, MaxForwardAndBackward) {
  Rng rng(3);
  for (const Pool2dGeometry& g : pool_cases()) {
    SCOPED_TRACE(describe(g));
    const auto src = random_values(g.batch * g.in_h * g.in_w * g.channels, rng);
    const auto diff_dst = random_values(g.batch * g.out_h() * g.out_w() * g.channels, rng);
    std::vector<float> expected_dst(diff_dst.size()), expected_diff_src(src.size());
    ref::max_pool2d_forward(g, src.data(), expected_dst.data());
    ref::max_pool2d_backward(g, src.data(), diff_dst.data(), expected_diff_src.data());

    backend::Pool2d pool(g, backend::PoolKind::max, /*with_backward=*/true);
    std::vector<float> dst(expected_dst.size(), NAN), diff_src(src.size(), NAN);
    pool.forward(src.data(), dst.data());
    pool.backward(src.data(), diff_dst.data(), diff_src.data());
    EXPECT_TRUE(matches_reference(dst, expected_dst)) << "dst";
    EXPECT_TRUE(matches_reference(diff_src, expected_diff_src)) << "diff_src";
  }
}

// Max pooling without padding (every Pool2D layer's) finds each window's maximum again in
// backward (backend/pool2d.cpp). After a ReLU many windows hold equal values (zeros); the
// gradient goes to the first of them, and overlapping windows add up in the reference's
// order: equal to the reference bit for bit. (Padded windows, oneDNN's backward with its
// workspace, differ from it here in the last bits.)
TEST(Pool2dVsRef, UnpaddedMaxBackwardWithTiesEqualsTheReference) {
  Rng rng(6);
  int checked = 0;
  for (const Pool2dGeometry& g : pool_cases()) {
    if (has_padding(g.window)) continue;
    ++checked;
    SCOPED_TRACE(describe(g));
    auto src = random_values(g.batch * g.in_h * g.in_w * g.channels, rng);
    for (float& v : src) v = std::max(0.0f, std::round(v * 2.0f) / 2.0f);  // few levels, many 0s
    const auto diff_dst = random_values(g.batch * g.out_h() * g.out_w() * g.channels, rng);
    std::vector<float> expected_dst(diff_dst.size()), expected_diff_src(src.size());
    ref::max_pool2d_forward(g, src.data(), expected_dst.data());
    ref::max_pool2d_backward(g, src.data(), diff_dst.data(), expected_diff_src.data());
    backend::Pool2d pool(g, backend::PoolKind::max, /*with_backward=*/true);
    std::vector<float> dst(expected_dst.size(), NAN), diff_src(src.size(), NAN);
    pool.forward(src.data(), dst.data());
    pool.backward(src.data(), diff_dst.data(), diff_src.data());
    EXPECT_EQ(dst, expected_dst);
    EXPECT_EQ(diff_src, expected_diff_src);
  }
  EXPECT_EQ(checked, 18);  // kernels 2 and 3, strides 1 to 3, channels 1, 3 and 17
}

// What an inference plan makes: oneDNN's forward_inference, no positions kept.
TEST(Pool2dVsRef, ForwardOnlyMatchesTheReferenceAndHasNoBackward) {
  Rng rng(5);
  for (const Pool2dGeometry& g : pool_cases()) {
    SCOPED_TRACE(describe(g));
    const auto src = random_values(g.batch * g.in_h * g.in_w * g.channels, rng);
    std::vector<float> expected_max(std::size_t(g.batch * g.out_h() * g.out_w() * g.channels));
    std::vector<float> expected_average(expected_max.size());
    ref::max_pool2d_forward(g, src.data(), expected_max.data());
    ref::avg_pool2d_forward(g, src.data(), expected_average.data());
    for (const auto& [kind, expected] :
         {std::pair{backend::PoolKind::max, &expected_max},
          std::pair{backend::PoolKind::average, &expected_average}}) {
      backend::Pool2d pool(g, kind, /*with_backward=*/false);
      std::vector<float> dst(expected->size(), NAN), diff_src(src.size(), NAN);
      pool.forward(src.data(), dst.data());
      EXPECT_TRUE(matches_reference(dst, *expected)) << "dst";
      EXPECT_ANY_THROW(pool.backward(src.data(), dst.data(), diff_src.data()));
    }
  }
}

TEST(Pool2dVsRef, AverageForwardAndBackward) {
  Rng rng(4);
  for (const Pool2dGeometry& g : pool_cases()) {
    SCOPED_TRACE(describe(g));
    const auto src = random_values(g.batch * g.in_h * g.in_w * g.channels, rng);
    const auto diff_dst = random_values(g.batch * g.out_h() * g.out_w() * g.channels, rng);
    std::vector<float> expected_dst(diff_dst.size()), expected_diff_src(src.size());
    ref::avg_pool2d_forward(g, src.data(), expected_dst.data());
    ref::avg_pool2d_backward(g, diff_dst.data(), expected_diff_src.data());

    backend::Pool2d pool(g, backend::PoolKind::average, /*with_backward=*/true);
    std::vector<float> dst(expected_dst.size(), NAN), diff_src(src.size(), NAN);
    pool.forward(src.data(), dst.data());
    pool.backward(src.data(), diff_dst.data(), diff_src.data());
    EXPECT_TRUE(matches_reference(dst, expected_dst)) << "dst";
    EXPECT_TRUE(matches_reference(diff_src, expected_diff_src)) << "diff_src";
  }
}

std::vector<DenseGeometry> dense_cases() {
  std::vector<DenseGeometry> cases;
  for (i64 batch : {1, 2, 7})
    for (i64 in : {1, 3, 17, 100})
      for (i64 out : {1, 10, 17})
        cases.push_back({.batch = batch, .in_features = in, .out_features = out});
  return cases;
}

std::string describe(const DenseGeometry& g) {
  return fmt::format("dense src [{}, {}] -> dst [{}, {}]", g.batch, g.in_features, g.batch,
                     g.out_features);
}

TEST(DenseVsRef, ForwardWithAndWithoutRelu) {
  Rng rng(5);
  for (const DenseGeometry& g : dense_cases()) {
    SCOPED_TRACE(describe(g));
    const auto src = random_values(g.batch * g.in_features, rng);
    const auto weights = random_values(g.out_features * g.in_features, rng);
    const auto bias = random_values(g.out_features, rng);
    const i64 dst_count = g.batch * g.out_features;
    std::vector<float> expected(static_cast<std::size_t>(dst_count)),
        expected_relu(expected.size());
    ref::dense_forward(g, src.data(), weights.data(), bias.data(), expected.data());
    ref::relu_forward(dst_count, expected.data(), expected_relu.data());

    std::vector<float> got(expected.size(), NAN);
    backend::Dense(g, backend::PostOp::none)
        .forward(src.data(), weights.data(), bias.data(), got.data());
    EXPECT_TRUE(matches_reference(got, expected)) << "PostOp::none";
    std::fill(got.begin(), got.end(), NAN);
    backend::Dense(g, backend::PostOp::relu)
        .forward(src.data(), weights.data(), bias.data(), got.data());
    EXPECT_TRUE(matches_reference(got, expected_relu)) << "PostOp::relu";
  }
}

TEST(DenseVsRef, BackwardDataAndWeights) {
  Rng rng(6);
  for (const DenseGeometry& g : dense_cases()) {
    SCOPED_TRACE(describe(g));
    const auto src = random_values(g.batch * g.in_features, rng);
    const auto weights = random_values(g.out_features * g.in_features, rng);
    const auto bias = random_values(g.out_features, rng);
    const auto diff_dst = random_values(g.batch * g.out_features, rng);
    std::vector<float> expected_diff_src(src.size()), expected_diff_weights(weights.size()),
        expected_diff_bias(bias.size());
    ref::dense_backward_data(g, diff_dst.data(), weights.data(), expected_diff_src.data());
    ref::dense_backward_weights(g, src.data(), diff_dst.data(), expected_diff_weights.data(),
                                expected_diff_bias.data());

    for (backend::PostOp post_op : {backend::PostOp::none, backend::PostOp::relu}) {
      SCOPED_TRACE(post_op == backend::PostOp::relu ? "built with PostOp::relu" : "PostOp::none");
      backend::Dense dense(g, post_op);
      std::vector<float> dst(diff_dst.size());
      dense.forward(src.data(), weights.data(), bias.data(), dst.data());
      std::vector<float> diff_src(src.size(), NAN), diff_weights(weights.size(), NAN),
          diff_bias(bias.size(), NAN);
      dense.backward_data(diff_dst.data(), weights.data(), diff_src.data());
      dense.backward_weights(src.data(), diff_dst.data(), diff_weights.data(), diff_bias.data());
      EXPECT_TRUE(matches_reference(diff_src, expected_diff_src)) << "diff_src";
      EXPECT_TRUE(matches_reference(diff_weights, expected_diff_weights)) << "diff_weights";
      EXPECT_TRUE(matches_reference(diff_bias, expected_diff_bias)) << "diff_bias";
    }
  }
}

// Batch normalisation: images [N, H, W, C] and flat [N, C] (H = W = 1), batch 1 included
// (for [1, C] the batch variance is 0, so the output is beta and diff_src is 0), odd sides,
// 1 to 32 channels, and three seeded random shapes. src has a nonzero mean, so a wrong
// centring shows.
std::vector<ChannelGeometry> batch_norm_cases() {
  std::vector<ChannelGeometry> cases{{.batch = 1, .height = 7, .width = 5, .channels = 3},
                                     {.batch = 2, .height = 13, .width = 13, .channels = 17},
                                     {.batch = 3, .height = 4, .width = 9, .channels = 1},
                                     {.batch = 4, .height = 6, .width = 6, .channels = 32},
                                     {.batch = 1, .channels = 10},
                                     {.batch = 2, .channels = 1},
                                     {.batch = 7, .channels = 17}};
  Rng rng(88);
  for (int i = 0; i < 3; ++i)
    cases.push_back({.batch = 1 + static_cast<i64>(rng.uniform_index(4)),
                     .height = 1 + static_cast<i64>(rng.uniform_index(13)),
                     .width = 1 + static_cast<i64>(rng.uniform_index(13)),
                     .channels = 1 + static_cast<i64>(rng.uniform_index(20))});
  return cases;
}

std::string describe(const ChannelGeometry& g) {
  return fmt::format("src [{}, {}, {}, {}]", g.batch, g.height, g.width, g.channels);
}

constexpr float kBatchNormEpsilon = 1e-3f;

std::vector<float> shifted_values(i64 count, float offset, Rng& rng) {
  std::vector<float> values = random_values(count, rng);
  for (float& v : values) v = 2.0f * v + offset;
  return values;
}

TEST(BatchNormVsRef, TrainingForwardWritesBatchStatistics) {
  Rng rng(9);
  for (const ChannelGeometry& g : batch_norm_cases()) {
    SCOPED_TRACE(describe(g));
    const auto src = shifted_values(g.size(), 0.7f, rng);
    const auto scale = random_values(g.channels, rng), shift = random_values(g.channels, rng);
    const std::size_t channels = static_cast<std::size_t>(g.channels);
    std::vector<float> expected_dst(src.size()), expected_mean(channels),
        expected_variance(channels);
    ref::batch_norm_forward_training(g, kBatchNormEpsilon, src.data(), scale.data(), shift.data(),
                                     expected_dst.data(), expected_mean.data(),
                                     expected_variance.data());
    backend::BatchNorm bn(g, kBatchNormEpsilon);
    std::vector<float> dst(src.size(), NAN), mean(channels, NAN), variance(channels, NAN);
    bn.forward_training(src.data(), scale.data(), shift.data(), dst.data(), mean.data(),
                        variance.data());
    EXPECT_TRUE(matches_reference(dst, expected_dst)) << "dst";
    EXPECT_TRUE(matches_reference(mean, expected_mean)) << "mean";
    EXPECT_TRUE(matches_reference(variance, expected_variance)) << "variance (biased)";
  }
}

TEST(BatchNormVsRef, InferenceForwardUsesGivenStatistics) {
  Rng rng(10);
  for (const ChannelGeometry& g : batch_norm_cases()) {
    SCOPED_TRACE(describe(g));
    const auto src = shifted_values(g.size(), 0.7f, rng);
    const auto scale = random_values(g.channels, rng), shift = random_values(g.channels, rng);
    const auto mean = random_values(g.channels, rng);
    std::vector<float> variance = random_values(g.channels, rng);
    for (float& v : variance) v = v + 1.1f;  // in [0.1, 2.1]
    std::vector<float> expected(src.size());
    ref::batch_norm_forward_inference(g, kBatchNormEpsilon, src.data(), scale.data(), shift.data(),
                                      mean.data(), variance.data(), expected.data());
    backend::BatchNorm bn(g, kBatchNormEpsilon);
    std::vector<float> dst(src.size(), NAN);
    bn.forward_inference(src.data(), scale.data(), shift.data(), mean.data(), variance.data(),
                         dst.data());
    EXPECT_TRUE(matches_reference(dst, expected)) << "dst";
  }
}

TEST(BatchNormVsRef, BackwardThroughBatchAndGivenStatistics) {
  Rng rng(11);
  for (const ChannelGeometry& g : batch_norm_cases()) {
    SCOPED_TRACE(describe(g));
    const std::size_t channels = static_cast<std::size_t>(g.channels);
    const auto src = shifted_values(g.size(), -0.4f, rng);
    const auto diff_dst = random_values(g.size(), rng);
    const auto scale = random_values(g.channels, rng), shift = random_values(g.channels, rng);
    backend::BatchNorm bn(g, kBatchNormEpsilon);
    // The statistics backward receives are those of the training forward.
    std::vector<float> dst(src.size()), mean(channels), variance(channels);
    bn.forward_training(src.data(), scale.data(), shift.data(), dst.data(), mean.data(),
                        variance.data());
    for (bool training : {true, false}) {
      SCOPED_TRACE(training ? "backward_training" : "backward_inference");
      std::vector<float> expected_diff_src(src.size()), expected_diff_scale(channels),
          expected_diff_shift(channels);
      std::vector<float> diff_src(src.size(), NAN), diff_scale(channels, NAN),
          diff_shift(channels, NAN);
      if (training) {
        ref::batch_norm_backward_training(g, kBatchNormEpsilon, src.data(), diff_dst.data(),
                                          scale.data(), mean.data(), variance.data(),
                                          expected_diff_src.data(), expected_diff_scale.data(),
                                          expected_diff_shift.data());
        bn.backward_training(src.data(), diff_dst.data(), scale.data(), shift.data(), mean.data(),
                             variance.data(), diff_src.data(), diff_scale.data(),
                             diff_shift.data());
      } else {
        ref::batch_norm_backward_inference(g, kBatchNormEpsilon, src.data(), diff_dst.data(),
                                           scale.data(), mean.data(), variance.data(),
                                           expected_diff_src.data(), expected_diff_scale.data(),
                                           expected_diff_shift.data());
        bn.forward_inference(src.data(), scale.data(), shift.data(), mean.data(), variance.data(),
                             dst.data());
        bn.backward_inference(src.data(), diff_dst.data(), scale.data(), shift.data(), mean.data(),
                              variance.data(), diff_src.data(), diff_scale.data(),
                              diff_shift.data());
      }
      EXPECT_TRUE(matches_reference(diff_src, expected_diff_src)) << "diff_src";
      EXPECT_TRUE(matches_reference(diff_scale, expected_diff_scale)) << "diff_scale";
      EXPECT_TRUE(matches_reference(diff_shift, expected_diff_shift)) << "diff_shift";
    }
  }
}

// Leaky ReLU over 1 value to a few thousand (odd counts included), slopes 0, Keras's 0.3
// and a slope above 1.
TEST(LeakyReluVsRef, ForwardAndBackward) {
  Rng rng(12);
  for (i64 count : {1, 7, 1000, 4097})
    for (float alpha : {0.0f, 0.3f, 1.5f}) {
      SCOPED_TRACE(fmt::format("count {} alpha {}", count, alpha));
      const auto src = random_values(count, rng), diff_dst = random_values(count, rng);
      std::vector<float> expected_dst(src.size()), expected_diff_src(src.size());
      ref::leaky_relu_forward(count, alpha, src.data(), expected_dst.data());
      ref::leaky_relu_backward(count, alpha, src.data(), diff_dst.data(), expected_diff_src.data());
      backend::Eltwise leaky(backend::EltwiseKind::leaky_relu, count, alpha);
      std::vector<float> dst(src.size(), NAN), diff_src(src.size(), NAN);
      leaky.forward(src.data(), dst.data());
      leaky.backward(src.data(), diff_dst.data(), diff_src.data());
      EXPECT_TRUE(matches_reference(dst, expected_dst)) << "dst";
      EXPECT_TRUE(matches_reference(diff_src, expected_diff_src)) << "diff_src";
    }
}

// Global average pooling through the layer (which maps it onto one oneDNN pooling window
// of H x W), against the reference loop: 1x1 images, odd and non-square sides, batch 1.
TEST(GlobalAvgPoolVsRef, LayerForwardAndBackward) {
  Rng rng(13);
  const ChannelGeometry cases[] = {{.batch = 1, .height = 1, .width = 1, .channels = 3},
                                   {.batch = 1, .height = 7, .width = 5, .channels = 1},
                                   {.batch = 2, .height = 13, .width = 13, .channels = 17},
                                   {.batch = 3, .height = 4, .width = 9, .channels = 8}};
  for (const ChannelGeometry& g : cases) {
    SCOPED_TRACE(describe(g));
    auto layer = layers::GlobalAvgPool();
    testing_support::LayerRunner layer_run(*layer);
    ASSERT_EQ(layer->build({g.height, g.width, g.channels}), (Shape{g.channels}));
    Tensor src({g.batch, g.height, g.width, g.channels}, random_values(g.size(), rng));
    Tensor diff_dst({g.batch, g.channels}, random_values(g.batch * g.channels, rng));
    Tensor dst, diff_src;
    layer_run.forward(src, dst, Mode::train);
    layer_run.backward(src, dst, diff_dst, &diff_src);
    ASSERT_EQ(dst.shape(), diff_dst.shape());
    ASSERT_EQ(diff_src.shape(), src.shape());
    std::vector<float> expected_dst(static_cast<std::size_t>(dst.size())),
        expected_diff_src(static_cast<std::size_t>(src.size()));
    ref::global_avg_pool_forward(g, src.data(), expected_dst.data());
    ref::global_avg_pool_backward(g, diff_dst.data(), expected_diff_src.data());
    EXPECT_TRUE(matches_reference(dst.values(), expected_dst)) << "dst";
    EXPECT_TRUE(matches_reference(diff_src.values(), expected_diff_src)) << "diff_src";
  }
}

// The shape lists must really contain the cases the header promises.
TEST(OpsVsRefCoverage, CasesIncludeBatchOneOddSizesStrideTwoAndAsymmetricPadding) {
  bool batch_one = false, odd = false, stride_two = false, asymmetric = false, same = false;
  for (const Conv2dGeometry& g : conv_cases()) {
    batch_one |= g.batch == 1;
    odd |= g.in_h == 7 || g.in_h == 13;
    stride_two |= g.window.stride_h == 2;
    same |= g.window.pad_top > 0 && g.window.pad_top == g.window.pad_bottom;
    asymmetric |= g.window.pad_bottom == g.window.pad_top + 1 && g.window.pad_top > 0;
  }
  EXPECT_TRUE(batch_one && odd && stride_two && same && asymmetric);
}

TEST(OpsVsRefCoverage, BatchNormCasesIncludeBatchOneImagesFlatAndOddSizes) {
  bool image_batch_one = false, flat_batch_one = false, odd = false, one_channel = false;
  for (const ChannelGeometry& g : batch_norm_cases()) {
    image_batch_one |= g.batch == 1 && g.height > 1;
    flat_batch_one |= g.batch == 1 && g.height == 1 && g.width == 1;
    odd |= g.height % 2 == 1 && g.height > 1;
    one_channel |= g.channels == 1;
  }
  EXPECT_TRUE(image_batch_one && flat_batch_one && odd && one_channel);
}

}  // namespace
}  // namespace imgcls
