// Two speed paths that must not change what is computed beyond their stated rounding:
//
// Trimmed convolutions (Layer::compute_output_part): a Conv2D followed by pooling that never
// reads its last output rows or columns computes only the part that is read. The backend
// part (a convolution reading the top-left of larger stored images, zero gradient to the
// rest) is held to the reference ops; the model part to the same layers run one by one
// without trimming, forward and backward, to float rounding (1e-5).
//
// bf16 training steps (Precision::bf16): convolution and dense results are held to the
// reference within bf16 rounding (inputs and weights carry 8 significant bits, so a product
// is off by up to about 2^-8 relative; sums of up to 300 such products of random sign stay
// within 3e-2 of the result's scale), and must differ from the fp32 results by more than
// fp32 rounding (else bf16 was not used). Mode::infer stays fp32 bit for bit. The seed
// model's bf16 gradients follow the fp32 ones, and a few dozen bf16 steps learn like fp32.
// That is where the CPU multiplies bf16 in hardware (bf16_supported()); elsewhere each bf16
// test checks instead that bf16 is refused with a UsageError (the refusal path runs on any
// CPU with ONEDNN_MAX_CPU_ISA=AVX512_CORE, which hides AVX512-BF16 from oneDNN).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <vector>

#include "backend/backend.hpp"
#include "imgcls/error.hpp"
#include "imgcls/loss.hpp"
#include "imgcls/model.hpp"
#include "imgcls/optim.hpp"
#include "imgcls/predictor.hpp"
#include "imgcls/rng.hpp"
#include "imgcls/runtime.hpp"
#include "layers/pool2d.hpp"
#include "plan/arrange.hpp"
#include "plan/training_plan.hpp"
#include "ref/ops.hpp"
#include "support/layer_runner.hpp"

namespace imgcls {
namespace {

using i64 = std::int64_t;

std::vector<float> random_values(i64 count, Rng& rng) {
  std::vector<float> values(static_cast<std::size_t>(count));
  for (float& v : values) v = rng.uniform(-1.0f, 1.0f);
  return values;
}

Tensor random_tensor(const Shape& shape, Rng& rng) {
  Tensor t(shape);
  for (i64 i = 0; i < t.size(); ++i) t[i] = rng.uniform(-1.0f, 1.0f);
  return t;
}

// Largest |a - b| over the largest |b|.
double relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double diff = 0.0, scale = 0.0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    const double d = std::abs(double(a[i]) - double(b[i]));
    diff = std::isnan(d) ? INFINITY : std::max(diff, d);
    scale = std::max(scale, std::abs(double(b[i])));
  }
  return diff / std::max(scale, 1e-30);
}

// --- trimmed convolutions --------------------------------------------------------------

// The backend convolution over the top-left 8x7 of stored 11x9 images equals the reference
// on those pixels copied out; backward gives the reference gradients, and zero gradient to
// the pixels it did not read. Three channels, 4 filters and padding before: oneDNN computes
// it all; one channel, 16 filters, no padding: imgcls's grey-image loops
// (conv2d_grey3x3.cpp) compute forward and the weight gradient.
struct TrimCase {
  i64 channels, filters, pad_before;
};
class TrimmedConvolutionCases : public testing::TestWithParam<TrimCase> {};
INSTANTIATE_TEST_SUITE_P(Cases, TrimmedConvolutionCases,
                         testing::Values(TrimCase{3, 4, 1}, TrimCase{1, 16, 0}));

