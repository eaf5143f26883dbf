// Rejection ("not a digit"): the rule (RejectionRule, answer()), model files that keep it,
// negatives read as predict prepares pictures (read_negative_pictures), and the commands:
// train --negatives on an MNIST slice with generated shapes for negatives, then summary,
// predict, evaluate and show --kind rejection on the model it writes; predict and the
// built-in model on a blank picture; the mistakes a user makes with the options.
#include <fmt/core.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "imgcls/data.hpp"
#include "imgcls/error.hpp"
#include "imgcls/image.hpp"
#include "imgcls/io.hpp"
#include "imgcls/model.hpp"
#include "imgcls/predictor.hpp"
#include "imgcls/preprocess.hpp"
#include "imgcls/rng.hpp"
#include "support/ci.hpp"
#include "support/process.hpp"
#include "support/synthetic.hpp"

namespace imgcls {
namespace {

using testing::HasSubstr;
using testing_support::Outcome;

class RejectionTest : public testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ =
        std::filesystem::temp_directory_path() /
        ("imgcls_rejection_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Outcome run(const std::vector<std::string>& args) {
    Outcome outcome = testing_support::run_process(IMGCLS_BINARY, args, dir_);
    EXPECT_EQ(outcome.signal, 0) << "imgcls did not exit normally";
    return outcome;
  }

