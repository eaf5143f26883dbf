// `imgcls serve`: the server in this process on a free port, asked over HTTP with httplib's
// client: /health, the page, PNG and JSON predictions of MNIST test digits (matching the
// library's own preprocess + predict exactly, and the true labels), /explain (the PNG byte
// for byte as draw_explanation draws it, the JSON map value for value as the Explainer
// computes it, its refusals), every error answer (400, 404, 413, 415) as JSON, 8 threads x 20
// concurrent requests answered correctly; a colour model with named classes and a non-square input
// (ColourServeTest: /health, colour PNGs of other sizes, JSON pixels H*W*3, grey pictures, each
// answered as picture_to_input + Predictor answer it); then the binary itself: the start line,
// /health, SIGTERM -> exit 0, a taken port -> exit 1.
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "imgcls/data.hpp"
#include "imgcls/explain.hpp"
#include "imgcls/image.hpp"
#include "imgcls/io.hpp"
#include "imgcls/predictor.hpp"
#include "imgcls/preprocess.hpp"
#include "imgcls/train.hpp"
#include "imgcls/viz.hpp"
#include "serve/server.hpp"
#include "support/colour_model.hpp"
#include "support/process.hpp"

namespace imgcls {
namespace {

namespace fs = std::filesystem;
using testing_support::Child;

const std::string kModel = std::string(IMGCLS_PREDICT_FIXTURES_DIR) + "/seed_model.safetensors";
constexpr std::int64_t kSide = 28;
constexpr int kDigits = 20;                     // the first MNIST test digits used
constexpr float kProbabilityTolerance = 2e-6f;  // answers keep 6 decimals

// An MNIST test digit as a picture: white ink on black, values 0..1.
GreyImage mnist_picture(const PixelTensor& images, std::int64_t n) {
  GreyImage picture(kSide, kSide);
  images.to_unit(n, 1, picture.pixels.data());
  return picture;
}

GreyImage inverted(GreyImage picture) {
  for (float& v : picture.pixels) v = 1.0f - v;
  return picture;
}

std::string pixels_json(const GreyImage& picture) {
  nlohmann::json pixels = nlohmann::json::array();
  for (float v : picture.pixels) pixels.push_back(std::lround(v * 255.0f));
  return nlohmann::json{{"pixels", pixels}}.dump();
}

nlohmann::json body_of(const httplib::Result& result) {
  EXPECT_TRUE(result) << "no answer";
  if (!result) return {};
  EXPECT_EQ(result->get_header_value("Content-Type"), "application/json");
  return nlohmann::json::parse(result->body);
}

class ServeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const Dataset test = load_mnist_test(IMGCLS_MNIST_DIR);
    Sequential reference = load_model(kModel);
    for (std::int64_t n = 0; n < kDigits; ++n) {
      Digit digit;
      digit.truth = test.labels[static_cast<std::size_t>(n)];
      digit.picture = mnist_picture(test.images, n);
      digit.png = encode_png(digit.picture);
      // What `imgcls predict` computes for this PNG: decode, preprocess, predict.
      const std::vector<GreyImage> batch{preprocess_digit(
          decode_image(
              std::span(reinterpret_cast<const std::uint8_t*>(digit.png.data()), digit.png.size()),
              "png"),
          mnist_layout(kSide), "png")};
      const Tensor p = predict(reference, to_batch(batch));
      digit.probabilities.assign(p.data(), p.data() + p.dim(1));
      digits_.push_back(std::move(digit));
    }
    server_ = std::make_unique<serve::DigitServer>(load_model(kModel), "seed_model.safetensors",
                                                   serve::ServeOptions{.port = 0});
    server_->bind();
    thread_ = std::thread([] { server_->run(); });
  }
  static void TearDownTestSuite() {
    server_->stop();
    thread_.join();
    server_.reset();
  }

  static httplib::Client client() {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(30);
    return c;
  }