TEST_P(TrimmedConvolutionCases, ReadsTheTopLeftPartAndGivesTheRestZeroGradient) {
  Rng rng(5);
  const i64 n = 2, stored_h = 11, stored_w = 9, c = GetParam().channels;
  Conv2dGeometry g;
  g.batch = n;
  g.in_h = 8;
  g.in_w = 7;
  g.in_c = c;
  g.out_c = GetParam().filters;
  g.window.kernel_h = g.window.kernel_w = 3;
  g.window.pad_top = g.window.pad_left = GetParam().pad_before;  // none after
  const auto stored = random_values(n * stored_h * stored_w * c, rng);
  std::vector<float> part(static_cast<std::size_t>(n * g.in_h * g.in_w * c));
  for (i64 b = 0; b < n; ++b)
    for (i64 y = 0; y < g.in_h; ++y)
      for (i64 x = 0; x < g.in_w; ++x)
        for (i64 k = 0; k < c; ++k)
          part[static_cast<std::size_t>(((b * g.in_h + y) * g.in_w + x) * c + k)] =
              stored[static_cast<std::size_t>(((b * stored_h + y) * stored_w + x) * c + k)];
  const auto weights = random_values(g.out_c * c * 9, rng);
  const auto bias = random_values(g.out_c, rng);
  const i64 dst_count = n * g.out_h() * g.out_w() * g.out_c;
  const auto diff_dst = random_values(dst_count, rng);

  std::vector<float> expected(static_cast<std::size_t>(dst_count)), expected_diff_part(part.size());
  std::vector<float> expected_dw(weights.size()), expected_db(bias.size());
  ref::conv2d_forward(g, part.data(), weights.data(), bias.data(), expected.data());
  ref::conv2d_backward_data(g, diff_dst.data(), weights.data(), expected_diff_part.data());
  ref::conv2d_backward_weights(g, part.data(), diff_dst.data(), expected_dw.data(),
                               expected_db.data());

  backend::Conv2d conv(g, backend::PostOp::none, Precision::fp32, {stored_h, stored_w});
  std::vector<float> dst(expected.size(), NAN), diff_stored(stored.size(), NAN);
  std::vector<float> dw(weights.size(), NAN), db(bias.size(), NAN);
  conv.forward(stored.data(), weights.data(), bias.data(), dst.data());
  conv.backward(stored.data(), diff_dst.data(), weights.data(), dw.data(), db.data(),
                diff_stored.data());
  EXPECT_LT(relative_difference(dst, expected), 1e-5);
  EXPECT_LT(relative_difference(dw, expected_dw), 1e-5);
  EXPECT_LT(relative_difference(db, expected_db), 1e-5);
  for (i64 b = 0; b < n; ++b)
    for (i64 y = 0; y < stored_h; ++y)
      for (i64 x = 0; x < stored_w; ++x)
        for (i64 k = 0; k < c; ++k) {
          const float got =
              diff_stored[static_cast<std::size_t>(((b * stored_h + y) * stored_w + x) * c + k)];
          const bool read = y < g.in_h && x < g.in_w;
          const float want = read ? expected_diff_part[static_cast<std::size_t>(
                                        ((b * g.in_h + y) * g.in_w + x) * c + k)]
                                  : 0.0f;
          ASSERT_NEAR(got, want, 1e-5 * (1.0 + std::abs(want)))
              << "n " << b << " y " << y << " x " << x << " c " << k;
        }
}

