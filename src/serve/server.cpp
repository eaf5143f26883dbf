// The server of `imgcls serve`: routes, request parsing, the guarded model, and the error
// answers. The contract is in serve/server.hpp.
#include "serve/server.hpp"

#include <fmt/core.h>
#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <span>
#include <thread>
#include <utility>
#include <vector>

#include "imgcls/error.hpp"
#include "imgcls/explain.hpp"
#include "imgcls/predictor.hpp"
#include "imgcls/preprocess.hpp"
#include "imgcls/viz.hpp"
#include "serve/page_html.hpp"

namespace imgcls::serve {

namespace {

constexpr double kJsonRounding = 1e6;  // probabilities keep 6 decimals, as `predict --json`
constexpr double kMaxGrey = 255.0;     // JSON pixels are 0..255
constexpr int kKeepAliveSeconds = 2;   // an idle connection holds a worker (and shutdown) this long
constexpr std::size_t kKeepAliveRequests = 1000;
constexpr auto kStopPollInterval = std::chrono::milliseconds(50);
constexpr const char* kJsonType = "application/json";
constexpr const char* kBodySource = "the request body";

// A request the client got wrong: answered with `status` and {"error": message}.
struct RequestError {
  int status;
  std::string message;
};

double rounded_for_json(float probability) {
  return std::round(double(probability) * kJsonRounding) / kJsonRounding;
}

void answer_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  // replacing invalid UTF-8: an error message may quote bytes of a hostile request
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), kJsonType);
}

void answer_error(httplib::Response& res, int status, const std::string& message) {
  answer_json(res, status, nlohmann::json{{"error", message}});
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), text.begin());
}

// {"pixels": [height * width * channels numbers in 0..255]} -> a picture of the model input's
// size (0 = black, 1 = white; channels side by side).
Image picture_from_json(const std::string& body, const Shape& input) {
  const std::int64_t height = input[0], width = input[1], channels = input[2];
  const nlohmann::json request = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (request.is_discarded()) throw RequestError{400, "the body is not valid JSON"};
  if (!request.is_object() || !request.contains("pixels") || !request["pixels"].is_array())
    throw RequestError{400, "expected a JSON object {\"pixels\": [numbers 0..255]}"};
  const nlohmann::json& pixels = request["pixels"];
  if (std::int64_t(pixels.size()) != height * width * channels)
    throw RequestError{
        400, fmt::format("expected {} values ({}x{}x{}, row-major), got {}",
                         height * width * channels, height, width, channels, pixels.size())};
  Image picture(height, width, channels);
  for (std::size_t i = 0; i < pixels.size(); ++i) {
    if (!pixels[i].is_number()) throw RequestError{400, fmt::format("pixel {} is not a number", i)};
    const double grey = pixels[i].get<double>();
    if (!(grey >= 0.0 && grey <= kMaxGrey))
      throw RequestError{400, fmt::format("pixel {} is {}, outside 0..255", i, grey)};
    picture.pixels[i] = float(grey / kMaxGrey);
  }
  return picture;
}

// ?method=...&class=K of /explain: the library's method names (and grad-cam); the class
// explained, 0 to classes - 1 (default: the predicted one).
ExplainOptions explain_options(const httplib::Request& req, std::int64_t classes) {
  ExplainOptions options;
  if (req.has_param("method"))
    options.method = parse_explain_method(req.get_param_value("method"), "the method");
  if (req.has_param("class")) {
    const std::string text = req.get_param_value("class");
    std::size_t used = 0;
    long long k = -1;
    try {
      k = std::stoll(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != text.size() || k < 0 || k >= classes)
      throw RequestError{
          400, fmt::format("class '{}': the model's classes are 0 to {}", text, classes - 1)};
    options.target_class = k;
  }
  return options;
}

}  // namespace

struct DigitServer::Impl {
  const Sequential model;  // read only: requests share it
  std::string model_name;
  ServeOptions options;
  std::vector<std::string> names;   // class names, one per output
  PredictorPool predictors{model};  // requests are answered in parallel, each on its own
  httplib::Server http;
  int bound_port = -1;

  std::mutex stop_mutex;
  std::condition_variable stop_changed;
  bool stop_requested = false;

  Impl(Sequential m, std::string name, ServeOptions o)
      : model(std::move(m)), model_name(std::move(name)), options(std::move(o)) {
    check_picture_input(model.input_shape(), model.preprocessing(), model_name);
    names = class_names(model);
    routes();
  }