  struct Digit {
    std::int32_t truth = 0;
    GreyImage picture;
    std::string png;
    std::vector<float> probabilities;  // the library's answer for `png`
    std::int64_t label() const {
      return std::max_element(probabilities.begin(), probabilities.end()) - probabilities.begin();
    }
  };
  static inline std::vector<Digit> digits_;
  static inline std::unique_ptr<serve::DigitServer> server_;
  static inline std::thread thread_;
};

TEST_F(ServeTest, HealthNamesTheModelAndItsClasses) {
  const nlohmann::json health = body_of(client().Get("/health"));
  EXPECT_EQ(health["status"], "ok");
  EXPECT_EQ(health["model"], "seed_model.safetensors");
  EXPECT_EQ(health["input_shape"], nlohmann::json({28, 28, 1}));
  EXPECT_EQ(health["classes"], 10);
  EXPECT_EQ(health["class_names"].size(), 10u);
}

TEST_F(ServeTest, ServesThePage) {
  const httplib::Result page = client().Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("<canvas id=\"pad\""), std::string::npos);
  EXPECT_NE(page->body.find("</html>"), std::string::npos);
}

TEST_F(ServeTest, PngPredictionIsPredictsAnswerAndRight) {
  int right = 0;
  for (const Digit& digit : digits_) {
    const httplib::Result result = client().Post("/predict", digit.png, "image/png");
    ASSERT_TRUE(result);
    ASSERT_EQ(result->status, 200) << result->body;
    const nlohmann::json answer = body_of(result);
    ASSERT_EQ(answer["probabilities"].size(), 10u);
    for (std::size_t c = 0; c < 10; ++c)
      EXPECT_NEAR(answer["probabilities"][c].get<float>(), digit.probabilities[c],
                  kProbabilityTolerance);
    EXPECT_EQ(answer["label"], digit.label());
    EXPECT_EQ(answer["class"], std::to_string(digit.label()));
    EXPECT_NEAR(answer["confidence"].get<float>(), digit.probabilities[std::size_t(digit.label())],
                kProbabilityTolerance);
    EXPECT_EQ(answer["class_names"].size(), 10u);
    right += answer["label"] == digit.truth;
  }
  EXPECT_GE(right, kDigits - 1) << "the seed model gets about 99% of MNIST right";
}

TEST_F(ServeTest, DarkInkOnLightPaperGetsTheSameLabel) {
  for (const Digit& digit : digits_) {
    const nlohmann::json answer =
        body_of(client().Post("/predict", encode_png(inverted(digit.picture)), "image/png"));
    EXPECT_EQ(answer["label"], digit.label());
  }
}

TEST_F(ServeTest, JsonPixelsPredictLikeThePng) {
  for (const Digit& digit : digits_) {
    const nlohmann::json answer =
        body_of(client().Post("/predict", pixels_json(digit.picture), "application/json"));
    EXPECT_EQ(answer["label"], digit.label());
    EXPECT_NEAR(answer["confidence"].get<float>(), digit.probabilities[std::size_t(digit.label())],
                kProbabilityTolerance);
  }
}

// status and a JSON {"error": non-empty text} containing `words`.
void expect_error(const httplib::Result& result, int status, const std::string& words) {
  ASSERT_TRUE(result) << "no answer";
  EXPECT_EQ(result->status, status) << result->body;
  const nlohmann::json body = body_of(result);
  ASSERT_TRUE(body.contains("error")) << result->body;
  EXPECT_NE(body["error"].get<std::string>().find(words), std::string::npos) << result->body;
}