  std::filesystem::path dir_;
};

// A 56 x 56 picture of dark ink on white paper that is no digit, drawn from `rng`: a filled
// box, stripes, a checkerboard, a plus sign or a triangle.
GreyImage non_digit(Rng& rng) {
  constexpr std::int64_t kSide = 56;
  GreyImage picture(kSide, kSide);
  std::fill(picture.pixels.begin(), picture.pixels.end(), 1.0f);
  const int kind = static_cast<int>(rng.uniform(0.0f, 5.0f));
  const auto lo = static_cast<std::int64_t>(rng.uniform(6.0f, 14.0f));
  const auto hi = static_cast<std::int64_t>(rng.uniform(40.0f, 50.0f));
  const auto period = static_cast<std::int64_t>(rng.uniform(6.0f, 12.0f));
  for (std::int64_t y = lo; y < hi; ++y)
    for (std::int64_t x = lo; x < hi; ++x) {
      const std::int64_t cy = y - (lo + hi) / 2, cx = x - (lo + hi) / 2;
      const bool ink = kind == 0   ? true
                       : kind == 1 ? (x / period) % 2 == 0
                       : kind == 2 ? ((x / period) + (y / period)) % 2 == 0
                       : kind == 3 ? (std::abs(cx) < 4 || std::abs(cy) < 4)
                                   : std::abs(cx) * 2 < y - lo;
      if (ink) picture.at(y, x) = 0.1f;
    }
  return picture;
}

void write_non_digits(const std::filesystem::path& dir, int count, std::uint64_t seed) {
  std::filesystem::create_directories(dir);
  Rng rng(seed);
  for (int i = 0; i < count; ++i)
    write_png((dir / fmt::format("shape_{:04d}.png", i)).string(), non_digit(rng));
}

GreyImage blank_picture() {
  GreyImage picture(40, 40);
  std::fill(picture.pixels.begin(), picture.pixels.end(), 0.95f);
  return picture;
}

TEST(Rejection, AnswerRejectsFromTheThresholdAndOtherwiseGivesTheBestOtherClass) {
  Sequential model = presets::seed({.classes = 4});
  const std::vector<float> sure_unknown = {0.1f, 0.1f, 0.1f, 0.7f};
  const std::vector<float> unknown_first = {0.3f, 0.1f, 0.2f, 0.4f};
  const std::vector<float> a_class = {0.1f, 0.8f, 0.05f, 0.05f};
  // Without a rule, the last output is a class like any other.
  EXPECT_EQ(answer(model, sure_unknown).label, 3);
  EXPECT_EQ(answer(model, sure_unknown).output, 3);
  EXPECT_FALSE(answer(model, sure_unknown).rejected);
  EXPECT_EQ(answer(model, sure_unknown).rejection_score, 0.0f);

  model.set_rejection(RejectionRule{.threshold = 0.5f});
  EXPECT_EQ(model.rejection_class(), 3);
  const Answer rejected = answer(model, sure_unknown);
  EXPECT_TRUE(rejected.rejected);
  EXPECT_EQ(rejected.label, -1);
  EXPECT_EQ(rejected.output, 3);
  EXPECT_FLOAT_EQ(rejected.rejection_score, 0.7f);
  EXPECT_FLOAT_EQ(rejected.confidence, 0.7f);
  // Most probable but under the threshold: the best of the other classes is the answer.
  const Answer kept = answer(model, unknown_first);
  EXPECT_FALSE(kept.rejected);
  EXPECT_EQ(kept.label, 0);
  EXPECT_EQ(kept.output, 0);
  EXPECT_FLOAT_EQ(kept.confidence, 0.3f);
  EXPECT_FLOAT_EQ(kept.rejection_score, 0.4f);
  EXPECT_EQ(answer(model, a_class).label, 1);
  // Exactly at the threshold rejects.
  model.set_rejection(RejectionRule{.threshold = 0.4f});
  EXPECT_TRUE(answer(model, unknown_first).rejected);

  EXPECT_THROW(model.set_rejection(RejectionRule{.threshold = 0.0f}), InputError);
  EXPECT_THROW(model.set_rejection(RejectionRule{.threshold = 1.5f}), InputError);
  EXPECT_EQ(answer_class_names(model), (std::vector<std::string>{"0", "1", "2"}));
}

TEST(Rejection, APictureWithNoDigitIsRejectedOnlyByAModelWithARule) {
  Sequential model = presets::seed({.classes = 4});
  EXPECT_FALSE(no_digit_answer(model).has_value());
  model.set_rejection(RejectionRule{.threshold = 0.9f});
  const std::optional<Answer> given = no_digit_answer(model);
  ASSERT_TRUE(given.has_value());
  EXPECT_TRUE(given->rejected);
  EXPECT_EQ(given->label, -1);
  EXPECT_EQ(given->output, 3);
  EXPECT_FLOAT_EQ(given->confidence, 1.0f);
  EXPECT_FLOAT_EQ(given->rejection_score, 1.0f);
}

TEST_F(RejectionTest, ModelFilesKeepTheRuleAndTheClassNames) {
  Sequential model = presets::seed({.classes = 3});
  model.initialize(1);
  model.set_class_names({"cat", "dog", "neither"});
  model.set_rejection(RejectionRule{.threshold = 0.75f});
  const std::string path = (dir_ / "m.safetensors").string();
  save_model(model, path);
  const Sequential loaded = load_model(path);
  ASSERT_TRUE(loaded.rejection().has_value());
  EXPECT_FLOAT_EQ(loaded.rejection()->threshold, 0.75f);
  EXPECT_EQ(loaded.rejection_class(), 2);
  EXPECT_EQ(answer_class_names(loaded), (std::vector<std::string>{"cat", "dog"}));
  const ModelMetadata metadata = read_model_metadata(path);
  ASSERT_TRUE(metadata.rejection.has_value());
  EXPECT_FLOAT_EQ(metadata.rejection->threshold, 0.75f);

  Sequential plain = presets::seed();
  plain.initialize(1);
  save_model(plain, path);
  EXPECT_FALSE(load_model(path).rejection().has_value());
  EXPECT_FALSE(read_model_metadata(path).rejection.has_value());
}

TEST_F(RejectionTest, NegativePicturesArePreparedAsPredictPreparesThem) {
  Rng rng(5);
  const std::filesystem::path negatives = dir_ / "negatives";
  std::filesystem::create_directories(negatives / "more");
  const GreyImage first = non_digit(rng), second = non_digit(rng);
  write_png((negatives / "a.png").string(), first);
  write_png((negatives / "more" / "b.png").string(), second);
  write_png((negatives / "blank.png").string(), blank_picture());
  std::ofstream(negatives / "notes.txt") << "not a picture\n";

  const Shape shape = {28, 28, 1};
  const NegativePictures read =
      read_negative_pictures(negatives.string(), shape, Preprocessing::mnist_digit, 10);
  ASSERT_EQ(read.data.size(), 2);  // a.png, more/b.png (sorted by path); blank.png left out
  EXPECT_EQ(read.without_digit, 1);
  EXPECT_EQ(read.data.labels, (std::vector<std::int32_t>{10, 10}));
  EXPECT_EQ(read.data.images.shape(), (Shape{2, 28, 28, 1}));
  const Image expected = picture_to_input(read_picture((negatives / "a.png").string()), shape,
                                          Preprocessing::mnist_digit, "a.png");
  std::vector<float> got(28 * 28);
  read.data.images.to_unit(0, 1, got.data());
  for (std::size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], expected.pixels[i], 0.5f / 255) << i;

