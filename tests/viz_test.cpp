// The pictures (src/viz), the confusion matrix and per-class metrics (src/train/metrics.cpp)
// and history files (src/io/history.cpp), on synthetic data: no MNIST, no training.
// Pictures are decoded back with cairo and probed at positions taken from src/viz/layout.hpp:
// a wrong prediction's cell carries the error red, a good model's confusion matrix has a
// darker diagonal, the curves show the validation colour only when there is validation data.
// SVG output is checked to be a well-formed XML document with an <svg> root of the right size.
#include "imgcls/viz.hpp"

#include <cairo.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "imgcls/error.hpp"
#include "imgcls/io.hpp"
#include "imgcls/metrics.hpp"
#include "viz/draw.hpp"
#include "viz/layout.hpp"

namespace {

using imgcls::ConfusionMatrix;
using imgcls::Dataset;
using imgcls::History;
using imgcls::Picture;
using imgcls::PictureFormat;
using imgcls::Tensor;
namespace viz = imgcls::viz;

// ---- helpers ------------------------------------------------------------------------------

// A decoded RGB picture.
struct Pixels {
  int width = 0, height = 0;
  std::vector<viz::Colour> rgb;  // [height, width]
  viz::Colour at(double x, double y) const {
    return rgb[static_cast<std::size_t>(static_cast<int>(y) * width + static_cast<int>(x))];
  }
};

cairo_status_t read_from_string(void* closure, unsigned char* data, unsigned int length) {
  auto* source = static_cast<std::pair<const std::string*, std::size_t>*>(closure);
  if (source->second + length > source->first->size()) return CAIRO_STATUS_READ_ERROR;
  std::copy_n(source->first->data() + source->second, length, data);
  source->second += length;
  return CAIRO_STATUS_SUCCESS;
}

// Decodes PNG bytes with cairo; fails the test when they do not decode.
Pixels decode_png(const std::string& png) {
  std::pair<const std::string*, std::size_t> source{&png, 0};
  cairo_surface_t* surface = cairo_image_surface_create_from_png_stream(read_from_string, &source);
  Pixels pixels;
  EXPECT_EQ(cairo_surface_status(surface), CAIRO_STATUS_SUCCESS) << "not a decodable PNG";
  if (cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS) {
    pixels.width = cairo_image_surface_get_width(surface);
    pixels.height = cairo_image_surface_get_height(surface);
    const unsigned char* data = cairo_image_surface_get_data(surface);
    const int stride = cairo_image_surface_get_stride(surface);
    for (int y = 0; y < pixels.height; ++y)
      for (int x = 0; x < pixels.width; ++x) {
        const auto word = *reinterpret_cast<const std::uint32_t*>(data + y * stride + x * 4);
        pixels.rgb.push_back(
            {((word >> 16) & 0xFF) / 255.0, ((word >> 8) & 0xFF) / 255.0, (word & 0xFF) / 255.0});
      }
  }
  cairo_surface_destroy(surface);
  return pixels;
}

bool near(viz::Colour a, viz::Colour b, double tolerance = 0.03) {
  return std::abs(a.red - b.red) <= tolerance && std::abs(a.green - b.green) <= tolerance &&
         std::abs(a.blue - b.blue) <= tolerance;
}

// Pixels of `colour` inside [x0, x1) x [y0, y1).
int count_colour(const Pixels& p, viz::Colour colour, double x0, double y0, double x1, double y1) {
  int n = 0;
  for (int y = static_cast<int>(y0); y < static_cast<int>(y1); ++y)
    for (int x = static_cast<int>(x0); x < static_cast<int>(x1); ++x) n += near(p.at(x, y), colour);
  return n;
}

// A well-formedness check of the XML cairo writes: one root element, every start tag closed
// by its own end tag in order, quoted attributes, comments and the declaration skipped.
// Returns an empty string when well formed, else what is wrong.
std::string xml_problem(const std::string& xml) {
  std::vector<std::string> open;
  bool seen_root = false;
  std::size_t i = 0;
  while ((i = xml.find('<', i)) != std::string::npos) {
    if (xml.compare(i, 4, "<!--") == 0) {
      const std::size_t end = xml.find("-->", i);
      if (end == std::string::npos) return "unterminated comment";
      i = end + 3;
      continue;
    }
    if (xml.compare(i, 2, "<?") == 0 || xml.compare(i, 2, "<!") == 0) {
      const std::size_t end = xml.find('>', i);
      if (end == std::string::npos) return "unterminated declaration";
      i = end + 1;
      continue;
    }
    // Find the tag's end, skipping quoted attribute values.
    std::size_t j = i + 1;
    char quote = 0;
    for (; j < xml.size(); ++j) {
      if (quote) {
        if (xml[j] == quote) quote = 0;
      } else if (xml[j] == '"' || xml[j] == '\'') {
        quote = xml[j];
      } else if (xml[j] == '>') {
        break;
      }
    }
    if (j >= xml.size()) return "unterminated tag at " + std::to_string(i);
    const std::string tag = xml.substr(i + 1, j - i - 1);
    const bool closing = !tag.empty() && tag[0] == '/';
    const bool self_closing = !tag.empty() && tag.back() == '/';
    const std::string name = tag.substr(
        closing ? 1 : 0, tag.find_first_of(" \t\n/", closing ? 1 : 0) - (closing ? 1 : 0));
    if (name.empty()) return "empty tag name at " + std::to_string(i);
    if (closing) {
      if (open.empty() || open.back() != name) return "</" + name + "> closes nothing open";
      open.pop_back();
    } else if (!self_closing) {
      if (open.empty() && seen_root) return "a second root element <" + name + ">";
      seen_root = true;
      open.push_back(name);
    } else if (open.empty()) {
      return "a self-closed root element";
    }
    i = j + 1;
  }
  if (!open.empty()) return "<" + open.back() + "> is never closed";
  if (!seen_root) return "no root element";
  return "";
}

void expect_svg(const Picture& picture) {
  const std::string svg = picture.encode(PictureFormat::svg);
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u) << svg.substr(0, 80);
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("width=\"" + std::to_string(picture.width()) + "px\""), std::string::npos)
      << svg.substr(0, 400);
  EXPECT_NE(svg.find("height=\"" + std::to_string(picture.height()) + "px\""), std::string::npos);
  EXPECT_EQ(xml_problem(svg), "");
}

