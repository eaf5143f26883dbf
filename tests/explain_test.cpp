// Explanations (include/imgcls/explain.hpp), tested by what they must do rather than by their
// shapes alone:
//  - the gradient plan's input gradient equals central finite differences of the logit
//    (computed by a Predictor, an independent path) on a model with Conv2D, BatchNorm
//    (moving statistics), LeakyReLU, MaxPool, Dropout, ELU, AvgPool, Dense, and neither
//    the model's parameters, buffers nor gradients change;
//  - method identities: integrated gradients add up to logit(input) - logit(baseline);
//    occlusion with a 1-pixel patch is each pixel's logit drop; Grad-CAM on the input-sized
//    layer of a one-layer model is the hand-computed map;
//  - the sanity checks of Adebayo et al. (2018) on the seed model of tests/fixtures: the
//    maps of the trained model and of the same architecture with random weights have a
//    Spearman rank correlation below a measured bound, and so do the maps of the predicted
//    class and of the runner-up;
//  - a deletion test on 200 MNIST test images: removing (setting to 0, black) the 10% most
//    salient pixels lowers the predicted class's probability more than removing 10% of the
//    pixels at random, on at least 90% of the images, for every method;
//  - Grad-CAM (on conv2d_2 and on maxpool2d_3) and the input gradient against PyTorch:
//    tests/explain/make_gradcam_fixture.py loads the seed model into torch and writes the
//    expected maps for 4 MNIST test digits and 2 classes each
//    (tests/explain/gradcam_fixture.safetensors; the test reads only that file);
//  - the maps are larger on a digit's strokes than on its background, for every method;
//  - every method on a colour model (finite maps of the input's size; completeness).
#include "imgcls/explain.hpp"

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <vector>

#include "explain/maps.hpp"
#include "imgcls/data.hpp"
#include "imgcls/io.hpp"
#include "imgcls/loss.hpp"
#include "imgcls/predictor.hpp"
#include "imgcls/preprocess.hpp"
#include "io/safetensors.hpp"
#include "plan/gradient_plan.hpp"
#include "support/ci.hpp"
#include "support/colour_model.hpp"

namespace imgcls {
namespace {

const std::string kModelPath = std::string(IMGCLS_PREDICT_FIXTURES_DIR) + "/seed_model.safetensors";
const std::string kTorchFixture = std::string(IMGCLS_EXPLAIN_DIR) + "/gradcam_fixture.safetensors";
constexpr std::int64_t kSide = 28;

constexpr ExplainMethod kAllMethods[] = {ExplainMethod::saliency, ExplainMethod::gradient_x_input,
                                         ExplainMethod::integrated_gradients,
                                         ExplainMethod::gradcam, ExplainMethod::occlusion};

void fill_uniform(Tensor& tensor, float low, float high, Rng& rng) {
  for (std::int64_t i = 0; i < tensor.size(); ++i) tensor[i] = rng.uniform(low, high);
}

bool have_mnist() {
  const std::string dir = IMGCLS_MNIST_DIR;
  return std::filesystem::exists(dir + "/t10k-images-idx3-ubyte") ||
         std::filesystem::exists(dir + "/t10k-images-idx3-ubyte.gz");
}

// The first `count` MNIST test images, each [28, 28, 1] in [0, 1].
std::vector<Tensor> mnist_test_images(std::int64_t count) {
  const Dataset test = load_mnist_test(IMGCLS_MNIST_DIR);
  std::vector<Tensor> images;
  for (std::int64_t i = 0; i < count; ++i) {
    Tensor image({kSide, kSide, 1});
    test.images.to_unit(i, 1, image.data());
    images.push_back(std::move(image));
  }
  return images;
}

// Ranks with ties averaged (1-based).
std::vector<double> ranks(const Tensor& values) {
  const auto n = static_cast<std::size_t>(values.size());
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return values[std::int64_t(a)] < values[std::int64_t(b)];
  });
  std::vector<double> rank(n);
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j + 1 < n && values[std::int64_t(order[j + 1])] == values[std::int64_t(order[i])]) ++j;
    const double mean = (double(i) + double(j)) / 2.0 + 1.0;
    for (std::size_t k = i; k <= j; ++k) rank[order[k]] = mean;
    i = j + 1;
  }
  return rank;
}