  std::ofstream(negatives / "broken.png") << "no PNG here";
  try {
    (void)read_negative_pictures(negatives.string(), shape, Preprocessing::mnist_digit, 10);
    ADD_FAILURE() << "a broken picture was read";
  } catch (const InputError& e) {
    EXPECT_THAT(e.source(), HasSubstr("broken.png"));
  }
  const NegativePictures skipping = read_negative_pictures(
      negatives.string(), shape, Preprocessing::mnist_digit, 10, {.skip_bad_files = true});
  EXPECT_EQ(skipping.data.size(), 2);
  ASSERT_EQ(skipping.skipped.size(), 1u);
  EXPECT_THAT(skipping.skipped[0].path, HasSubstr("broken.png"));

  EXPECT_THROW((void)read_negative_pictures((dir_ / "nothing").string(), shape,
                                            Preprocessing::mnist_digit, 10),
               InputError);
}

// The whole path a user takes: train with negatives, then every command on the model.
TEST_F(RejectionTest, TrainWithNegativesGivesAModelThatRejectsPicturesLikeThem) {
  const std::string mnist_dir = IMGCLS_MNIST_DIR;
  if (!std::filesystem::exists(mnist_dir + "/train-images-idx3-ubyte") &&
      !std::filesystem::exists(mnist_dir + "/train-images-idx3-ubyte.gz"))
    IMGCLS_SKIP_OR_FAIL_UNDER_CI("MNIST is not in " + mnist_dir +
                                 " (scripts/setup.sh installs it)");
  const MnistSplits mnist = load_mnist(mnist_dir);
  const std::filesystem::path data = dir_ / "slice";
  std::filesystem::create_directories(data);
  testing_support::write_idx_pair(take_first(mnist.train, 3000), data / "train-images-idx3-ubyte",
                                  data / "train-labels-idx1-ubyte");
  testing_support::write_idx_pair(take_first(mnist.test, 500), data / "t10k-images-idx3-ubyte",
                                  data / "t10k-labels-idx1-ubyte");
  write_non_digits(dir_ / "negatives", 400, 1);
  write_png((dir_ / "negatives" / "blank.png").string(), blank_picture());
  write_non_digits(dir_ / "held_out", 100, 2);  // the same kinds, other pictures
  const std::string model = (dir_ / "model.safetensors").string();

  const Outcome trained =
      run({"train", "--data", data.string(), "--negatives", (dir_ / "negatives").string(),
           "--negatives-name", "not a digit", "--epochs", "2", "--threads", "1", "--out", model});
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  // 401 pictures: the blank one and the boxes that fill more than half of their picture give
  // no digit to find (397 and 4 measured).
  EXPECT_THAT(trained.out, HasSubstr("397 negatives (\"not a digit\", class 10) from " +
                                     (dir_ / "negatives").string() +
                                     "; 4 pictures without a digit to find left out"));

  const Outcome summary = run({"summary", model});
  ASSERT_EQ(summary.exit_code, 0) << summary.err;
  EXPECT_THAT(summary.out, HasSubstr("classes (11): 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, not a digit"));
  EXPECT_THAT(summary.out, HasSubstr("rejection: a picture is \"not a digit\" (rejected) from a "
                                     "probability of 0.5"));

  const Outcome predicted =
      run({"predict", "--model", model, (dir_ / "held_out").string(), "--json"});
  ASSERT_EQ(predicted.exit_code, 0) << predicted.err;
  int lines = 0, rejected = 0;
  for (const std::string& line : testing_support::lines_of(predicted.out)) {
    const auto json = nlohmann::json::parse(line);
    ++lines;
    ASSERT_TRUE(json.contains("rejection_score")) << line;
    if (json.at("rejected").get<bool>()) {
      ++rejected;
      EXPECT_TRUE(json.at("label").is_null()) << line;
      EXPECT_EQ(json.at("class"), "not a digit") << line;
    } else {
      EXPECT_TRUE(json.at("label").is_number_integer()) << line;
    }
    if (json.contains("reason"))  // no digit to find: rejected without running the model
      EXPECT_TRUE(json.at("rejected").get<bool>()) << line;
    else
      EXPECT_EQ(json.at("probabilities").size(), 11u) << line;
  }
  EXPECT_EQ(lines, 100);
  EXPECT_GE(rejected, 90) << predicted.out;

  const Outcome evaluated = run({"evaluate", model, "--json"});
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.err;
  const auto report = nlohmann::json::parse(evaluated.out);
  EXPECT_EQ(report.at("n"), 500);
  EXPECT_LE(report.at("rejected").get<int>(), 25) << evaluated.out;  // 5% of the digits
  EXPECT_GE(report.at("accuracy").get<double>(), 0.85) << evaluated.out;
  EXPECT_EQ(report.at("confusion").size(), 11u);

  const std::string curve = (dir_ / "rejection.png").string();
  const Outcome shown = run({"show", model, "--kind", "rejection", "--negatives",
                             (dir_ / "held_out").string(), "--out", curve});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_THAT(shown.out, HasSubstr("Rejected as \"not a digit\" at the model's threshold 0.5:"));
  EXPECT_THAT(shown.out, HasSubstr("of 500 test images of " + data.string()));
  EXPECT_THAT(shown.out, HasSubstr("of 100 pictures of " + (dir_ / "held_out").string()));
  const Image picture = read_picture(curve);
  EXPECT_GT(picture.width, 600);
  EXPECT_GT(picture.height, 400);
}