TEST_F(ServeTest, BadRequestsGet400WithAReason) {
  httplib::Client c = client();
  expect_error(c.Post("/predict", "not a picture at all", "image/png"), 400, "request body");
  const std::string png = digits_[0].png;
  expect_error(c.Post("/predict", png.substr(0, png.size() / 2), "image/png"), 400, "request body");
  expect_error(c.Post("/predict", encode_png(GreyImage(kSide, kSide, 1.0f)), "image/png"), 400,
               "no digit");
  expect_error(c.Post("/predict", "{\"pixels\": [1, 2", "application/json"), 400, "not valid JSON");
  expect_error(c.Post("/predict", "[1, 2, 3]", "application/json"), 400, "pixels");
  expect_error(c.Post("/predict", "{\"pixels\": [0, 255]}", "application/json"), 400,
               "expected 784 values");
  nlohmann::json wrong = nlohmann::json::parse(pixels_json(digits_[0].picture));
  wrong["pixels"][5] = 256;
  expect_error(c.Post("/predict", wrong.dump(), "application/json"), 400, "outside 0..255");
  wrong["pixels"][5] = "7";
  expect_error(c.Post("/predict", wrong.dump(), "application/json"), 400, "not a number");
  expect_error(c.Post("/predict", "hello", "text/plain"), 415, "Content-Type");
}

// /explain answers what the library computes for the same picture: the PNG byte for byte as
// draw_explanation draws it, and with ?format=json the map value for value.
struct LibraryExplanation {
  Explanation explanation;
  std::string png;
  Image input;  // the model input the map lies over
};
LibraryExplanation library_explanation(const std::string& png, const ExplainOptions& options) {
  const Sequential model = load_model(kModel);
  const Image picture = decode_picture(
      std::span(reinterpret_cast<const std::uint8_t*>(png.data()), png.size()), "png");
  const PreparedInput prepared =
      prepare_picture(picture, model.input_shape(), model.preprocessing(), "png");
  LibraryExplanation out;
  out.explanation = Explainer(model).explain(prepared.input, options);
  out.input = prepared.input;
  out.png = draw_explanation(out.explanation, prepared.input, picture, prepared.placement,
                             class_names(model), "your picture")
                .encode(PictureFormat::png);
  return out;
}

TEST_F(ServeTest, ExplainAnswersThePictureOfImgclsExplain) {
  const Digit& digit = digits_[0];
  const httplib::Result result = client().Post("/explain?method=grad-cam", digit.png, "image/png");
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 200) << result->body;
  EXPECT_EQ(result->get_header_value("Content-Type"), "image/png");
  const LibraryExplanation want =
      library_explanation(digit.png, {.method = ExplainMethod::gradcam});
  EXPECT_TRUE(result->body == want.png) << "the PNG differs from draw_explanation's";
  const Image drawn = decode_picture(
      std::span(reinterpret_cast<const std::uint8_t*>(result->body.data()), result->body.size()),
      "the answer");
  EXPECT_GT(drawn.width, 900);
}

TEST_F(ServeTest, ExplainAsJsonGivesTheMapOfTheClassAsked) {
  for (const char* method : {"saliency", "integrated-gradients", "gradcam", "occlusion"}) {
    const Digit& digit = digits_[1];
    const nlohmann::json answer = body_of(client().Post(
        std::string("/explain?format=json&class=3&method=") + method, digit.png, "image/png"));
    ASSERT_TRUE(answer.contains("map")) << answer.dump();
    EXPECT_EQ(answer["label"], digit.label());
    EXPECT_EQ(answer["explained"], 3);
    const LibraryExplanation library = library_explanation(
        digit.png, {.method = parse_explain_method(method, "test"), .target_class = 3});
    const Explanation& want = library.explanation;
    EXPECT_EQ(answer["signed"], want.is_signed);
    EXPECT_EQ(answer["layer"], want.layer);
    EXPECT_EQ(answer["layer"] == "", want.method != ExplainMethod::gradcam) << answer["layer"];
    // the input the map lies over, as the page draws it: [H][W][C], 6 decimals
    const Image& input = library.input;
    ASSERT_EQ(answer["input"].size(), std::size_t(kSide));
    for (std::int64_t y = 0; y < kSide; ++y) {
      ASSERT_EQ(answer["input"][std::size_t(y)].size(), std::size_t(kSide));
      for (std::int64_t x = 0; x < kSide; ++x) {
        const nlohmann::json& pixel = answer["input"][std::size_t(y)][std::size_t(x)];
        ASSERT_EQ(pixel.size(), std::size_t(input.channels));
        ASSERT_NEAR(pixel[0].get<double>(), input.pixels[std::size_t(y * kSide + x)], 1e-6)
            << method << " input at " << y << ", " << x;
      }
    }
    ASSERT_EQ(answer["map"].size(), std::size_t(kSide));
    for (std::int64_t y = 0; y < kSide; ++y)
      for (std::int64_t x = 0; x < kSide; ++x)
        ASSERT_EQ(answer["map"][std::size_t(y)][std::size_t(x)].get<float>(),
                  want.map[y * kSide + x])
            << method << " at " << y << ", " << x;
  }
}