  void routes() {
    // httplib's default sets SO_REUSEPORT, which lets a second server bind a port that is
    // in use and silently share it; SO_REUSEADDR alone still allows a quick restart.
    http.set_socket_options([](socket_t socket) {
      const int yes = 1;
      setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    // httplib writes the headers and the body in two sends; with Nagle's algorithm the body
    // waits for the client's delayed ACK, about 40 ms per answer (measured: 44 ms p50).
    http.set_tcp_nodelay(true);
    http.set_payload_max_length(options.max_body_bytes);
    http.set_keep_alive_timeout(kKeepAliveSeconds);
    http.set_keep_alive_max_count(kKeepAliveRequests);
    http.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(kPageHtml), "text/html; charset=utf-8");
    });
    http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      answer_json(res, 200, health());
    });
    http.Post("/predict", [this](const httplib::Request& req, httplib::Response& res) {
      try {
        answer_json(res, 200, classify(req));
      } catch (const RequestError& error) {
        answer_error(res, error.status, error.message);
      } catch (const InputError& error) {
        answer_error(res, 400, error.what());
      }
    });
    http.Post("/explain", [this](const httplib::Request& req, httplib::Response& res) {
      try {
        explain(req, res);
      } catch (const RequestError& error) {
        answer_error(res, error.status, error.message);
      } catch (const InputError& error) {
        answer_error(res, 400, error.what());
      }
    });
    // httplib's own answers (404 no route, 413 body too long, 400 unparsable request) come
    // with an empty body: give them a JSON one. Handlers' errors already have theirs.
    using HandlerResponse = httplib::Server::HandlerResponse;
    http.set_error_handler(httplib::Server::HandlerWithResponse(
        [this](const httplib::Request& req, httplib::Response& res) -> HandlerResponse {
          if (!res.body.empty()) return HandlerResponse::Unhandled;
          if (res.status == 404)
            answer_error(res, 404,
                         "no such path: " + req.method + " " + req.path +
                             " (routes: GET /, GET /health, POST /predict, POST /explain)");
          else if (res.status == 413)
            answer_error(res, 413,
                         fmt::format("the body is larger than the limit of {} bytes",
                                     options.max_body_bytes));
          else
            answer_error(res, res.status, fmt::format("the request failed (HTTP {})", res.status));
          return HandlerResponse::Handled;
        }));
    http.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, const std::exception_ptr& error) {
          std::string message = "internal error";
          try {
            if (error) std::rethrow_exception(error);
          } catch (const std::exception& e) {
            message += std::string(": ") + e.what();
          } catch (...) {
          }
          answer_error(res, 500, message);
        });
  }

  nlohmann::json health() const {
    return {{"status", "ok"},
            {"model", model_name},
            {"input_shape", model.input_shape()},
            {"classes", names.size()},
            {"class_names", names},
            {"preprocessing", to_string(model.preprocessing())},
            {"rejection", model.rejection()
                              ? nlohmann::json{{"class", names.back()},
                                               {"threshold", model.rejection()->threshold}}
                              : nlohmann::json(nullptr)},
            {"max_body_bytes", options.max_body_bytes},
            {"max_picture_side", options.image_limits.max_side},
            {"max_picture_pixels", options.image_limits.max_pixels}};
  }

  Image picture_of(const httplib::Request& req) const {
    const std::string type = req.get_header_value("Content-Type");
    if (starts_with(type, kJsonType)) return picture_from_json(req.body, model.input_shape());
    if (starts_with(type, "image/") || starts_with(type, "application/octet-stream")) {
      const auto* bytes = reinterpret_cast<const std::uint8_t*>(req.body.data());
      return decode_picture(std::span(bytes, req.body.size()), kBodySource, options.image_limits);
    }
    throw RequestError{415,
                       "send a picture (Content-Type image/png) or JSON "
                       "(application/json, {\"pixels\": [...]}), not '" +
                           type + "'"};
  }

  PreparedInput prepared_input(const Image& picture) const {
    try {
      return prepare_picture(picture, model.input_shape(), model.preprocessing(), kBodySource);
    } catch (const InputError& error) {
      throw RequestError{400, error.source() + ": " + error.problem()};
    }
  }

  // {"label" (null when rejected), "class", "confidence", "rejected", "probabilities",
  // "class_names"}, and for a model with a rejection rule "rejection_score"; a picture it
  // rejects because digit preprocessing found no digit has "reason" and no probabilities.
  nlohmann::json classify(const httplib::Request& req) {
    const Image picture = picture_of(req);
    Image input;
    try {
      input =
          prepare_picture(picture, model.input_shape(), model.preprocessing(), kBodySource).input;
    } catch (const NoDigitError& error) {
      const std::optional<Answer> rejected = no_digit_answer(model);
      if (!rejected) throw RequestError{400, error.source() + ": " + error.problem()};
      nlohmann::json result = answer_fields(*rejected);
      result["reason"] = error.problem();
      return result;
    } catch (const InputError& error) {
      throw RequestError{400, error.source() + ": " + error.problem()};
    }
    const std::vector<Image> batch{input};
    const Tensor probabilities = predictors.predict(to_batch(batch));  // [1, classes]
    const std::int64_t classes = probabilities.dim(1);
    const float* row = probabilities.data();
    const Answer given =
        answer(model, std::span<const float>(row, static_cast<std::size_t>(classes)));
    nlohmann::json all = nlohmann::json::array();
    for (std::int64_t c = 0; c < classes; ++c) all.push_back(rounded_for_json(row[c]));
    nlohmann::json result = answer_fields(given);
    result["probabilities"] = all;
    return result;
  }

  // {"label" (null when rejected), "class", "confidence", "rejected", "class_names"}, and for
  // a model with a rejection rule "rejection_score".
  nlohmann::json answer_fields(const Answer& given) const {
    nlohmann::json result = {
        {"label", given.rejected ? nlohmann::json(nullptr) : nlohmann::json(given.label)},
        {"class", names[static_cast<std::size_t>(given.output)]},
        {"confidence", rounded_for_json(given.confidence)},
        {"rejected", given.rejected},
        {"class_names", names}};
    if (model.rejection()) result["rejection_score"] = rounded_for_json(given.rejection_score);
    return result;
  }

  // The explanation of the picture in the body: the PNG draw_explanation draws, or with
  // ?format=json its numbers. Each request compiles its own Explainer over the shared
  // model (explaining only reads it).
  void explain(const httplib::Request& req, httplib::Response& res) {
    const std::string format = req.has_param("format") ? req.get_param_value("format") : "png";
    if (format != "png" && format != "json")
      throw RequestError{400, "format '" + format + "': png or json"};
    const ExplainOptions asked = explain_options(req, static_cast<std::int64_t>(names.size()));
    const Image picture = picture_of(req);
    const PreparedInput prepared = prepared_input(picture);
    const Explanation e = Explainer(model).explain(prepared.input, asked);
    if (format == "png") {
      res.status = 200;
      res.set_content(
          draw_explanation(e, prepared.input, picture, prepared.placement, names, "your picture")
              .encode(PictureFormat::png),
          "image/png");
      return;
    }
    // The model input the map lies over, [H][W][C] in 0..1, for a client to draw it on.
    const Image& input = prepared.input;
    nlohmann::json pixels = nlohmann::json::array();
    for (std::int64_t y = 0; y < input.height; ++y) {
      nlohmann::json row = nlohmann::json::array();
      for (std::int64_t x = 0; x < input.width; ++x) {
        nlohmann::json pixel = nlohmann::json::array();
        for (std::int64_t c = 0; c < input.channels; ++c)
          pixel.push_back(rounded_for_json(
              input.pixels[std::size_t((y * input.width + x) * input.channels + c)]));
        row.push_back(std::move(pixel));
      }
      pixels.push_back(std::move(row));
    }
    answer_json(res, 200,
                {{"label", e.predicted_class},
                 {"class", names[static_cast<std::size_t>(e.predicted_class)]},
                 {"confidence", rounded_for_json(e.predicted_probability)},
                 {"method", std::string(to_string(e.method))},
                 {"explained", e.target_class},
                 {"explained_probability", rounded_for_json(e.probability)},
                 {"signed", e.is_signed},
                 {"layer", e.layer},
                 {"map", map_rows(e.map)},
                 {"input", pixels}});
  }
};