Pixels expect_png(const Picture& picture) {
  const Pixels pixels = decode_png(picture.encode(PictureFormat::png));
  EXPECT_EQ(pixels.width, picture.width());
  EXPECT_EQ(pixels.height, picture.height());
  return pixels;
}

// n images of 28x28x1, image i a bar whose position depends on i; labels i % 10.
Dataset synthetic_digits(std::int64_t n) {
  Dataset data{imgcls::PixelTensor({n, 28, 28, 1}), {}};
  constexpr std::uint8_t kWhite = 255;
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t y = 4; y < 24; ++y)
      for (std::int64_t x = 10 + i % 8; x < 14 + i % 8; ++x)
        data.images.data()[(i * 28 + y) * 28 + x] = kWhite;
    data.labels.push_back(static_cast<std::int32_t>(i % 10));
  }
  return data;
}

// Probabilities [n, 10] putting `confidence` on the true label, except for the images in
// `wrong`, which put it on the next class.
Tensor probabilities_for(const Dataset& data, const std::vector<std::int64_t>& wrong,
                         float confidence = 0.9f) {
  const std::int64_t n = data.size();
  Tensor p({n, 10});
  for (std::int64_t i = 0; i < n; ++i) {
    std::int32_t top = data.labels[static_cast<std::size_t>(i)];
    if (std::find(wrong.begin(), wrong.end(), i) != wrong.end()) top = (top + 1) % 10;
    for (std::int64_t c = 0; c < 10; ++c) p[i * 10 + c] = (1.0f - confidence) / 9.0f;
    p[i * 10 + top] = confidence;
  }
  return p;
}