// Spearman's rank correlation: the Pearson correlation of the ranks. 0 when one map is
// constant (its ranks carry no order).
double spearman(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  const std::vector<double> ra = ranks(a), rb = ranks(b);
  const double n = double(ra.size());
  const double mean_a = std::accumulate(ra.begin(), ra.end(), 0.0) / n;
  const double mean_b = std::accumulate(rb.begin(), rb.end(), 0.0) / n;
  double cov = 0, var_a = 0, var_b = 0;
  for (std::size_t i = 0; i < ra.size(); ++i) {
    cov += (ra[i] - mean_a) * (rb[i] - mean_b);
    var_a += (ra[i] - mean_a) * (ra[i] - mean_a);
    var_b += (rb[i] - mean_b) * (rb[i] - mean_b);
  }
  return var_a == 0 || var_b == 0 ? 0.0 : cov / std::sqrt(var_a * var_b);
}

// The logits of one input [H, W, C].
Tensor logits_of(Predictor& predictor, const Tensor& input) {
  Tensor batch = input;
  Shape shape = input.shape();
  shape.insert(shape.begin(), 1);
  batch.reshape(shape);
  return predictor.logits(batch);
}

// log softmax(logits)[k], in double: compares probabilities near 1 that float would tie.
double log_probability(const Tensor& logits, std::int64_t k) {
  double top = logits[0];
  for (std::int64_t c = 0; c < logits.size(); ++c) top = std::max(top, double(logits[c]));
  double sum = 0;
  for (std::int64_t c = 0; c < logits.size(); ++c) sum += std::exp(double(logits[c]) - top);
  return double(logits[k]) - top - std::log(sum);
}

// ----------------------------------------------------------------------------------------
// The gradient plan

// Every kind whose backward matters in inference, with non-trivial BatchNorm statistics.
Sequential every_kind_model() {
  Sequential model({10, 9, 2});
  model.add(layers::Conv2D({.filters = 4, .kernel_size = 3, .padding = Padding::same}));
  model.add(layers::BatchNorm());
  model.add(layers::LeakyReLU());
  model.add(layers::MaxPool2D({.pool_size = 2}));
  model.add(layers::Dropout({.rate = 0.5}));
  model.add(layers::Conv2D({.filters = 5, .kernel_size = 2, .activation = Activation::relu}));
  model.add(layers::ELU());
  model.add(layers::AvgPool2D({.pool_size = 2}));
  model.add(layers::Flatten());
  model.add(layers::Dense({.units = 6, .activation = Activation::relu}));
  model.add(layers::BatchNorm());
  model.add(layers::Dense({.units = 3}));
  model.initialize(11);
  Rng rng(12);
  for (const Param& p : model.params())
    if (p.name.find("gamma") != std::string::npos || p.name.find("beta") != std::string::npos)
      fill_uniform(*p.value, 0.5f, 1.5f, rng);
  for (const Param& b : model.buffers())
    fill_uniform(*b.value, b.name.find("variance") != std::string::npos ? 0.5f : -0.5f, 1.5f, rng);
  return model;
}

TEST(GradientPlan, InputGradientMatchesFiniteDifferences) {
  const Sequential model = every_kind_model();
  constexpr std::int64_t kBatch = 2;
  Tensor images({kBatch, 10, 9, 2});
  Rng rng(13);
  fill_uniform(images, -1.0f, 1.0f, rng);
  const std::int64_t targets[kBatch] = {2, 0};
  plan::GradientPlan plan(model, kBatch);
  plan.forward(images);
  Tensor diff_logits({kBatch, 3});
  for (std::int64_t n = 0; n < kBatch; ++n) diff_logits[n * 3 + targets[n]] = 1.0f;
  const Tensor gradient = plan.backward(diff_logits);
  ASSERT_EQ(gradient.shape(), images.shape());

  // The logit of image n's target, through the inference plan (trimming, fusion and all).
  Predictor predictor(model, 1);
  const std::int64_t sample = images.size() / kBatch;
  const auto logit = [&](std::int64_t n, const Tensor& batch) {
    Tensor one({1, 10, 9, 2},
               std::vector<float>(batch.data() + n * sample, batch.data() + (n + 1) * sample));
    return double(predictor.logits(one)[targets[n]]);
  };
  constexpr double kStep = 1e-2, kTolerance = 2e-2;
  int checked = 0, kinks = 0;
  double typical = 0;
  for (std::int64_t i = 0; i < gradient.size(); ++i) typical += double(gradient[i]) * gradient[i];
  typical = std::sqrt(typical / double(gradient.size()));
  for (std::int64_t i = 0; i < images.size(); ++i) {
    const std::int64_t n = i / sample;
    Tensor probe = images;
    // f at x + k h / 2, k = -2..2: linear there (no kink) when the half-step slopes agree.
    double f[5];
    for (int k = 0; k < 5; ++k) {
      probe[i] = static_cast<float>(double(images[i]) + (k - 2) * kStep / 2);
      f[k] = logit(n, probe);
    }
    double low = INFINITY, high = -INFINITY;
    for (int k = 0; k < 4; ++k) {
      const double slope = (f[k + 1] - f[k]) / (kStep / 2);
      low = std::min(low, slope);
      high = std::max(high, slope);
    }
    const double scale = std::max({std::abs(low), std::abs(high), typical});
    if ((high - low) / scale > kTolerance) {
      ++kinks;
      continue;
    }
    const double numeric = (f[4] - f[0]) / (2 * kStep);
    const double analytic = gradient[i];
    ++checked;
    EXPECT_LE(
        std::abs(analytic - numeric) / std::max({std::abs(analytic), std::abs(numeric), typical}),
        kTolerance)
        << "input " << i << ": analytic " << analytic << ", numeric " << numeric;
  }
  EXPECT_GE(checked, 3 * kinks) << checked << " checked, " << kinks << " at kinks";
  EXPECT_GE(checked, images.size() / 2);
}