DigitServer::DigitServer(Sequential model, std::string model_name, ServeOptions options)
    : impl_(std::make_unique<Impl>(std::move(model), std::move(model_name), std::move(options))) {}

DigitServer::~DigitServer() = default;

void DigitServer::bind() {
  Impl& s = *impl_;
  if (s.options.port == 0)
    s.bound_port = s.http.bind_to_any_port(s.options.host);  // -1 on failure
  else if (s.http.bind_to_port(s.options.host, s.options.port))
    s.bound_port = s.options.port;
  if (s.bound_port <= 0)
    throw InputError(fmt::format("{}:{}", s.options.host, s.options.port),
                     "cannot listen there: the port is in use, or the host is not an address "
                     "of this machine",
                     "choose another port (0 picks a free one) or host");
}

int DigitServer::port() const { return impl_->bound_port; }

void DigitServer::run() {
  Impl& s = *impl_;
  // httplib's stop() does nothing before listening has begun; this watcher repeats it until
  // run() is over, so a stop() that comes just before or while listening starts still ends it.
  bool finished = false;
  std::thread watcher([&] {
    std::unique_lock<std::mutex> lock(s.stop_mutex);
    while (!finished) {
      if (s.stop_requested) s.http.stop();
      s.stop_changed.wait_for(lock, kStopPollInterval);
    }
  });
  {
    std::unique_lock<std::mutex> lock(s.stop_mutex);
    if (!s.stop_requested) {
      lock.unlock();
      s.http.listen_after_bind();
    }
  }
  {
    const std::lock_guard<std::mutex> lock(s.stop_mutex);
    finished = true;
  }
  s.stop_changed.notify_all();
  watcher.join();
}

void DigitServer::stop() {
  {
    const std::lock_guard<std::mutex> lock(impl_->stop_mutex);
    impl_->stop_requested = true;
  }
  impl_->stop_changed.notify_all();
}

}  // namespace imgcls::serve