TEST_F(ServeTest, ExplainRefusesWhatItCannotDo) {
  httplib::Client c = client();
  const std::string png = digits_[0].png;
  expect_error(c.Post("/explain?method=lime", png, "image/png"), 400, "lime");
  expect_error(c.Post("/explain?class=10", png, "image/png"), 400, "0 to 9");
  expect_error(c.Post("/explain?class=3x", png, "image/png"), 400, "3x");
  expect_error(c.Post("/explain?format=gif", png, "image/png"), 400, "gif");
  expect_error(c.Post("/explain", encode_png(GreyImage(kSide, kSide, 1.0f)), "image/png"), 400,
               "no digit");
  expect_error(c.Post("/explain", "hello", "text/plain"), 415, "Content-Type");
}

TEST_F(ServeTest, UnknownPathsGet404) {
  expect_error(client().Get("/nope"), 404, "/nope");
  expect_error(client().Get("/predict"), 404, "routes");
  expect_error(client().Post("/health", "", "application/json"), 404, "routes");
}

TEST_F(ServeTest, BodiesOverTheLimitGet413AndTheServerGoesOn) {
  const std::string huge((4u << 20) + 1, 'x');
  expect_error(client().Post("/predict", huge, "image/png"), 413, "limit");
  EXPECT_EQ(body_of(client().Get("/health"))["status"], "ok");
}

TEST_F(ServeTest, ConcurrentRequestsAreAllAnsweredRight) {
  constexpr int kThreads = 8, kRequests = 20;
  std::vector<int> right(kThreads, 0);
  // One request from this thread first: httplib's client (a compiled library, not
  // instrumented) parses each response line with a function-local static regex, whose
  // first use by a client thread ThreadSanitizer would otherwise report against the
  // others (make check-tsan). The server's own workers are left as they are.
  ASSERT_EQ(body_of(client().Get("/health"))["status"], "ok");
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([t, &right] {
      httplib::Client c = client();
      for (int r = 0; r < kRequests; ++r) {
        const Digit& digit = digits_[std::size_t(t * kRequests + r) % digits_.size()];
        const httplib::Result result =
            r % 2 == 0 ? c.Post("/predict", digit.png, "image/png")
                       : c.Post("/predict", pixels_json(digit.picture), "application/json");
        if (result && result->status == 200 &&
            nlohmann::json::parse(result->body)["label"] == digit.label())
          ++right[std::size_t(t)];
      }
    });
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(right[std::size_t(t)], kRequests) << "thread " << t;
}

// --- a colour model -------------------------------------------------------------------