// A model whose Conv2D + pooling pairs are trimmed, against the same layers run one by one
// (each built alone, so nothing is trimmed): same outputs, same gradients.
void expect_trimmed_model_matches_layers(std::vector<std::unique_ptr<Layer>> (*make)(),
                                         const Shape& input, i64 batch) {
  Sequential model(input);
  for (auto& layer : make()) model.add(std::move(layer));
  model.initialize(3);
  std::vector<std::unique_ptr<Layer>> alone = make();
  Shape shape = input;
  for (std::size_t i = 0; i < alone.size(); ++i) {
    alone[i]->set_name("alone_" + std::to_string(i));
    shape = alone[i]->build(shape);
    EXPECT_EQ(alone[i]->kind(), model.layer(i).kind()) << i;
  }
  // Same weights.
  std::vector<Param> model_params = model.params(), alone_params;
  for (auto& layer : alone)
    for (Param& p : layer->params()) alone_params.push_back(p);
  ASSERT_EQ(model_params.size(), alone_params.size());
  for (std::size_t i = 0; i < model_params.size(); ++i)
    *alone_params[i].value = *model_params[i].value;

  Rng rng(9);
  Shape batch_shape{batch};
  batch_shape.insert(batch_shape.end(), input.begin(), input.end());
  const Tensor images = random_tensor(batch_shape, rng);
  plan::TrainingPlan plan(model, Precision::fp32);
  const Tensor& out = plan.forward(images, 0);
  std::vector<Tensor> outputs(alone.size());
  std::vector<testing_support::LayerRunner> runners;
  for (auto& layer : alone) runners.emplace_back(*layer);
  const Tensor* src = &images;
  for (std::size_t i = 0; i < alone.size(); ++i) {
    runners[i].forward(*src, outputs[i], Mode::train);
    src = &outputs[i];
  }
  ASSERT_EQ(out.shape(), outputs.back().shape());
  EXPECT_LT(relative_difference(out.values(), outputs.back().values()), 1e-5);
  // The inference plan gives the same logits.
  const Tensor inferred = Predictor(model, batch).logits(images);
  ASSERT_EQ(inferred.shape(), outputs.back().shape());
  EXPECT_LT(relative_difference(inferred.values(), outputs.back().values()), 1e-5) << "inference";

  const Tensor diff_out = random_tensor(out.shape(), rng);
  plan.backward(diff_out);
  std::vector<Tensor> diffs(alone.size());
  const Tensor* diff = &diff_out;
  for (std::size_t i = alone.size(); i-- > 0;) {
    const Tensor& layer_src = i == 0 ? images : outputs[i - 1];
    runners[i].backward(layer_src, outputs[i], *diff, i == 0 ? nullptr : &diffs[i - 1]);
    diff = &diffs[i == 0 ? 0 : i - 1];
  }
  for (std::size_t i = 0; i < model_params.size(); ++i)
    EXPECT_LT(relative_difference(model_params[i].grad->values(), alone_params[i].grad->values()),
              1e-5)
        << model_params[i].name;
}

std::vector<std::unique_ptr<Layer>> seed_like_layers() {
  std::vector<std::unique_ptr<Layer>> l;
  l.push_back(layers::Conv2D({.filters = 8, .activation = Activation::relu}));  // 15 -> 13
  l.push_back(layers::MaxPool2D());                                             // reads 12
  l.push_back(layers::Conv2D({.filters = 6, .activation = Activation::relu}));  // 6 -> 4
  l.push_back(layers::MaxPool2D());                                             // reads all
  l.push_back(layers::Flatten());
  l.push_back(layers::Dense({.units = 5}));
  return l;
}

// Stride 2 with "same" padding (the padding after shrinks too), then 2x2 average pooling
// that leaves the last row and column of the 9x9 unread.
std::vector<std::unique_ptr<Layer>> strided_same_layers() {
  std::vector<std::unique_ptr<Layer>> l;
  l.push_back(layers::Conv2D(
      {.filters = 4, .kernel_size = 3, .strides = 2, .padding = Padding::same}));  // 17 -> 9
  l.push_back(layers::AvgPool2D({.pool_size = 2, .strides = 2}));  // 9 -> 4, reads 8
  l.push_back(layers::Flatten());
  l.push_back(layers::Dense({.units = 3}));
  return l;
}

// The seed's shape: conv2 computes 10x10 of its 11x11, pool1 then 12x12 of its 13x13 and
// conv1 24x24 of its 26x26 (grey input: imgcls's own 3x3 loops).
std::vector<std::unique_ptr<Layer>> seed_shaped_layers() {
  std::vector<std::unique_ptr<Layer>> l;
  l.push_back(layers::Conv2D({.filters = 8, .activation = Activation::relu}));  // 28 -> 26
  l.push_back(layers::MaxPool2D());                                             // -> 13
  l.push_back(layers::Conv2D({.filters = 6, .activation = Activation::relu}));  // -> 11
  l.push_back(layers::MaxPool2D());                                             // reads 10
  l.push_back(layers::Flatten());
  l.push_back(layers::Dense({.units = 5}));
  return l;
}

