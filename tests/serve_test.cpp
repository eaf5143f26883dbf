// `imgcls serve`: the server in this process on a free port, asked over HTTP with httplib's
// client: /health, the page, PNG and JSON predictions of MNIST test digits (matching the
// library's own preprocess + predict exactly, and the true labels), every error answer
// (400, 404, 413, 415) as JSON, 8 threads x 20 concurrent requests answered correctly; then
// the binary itself: the start line, /health, SIGTERM -> exit 0, a taken port -> exit 1.
#include <gtest/gtest.h>
#include <httplib.h>

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
#include "imgcls/image.hpp"
#include "imgcls/io.hpp"
#include "imgcls/preprocess.hpp"
#include "imgcls/train.hpp"
#include "serve/server.hpp"
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