TEST_F(RejectionTest, TheBuiltInModelRejectsABlankPictureAndAModelWithoutARuleRefusesIt) {
  const std::string blank = (dir_ / "blank.png").string();
  write_png(blank, blank_picture());
  const Outcome builtin = run({"predict", blank, "--json"});
  ASSERT_EQ(builtin.exit_code, 0) << builtin.err;
  const auto json = nlohmann::json::parse(builtin.out);
  EXPECT_TRUE(json.at("rejected").get<bool>());
  EXPECT_TRUE(json.at("label").is_null());
  EXPECT_EQ(json.at("class"), "not a digit");
  EXPECT_EQ(json.at("rejection_score"), 1.0);
  EXPECT_THAT(json.at("reason").get<std::string>(), HasSubstr("found no digit"));
  const Outcome text = run({"predict", blank});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("not a digit  1.0000  (found no digit"));

  const std::string seed_model =
      std::string(IMGCLS_SOURCE_DIR) + "/tests/fixtures/seed_model.safetensors";
  const Outcome plain = run({"predict", "--model", seed_model, blank});
  EXPECT_EQ(plain.exit_code, 1);
  EXPECT_THAT(plain.err, HasSubstr("found no digit"));
}

TEST_F(RejectionTest, MistakesWithTheOptionsAreNamed) {
  const std::filesystem::path data = dir_ / "synthetic";
  testing_support::write_synthetic_mnist(data, 200);
  write_non_digits(dir_ / "negatives", 20, 1);
  const std::string out = (dir_ / "m.safetensors").string();

  const Outcome name_alone =
      run({"train", "--data", data.string(), "--negatives-name", "x", "--out", out});
  EXPECT_EQ(name_alone.exit_code, 2);
  EXPECT_THAT(name_alone.err, HasSubstr("--negatives-name requires --negatives"));

  const Outcome missing = run(
      {"train", "--data", data.string(), "--negatives", (dir_ / "nowhere").string(), "--out", out});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("nowhere: not a folder of pictures"));

  const Outcome taken = run({"train", "--data", data.string(), "--negatives",
                             (dir_ / "negatives").string(), "--negatives-name", "7", "--out", out});
  EXPECT_EQ(taken.exit_code, 1);
  EXPECT_THAT(taken.err, HasSubstr("\"7\" is already a class of the data"));
  EXPECT_FALSE(std::filesystem::exists(out));

  const Outcome threshold =
      run({"train", "--data", data.string(), "--negatives", (dir_ / "negatives").string(),
           "--reject-threshold", "2", "--out", out});
  EXPECT_EQ(threshold.exit_code, 2);
  EXPECT_THAT(threshold.err, HasSubstr("--reject-threshold"));

  const std::string seed_model =
      std::string(IMGCLS_SOURCE_DIR) + "/tests/fixtures/seed_model.safetensors";
  const Outcome no_rule = run({"show", seed_model, "--kind", "rejection", "--negatives",
                               (dir_ / "negatives").string(), "--out", (dir_ / "r.png").string()});
  EXPECT_EQ(no_rule.exit_code, 1);
  EXPECT_THAT(no_rule.err, HasSubstr("the model has no rejection class"));
}

}  // namespace
}  // namespace imgcls