// The parts run back through two poolings: conv2 computes 2x2 of 3x3, reads 4x4;
// pool2 computes 4x4 of 5x5, reads 8x8; pool1 computes 8x8 of 10x10, reads 16x16 of conv1's
// 21x21 (over 2 channels: oneDNN's convolution on a strided view).
std::vector<std::unique_ptr<Layer>> two_pool_layers() {
  std::vector<std::unique_ptr<Layer>> l;
  l.push_back(layers::Conv2D({.filters = 4}));                                  // 23 -> 21
  l.push_back(layers::MaxPool2D());                                             // -> 10
  l.push_back(layers::AvgPool2D({.pool_size = 2, .strides = 2}));               // -> 5
  l.push_back(layers::Conv2D({.filters = 3, .activation = Activation::relu}));  // -> 3
  l.push_back(layers::MaxPool2D());                                             // reads 2
  l.push_back(layers::Flatten());
  l.push_back(layers::Dense({.units = 4}));
  return l;
}

TEST(TrimmedConvolution, SeedShapedModelMatchesItsLayersRunAlone) {
  expect_trimmed_model_matches_layers(seed_shaped_layers, {28, 28, 1}, 3);
}

TEST(TrimmedConvolution, TrimmingThroughTwoPoolingsMatches) {
  expect_trimmed_model_matches_layers(two_pool_layers, {23, 23, 2}, 2);
}

TEST(TrimmedConvolution, TrimmingRunsBackToTheFirstConvolution) {
  Sequential model = presets::seed();
  for (const Mode mode : {Mode::infer, Mode::train}) {
    SCOPED_TRACE(mode == Mode::train ? "training" : "inference");
    const std::vector<KernelSpec> specs = plan::arrange(model, 32, mode, Precision::fp32);
    EXPECT_EQ(specs[0].output_part, (Shape{24, 24, 32}));
    EXPECT_EQ(specs[1].input_part, (Shape{24, 24, 32}));
    EXPECT_EQ(specs[1].output_part, (Shape{12, 12, 32}));
    EXPECT_EQ(specs[2].input_part, (Shape{12, 12, 32}));
    EXPECT_EQ(specs[2].output_part, (Shape{10, 10, 64}));
    EXPECT_EQ(specs[3].input_part, (Shape{10, 10, 64}));
    EXPECT_FALSE(specs[0].input_part) << "the images are whole";
    for (const KernelSpec& spec : specs) EXPECT_EQ(spec.backward, mode == Mode::train);
  }
}

// A convolution keeps its weights converted into oneDNN's layout while they do not change
// (FormatBridge::to_primitive_if_changed): a predictor kept across a change of the model's
// weights must see the change, down to a single value.
TEST(ConvertedWeights, APredictorSeesEveryChangeOfTheWeights) {
  Sequential model = presets::seed();
  model.initialize(5);
  Rng rng(21);
  const Tensor images = random_tensor({4, 28, 28, 1}, rng);
  Predictor kept(model, 4);
  const std::vector<float> before = kept.logits(images).values();
  Tensor& conv2 = *model.params()[2].value;  // conv2's weights (conv1's are 0 and 1)
  ASSERT_EQ(conv2.shape(), (Shape{64, 32, 3, 3})) << model.params()[2].name;
  conv2[0] += 0.5f;
  const std::vector<float> after = kept.logits(images).values();
  EXPECT_GT(relative_difference(after, before), 1e-6) << "the change was not seen";
  EXPECT_EQ(after, Predictor(model, 4).logits(images).values());
  conv2[0] -= 0.5f;
  EXPECT_LT(relative_difference(kept.logits(images).values(), before), 1e-6);
}

TEST(TrimmedConvolution, SeedLikeModelMatchesItsLayersRunAlone) {
  expect_trimmed_model_matches_layers(seed_like_layers, {15, 15, 2}, 3);
}

TEST(TrimmedConvolution, StridedSamePaddingBeforeAveragePoolingMatches) {
  expect_trimmed_model_matches_layers(strided_same_layers, {17, 17, 1}, 2);
}