TEST(GradientPlan, OutputGradientOfALayerIsThatOfItsOutput) {
  // The dense head: logits = W relu(A) + b, so d(logit k)/d(relu output) = W[k] where the
  // unit is active, and d(logit k)/d(Dense output before it) is W[k] masked by the ReLU.
  Sequential model({4, 4, 1});
  model.add(layers::Flatten());
  model.add(layers::Dense({.units = 5, .activation = Activation::relu}));
  model.add(layers::Dense({.units = 3}));
  model.initialize(3);
  Tensor image({1, 4, 4, 1});
  Rng rng(4);
  fill_uniform(image, 0.0f, 1.0f, rng);
  plan::GradientPlan plan(model, 1);
  plan.forward(image);
  Tensor diff({1, 3});
  diff[1] = 1.0f;
  plan.backward(diff);
  const Tensor& hidden = plan.output(1);
  const Tensor& gradient = plan.output_gradient(1);
  ASSERT_EQ(gradient.shape(), (Shape{1, 5}));
  const Tensor& weights = *model.params()[2].value;  // [3, 5]
  for (std::int64_t u = 0; u < 5; ++u)
    EXPECT_FLOAT_EQ(gradient[u], weights[1 * 5 + u]) << "unit " << u << " (" << hidden[u] << ")";
  EXPECT_EQ(plan.output_gradient(2).values(), diff.values());
}

TEST(GradientPlan, LeavesTheModelAsItWas) {
  Sequential model = every_kind_model();
  constexpr float kMark = 777.0f;
  for (const Param& p : model.params()) p.grad->fill(kMark);
  std::vector<std::vector<float>> before;
  for (const Param& p : model.params_and_buffers()) before.push_back(p.value->values());
  const Sequential& shared = model;
  Tensor input({10, 9, 2});
  Rng rng(5);
  fill_uniform(input, 0.0f, 1.0f, rng);
  Explainer explainer(shared);
  for (ExplainMethod method : kAllMethods) explainer.explain(input, {.method = method, .patch = 3});
  std::size_t i = 0;
  for (const Param& p : model.params_and_buffers())
    EXPECT_EQ(p.value->values(), before[i++]) << p.name;
  for (const Param& p : model.params())
    EXPECT_TRUE(std::all_of(p.grad->values().begin(), p.grad->values().end(),
                            [](float v) { return v == kMark; }))
        << p.name << "'s gradient was written";
}

// ----------------------------------------------------------------------------------------
// Method identities on the seed model

TEST(ExplainMethods, IntegratedGradientsAddUpToTheLogitDifference) {
  const Sequential model = load_model(kModelPath);
  Predictor predictor(model, 1);
  Rng rng(21);
  Tensor input({kSide, kSide, 1});
  fill_uniform(input, 0.0f, 1.0f, rng);
  const Tensor black({kSide, kSide, 1});
  Explainer explainer(model);
  for (std::int64_t steps : {32, 128}) {
    const Explanation e =
        explainer.explain(input, {.method = ExplainMethod::integrated_gradients, .steps = steps});
    const double total = std::accumulate(e.map.values().begin(), e.map.values().end(), 0.0);
    const double want = double(logits_of(predictor, input)[e.target_class]) -
                        logits_of(predictor, black)[e.target_class];
    fmt::print("integrated gradients, {} steps: sum {:.4f}, logit difference {:.4f}\n", steps,
               total, want);
    // A midpoint sum over a piecewise-linear path: within 5% at 32 steps, 2% at 128.
    EXPECT_NEAR(total, want, (steps == 32 ? 0.05 : 0.02) * std::abs(want)) << steps << " steps";
  }
}