std::vector<std::string> digit_names() {
  return {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
}

History synthetic_history(int epochs, bool validation) {
  History h;
  for (int e = 1; e <= epochs; ++e) {
    imgcls::EpochStats s{
        .epoch = e, .loss = 0.5 / e, .accuracy = 0.9 + 0.015 * e, .seconds = 10.0 + e};
    if (validation) {
      s.validation_loss = 0.4 / e + 0.02;
      s.validation_accuracy = 0.92 + 0.01 * e;
    }
    h.epochs.push_back(s);
  }
  h.train_seconds = 60;
  return h;
}

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("imgcls_viz_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// ---- metrics ------------------------------------------------------------------------------

TEST(ConfusionMatrix, CountsTruthAgainstPrediction) {
  const std::vector<std::int32_t> truth = {0, 0, 1, 1, 1, 2};
  const std::vector<std::int32_t> predicted = {0, 1, 1, 1, 2, 2};
  const ConfusionMatrix m = imgcls::confusion_matrix(truth, predicted, 3);
  EXPECT_EQ(m.counts, (std::vector<std::int64_t>{1, 1, 0, 0, 2, 1, 0, 0, 1}));
  EXPECT_EQ(m.count(0, 1), 1);
  EXPECT_EQ(m.row_total(1), 3);
  EXPECT_EQ(m.total(), 6);
  EXPECT_EQ(m.correct(), 4);
  EXPECT_DOUBLE_EQ(m.accuracy(), 4.0 / 6.0);
}

TEST(ConfusionMatrix, PerClassPrecisionRecallF1) {
  const std::vector<std::int32_t> truth = {0, 0, 1, 1, 1, 2};
  const std::vector<std::int32_t> predicted = {0, 1, 1, 1, 2, 2};
  const auto metrics = imgcls::per_class_metrics(imgcls::confusion_matrix(truth, predicted, 4));
  ASSERT_EQ(metrics.size(), 4u);
  EXPECT_DOUBLE_EQ(metrics[0].precision, 1.0);
  EXPECT_DOUBLE_EQ(metrics[0].recall, 0.5);
  EXPECT_DOUBLE_EQ(metrics[0].f1, 2.0 / 3.0);
  EXPECT_EQ(metrics[0].support, 2);
  EXPECT_DOUBLE_EQ(metrics[1].precision, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(metrics[1].recall, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(metrics[2].precision, 0.5);
  EXPECT_DOUBLE_EQ(metrics[2].recall, 1.0);
  // Class 3 never occurs and is never predicted: everything 0, not NaN.
  EXPECT_EQ(metrics[3].support, 0);
  EXPECT_EQ(metrics[3].precision, 0.0);
  EXPECT_EQ(metrics[3].f1, 0.0);
}

TEST(ConfusionMatrix, RejectsMismatchedOrOutOfRangeLabels) {
  const std::vector<std::int32_t> two = {0, 1}, three = {0, 1, 1}, bad = {0, 5};
  EXPECT_THROW(imgcls::confusion_matrix(two, three, 2), imgcls::UsageError);
  EXPECT_THROW(imgcls::confusion_matrix(two, bad, 2), imgcls::UsageError);
}

// ---- history files ------------------------------------------------------------------------

TEST(HistoryFile, RoundTripsWithAndWithoutValidation) {
  TempDir dir;
  History h = synthetic_history(3, true);
  h.epochs[2].validation_loss.reset();  // an epoch without validation stays without
  h.epochs[1].learning_rate = 5e-4;
  h.stopped_early = true;
  imgcls::save_history(h, dir.file("history.json"));
  const History back = imgcls::load_history(dir.file("history.json"));
  ASSERT_EQ(back.epochs.size(), 3u);
  EXPECT_DOUBLE_EQ(back.train_seconds, 60);
  EXPECT_TRUE(back.stopped_early);
  EXPECT_FALSE(back.interrupted);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(back.epochs[i].epoch, h.epochs[i].epoch);
    EXPECT_DOUBLE_EQ(back.epochs[i].loss, h.epochs[i].loss);
    EXPECT_DOUBLE_EQ(back.epochs[i].accuracy, h.epochs[i].accuracy);
    EXPECT_DOUBLE_EQ(back.epochs[i].seconds, h.epochs[i].seconds);
    EXPECT_DOUBLE_EQ(back.epochs[i].learning_rate, h.epochs[i].learning_rate);
    EXPECT_EQ(back.epochs[i].validation_loss, h.epochs[i].validation_loss);
    EXPECT_EQ(back.epochs[i].validation_accuracy, h.epochs[i].validation_accuracy);
  }
  EXPECT_FALSE(back.epochs[2].validation_loss.has_value());
}

TEST(HistoryFile, BadFilesThrowInputErrorNamingTheFile) {
  TempDir dir;
  const auto expect_rejected = [&](const std::string& name, const std::string& text,
                                   const std::string& problem) {
    const std::string path = dir.file(name);
    std::ofstream(path) << text;
    try {
      imgcls::load_history(path);
      ADD_FAILURE() << name << " was accepted";
    } catch (const imgcls::InputError& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(problem), std::string::npos) << e.what();
    }
  };
  expect_rejected("not_json.json", "{epochs", "not valid JSON");
  expect_rejected("other.json", R"({"format": "something-else"})",
                  "not an imgcls training history");
  expect_rejected("empty.json", R"({"format": "imgcls-history", "version": 1, "train_seconds": 1,
      "epochs": []})",
                  "no epochs");
  expect_rejected("no_loss.json", R"({"format": "imgcls-history", "version": 1, "train_seconds": 1,
      "epochs": [{"epoch": 1, "accuracy": 0.9, "seconds": 1}]})",
                  "\"loss\"");
  expect_rejected("bad_validation.json", R"({"format": "imgcls-history", "version": 1,
      "train_seconds": 1, "epochs": [{"epoch": 1, "loss": 0.1, "accuracy": 0.9, "seconds": 1,
      "validation_accuracy": "high"}]})",
                  "validation_accuracy");
  EXPECT_THROW(imgcls::load_history(dir.file("missing.json")), imgcls::InputError);
}