TEST(TrimmedConvolution, TheSummaryKeepsTheDeclaredShapes) {
  Sequential model = presets::seed();
  // conv2 is trimmed to 10x10 inside; the summary still shows what Keras shows.
  EXPECT_NE(model.summary().find("(None, 11, 11, 64)"), std::string::npos) << model.summary();
  const Shape part{10, 10, 64};
  EXPECT_EQ(dynamic_cast<const layers::Pool2DLayer&>(model.layer(3)).input_part_read(), part);
  const std::vector<KernelSpec> specs = plan::arrange(model, 32, Mode::train, Precision::fp32);
  EXPECT_EQ(specs[2].output_part, part);
  EXPECT_EQ(specs[3].input_part, part);
}

// --- bf16 --------------------------------------------------------------------------------

constexpr double kBf16Tolerance = 3e-2;
constexpr double kFp32Rounding = 1e-5;

struct Computed {
  const char* name;
  const std::vector<float>* got;
  const std::vector<float>* want;
};
// Runs `ask_for_bf16`. Where this CPU runs bf16, it must succeed, and the result is true:
// the test goes on to check what bf16 computes. Elsewhere it must be refused with a
// UsageError naming what is missing, and the result is false: the test ends there.
template <class AskForBf16>
bool bf16_runs_here_or_is_refused(AskForBf16 ask_for_bf16) {
  if (bf16_supported()) {
    ask_for_bf16();
    return true;
  }
  std::printf("this CPU has no AVX512-BF16 (as oneDNN sees it): checking that bf16 is refused\n");
  try {
    ask_for_bf16();
    ADD_FAILURE() << "bf16 was accepted on a CPU without AVX512-BF16";
  } catch (const UsageError& e) {
    EXPECT_THAT(e.what(), testing::HasSubstr("AVX512-BF16"));
  }
  return false;
}

// Each result within bf16 rounding of the reference, and further from it than fp32 rounding.
void expect_bf16_rounding(std::initializer_list<Computed> results) {
  for (const Computed& r : results) {
    const double difference = relative_difference(*r.got, *r.want);
    EXPECT_LT(difference, kBf16Tolerance) << r.name;
    EXPECT_GT(difference, kFp32Rounding) << r.name << ": no bf16 rounding, so not computed in bf16";
  }
}

TEST(Bf16, ConvolutionForwardAndBackwardWithinBf16RoundingOfTheReference) {
  Rng rng(11);
  Conv2dGeometry g;
  g.batch = 4;
  g.in_h = g.in_w = 9;
  g.in_c = 32;  // 288 products per output
  g.out_c = 16;
  g.window.kernel_h = g.window.kernel_w = 3;
  const auto src = random_values(g.batch * 81 * g.in_c, rng);
  const auto weights = random_values(g.out_c * g.in_c * 9, rng);
  const auto bias = random_values(g.out_c, rng);
  const i64 dst_count = g.batch * g.out_h() * g.out_w() * g.out_c;
  const auto diff_dst = random_values(dst_count, rng);
  if (!bf16_runs_here_or_is_refused(
          [&] { backend::Conv2d refused(g, backend::PostOp::none, Precision::bf16); }))
    return;
  std::vector<float> expected(static_cast<std::size_t>(dst_count)), expected_ds(src.size());
  std::vector<float> expected_dw(weights.size()), expected_db(bias.size());
  ref::conv2d_forward(g, src.data(), weights.data(), bias.data(), expected.data());
  ref::conv2d_backward_data(g, diff_dst.data(), weights.data(), expected_ds.data());
  ref::conv2d_backward_weights(g, src.data(), diff_dst.data(), expected_dw.data(),
                               expected_db.data());

  backend::Conv2d conv(g, backend::PostOp::none, Precision::bf16);
  std::vector<float> dst(expected.size()), ds(src.size()), dw(weights.size()), db(bias.size());
  conv.forward(src.data(), weights.data(), bias.data(), dst.data());
  conv.backward(src.data(), diff_dst.data(), weights.data(), dw.data(), db.data(), ds.data());
  expect_bf16_rounding({{"dst", &dst, &expected},
                        {"diff_src", &ds, &expected_ds},
                        {"diff_weights", &dw, &expected_dw}});
  // The bias gradient sums diff_dst, which is rounded to bf16 first.
  EXPECT_LT(relative_difference(db, expected_db), kBf16Tolerance);
}