TEST(ExplainMethods, OcclusionOfOnePixelIsItsLogitDrop) {
  const Sequential model = load_model(kModelPath);
  Predictor predictor(model, 1);
  const Tensor input = [] {
    Tensor t({kSide, kSide, 1});
    Rng rng(22);
    fill_uniform(t, 0.0f, 1.0f, rng);
    return t;
  }();
  const Explanation e = explain(model, input,
                                {.method = ExplainMethod::occlusion,
                                 .target_class = 3,
                                 .patch = 1,
                                 .stride = 1,
                                 .baseline = 0.25f});
  ASSERT_EQ(e.map.shape(), (Shape{kSide, kSide}));
  const float logit = logits_of(predictor, input)[3];
  for (std::int64_t p : {0, 29, 400, 783}) {
    Tensor occluded = input;
    occluded[p] = 0.25f;
    EXPECT_NEAR(e.map[p], logit - logits_of(predictor, occluded)[3], 1e-4) << "pixel " << p;
  }
}

TEST(ExplainMethods, GradcamOfAOneConvolutionModelIsTheWeightedActivation) {
  // Conv2D(2 filters, 1x1, same size as the input) -> GlobalAvgPool -> Dense: the gradient
  // at the convolution's output is W[k, c] / (h w) everywhere, so alpha_c = W[k, c] / (h w)
  // and the map is ReLU(sum_c alpha_c A_c), at the input's size (no resampling).
  Sequential model({3, 4, 1});
  model.add(layers::Conv2D({.filters = 2, .kernel_size = 1}));
  model.add(layers::GlobalAvgPool());
  model.add(layers::Dense({.units = 2}));
  model.initialize(7);
  Tensor input({3, 4, 1});
  Rng rng(8);
  fill_uniform(input, -1.0f, 1.0f, rng);
  const Explanation e =
      explain(model, input, {.method = ExplainMethod::gradcam, .target_class = 1});
  EXPECT_EQ(e.layer, model.layer(0).name());
  Sequential& m = model;
  const Tensor& conv_w = *m.params()[0].value;  // [2, 1, 1, 1]
  const Tensor& conv_b = *m.params()[1].value;
  const Tensor& dense_w = *m.params()[2].value;  // [2, 2]
  for (std::int64_t p = 0; p < 12; ++p) {
    double sum = 0;
    for (std::int64_t c = 0; c < 2; ++c)
      sum += dense_w[1 * 2 + c] / 12.0 * (conv_w[c] * input[p] + conv_b[c]);
    EXPECT_NEAR(e.map[p], std::max(sum, 0.0), 1e-6) << "pixel " << p;
  }
}

TEST(ExplainMethods, BilinearResizeMatchesPyTorchsCorners) {
  // F.interpolate(torch.tensor([[[[0., 1.], [2., 3.]]]]), size=(4, 4), mode="bilinear",
  // align_corners=False)
  const Tensor map({2, 2}, {0, 1, 2, 3});
  const Tensor out = maps::resize_bilinear(map, 4, 4);
  const std::vector<float> want = {0.0f, 0.25f, 0.75f, 1.0f, 0.5f, 0.75f, 1.25f, 1.5f,
                                   1.5f, 1.75f, 2.25f, 2.5f, 2.0f, 2.25f, 2.75f, 3.0f};
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_FLOAT_EQ(out[std::int64_t(i)], want[i]) << i;
}