// A colour model ([20, 24, 3], stretch, classes "apple", "blue sky", ...) served in this
// process; every answer is compared with what the library computes for the same bytes.
class ColourServeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_path_ = (fs::path(::testing::TempDir()) /
                   ("serve_colour_model_" + std::to_string(::getpid()) + ".safetensors"))
                      .string();  // one per process: ctest runs each test in its own, in parallel
    testing_support::write_colour_model(model_path_);
    reference_ = std::make_unique<Sequential>(load_model(model_path_));
    server_ = std::make_unique<serve::DigitServer>(load_model(model_path_), "colours.safetensors",
                                                   serve::ServeOptions{.port = 0});
    server_->bind();
    thread_ = std::thread([] { server_->run(); });
  }
  static void TearDownTestSuite() {
    server_->stop();
    thread_.join();
    server_.reset();
    reference_.reset();
    fs::remove(model_path_);
  }

  static httplib::Client client() {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(30);
    return c;
  }

  // The library's probabilities for a picture, prepared as `imgcls predict` prepares one.
  static std::vector<float> library_answer(const Image& picture) {
    const Sequential& model = *reference_;
    const std::vector<Image> batch{
        picture_to_input(picture, model.input_shape(), model.preprocessing(), "picture")};
    Predictor predictor(model);
    const Tensor p = predictor.predict(to_batch(batch));
    return {p.data(), p.data() + p.dim(1)};
  }
  // The same for picture bytes, decoded as the server decodes a request body.
  static std::vector<float> library_answer(const std::string& bytes) {
    return library_answer(decode_picture(
        std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()), "bytes"));
  }

  static inline std::string model_path_;
  static inline std::unique_ptr<Sequential> reference_;
  static inline std::unique_ptr<serve::DigitServer> server_;
  static inline std::thread thread_;
};

// The answer holds `expected` (6 decimals), its most probable class and that class's name.
void expect_answer(const nlohmann::json& answer, const std::vector<float>& expected) {
  ASSERT_EQ(answer["probabilities"].size(), expected.size()) << answer.dump();
  for (std::size_t c = 0; c < expected.size(); ++c)
    EXPECT_NEAR(answer["probabilities"][c].get<float>(), expected[c], kProbabilityTolerance)
        << "class " << c;
  const auto label =
      std::size_t(std::max_element(expected.begin(), expected.end()) - expected.begin());
  EXPECT_EQ(answer["label"], label);
  EXPECT_EQ(answer["class"], testing_support::kColourClasses[label]);
  EXPECT_EQ(answer["class_names"], nlohmann::json(testing_support::kColourClasses));
}

// {"pixels": [...]} of a picture's values as 0..255 numbers.
std::string pixels_json(const Image& picture) {
  nlohmann::json pixels = nlohmann::json::array();
  for (float v : picture.pixels) pixels.push_back(std::lround(v * 255.0f));
  return nlohmann::json{{"pixels", pixels}}.dump();
}

TEST_F(ColourServeTest, HealthReportsTheColourInputAndTheClassNames) {
  const nlohmann::json health = body_of(client().Get("/health"));
  EXPECT_EQ(health["status"], "ok");
  EXPECT_EQ(health["model"], "colours.safetensors");
  EXPECT_EQ(health["input_shape"], nlohmann::json({20, 24, 3}));
  EXPECT_EQ(health["preprocessing"], "stretch");
  EXPECT_EQ(health["classes"], 4);
  EXPECT_EQ(health["class_names"], nlohmann::json(testing_support::kColourClasses));
  const serve::ServeOptions defaults;
  EXPECT_EQ(health["max_body_bytes"], defaults.max_body_bytes);
  EXPECT_EQ(health["max_picture_side"], defaults.image_limits.max_side);
  EXPECT_EQ(health["max_picture_pixels"], defaults.image_limits.max_pixels);
}

TEST_F(ColourServeTest, ColourPngsAreAnsweredAsTheLibraryAnswers) {
  // Pictures of other sizes and shapes (stretched to 20x24) and of the input's own size.
  const std::vector<std::pair<std::int64_t, std::int64_t>> sizes = {
      {37, 51}, {20, 24}, {64, 16}, {7, 9}};
  std::uint64_t seed = 40;
  for (const auto& [height, width] : sizes) {
    const Image picture = testing_support::seeded_picture(height, width, 3, ++seed);
    const std::string png = encode_png(picture);
    const httplib::Result result = client().Post("/predict", png, "image/png");
    ASSERT_TRUE(result);
    ASSERT_EQ(result->status, 200) << result->body;
    SCOPED_TRACE(std::to_string(height) + "x" + std::to_string(width));
    expect_answer(body_of(result), library_answer(png));
  }
}