// ---- shared helpers -----------------------------------------------------------------------

TEST(Pictures, FormatFollowsTheExtension) {
  EXPECT_EQ(imgcls::picture_format_for("a/b.svg"), PictureFormat::svg);
  EXPECT_EQ(imgcls::picture_format_for("B.SVG"), PictureFormat::svg);
  EXPECT_EQ(imgcls::picture_format_for("b.png"), PictureFormat::png);
  EXPECT_EQ(imgcls::picture_format_for("svg"), PictureFormat::png);
}

TEST(Pictures, NiceTicksAreRoundAndCoverTheRange) {
  const viz::Ticks t = viz::nice_ticks(0, 0.17);
  EXPECT_DOUBLE_EQ(t.step, 0.05);
  EXPECT_DOUBLE_EQ(t.low, 0);
  EXPECT_NEAR(t.high, 0.2, 1e-12);
  EXPECT_EQ(t.values.size(), 5u);
  EXPECT_EQ(t.decimals, 2);
  const viz::Ticks a = viz::nice_ticks(94.3, 99.6);
  EXPECT_DOUBLE_EQ(a.step, 1);
  EXPECT_DOUBLE_EQ(a.low, 94);
  EXPECT_DOUBLE_EQ(a.high, 100);
  EXPECT_EQ(a.decimals, 0);
}

TEST(Pictures, ProbabilityTextNeverRoundsToCertainty) {
  EXPECT_EQ(viz::probability_text(0.98123), "98.1%");
  EXPECT_EQ(viz::probability_text(0.99996), ">99.9%");
  EXPECT_EQ(viz::probability_text(1.0), "100%");
  EXPECT_EQ(viz::probability_text(0.00001), "<0.1%");
}

TEST(Pictures, SaveWritesTheFormatOfTheNameAtomically) {
  TempDir dir;
  const Picture picture = imgcls::draw_training_curves(synthetic_history(2, false));
  picture.save(dir.file("curves.png"));
  picture.save(dir.file("curves.svg"));
  EXPECT_EQ(read_file(dir.file("curves.png")).substr(0, 8), "\x89PNG\r\n\x1a\n");
  EXPECT_EQ(read_file(dir.file("curves.svg")).rfind("<?xml", 0), 0u);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 2)
      << "a temporary file was left behind";
  EXPECT_THROW(picture.save(dir.file("no/such/folder/curves.png")), imgcls::InputError);
}

// ---- the sample grid ----------------------------------------------------------------------

