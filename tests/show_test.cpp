// `imgcls show`, the built binary run as a child process, on a small fixture made at test
// time: the first 300 MNIST test images as IDX files, and a seed model trained in-process for
// one epoch on the first 2,000 training images, with its model.history.json beside it. Every kind
// must write a decodable PNG (or an SVG for a .svg name); the accuracy `show` prints must be
// the one evaluate() and the confusion matrix give; a missing history, a bad kind and an
// image index past the end must fail with the documented exit codes and messages.
// CTest makes the fixture once, in the setup test show_test.fixture (ShowFixture.*), in
// $IMGCLS_SHOW_FIXTURE, and runs each test in a process of its own; run by hand, the program
// makes it itself. Without MNIST (scripts/setup.sh installs it) the tests are skipped, and
// fail under CI.
#include <cairo.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "imgcls/data.hpp"
#include "imgcls/io.hpp"
#include "imgcls/metrics.hpp"
#include "imgcls/model.hpp"
#include "imgcls/optim.hpp"
#include "imgcls/train.hpp"
#include "support/ci.hpp"
#include "support/process.hpp"

namespace {

namespace fs = std::filesystem;
using testing::HasSubstr;

constexpr std::int64_t kFixtureImages = 300;
constexpr std::int64_t kTrainingImages = 2000;

using imgcls::testing_support::Outcome;

// The plain or gzipped IDX file `name` of the installed MNIST, if there is one.
std::optional<std::string> mnist_file(const std::string& name) {
  for (const std::string suffix : {"", ".gz"}) {
    const fs::path path = fs::path(IMGCLS_MNIST_DIR) / (name + suffix);
    if (fs::exists(path)) return path.string();
  }
  return std::nullopt;
}

void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xFF);
}

// The first `count` images and labels of `data` as IDX files in `dir`, named like MNIST's test
// split.
void write_idx_test_split(const imgcls::Dataset& data, std::int64_t count, const fs::path& dir) {
  std::string images, labels;
  put_u32(images, 0x00000803);
  put_u32(images, static_cast<std::uint32_t>(count));
  put_u32(images, 28);
  put_u32(images, 28);
  images.append(reinterpret_cast<const char*>(data.images.data()),
                static_cast<std::size_t>(count * 28 * 28));
  put_u32(labels, 0x00000801);
  put_u32(labels, static_cast<std::uint32_t>(count));
  for (std::int64_t i = 0; i < count; ++i)
    labels += static_cast<char>(data.labels[static_cast<std::size_t>(i)]);
  std::ofstream(dir / "t10k-images-idx3-ubyte", std::ios::binary) << images;
  std::ofstream(dir / "t10k-labels-idx1-ubyte", std::ios::binary) << labels;
}

imgcls::Dataset first_images(const imgcls::Dataset& data, std::int64_t count) {
  return imgcls::take_first(data, count);
}

bool mnist_installed() {
  for (const char* name : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                           "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"})
    if (!mnist_file(name)) return false;
  return true;
}

const std::string kNoMnist = std::string("MNIST is not installed in ") + IMGCLS_MNIST_DIR;

class ShowTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    fixture_ =
        imgcls::testing_support::shared_fixture_dir("IMGCLS_SHOW_FIXTURE", "imgcls_show_fixture");
    root_ = fs::temp_directory_path() / ("imgcls_show_test_" + std::to_string(::getpid()));
    fs::create_directories(root_);
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  void SetUp() override {
    if (fs::exists(model())) return;
    if (!mnist_installed()) IMGCLS_SKIP_OR_FAIL_UNDER_CI(kNoMnist);
    ASSERT_FALSE(fixture_.made_by_ctest)
        << "no " << model() << ": CTest's setup test show_test.fixture makes it";
    make_fixture();
  }

  // The fixture: data/ (the first kFixtureImages MNIST test images as IDX files) and model/
  // (a seed model trained for one epoch on the first kTrainingImages training images, and
  // its history). The model file is written last: its presence means the fixture is whole.
  static void make_fixture() {
    const fs::path dir = fixture_.dir;
    fs::create_directories(dir / "data");
    fs::create_directories(dir / "model");
    write_idx_test_split(imgcls::read_idx_dataset(*mnist_file("t10k-images-idx3-ubyte"),
                                                  *mnist_file("t10k-labels-idx1-ubyte")),
                         kFixtureImages, dir / "data");
    const imgcls::Dataset train =
        first_images(imgcls::read_idx_dataset(*mnist_file("train-images-idx3-ubyte"),
                                              *mnist_file("train-labels-idx1-ubyte")),
                     kTrainingImages);
    imgcls::Sequential trained = imgcls::presets::seed();
    trained.initialize(1);
    imgcls::Adam adam;
    const imgcls::History history =
        imgcls::fit(trained, adam, train, {.epochs = 1, .batch_size = 32});
    const std::string scratch = (dir / "model" / "model.in-progress.safetensors").string();
    imgcls::save_model(trained, scratch);
    imgcls::save_history(history, imgcls::history_path_for(model()));
    fs::rename(scratch, model());
  }

  static std::string model() { return (fixture_.dir / "model" / "model.safetensors").string(); }
  static std::string data() { return (fixture_.dir / "data").string(); }
  // This process's own files (outputs, the children's stdout and stderr).
  static std::string out(const std::string& name) { return (root_ / name).string(); }

  // Runs `imgcls show <args>`, capturing stdout and stderr.
  static Outcome run(const std::vector<std::string>& args) {
    std::vector<std::string> all{"show"};
    all.insert(all.end(), args.begin(), args.end());
    return imgcls::testing_support::run_process(IMGCLS_BINARY, all, root_);
  }

  // The PNG's size, or {0, 0} when it does not decode.
  static std::pair<int, int> png_size(const std::string& path) {
    cairo_surface_t* surface = cairo_image_surface_create_from_png(path.c_str());
    std::pair<int, int> size{0, 0};
    if (cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS)
      size = {cairo_image_surface_get_width(surface), cairo_image_surface_get_height(surface)};
    cairo_surface_destroy(surface);
    return size;
  }

  static inline imgcls::testing_support::SharedFixture fixture_;
  static inline fs::path root_;
};