TEST_F(ColourServeTest, TheAnswersTellColoursApart) {
  // The comparisons above can fail: swapping red and blue changes the answer by far more
  // than their tolerance.
  const Image picture = testing_support::seeded_picture(20, 24, 3, 7);
  Image swapped = picture;
  for (std::size_t i = 0; i < swapped.pixels.size(); i += 3)
    std::swap(swapped.pixels[i], swapped.pixels[i + 2]);
  const nlohmann::json a = body_of(client().Post("/predict", encode_png(picture), "image/png"));
  const nlohmann::json b = body_of(client().Post("/predict", encode_png(swapped), "image/png"));
  double largest = 0;
  for (std::size_t c = 0; c < 4; ++c)
    largest = std::max(largest, std::abs(a["probabilities"][c].get<double>() -
                                         b["probabilities"][c].get<double>()));
  EXPECT_GT(largest, 100 * kProbabilityTolerance) << a.dump() << "\n" << b.dump();
}

TEST_F(ColourServeTest, JsonPixelsAreHeightTimesWidthTimesThree) {
  for (std::uint64_t seed = 60; seed < 63; ++seed) {
    const Image picture = testing_support::seeded_picture(20, 24, 3, seed);
    const nlohmann::json answer =
        body_of(client().Post("/predict", pixels_json(picture), "application/json"));
    expect_answer(answer, library_answer(picture));
    // The same pixels as a PNG: the same answer.
    expect_answer(body_of(client().Post("/predict", encode_png(picture), "image/png")),
                  library_answer(picture));
  }
  // Grey values alone (20 x 24) are too few for a colour model.
  expect_error(client().Post("/predict", pixels_json(Image(20, 24, 1, 0.5f)), "application/json"),
               400, "expected 1440 values (20x24x3, row-major), got 480");
}

TEST_F(ColourServeTest, GreyPicturesAreRepeatedInTheThreeChannels) {
  const Image grey = testing_support::seeded_picture(30, 33, 1, 9);
  const std::string grey_png = encode_png(grey);
  const nlohmann::json answer = body_of(client().Post("/predict", grey_png, "image/png"));
  expect_answer(answer, library_answer(grey_png));
  // The same grey written as a colour picture (R = G = B): the same answer.
  const Image repeated = with_channels(grey, 3);
  ASSERT_EQ(repeated.channels, 3);
  expect_answer(body_of(client().Post("/predict", encode_png(repeated), "image/png")),
                library_answer(grey));
}