TEST(Bf16, DenseForwardAndBackwardWithinBf16RoundingOfTheReference) {
  Rng rng(12);
  DenseGeometry g{.batch = 8, .in_features = 300, .out_features = 20};
  const auto src = random_values(g.batch * g.in_features, rng);
  const auto weights = random_values(g.out_features * g.in_features, rng);
  const auto bias = random_values(g.out_features, rng);
  const auto diff_dst = random_values(g.batch * g.out_features, rng);
  if (!bf16_runs_here_or_is_refused(
          [&] { backend::Dense refused(g, backend::PostOp::none, Precision::bf16); }))
    return;
  std::vector<float> expected(diff_dst.size()), expected_ds(src.size()),
      expected_dw(weights.size()), expected_db(bias.size());
  ref::dense_forward(g, src.data(), weights.data(), bias.data(), expected.data());
  ref::dense_backward_data(g, diff_dst.data(), weights.data(), expected_ds.data());
  ref::dense_backward_weights(g, src.data(), diff_dst.data(), expected_dw.data(),
                              expected_db.data());

  backend::Dense dense(g, backend::PostOp::none, Precision::bf16);
  std::vector<float> dst(expected.size()), ds(src.size()), dw(weights.size()), db(bias.size());
  dense.forward(src.data(), weights.data(), bias.data(), dst.data());
  dense.backward(src.data(), diff_dst.data(), weights.data(), dw.data(), db.data(), ds.data());
  expect_bf16_rounding({{"dst", &dst, &expected},
                        {"diff_src", &ds, &expected_ds},
                        {"diff_weights", &dw, &expected_dw}});
}

// Training precision is for Mode::train; inference of the same weights is fp32, equal to a
// model that never heard of bf16.
TEST(Bf16, InferenceStaysFp32) {
  Sequential model = presets::seed();
  model.initialize(4);
  if (!bf16_runs_here_or_is_refused([&] { plan::TrainingPlan refused(model, Precision::bf16); }))
    return;
  Rng rng(13);
  Tensor images({5, 28, 28, 1});
  for (i64 i = 0; i < images.size(); ++i) images[i] = rng.uniform(0.0f, 1.0f);
  // Inference kernels are fp32 whatever precision is asked of the arrangement...
  for (const KernelSpec& spec : plan::arrange(model, 5, Mode::infer, Precision::bf16))
    EXPECT_EQ(spec.precision, Precision::fp32);
  // ... so a bf16-trained model predicts what an fp32 one does, while its training forward
  // computes in bf16.
  const std::vector<float> want = Predictor(model).logits(images).values();
  plan::TrainingPlan fp32(model, Precision::fp32), bf16(model, Precision::bf16);
  EXPECT_LT(relative_difference(fp32.forward(images, 0).values(), want), kFp32Rounding);
  EXPECT_GT(relative_difference(bf16.forward(images, 0).values(), want), kFp32Rounding)
      << "Mode::train should compute in bf16";
}

