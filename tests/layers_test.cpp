// The geometry the layers derive from their options, which neither the ops-vs-ref tests (they
// are handed a geometry) nor the gradient checks (a consistently wrong geometry still has
// consistent gradients) can see:
//  - Conv2D "valid" and "same" follow Keras/TensorFlow: "same" gives ceil(in / stride)
//    outputs and puts the odd pixel of padding at the bottom/right. Each layer's forward must
//    equal the reference convolution with the padding computed here from that rule.
//  - MaxPool2D: floor((in - pool) / stride) + 1 outputs, strides defaulting to pool_size.
// Tolerance: |layer - ref| <= 1e-4 * (1 + |ref|), as in ops_vs_ref_test.
#include "imgcls/layers.hpp"

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <cmath>

#include "ref/ops.hpp"
#include "support/layer_runner.hpp"

namespace imgcls {
namespace {

using i64 = std::int64_t;

void fill_uniform(Tensor& t, Rng& rng) {
  for (i64 i = 0; i < t.size(); ++i) t[i] = rng.uniform(-1.0f, 1.0f);
}

void expect_close(const Tensor& got, const std::vector<float>& want) {
  ASSERT_EQ(static_cast<std::size_t>(got.size()), want.size());
  for (std::size_t i = 0; i < want.size(); ++i)
    ASSERT_LE(std::abs(got[static_cast<i64>(i)] - want[i]), 1e-4 * (1 + std::abs(want[i])))
        << "element " << i;
}

struct ConvCase {
  i64 in, kernel, stride;
  Padding padding;
  i64 out;                    // expected output side
  i64 pad_before, pad_after;  // expected padding (TensorFlow's rule)
};

TEST(Conv2DGeometry, ValidAndSamePaddingFollowTensorFlow) {
  const ConvCase cases[] = {
      {6, 3, 2, Padding::same, 3, 0, 1},  // total 1: the odd pixel goes after
      {7, 3, 2, Padding::same, 4, 1, 1},  {5, 3, 1, Padding::same, 5, 1, 1},
      {6, 4, 1, Padding::same, 6, 1, 2},  // even kernel: total 3
      {7, 5, 2, Padding::same, 4, 2, 2},  {5, 1, 2, Padding::same, 3, 0, 0},
      {7, 3, 2, Padding::valid, 3, 0, 0}, {13, 5, 1, Padding::valid, 9, 0, 0},
  };
  Rng rng(1);
  for (const ConvCase& c : cases) {
    SCOPED_TRACE(fmt::format("in {} kernel {} stride {} {}", c.in, c.kernel, c.stride,
                             c.padding == Padding::same ? "same" : "valid"));
    constexpr i64 kBatch = 2, kChannels = 3, kFilters = 4;
    auto layer = layers::Conv2D(
        {.filters = kFilters, .kernel_size = c.kernel, .strides = c.stride, .padding = c.padding});
    // Height and width differ so that swapped axes would show.
    const i64 in_w = c.in + 1;
    const i64 out_w = c.padding == Padding::same ? (in_w + c.stride - 1) / c.stride
                                                 : (in_w - c.kernel) / c.stride + 1;
    testing_support::LayerRunner layer_run(*layer);
    const Shape out_shape = layer->build({c.in, in_w, kChannels});
    ASSERT_EQ(out_shape, (Shape{c.out, out_w, kFilters}));
    layer->initialize(rng);
    const std::vector<Param> params = layer->params();
    fill_uniform(*params[1].value, rng);  // nonzero biases

    Tensor src({kBatch, c.in, in_w, kChannels}), dst;
    fill_uniform(src, rng);
    layer_run.forward(src, dst, Mode::infer);
    ASSERT_EQ(dst.shape(), (Shape{kBatch, c.out, out_w, kFilters}));

    Conv2dGeometry g{
        .batch = kBatch, .in_h = c.in, .in_w = in_w, .in_c = kChannels, .out_c = kFilters};
    g.window = {.kernel_h = c.kernel,
                .kernel_w = c.kernel,
                .stride_h = c.stride,
                .stride_w = c.stride,
                .pad_top = c.pad_before,
                .pad_left = 0,
                .pad_bottom = c.pad_after,
                .pad_right = 0};
    if (c.padding == Padding::same) {
      const i64 total_w = std::max<i64>((out_w - 1) * c.stride + c.kernel - in_w, 0);
      g.window.pad_left = total_w / 2;
      g.window.pad_right = total_w - total_w / 2;
    }
    ASSERT_EQ(g.out_h(), c.out);
    ASSERT_EQ(g.out_w(), out_w);
    std::vector<float> want(static_cast<std::size_t>(dst.size()));
    ref::conv2d_forward(g, src.data(), params[0].value->data(), params[1].value->data(),
                        want.data());
    expect_close(dst, want);
  }
}

TEST(MaxPool2DGeometry, FloorOutputAndDefaultStride) {
  struct PoolCase {
    i64 in, pool, strides, out;
  };
  const PoolCase cases[] = {{28, 2, 0, 14}, {7, 2, 0, 3}, {7, 3, 2, 3}, {13, 3, 1, 11}};
  Rng rng(2);
  for (const PoolCase& c : cases) {
    SCOPED_TRACE(fmt::format("in {} pool {} strides {}", c.in, c.pool, c.strides));
    auto layer = layers::MaxPool2D({.pool_size = c.pool, .strides = c.strides});
    testing_support::LayerRunner layer_run(*layer);
    ASSERT_EQ(layer->build({c.in, c.in, 2}), (Shape{c.out, c.out, 2}));
    Tensor src({1, c.in, c.in, 2}), dst;
    fill_uniform(src, rng);
    layer_run.forward(src, dst, Mode::infer);
    const i64 stride = c.strides == 0 ? c.pool : c.strides;
    Pool2dGeometry g{.batch = 1, .in_h = c.in, .in_w = c.in, .channels = 2};
    g.window = {.kernel_h = c.pool, .kernel_w = c.pool, .stride_h = stride, .stride_w = stride};
    std::vector<float> want(static_cast<std::size_t>(dst.size()));
    ref::max_pool2d_forward(g, src.data(), want.data());
    expect_close(dst, want);
  }
}

}  // namespace
}  // namespace imgcls