TEST(ExplainMethods, RefusesWhatDoesNotFitTheModel) {
  const Sequential model = load_model(kModelPath);
  Explainer explainer(model);
  const Tensor input({kSide, kSide, 1});
  EXPECT_THROW(explainer.explain(input, {.target_class = 10}), InputError);
  EXPECT_THROW(explainer.explain(input, {.target_class = -2}), InputError);
  EXPECT_THROW(
      explainer.explain(input, {.method = ExplainMethod::integrated_gradients, .steps = 0}),
      InputError);
  EXPECT_THROW(explainer.explain(input, {.method = ExplainMethod::occlusion, .patch = 29}),
               InputError);
  try {
    explainer.explain(input, {.method = ExplainMethod::gradcam, .layer = "nope"});
    ADD_FAILURE() << "an unknown layer was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("maxpool2d_3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(explainer.explain(input, {.method = ExplainMethod::gradcam, .layer = "dense_5"}),
               InputError);
  EXPECT_EQ(parse_explain_method("integrated-gradients", "x"), ExplainMethod::integrated_gradients);
  EXPECT_THROW(parse_explain_method("lime", "--method"), InputError);
}

// ----------------------------------------------------------------------------------------
// Sanity checks (Adebayo et al. 2018)

// The maps of kSanityImages MNIST test images are compared by Spearman's rank correlation,
// its mean over the images held below a bound:
//  - with the maps of the same architecture with random weights (Glorot, as the model is
//    initialised before training), explaining the same class: the bound `random_weights`;
//    and below the map's agreement with itself when uniform noise of +-kNoise is added to
//    the input, by at least kClearlyBelow, so that "different" means more than the map's
//    own wobble;
//  - with the maps of the runner-up class (the second-largest logit): the bound
//    `other_class`.
// Measured on the seed fixture (mean over the 20 images; printed by the test):
//   method                 random weights   runner-up class   own map, noisy input
//   saliency               0.640            0.796             0.815
//   gradxinput             0.042            0.021             0.613
//   integrated-gradients   0.037            0.021             0.635
//   gradcam                0.349            0.105             0.989
//   occlusion              0.021            0.061             0.883
// Saliency is the least sensitive, as Adebayo et al. found for gradients: |gradient| is
// shaped by which ReLUs the input switches on, whatever the weights (two random models
// agree at 0.913), and by the input rows and columns no output reads (26 and 27 of the
// seed, zero for every model). The signed maps change sign pixel by pixel with the
// weights and the class.
constexpr std::int64_t kSanityImages = 20;
constexpr float kNoise = 0.05f;
constexpr double kClearlyBelow = 0.1;
struct SanityBound {
  ExplainMethod method;
  double random_weights;
  double other_class;
};
constexpr SanityBound kSanityBounds[] = {
    {ExplainMethod::saliency, 0.75, 0.9},
    {ExplainMethod::gradient_x_input, 0.25, 0.25},
    {ExplainMethod::integrated_gradients, 0.25, 0.25},
    {ExplainMethod::gradcam, 0.4, 0.3},
    {ExplainMethod::occlusion, 0.25, 0.3},
};

// The class with the largest logit after `best`.
std::int64_t runner_up(const Tensor& logits, std::int64_t best) {
  std::int64_t second = best == 0 ? 1 : 0;
  for (std::int64_t c = 0; c < logits.size(); ++c)
    if (c != best && logits[c] > logits[second]) second = c;
  return second;
}

TEST(ExplainSanity, MapsDependOnTheWeightsAndOnTheClass) {
  if (!have_mnist()) IMGCLS_SKIP_OR_FAIL_UNDER_CI("MNIST is not in " IMGCLS_MNIST_DIR);
  const Sequential trained = load_model(kModelPath);
  Sequential random = Sequential::from_config(trained.config(), "random weights");
  random.initialize(99);
  const Sequential& random_model = random;
  Explainer trained_explainer(trained), random_explainer(random_model);
  Predictor predictor(trained, 1);
  const std::vector<Tensor> images = mnist_test_images(kSanityImages);
  for (const SanityBound& bound : kSanityBounds) {
    Rng rng(41);
    double weights = 0, classes = 0, noisy = 0;
    for (const Tensor& image : images) {
      const Explanation mine = trained_explainer.explain(image, {.method = bound.method});
      const std::int64_t target = mine.target_class;
      const Explanation theirs =
          random_explainer.explain(image, {.method = bound.method, .target_class = target});
      const Explanation other = trained_explainer.explain(
          image,
          {.method = bound.method, .target_class = runner_up(logits_of(predictor, image), target)});
      Tensor shaken = image;
      for (std::int64_t i = 0; i < shaken.size(); ++i)
        shaken[i] = std::clamp(shaken[i] + rng.uniform(-kNoise, kNoise), 0.0f, 1.0f);
      const Explanation again =
          trained_explainer.explain(shaken, {.method = bound.method, .target_class = target});
      weights += spearman(mine.map, theirs.map) / double(images.size());
      classes += spearman(mine.map, other.map) / double(images.size());
      noisy += spearman(mine.map, again.map) / double(images.size());
    }
    fmt::print(
        "{:<22} mean Spearman with random weights {:.3f}, with the runner-up class {:.3f}, with "
        "itself on a noisy input {:.3f}\n",
        to_string(bound.method), weights, classes, noisy);
    EXPECT_LT(weights, bound.random_weights) << to_string(bound.method);
    EXPECT_LT(weights, noisy - kClearlyBelow) << to_string(bound.method);
    EXPECT_LT(classes, bound.other_class) << to_string(bound.method);
  }
}

// ----------------------------------------------------------------------------------------
// Deletion

// Each image's map ranks its pixels; the top 10% are set to 0 (MNIST's black background),
// and, for comparison, 10% drawn at random. A win: the predicted class's probability falls
// further for the top 10% (compared as log-probabilities computed in double from the
// logits, so that probabilities near 1 do not tie in float). Required: wins on kRequiredWins
// of the images. Measured on the seed fixture: saliency 99.5%, gradxinput 100%,
// integrated-gradients 100%, occlusion 100% (mean drops of log p 2.0, 4.5, 4.6, 3.5 against
// 0.017 at random). Grad-CAM wins on 60.5% only: its map is the seed's 11x11 conv2d_2
// output upsampled, so its top 10% is a blob that covers background as well as ink, and
// setting black pixels to black changes nothing (on the 5x5 maxpool2d_3 after it, 52.5%).
// It is held instead to a mean drop kGradcamMeanRatio times random's (measured 0.851
// against 0.017).
constexpr std::int64_t kDeletionImages = 200;
constexpr double kDeletedShare = 0.10;
constexpr double kRequiredWins = 0.90;
constexpr double kGradcamMeanRatio = 5.0;

TEST(ExplainDeletion, RemovingTheMostSalientPixelsHurtsMoreThanRandomOnes) {
  if (!have_mnist()) IMGCLS_SKIP_OR_FAIL_UNDER_CI("MNIST is not in " IMGCLS_MNIST_DIR);
  const Sequential model = load_model(kModelPath);
  Explainer explainer(model);
  Predictor predictor(model, 1);
  const std::vector<Tensor> images = mnist_test_images(kDeletionImages);
  const auto deleted = static_cast<std::int64_t>(std::lround(kDeletedShare * kSide * kSide));
  for (ExplainMethod method : kAllMethods) {
    Rng rng(31);
    int wins = 0;
    double salient_drop_sum = 0, random_drop_sum = 0;
    for (const Tensor& image : images) {
      const Explanation e = explainer.explain(image, {.method = method});
      const double before = log_probability(logits_of(predictor, image), e.target_class);
      std::vector<std::int64_t> order(kSide * kSide);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(),
                       [&](std::int64_t a, std::int64_t b) { return e.map[a] > e.map[b]; });
      Tensor salient = image;
      for (std::int64_t k = 0; k < deleted; ++k) salient[order[std::size_t(k)]] = 0.0f;
      // k random pixels: a partial Fisher-Yates shuffle
      std::iota(order.begin(), order.end(), 0);
      for (std::int64_t k = 0; k < deleted; ++k)
        std::swap(order[std::size_t(k)],
                  order[std::size_t(k) + rng.uniform_index(order.size() - std::size_t(k))]);
      Tensor random = image;
      for (std::int64_t k = 0; k < deleted; ++k) random[order[std::size_t(k)]] = 0.0f;
      const double salient_drop =
          before - log_probability(logits_of(predictor, salient), e.target_class);
      const double random_drop =
          before - log_probability(logits_of(predictor, random), e.target_class);
      wins += salient_drop > random_drop;
      salient_drop_sum += salient_drop;
      random_drop_sum += random_drop;
    }
    const double share = double(wins) / double(images.size());
    fmt::print(
        "{:<22} top-10% deletion lowers log p more than random 10% on {:.1f}% of {} images "
        "(mean drop {:.3f} vs {:.3f})\n",
        to_string(method), 100 * share, images.size(), salient_drop_sum / double(images.size()),
        random_drop_sum / double(images.size()));
    if (method == ExplainMethod::gradcam)
      EXPECT_GE(salient_drop_sum, kGradcamMeanRatio * random_drop_sum);
    else
      EXPECT_GE(share, kRequiredWins) << to_string(method);
  }
}