TEST(SampleGrid, ShowsTheLeadingImagesThenTheFirstMistakesAfterThem) {
  const std::vector<std::int32_t> labels(100, 1);
  std::vector<std::int32_t> predicted(100, 1);
  for (int wrong : {3, 30, 31, 50, 70, 90}) predicted[static_cast<std::size_t>(wrong)] = 2;
  const auto chosen = viz::choose_grid_samples(labels, predicted, {});  // 4 x 6, 4 mistakes
  std::vector<std::int64_t> expected;
  for (int i = 0; i < 20; ++i) expected.push_back(i);
  for (int i : {30, 31, 50, 70}) expected.push_back(i);
  EXPECT_EQ(chosen, expected);

  // From image 60 on: 60..79, then the only mistake left (90), then the next images (80..82).
  const auto later = viz::choose_grid_samples(labels, predicted, {.first = 60});
  expected.clear();
  for (int i = 60; i < 83; ++i) expected.push_back(i);
  expected.push_back(90);
  EXPECT_EQ(later, expected);

  // Near the end there are fewer cells.
  EXPECT_EQ(viz::choose_grid_samples(labels, predicted, {.first = 95}).size(), 5u);
}

TEST(SampleGrid, WrongPredictionsHaveARedFrame) {
  const Dataset data = synthetic_digits(30);
  const std::vector<std::int64_t> wrong = {2, 25};  // 25: found after the leading 20
  const Picture picture =
      imgcls::draw_sample_grid(data, probabilities_for(data, wrong), digit_names(),
                               {.rows = 2, .columns = 3, .mistakes = 1});
  // Cells: images 0..4, then mistake 25.
  const viz::CellGrid grid = viz::sample_grid_cells(6, 3, 28, 28);
  const Pixels pixels = expect_png(picture);
  EXPECT_GE(pixels.width, grid.right());
  EXPECT_GE(pixels.height, grid.bottom());
  for (std::size_t cell = 0; cell < 6; ++cell) {
    const viz::Rect r = grid.cell(cell);
    const bool is_wrong = cell == 2 || cell == 5;
    // The frame: a pixel on the left edge, half way down.
    EXPECT_EQ(near(pixels.at(r.x + 1, r.centre_y()), viz::colours::kWrong), is_wrong)
        << "cell " << cell;
    EXPECT_EQ(count_colour(pixels, viz::colours::kWrong, r.x, r.y, r.right(), r.bottom()) > 100,
              is_wrong)
        << "cell " << cell;
  }
  // The digit is drawn dark on light inside the cell's image area.
  const viz::Rect first = grid.cell(0);
  EXPECT_GT(
      count_colour(pixels, viz::colours::kPaper, first.x, first.y, first.right(), first.bottom()),
      1000);
  EXPECT_GT(count_colour(pixels, {0, 0, 0}, first.x, first.y, first.right(), first.bottom()), 1000);
  expect_svg(picture);
}

// ---- the error gallery --------------------------------------------------------------------

TEST(ErrorGallery, ShowsTheMostConfidentMistakesFirst) {
  const Dataset data = synthetic_digits(40);
  Tensor probabilities = probabilities_for(data, {5, 17, 33}, 0.6f);
  // Image 17 is the most confident mistake: 0.95 on the wrong class.
  for (std::int64_t c = 0; c < 10; ++c) probabilities[17 * 10 + c] = 0.05f / 9;
  probabilities[17 * 10 + (data.labels[17] + 1) % 10] = 0.95f;
  const Picture picture =
      imgcls::draw_error_gallery(data, probabilities, digit_names(), {.columns = 2});
  const Pixels pixels = expect_png(picture);
  const viz::CellGrid grid = viz::error_gallery_cells(3, 2, 28, 28);
  EXPECT_GE(pixels.height, grid.bottom());
  for (std::size_t cell = 0; cell < 3; ++cell)
    EXPECT_TRUE(
        near(pixels.at(grid.cell(cell).x + 1, grid.cell(cell).centre_y()), viz::colours::kWrong));
  // Only three mistakes: no fourth cell.
  const viz::Rect fourth = viz::error_gallery_cells(4, 2, 28, 28).cell(3);
  EXPECT_EQ(count_colour(pixels, viz::colours::kWrong, fourth.x, fourth.y, fourth.right(),
                         std::min<double>(fourth.bottom(), pixels.height)),
            0);
  expect_svg(picture);
}

TEST(ErrorGallery, SaysSoWhenThereIsNoMistake) {
  const Dataset data = synthetic_digits(10);
  const Picture picture =
      imgcls::draw_error_gallery(data, probabilities_for(data, {}), digit_names());
  const Pixels pixels = expect_png(picture);
  EXPECT_LT(pixels.height, 120);  // the header alone
  EXPECT_EQ(count_colour(pixels, viz::colours::kWrong, 0, 0, pixels.width, pixels.height), 0);
}