// The setup test: the fixture, made afresh (one left by an older build could hide a change).
// Registered alone with CTest; first when the program runs by hand.
class ShowFixture : public ShowTest {
 protected:
  void SetUp() override {}
};
TEST_F(ShowFixture, MakesTheDataAndTheModel) {
  if (fixture_.made_by_ctest) fs::remove_all(fixture_.dir);
  if (!mnist_installed()) IMGCLS_SKIP_OR_FAIL_UNDER_CI(kNoMnist);
  if (!fs::exists(model())) make_fixture();
  EXPECT_EQ(imgcls::load_mnist_test(data()).size(), kFixtureImages);
  EXPECT_TRUE(fs::exists(imgcls::history_path_for(model())));
}

TEST_F(ShowTest, EveryKindWritesADecodablePngOfTheSizeItReports) {
  for (const std::string kind : {"samples", "errors", "confusion", "curves"}) {
    const std::string path = out(kind + ".png");
    const Outcome r = run({model(), "--data", data(), "--kind", kind, "--out", path});
    ASSERT_EQ(r.exit_code, 0) << kind << ": " << r.err;
    const auto [width, height] = png_size(path);
    EXPECT_GT(width, 300) << kind;
    EXPECT_GT(height, 100) << kind;
    EXPECT_THAT(r.out, HasSubstr(fmt::format("Wrote {} (PNG, {}x{})", path, width, height)))
        << kind;
  }
}

TEST_F(ShowTest, SvgWhenTheNameEndsInSvg) {
  const std::string path = out("samples.svg");
  const Outcome r = run({model(), "--data", data(), "--kind", "samples", "--out", path});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string svg = imgcls::testing_support::read_file(path);
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_THAT(svg, HasSubstr("<svg"));
  EXPECT_THAT(svg, HasSubstr("</svg>"));
  EXPECT_THAT(r.out, HasSubstr("(SVG, "));
}

TEST_F(ShowTest, PrintedAccuracyIsTheConfusionMatrixAccuracy) {
  const Outcome r = run({model(), "--data", data(), "--kind", "confusion", "--out", out("c.png")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  imgcls::Sequential m = imgcls::load_model(model());
  const imgcls::Dataset fixture = imgcls::load_mnist_test(data());
  ASSERT_EQ(fixture.size(), kFixtureImages);
  const imgcls::Evaluation e = imgcls::evaluate(m, fixture);
  const imgcls::ConfusionMatrix matrix = imgcls::confusion_matrix(fixture.labels, e.predicted, 10);
  EXPECT_EQ(matrix.total(), kFixtureImages);
  EXPECT_DOUBLE_EQ(matrix.accuracy(), e.accuracy);
  EXPECT_GT(e.accuracy, 0.7) << "one epoch on 2,000 images should do better than that";
  EXPECT_THAT(r.out, HasSubstr(fmt::format("Test accuracy {:.4f}", matrix.accuracy())));
  EXPECT_THAT(r.out, HasSubstr(fmt::format("({} images from {})", kFixtureImages, data())));
}

TEST_F(ShowTest, CurvesWithoutAHistoryAreAClearError) {
  const fs::path lonely = fs::path(out("lonely"));
  fs::create_directories(lonely);
  fs::copy_file(model(), lonely / "model.safetensors", fs::copy_options::overwrite_existing);
  const std::string model_without = (lonely / "model.safetensors").string();
  const Outcome missing = run({model_without, "--kind", "curves", "--out", out("x.png")});
  EXPECT_EQ(missing.exit_code, 1) << missing.err;
  EXPECT_THAT(missing.err, HasSubstr((lonely / "model.history.json").string()));
  EXPECT_THAT(missing.err, HasSubstr("--history"));
  EXPECT_FALSE(fs::exists(out("x.png")));

  const std::string history = imgcls::history_path_for(model());
  const Outcome given =
      run({model_without, "--kind", "curves", "--history", history, "--out", out("x.png")});
  EXPECT_EQ(given.exit_code, 0) << given.err;
  EXPECT_GT(png_size(out("x.png")).first, 0);
}

TEST_F(ShowTest, BadKindIsAUsageError) {
  const Outcome r = run({model(), "--kind", "histogram", "--out", out("h.png")});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("histogram"));
}

TEST_F(ShowTest, FirstImagePastTheEndIsBadInput) {
  const Outcome r = run({model(), "--data", data(), "--kind", "samples", "--first",
                         std::to_string(kFixtureImages), "--out", out("s.png")});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("--first"));
}

TEST_F(ShowTest, MissingModelIsBadInputNamingIt) {
  const Outcome r = run(
      {out("nothing.safetensors"), "--data", data(), "--kind", "errors", "--out", out("e.png")});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("nothing.safetensors"));
}

}  // namespace