// The binary: waits for its "serving ... on http://host:port" line and returns the port.
int wait_for_port(const fs::path& stdout_path) {
  const std::regex line(R"(serving .* on http://127\.0\.0\.1:(\d+))");
  for (int i = 0; i < 600; ++i) {
    std::smatch match;
    const std::string out = testing_support::read_file(stdout_path);
    if (std::regex_search(out, match, line)) return std::stoi(match[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return -1;
}

TEST_F(ServeTest, CommandServesAndStopsCleanlyOnSigterm) {
  const fs::path dir = fs::path(::testing::TempDir()) / "serve_command";
  fs::create_directories(dir);
  Child child(IMGCLS_BINARY, {"serve", kModel, "--port", "0"}, dir);
  ASSERT_TRUE(child.started());
  const int port = wait_for_port(dir / "stdout");
  ASSERT_GT(port, 0) << testing_support::read_file(dir / "stderr");
  httplib::Client c("127.0.0.1", port);
  const httplib::Result health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(body_of(c.Post("/predict", digits_[0].png, "image/png"))["label"], digits_[0].label());
  child.send(SIGTERM);
  const testing_support::Outcome outcome = child.wait();
  EXPECT_EQ(outcome.exit_code, 0) << outcome.err;
  EXPECT_NE(outcome.out.find("stopped by SIGTERM"), std::string::npos) << outcome.out;
}

// Without a model the command serves the built-in digits model, a digit model the page draws
// on; a model named twice (argument and --model) is a usage error.
TEST_F(ServeTest, CommandWithoutAModelServesTheBuiltInDigitsModel) {
  const fs::path dir = fs::path(::testing::TempDir()) / "serve_builtin";
  fs::create_directories(dir);
  Child child(IMGCLS_BINARY, {"serve", "--port", "0"}, dir);
  ASSERT_TRUE(child.started());
  const int port = wait_for_port(dir / "stdout");
  ASSERT_GT(port, 0) << testing_support::read_file(dir / "stderr");
  EXPECT_NE(testing_support::read_file(dir / "stdout").find("serving the built-in digits model"),
            std::string::npos);
  httplib::Client c("127.0.0.1", port);
  const nlohmann::json health = body_of(c.Get("/health"));
  EXPECT_EQ(health["model"], "digits.safetensors (built in)");
  EXPECT_EQ(health["preprocessing"], "mnist-digit");
  EXPECT_EQ(body_of(c.Post("/predict", digits_[0].png, "image/png"))["label"], digits_[0].label());
  // It says "not a digit": for a blank page without running, for a filled square by its rule.
  EXPECT_EQ(health["rejection"]["class"], "not a digit");
  EXPECT_EQ(health["class_names"].size(), 11u);
  const nlohmann::json blank =
      body_of(c.Post("/predict", encode_png(GreyImage(kSide, kSide, 1.0f)), "image/png"));
  EXPECT_TRUE(blank["rejected"].get<bool>()) << blank;
  EXPECT_TRUE(blank["label"].is_null()) << blank;
  EXPECT_EQ(blank["class"], "not a digit");
  EXPECT_NE(blank["reason"].get<std::string>().find("found no digit"), std::string::npos);
  GreyImage square(40, 40, 1.0f);
  for (std::int64_t y = 6; y < 34; ++y)
    for (std::int64_t x = 6; x < 34; ++x) square.at(y, x) = 0.1f;
  const nlohmann::json filled = body_of(c.Post("/predict", encode_png(square), "image/png"));
  EXPECT_TRUE(filled["rejected"].get<bool>()) << filled;
  EXPECT_GE(filled["rejection_score"].get<double>(), 0.5) << filled;
  EXPECT_EQ(filled["probabilities"].size(), 11u);
  const nlohmann::json digit = body_of(c.Post("/predict", digits_[0].png, "image/png"));
  EXPECT_FALSE(digit["rejected"].get<bool>()) << digit;
  child.send(SIGTERM);
  EXPECT_EQ(child.wait().exit_code, 0);

  const testing_support::Outcome twice = testing_support::run_process(
      IMGCLS_BINARY, {"serve", kModel, "--model", kModel, "--port", "0"}, dir);
  EXPECT_EQ(twice.exit_code, 2) << twice.err;
}

TEST_F(ServeTest, CommandExitsWith1WhenThePortIsTaken) {
  const fs::path dir = fs::path(::testing::TempDir()) / "serve_port_taken";
  fs::create_directories(dir);
  const testing_support::Outcome outcome = testing_support::run_process(
      IMGCLS_BINARY, {"serve", kModel, "--port", std::to_string(server_->port())}, dir);
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_NE(outcome.err.find("cannot listen"), std::string::npos) << outcome.err;
  EXPECT_NE(outcome.err.find(std::to_string(server_->port())), std::string::npos) << outcome.err;
}

}  // namespace
}  // namespace imgcls