// ----------------------------------------------------------------------------------------
// Against PyTorch (tests/explain/make_gradcam_fixture.py)

// max |got - want| over max |want|, naming the worst element.
::testing::AssertionResult close_to(const float* got, const float* want, std::int64_t count,
                                    double tolerance) {
  double largest = 0, worst = 0;
  std::int64_t at = 0;
  for (std::int64_t i = 0; i < count; ++i) largest = std::max(largest, std::abs(double(want[i])));
  for (std::int64_t i = 0; i < count; ++i) {
    const double error = std::abs(double(got[i]) - double(want[i]));
    if (error > worst) worst = error, at = i;
  }
  if (largest > 0 && worst <= tolerance * largest) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "largest |want| " << largest << ", worst error " << worst << " at " << at << " (got "
         << got[at] << ", want " << want[at] << ")";
}

TEST(ExplainTorch, GradcamAndTheInputGradientMatchPyTorch) {
  constexpr double kTolerance = 1e-4;  // float32 against float64, relative to the map's largest
  const io::SafetensorsFile fixture = io::read_safetensors(kTorchFixture);
  const auto stored = [&](const std::string& name) -> const io::StoredTensor& {
    const auto found = fixture.tensors.find(name);
    if (found == fixture.tensors.end()) throw std::runtime_error("the fixture has no " + name);
    return found->second;
  };
  const io::StoredTensor& classes = stored("classes");                 // [images, 2]
  const Tensor inputs = stored("input").to_tensor();                   // [images, 28, 28, 1]
  const Tensor gradients = stored("input_gradient").to_tensor();       // [images, 2, 28, 28, 1]
  const Tensor conv_maps = stored("gradcam_conv2d_2").to_tensor();     // [images, 2, 28, 28]
  const Tensor pool_maps = stored("gradcam_maxpool2d_3").to_tensor();  // [images, 2, 28, 28]
  const std::int64_t images = inputs.dim(0), pixels = kSide * kSide;
  ASSERT_EQ(classes.shape, (Shape{images, 2}));
  const Sequential model = load_model(kModelPath);
  Explainer explainer(model);
  plan::GradientPlan plan(model, 1);
  for (std::int64_t n = 0; n < images; ++n)
    for (std::int64_t i = 0; i < 2; ++i) {
      const std::int64_t k = classes.i32[std::size_t(n * 2 + i)];
      SCOPED_TRACE(fmt::format("image {}, class {}", n, k));
      const Tensor input({kSide, kSide, 1}, std::vector<float>(inputs.data() + n * pixels,
                                                               inputs.data() + (n + 1) * pixels));
      const std::int64_t at = (n * 2 + i) * pixels;
      const Explanation conv =
          explainer.explain(input, {.method = ExplainMethod::gradcam, .target_class = k});
      EXPECT_EQ(conv.layer, "conv2d_2");
      if (i == 0) {
        EXPECT_EQ(conv.predicted_class, k) << "torch and imgcls disagree on the class";
      }
      EXPECT_TRUE(close_to(conv.map.data(), conv_maps.data() + at, pixels, kTolerance));
      const Explanation pool = explainer.explain(
          input, {.method = ExplainMethod::gradcam, .target_class = k, .layer = "maxpool2d_3"});
      EXPECT_TRUE(close_to(pool.map.data(), pool_maps.data() + at, pixels, kTolerance));
      Tensor batch = input;
      batch.reshape({1, kSide, kSide, 1});
      plan.forward(batch);
      Tensor one_hot({1, 10});
      one_hot[k] = 1.0f;
      const Tensor& gradient = plan.backward(one_hot);
      EXPECT_TRUE(close_to(gradient.data(), gradients.data() + at, pixels, kTolerance));
    }
}