// ---- the confusion matrix -----------------------------------------------------------------

ConfusionMatrix good_model_matrix() {
  // 10 classes, ~95% on the diagonal, a few confusions, some zeros.
  ConfusionMatrix m{.classes = 10, .counts = std::vector<std::int64_t>(100, 0)};
  for (int t = 0; t < 10; ++t) {
    m.counts[static_cast<std::size_t>(t * 10 + t)] = 950 + 3 * t;
    m.counts[static_cast<std::size_t>(t * 10 + (t + 1) % 10)] = 30;
    m.counts[static_cast<std::size_t>(t * 10 + (t + 3) % 10)] = 2;
  }
  return m;
}

TEST(ConfusionPicture, DiagonalIsDarkerThanEveryOtherCell) {
  const ConfusionMatrix m = good_model_matrix();
  const Picture picture = imgcls::draw_confusion_matrix(m, digit_names());
  const viz::ConfusionLayout layout = viz::confusion_layout(m, digit_names());
  EXPECT_GE(picture.width(), layout.width);  // wider when the header needs it
  EXPECT_EQ(picture.height(), layout.height);
  const Pixels pixels = expect_png(picture);
  // Probe a corner of each cell, away from the count written in its middle.
  const auto shade = [&](int t, int p) {
    const viz::Rect r = layout.cell(t, p);
    return viz::luminance(pixels.at(r.x + 3, r.y + 3));
  };
  double darkest_off_diagonal = 1.0;
  for (int t = 0; t < 10; ++t)
    for (int p = 0; p < 10; ++p)
      if (t != p) darkest_off_diagonal = std::min(darkest_off_diagonal, shade(t, p));
  for (int c = 0; c < 10; ++c) EXPECT_LT(shade(c, c), darkest_off_diagonal - 0.2) << "class " << c;
  // A 3% confusion is visibly tinted, a zero cell is white.
  EXPECT_LT(shade(0, 1), 0.9);
  EXPECT_NEAR(shade(0, 5), 1.0, 0.01);
  expect_svg(picture);
}

TEST(ConfusionPicture, ManyClassesWithLongNamesStillFit) {
  ConfusionMatrix m{.classes = 40, .counts = std::vector<std::int64_t>(1600, 1)};
  std::vector<std::string> names;
  for (int c = 0; c < 40; ++c) names.push_back("class number " + std::to_string(c));
  const viz::ConfusionLayout layout = viz::confusion_layout(m, names);
  EXPECT_TRUE(layout.column_labels_upwards);
  EXPECT_GE(layout.cell_size, 14);
  const Pixels pixels = expect_png(imgcls::draw_confusion_matrix(m, names));
  EXPECT_GE(pixels.width, layout.colour_bar.right());
}

// ---- training curves ----------------------------------------------------------------------

TEST(TrainingCurves, DrawBothSeriesWhenThereIsValidation) {
  const Pixels with = expect_png(imgcls::draw_training_curves(synthetic_history(6, true)));
  const Pixels without = expect_png(imgcls::draw_training_curves(synthetic_history(6, false)));
  const auto count = [](const Pixels& p, viz::Colour c) {
    return count_colour(p, c, 0, 0, p.width, p.height);
  };
  EXPECT_GT(count(with, viz::colours::kTraining), 200);
  EXPECT_GT(count(with, viz::colours::kValidation), 200);
  EXPECT_GT(count(without, viz::colours::kTraining), 200);
  EXPECT_EQ(count(without, viz::colours::kValidation), 0);
  expect_svg(imgcls::draw_training_curves(synthetic_history(6, true)));
}

TEST(TrainingCurves, OneEpochIsAPoint) {
  const Picture picture = imgcls::draw_training_curves(synthetic_history(1, false));
  const Pixels pixels = expect_png(picture);
  EXPECT_GT(count_colour(pixels, viz::colours::kTraining, 0, 0, pixels.width, pixels.height), 20);
  EXPECT_THROW(imgcls::draw_training_curves(History{}), imgcls::UsageError);
}

}  // namespace
