// Test-time augmentation (imgcls/predictor.hpp: shift_images, TtaOptions): shifts move every
// pixel where they say and fill the border with 0; one view is plain prediction exactly; the
// averaged probabilities are the mean of each shifted view's, computed here by hand, for a
// colour model that is not square and a batch size that leaves a smaller last batch;
// evaluate follows them. `imgcls evaluate --tta` and `imgcls predict --tta --json` on the
// seed model of tests/fixtures agree with the library, and misuse is refused.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "imgcls/error.hpp"
#include "imgcls/image.hpp"
#include "imgcls/io.hpp"
#include "imgcls/layers.hpp"
#include "imgcls/predictor.hpp"
#include "imgcls/preprocess.hpp"
#include "imgcls/rng.hpp"
#include "imgcls/train.hpp"
#include "support/ci.hpp"
#include "support/colour_model.hpp"
#include "support/process.hpp"

namespace imgcls {
namespace {

using testing_support::kColourHeight;
using testing_support::kColourWidth;
using testing_support::Outcome;

const std::string kSeedModel = std::string(IMGCLS_PREDICT_FIXTURES_DIR) + "/seed_model.safetensors";
const std::string kDigits = std::string(IMGCLS_PREDICT_IMAGES_DIR) + "/digits";
const std::string kMnistDir = IMGCLS_MNIST_DIR;

// Seeded values in [0, 1): images [count, height, width, channels].
Tensor seeded_images(std::int64_t count, std::int64_t height, std::int64_t width,
                     std::int64_t channels, std::uint64_t seed) {
  Tensor images({count, height, width, channels});
  Rng rng(seed);
  for (std::int64_t i = 0; i < images.size(); ++i) images[i] = rng.uniform(0.0f, 1.0f);
  return images;
}

// shift_images written the obvious way: each output pixel looks up its source.
Tensor shifted_by_hand(const Tensor& images, PixelShift shift) {
  const std::int64_t n = images.dim(0), h = images.dim(1), w = images.dim(2), c = images.dim(3);
  Tensor expected(images.shape());
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t y = 0; y < h; ++y)
      for (std::int64_t x = 0; x < w; ++x)
        for (std::int64_t k = 0; k < c; ++k) {
          const std::int64_t sy = y - shift.down, sx = x - shift.right;
          const bool inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
          expected[((i * h + y) * w + x) * c + k] =
              inside ? images[((i * h + sy) * w + sx) * c + k] : 0.0f;
        }
  return expected;
}

// The mean over `tta`'s views of each view's probabilities, each view predicted on its own.
Tensor mean_of_views(Predictor& predictor, const Tensor& images, const TtaOptions& tta) {
  Tensor sum;
  for (const PixelShift& shift : tta.shifts) {
    const Tensor view = predictor.predict(shifted_by_hand(images, shift));
    if (sum.size() == 0) sum = Tensor(view.shape());
    for (std::int64_t i = 0; i < view.size(); ++i) sum[i] += view[i];
  }
  for (std::int64_t i = 0; i < sum.size(); ++i) sum[i] /= static_cast<float>(tta.shifts.size());
  return sum;
}

float largest_difference(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  float largest = 0.0f;
  for (std::int64_t i = 0; i < std::min(a.size(), b.size()); ++i)
    largest = std::max(largest, std::abs(a[i] - b[i]));
  return largest;
}

TEST(ShiftImages, MovesAThreeByThreeImageAsWrittenOut) {
  const Tensor image({1, 3, 3, 1}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  EXPECT_EQ(shift_images(image, {.down = 1}).values(),
            (std::vector<float>{0, 0, 0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(shift_images(image, {.down = -1}).values(),
            (std::vector<float>{4, 5, 6, 7, 8, 9, 0, 0, 0}));
  EXPECT_EQ(shift_images(image, {.right = 1}).values(),
            (std::vector<float>{0, 1, 2, 0, 4, 5, 0, 7, 8}));
  EXPECT_EQ(shift_images(image, {.right = -1}).values(),
            (std::vector<float>{2, 3, 0, 5, 6, 0, 8, 9, 0}));
  EXPECT_EQ(shift_images(image, {.down = 1, .right = -1}).values(),
            (std::vector<float>{0, 0, 0, 2, 3, 0, 5, 6, 0}));
  EXPECT_EQ(shift_images(image, {}).values(), image.values());
}

TEST(ShiftImages, EveryPixelOfEveryChannelComesFromItsSourceOrIsZero) {
  // Not square, several channels and images, values all non-zero (a 0 from the fill shows).
  Tensor images = seeded_images(3, 5, 7, 3, 11);
  for (std::int64_t i = 0; i < images.size(); ++i) images[i] += 1.0f;
  for (const PixelShift shift :
       {PixelShift{0, 0}, PixelShift{1, 0}, PixelShift{-1, 0}, PixelShift{0, 1}, PixelShift{0, -1},
        PixelShift{-1, 1}, PixelShift{2, -3}, PixelShift{4, 6}, PixelShift{5, 0}, PixelShift{0, -7},
        PixelShift{-9, 9}}) {
    SCOPED_TRACE(::testing::Message() << "shift down " << shift.down << " right " << shift.right);
    const Tensor shifted = shift_images(images, shift);
    EXPECT_EQ(shifted.shape(), images.shape());
    EXPECT_EQ(shifted.values(), shifted_by_hand(images, shift).values());
  }
  // A shift of the whole height or width leaves only the fill.
  const Tensor gone = shift_images(images, {.down = 5});
  EXPECT_TRUE(
      std::all_of(gone.values().begin(), gone.values().end(), [](float v) { return v == 0.0f; }));
}

TEST(TtaOptions, TheViewsAreTheImageAndItsOnePixelNeighbours) {
  const auto as_pairs = [](const TtaOptions& tta) {
    std::vector<std::pair<std::int64_t, std::int64_t>> pairs;
    for (const PixelShift& s : tta.shifts) pairs.emplace_back(s.down, s.right);
    std::sort(pairs.begin(), pairs.end());
    return pairs;
  };
  using Pairs = std::vector<std::pair<std::int64_t, std::int64_t>>;
  EXPECT_EQ(as_pairs(TtaOptions{}), (Pairs{{-1, 0}, {0, -1}, {0, 0}, {0, 1}, {1, 0}}));
  EXPECT_EQ(as_pairs(TtaOptions::four_neighbours()), as_pairs(TtaOptions{}));
  EXPECT_EQ(as_pairs(TtaOptions::eight_neighbours()),
            (Pairs{{-1, -1}, {-1, 0}, {-1, 1}, {0, -1}, {0, 0}, {0, 1}, {1, -1}, {1, 0}, {1, 1}}));
}

class TtaPrediction : public ::testing::Test {
 protected:
  // 21 images in batches of 8: two full batches and a smaller last one.
  static constexpr std::int64_t kCount = 21, kBatch = 8;
  const Sequential model_ = testing_support::colour_model();
  const Tensor images_ = seeded_images(kCount, kColourHeight, kColourWidth, 3, 5);
};

TEST_F(TtaPrediction, OneUnshiftedViewIsPlainPredictionExactly) {
  Predictor predictor(model_, kBatch);
  const Tensor plain = predictor.predict(images_);
  EXPECT_EQ(predictor.predict(images_, {.shifts = {{0, 0}}}).values(), plain.values());
  EXPECT_EQ(predict(model_, images_, TtaOptions{.shifts = {{0, 0}}}, kBatch).values(),
            plain.values());
}

TEST_F(TtaPrediction, AveragesTheProbabilitiesOfTheShiftedViews) {
  Predictor predictor(model_, kBatch);
  // The model is shift-sensitive: a one-pixel shift changes its answer, so an average that
  // ignored the shifts (or shifted the wrong way) would not match.
  ASSERT_GT(largest_difference(predictor.predict(images_),
                               predictor.predict(shift_images(images_, {.right = 1}))),
            1e-3f);
  ASSERT_GT(largest_difference(predictor.predict(shift_images(images_, {.right = 1})),
                               predictor.predict(shift_images(images_, {.right = -1}))),
            1e-3f);
  constexpr float kTolerance = 1e-6f;
  for (const TtaOptions& tta : {TtaOptions::four_neighbours(), TtaOptions::eight_neighbours(),
                                TtaOptions{.shifts = {{0, 2}, {-3, 0}}}}) {
    SCOPED_TRACE(::testing::Message() << tta.shifts.size() << " views");
    const Tensor averaged = predictor.predict(images_, tta);
    ASSERT_EQ(averaged.shape(), (Shape{kCount, 4}));
    EXPECT_LE(largest_difference(averaged, mean_of_views(predictor, images_, tta)), kTolerance);
    for (std::int64_t i = 0; i < kCount; ++i) {
      float row_sum = 0.0f;
      for (std::int64_t c = 0; c < 4; ++c) row_sum += averaged[i * 4 + c];
      EXPECT_NEAR(row_sum, 1.0f, 1e-5f) << "image " << i;
    }
  }
}

TEST_F(TtaPrediction, EightBitImagesAgreeWithTheirFloats) {
  PixelTensor pixels({kCount, kColourHeight, kColourWidth, 3});
  Rng rng(9);
  for (std::int64_t i = 0; i < pixels.size(); ++i)
    pixels.data()[i] = static_cast<std::uint8_t>(rng.uniform_index(256));
  Tensor floats(pixels.shape());
  pixels.to_unit(0, kCount, floats.data());
  Predictor predictor(model_, kBatch);
  EXPECT_EQ(predictor.predict(pixels, TtaOptions{}).values(),
            predictor.predict(floats, TtaOptions{}).values());
}

TEST_F(TtaPrediction, EvaluateScoresTheAveragedProbabilities) {
  Dataset data;
  data.images = PixelTensor({kCount, kColourHeight, kColourWidth, 3});
  Rng rng(4);
  for (std::int64_t i = 0; i < data.images.size(); ++i)
    data.images.data()[i] = static_cast<std::uint8_t>(rng.uniform_index(256));
  for (std::int64_t i = 0; i < kCount; ++i) data.labels.push_back(std::int32_t(i % 4));
  const TtaOptions tta = TtaOptions::eight_neighbours();
  const Evaluation evaluation = evaluate(model_, data, tta, kBatch);
  const Tensor expected = Predictor(model_, kBatch).predict(data.images, tta);
  EXPECT_EQ(evaluation.probabilities.values(), expected.values());
  std::int64_t correct = 0;
  double loss = 0.0;
  for (std::int64_t i = 0; i < kCount; ++i) {
    const float* row = expected.data() + i * 4;
    const auto best = std::int32_t(std::max_element(row, row + 4) - row);
    EXPECT_EQ(evaluation.predicted[std::size_t(i)], best);
    correct += best == data.labels[std::size_t(i)];
    loss -= std::log(double(row[data.labels[std::size_t(i)]]));
  }
  EXPECT_DOUBLE_EQ(evaluation.accuracy, double(correct) / double(kCount));
  EXPECT_NEAR(evaluation.loss, loss / double(kCount), 1e-9);
  // One unshifted view scores as plain evaluation.
  const Evaluation one_view = evaluate(model_, data, {.shifts = {{0, 0}}}, kBatch);
  const Evaluation plain = evaluate(model_, data, kBatch);
  EXPECT_EQ(one_view.probabilities.values(), plain.probabilities.values());
  EXPECT_EQ(one_view.accuracy, plain.accuracy);
}

TEST(TtaMisuse, AModelWhoseInputIsNotAPictureIsRefused) {
  Sequential model({12});
  model.add(layers::Dense({.units = 3}));
  model.initialize(1);
  try {
    Predictor(model).predict(Tensor({2, 12}), TtaOptions{});
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("not a picture"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[12]"), std::string::npos) << e.what();
  }
}

TEST(TtaMisuse, NoViewsIsAUsageError) {
  const Sequential model = testing_support::colour_model();
  EXPECT_THROW(Predictor(model).predict(Tensor({1, kColourHeight, kColourWidth, 3}),
                                        TtaOptions{.shifts = {}}),
               UsageError);
}

// --- the command line ---------------------------------------------------------------------

using imgcls::testing_support::lines_of;

// Each test process runs the command in a folder of its own: the child's stdout and stderr
// files live there, and ctest runs other tests' commands at the same time.
Outcome imgcls_run(const std::vector<std::string>& args) {
  static const std::filesystem::path dir = [] {
    const std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("imgcls_tta_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
    return path;
  }();
  return testing_support::run_process(IMGCLS_BINARY, args, dir);
}

TEST(TtaCli, HelpNamesTheOptions) {
  for (const char* command : {"evaluate", "predict"}) {
    const Outcome help = imgcls_run({command, "--help"});
    EXPECT_EQ(help.exit_code, 0) << help.err;
    for (const char* word : {"--tta", "--tta-views", "one-pixel shifts", "5", "9"})
      EXPECT_NE(help.out.find(word), std::string::npos) << command << ": " << word;
  }
}

TEST(TtaCli, PredictJsonReportsTheAveragedProbabilitiesAndTheViews) {
  const std::vector<std::string> files = {kDigits + "/hand_004.pgm", kDigits + "/font_003.bmp"};
  const Sequential model = load_model(kSeedModel);
  std::vector<Image> inputs;
  for (const std::string& file : files)
    inputs.push_back(
        picture_to_input(read_picture(file), model.input_shape(), model.preprocessing(), file));
  for (const TtaOptions& tta : {TtaOptions::four_neighbours(), TtaOptions::eight_neighbours()}) {
    const std::string views = std::to_string(tta.shifts.size());
    SCOPED_TRACE(views + " views");
    const Tensor expected = predict(model, to_batch(inputs), tta);
    std::vector<std::string> args = {"predict", kSeedModel, files[0], files[1], "--tta", "--json"};
    if (tta.shifts.size() == 9) args.insert(args.end(), {"--tta-views", "9"});
    const Outcome run = imgcls_run(args);
    ASSERT_EQ(run.exit_code, 0) << run.err;
    const std::vector<std::string> lines = lines_of(run.out);
    ASSERT_EQ(lines.size(), files.size()) << run.out;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const nlohmann::json line = nlohmann::json::parse(lines[i]);
      EXPECT_EQ(line.at("file"), files[i]);
      EXPECT_EQ(line.at("tta"), true);
      EXPECT_EQ(line.at("views"), tta.shifts.size());
      ASSERT_EQ(line.at("probabilities").size(), 10u);
      for (std::size_t c = 0; c < 10; ++c)
        EXPECT_NEAR(line.at("probabilities")[c].get<double>(), expected[std::int64_t(i * 10 + c)],
                    1e-6);
    }
  }
  // Without --tta the lines say nothing of it, and their probabilities are plain prediction's.
  const Outcome plain = imgcls_run({"predict", kSeedModel, files[0], "--json"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  const nlohmann::json line = nlohmann::json::parse(lines_of(plain.out).at(0));
  EXPECT_FALSE(line.contains("tta"));
  EXPECT_FALSE(line.contains("views"));
  const Tensor expected = predict(model, to_batch(std::span(inputs).first(1)));
  for (std::size_t c = 0; c < 10; ++c)
    EXPECT_NEAR(line.at("probabilities")[c].get<double>(), expected[std::int64_t(c)], 1e-6);
}

TEST(TtaCli, EvaluateOnMnistAgreesWithTheLibrary) {
  if (!std::filesystem::exists(kMnistDir + "/t10k-images-idx3-ubyte") &&
      !std::filesystem::exists(kMnistDir + "/t10k-images-idx3-ubyte.gz"))
    IMGCLS_SKIP_OR_FAIL_UNDER_CI("MNIST is not in " + kMnistDir +
                                 " (scripts/setup.sh installs it)");
  const Dataset test = load_mnist_test(kMnistDir);
  const Sequential model = load_model(kSeedModel);
  const Evaluation expected = evaluate(model, test, TtaOptions{});
  const Evaluation plain = evaluate(model, test);
  // The averaged views are another prediction than the plain one.
  EXPECT_NE(expected.probabilities.values(), plain.probabilities.values());

  const Outcome json = imgcls_run({"evaluate", kSeedModel, "--data", kMnistDir, "--tta", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const nlohmann::json result = nlohmann::json::parse(json.out);
  EXPECT_EQ(result.at("tta"), true);
  EXPECT_EQ(result.at("views"), 5);
  EXPECT_EQ(result.at("n"), 10000);
  EXPECT_DOUBLE_EQ(result.at("accuracy").get<double>(), expected.accuracy);
  EXPECT_NEAR(result.at("loss").get<double>(), expected.loss, 1e-9);

  const Outcome without = imgcls_run({"evaluate", kSeedModel, "--data", kMnistDir, "--json"});
  ASSERT_EQ(without.exit_code, 0) << without.err;
  const nlohmann::json plain_result = nlohmann::json::parse(without.out);
  EXPECT_EQ(plain_result.at("tta"), false);
  EXPECT_EQ(plain_result.at("views"), 1);
  EXPECT_DOUBLE_EQ(plain_result.at("accuracy").get<double>(), plain.accuracy);

  const Outcome text = imgcls_run({"evaluate", kSeedModel, "--data", kMnistDir, "--tta"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("test-time augmentation over 5 views"), std::string::npos) << text.out;
}

TEST(TtaCli, MisusedOptionsAreUsageErrors) {
  const std::string picture = kDigits + "/hand_004.pgm";
  const std::vector<std::vector<std::string>> misuses = {
      {"predict", kSeedModel, picture, "--tta-views", "9"},           // without --tta
      {"predict", kSeedModel, picture, "--tta", "--tta-views", "7"},  // not 5 or 9
      {"evaluate", kSeedModel, "--tta-views", "9"},                   // without --tta
      {"evaluate", kSeedModel, "--tta", "--tta-views", "0"},
  };
  for (const std::vector<std::string>& args : misuses) {
    const Outcome run = imgcls_run(args);
    EXPECT_EQ(run.exit_code, 2) << args[0] << " " << args.back() << "\n" << run.err;
    EXPECT_NE(run.err.find("--tta"), std::string::npos) << run.err;
    EXPECT_TRUE(run.out.empty()) << run.out;
  }
}

}  // namespace
}  // namespace imgcls