// ----------------------------------------------------------------------------------------
// What the maps point at

// On MNIST test digits the seed model's maps are larger on the strokes (pixels above
// kInk) than on the background (pixels at 0): the map's mean over the strokes beats its
// mean over the background on at least kRequiredWins of the images, and Grad-CAM's on
// kGradcamStrokeWins (its 11x11 map, upsampled, spills onto the background beside the
// strokes). Signed maps are compared as they are: a background pixel that speaks for the
// class (the gap of a 0) counts for it. Measured on the seed fixture: 100% for every method
// but Grad-CAM, 90%; mean map over the largest absolute value, strokes against background:
// saliency 0.239 / 0.051, gradxinput 0.174 / 0.000, integrated-gradients 0.177 / 0.000,
// gradcam 0.332 / 0.197, occlusion 0.413 / 0.030.
constexpr std::int64_t kStrokeImages = 100;
constexpr float kInk = 0.5f;
constexpr double kGradcamStrokeWins = 0.8;

TEST(ExplainTargets, MapsAreLargerOnTheStrokesThanOnTheBackground) {
  if (!have_mnist()) IMGCLS_SKIP_OR_FAIL_UNDER_CI("MNIST is not in " IMGCLS_MNIST_DIR);
  const Sequential model = load_model(kModelPath);
  Explainer explainer(model);
  const std::vector<Tensor> images = mnist_test_images(kStrokeImages);
  for (ExplainMethod method : kAllMethods) {
    int wins = 0;
    double stroke_share = 0, background_share = 0;
    for (const Tensor& image : images) {
      const Explanation e = explainer.explain(image, {.method = method});
      double largest = 0, stroke = 0, background = 0;
      int strokes = 0, backgrounds = 0;
      for (std::int64_t p = 0; p < kSide * kSide; ++p) {
        largest = std::max(largest, std::abs(double(e.map[p])));
        if (image[p] > kInk) {
          stroke += e.map[p];
          ++strokes;
        } else if (image[p] == 0.0f) {
          background += e.map[p];
          ++backgrounds;
        }
      }
      ASSERT_GT(largest, 0.0) << to_string(method) << ": an empty map";
      ASSERT_GT(strokes, 0);
      ASSERT_GT(backgrounds, 0);
      stroke /= strokes * largest;
      background /= backgrounds * largest;
      wins += stroke > background;
      stroke_share += stroke / double(images.size());
      background_share += background / double(images.size());
    }
    const double share = double(wins) / double(images.size());
    fmt::print(
        "{:<22} strokes above the background on {:.1f}% of {} digits (mean map / largest: "
        "strokes {:.3f}, background {:.3f})\n",
        to_string(method), 100 * share, images.size(), stroke_share, background_share);
    EXPECT_GE(share, method == ExplainMethod::gradcam ? kGradcamStrokeWins : kRequiredWins)
        << to_string(method);
    EXPECT_GT(stroke_share, 1.5 * background_share) << to_string(method);
  }
}