// One learnable batch: each class a fixed random pattern plus noise.
struct PatternBatch {
  Tensor images;
  std::vector<std::int32_t> labels;
};
PatternBatch pattern_batch(i64 batch) {
  Rng rng(14);
  const i64 pixels = 28 * 28;
  std::vector<std::vector<float>> patterns(10);
  for (auto& p : patterns) p = random_values(pixels, rng);
  PatternBatch b{Tensor({batch, 28, 28, 1}),
                 std::vector<std::int32_t>(static_cast<std::size_t>(batch))};
  for (i64 i = 0; i < batch; ++i) {
    b.labels[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(i % 10);
    const auto& pattern = patterns[static_cast<std::size_t>(i % 10)];
    for (i64 j = 0; j < pixels; ++j)
      b.images[i * pixels + j] =
          0.5f + 0.3f * pattern[static_cast<std::size_t>(j)] + 0.1f * rng.uniform(-1.0f, 1.0f);
  }
  return b;
}

// The same (initial) weights and batch: the loss within 1%, and every parameter's bf16
// gradient within 30% (L2) of the fp32 one, yet not equal to it up to fp32 rounding. At
// initialisation a gradient is a sum over the batch with heavy cancellation (predictions are
// near uniform), so bf16's 8-bit rounding of the summands shows up large: 1-17% measured,
// per parameter. A wrong gradient is off by 100% or more.
TEST(Bf16, SeedModelGradientsFollowFp32) {
  if (!bf16_runs_here_or_is_refused([] {
        Sequential model = presets::seed();
        plan::TrainingPlan plan(model, Precision::bf16);
      }))
    return;
  const PatternBatch b = pattern_batch(32);
  auto gradients = [&](Precision precision, double& loss) {
    Sequential model = presets::seed();
    model.initialize(2);
    plan::TrainingPlan plan(model, precision);
    Tensor diff;
    loss = softmax_cross_entropy(plan.forward(b.images, 0), b.labels, &diff);
    plan.backward(diff);
    std::vector<std::vector<float>> grads;
    for (const Param& p : model.params()) grads.push_back(p.grad->values());
    return grads;
  };
  double fp32_loss = 0.0, bf16_loss = 0.0;
  const auto fp32 = gradients(Precision::fp32, fp32_loss);
  const auto bf16 = gradients(Precision::bf16, bf16_loss);
  EXPECT_NEAR(bf16_loss, fp32_loss, 0.01 * fp32_loss);
  EXPECT_NE(bf16_loss, fp32_loss);
  ASSERT_EQ(fp32.size(), bf16.size());
  for (std::size_t i = 0; i < fp32.size(); ++i) {
    double diff2 = 0.0, norm2 = 0.0;
    for (std::size_t j = 0; j < fp32[i].size(); ++j) {
      diff2 += std::pow(double(bf16[i][j]) - fp32[i][j], 2);
      norm2 += std::pow(double(fp32[i][j]), 2);
    }
    const double relative = std::sqrt(diff2 / norm2);
    EXPECT_LT(relative, 0.3) << "parameter " << i;
    EXPECT_GT(relative, kFp32Rounding) << "parameter " << i;
  }
}

// Thirty Adam steps on that batch learn it in both precisions alike: the loss falls below
// 60% of its start, and bf16 ends within 15% of fp32 (trajectories drift apart a little
// as rounding differences compound).
TEST(Bf16, SeedModelLearnsLikeFp32) {
  if (!bf16_runs_here_or_is_refused([] {
        Sequential model = presets::seed();
        plan::TrainingPlan plan(model, Precision::bf16);
      }))
    return;
  const PatternBatch b = pattern_batch(40);
  auto train = [&](Precision precision) {
    Sequential model = presets::seed();
    model.initialize(2);
    plan::TrainingPlan plan(model, precision);
    Adam adam;
    Tensor diff;
    std::vector<double> losses;
    for (int step = 0; step < 30; ++step) {
      losses.push_back(softmax_cross_entropy(plan.forward(b.images, 0), b.labels, &diff));
      plan.backward(diff);
      adam.step(model.params());
    }
    return losses;
  };
  const std::vector<double> fp32 = train(Precision::fp32), bf16 = train(Precision::bf16);
  std::printf("losses fp32 %.4f -> %.4f, bf16 %.4f -> %.4f\n", fp32.front(), fp32.back(),
              bf16.front(), bf16.back());
  EXPECT_LT(fp32.back(), 0.6 * fp32.front());
  EXPECT_LT(bf16.back(), 0.6 * bf16.front());
  EXPECT_NEAR(bf16.back(), fp32.back(), 0.15 * fp32.back());
}

}  // namespace
}  // namespace imgcls