TEST(ExplainTargets, GradcamWeighsTheLastConvolutionBeforeItsPooling) {
  const Sequential model = load_model(kModelPath);
  const Tensor input({kSide, kSide, 1});
  const Explanation e = explain(model, input, {.method = ExplainMethod::gradcam});
  EXPECT_EQ(e.layer, "conv2d_2");
  EXPECT_EQ(explain(model, input, {.method = ExplainMethod::gradcam, .layer = "maxpool2d_1"}).layer,
            "maxpool2d_1");
  EXPECT_EQ(parse_explain_method("grad-cam", "x"), ExplainMethod::gradcam);
}

// ----------------------------------------------------------------------------------------
// A colour model (not square: a height/width mix-up shows)

TEST(ExplainColour, EveryMethodOnAColourModel) {
  const Sequential model = testing_support::colour_model();
  const Image picture = testing_support::seeded_picture(40, 30, 3, 5);
  const PreparedInput prepared =
      prepare_picture(picture, model.input_shape(), model.preprocessing(), "seeded");
  Explainer explainer(model);
  Predictor predictor(model, 1);
  const Tensor input(model.input_shape(), prepared.input.pixels);
  // Each method gives a finite map of the input's size for every class, and one that is not
  // flat for some class (Grad-CAM's ReLU may zero a class of an untrained model).
  for (ExplainMethod method : kAllMethods) {
    int flat = 0;
    for (std::int64_t k = 0; k < std::int64_t(testing_support::kColourClasses.size()); ++k) {
      const Explanation e =
          explainer.explain(prepared.input, {.method = method, .target_class = k});
      ASSERT_EQ(e.map.shape(),
                (Shape{testing_support::kColourHeight, testing_support::kColourWidth}))
          << to_string(method);
      EXPECT_EQ(e.target_class, k);
      const auto [low, high] = std::minmax_element(e.map.values().begin(), e.map.values().end());
      EXPECT_TRUE(std::isfinite(*low) && std::isfinite(*high)) << to_string(method);
      flat += *low == *high;
    }
    EXPECT_LT(flat, std::int64_t(testing_support::kColourClasses.size())) << to_string(method);
  }
  // Completeness holds in colour too: the sum runs over the channels.
  const Explanation e = explainer.explain(
      input, {.method = ExplainMethod::integrated_gradients, .target_class = 1, .steps = 128});
  const double total = std::accumulate(e.map.values().begin(), e.map.values().end(), 0.0);
  const Tensor black(model.input_shape());
  const double want = double(logits_of(predictor, input)[1]) - logits_of(predictor, black)[1];
  EXPECT_NEAR(total, want, 0.02 * std::abs(want) + 1e-4);
}

}  // namespace
}  // namespace imgcls
