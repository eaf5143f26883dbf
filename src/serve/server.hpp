// The server behind `imgcls serve`: an HTTP server (cpp-httplib) that holds one model,
// serves a page (a drawing canvas for digit models, a picture upload for any other model),
// and classifies pictures sent to it.
//
//   imgcls::serve::DigitServer server(imgcls::load_model(path), {.port = 0});
//   server.bind();                       // throws InputError when the port is taken
//   std::thread t([&] { server.run(); });
//   ... server.port() ...; server.stop(); t.join();
//
// Routes (every answer but the page is JSON; every error is {"error": "..."}):
//   GET  /         the page (HTML, JS and CSS embedded in the binary; src/serve/page.html)
//   GET  /health   {"status": "ok", "model", "input_shape": [H, W, C], "classes",
//                   "class_names", "preprocessing": "mnist-digit" | "stretch" | "crop",
//                   "max_body_bytes", "max_picture_side", "max_picture_pixels"}
//   POST /predict  a picture, as Content-Type image/png (any format decode_picture reads,
//                  any image/* or application/octet-stream type), or application/json
//                  {"pixels": [H*W*C numbers 0..255]}: the model input's H x W pixels,
//                  row-major, the C channels of a pixel side by side (red, green, blue for
//                  colour models; 784 grey values for 28x28x1), 0 = black, 255 = white.
//                  -> {"label", "class", "confidence", "probabilities": [one per class],
//                      "class_names"}
//   POST /explain  a picture as for /predict; ?method= saliency (default), gradxinput,
//                  integrated-gradients, gradcam or grad-cam, occlusion; ?class=K the class
//                  explained (default: the predicted one); ?format=png (default) or json.
//                  -> image/png: the picture `imgcls explain` draws (the input, the map over
//                  it, the map over the picture); or {"label", "class", "confidence",
//                  "method", "explained", "explained_probability", "signed", "layer" (gradcam's;
//                  else ""), "map": [H][W], "input": [H][W][C] the model input in 0..1}
//   400 bad picture, bad JSON, a bad method, class or format, wrong pixel count, a picture without
//   ink (digit models); 404 unknown path; 413 body over max_body_bytes; 415 another Content-Type;
//   500 anything unexpected. A request never takes the server down.
// Pictures get the model's stored preprocessing, exactly as `imgcls predict` applies it
// (picture_to_input): mnist-digit (dark-on-light and light-on-dark both work), or stretch /
// crop to the input's size; a grey picture sent to a colour model has its grey repeated in
// the three channels, a colour one sent to a grey model becomes its luma. JSON pixels are
// a picture of the input's size, prepared the same way (for stretch and crop, as they are).
//
// Concurrency: requests are served by a pool of worker threads, each answered in parallel:
// the model is shared read-only and each request borrows its own predictor from a
// PredictorPool (only the borrowing takes a lock).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "imgcls/image.hpp"
#include "imgcls/model.hpp"

namespace imgcls::serve {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                        // 0: any free port; port() tells which
  std::size_t max_body_bytes = 4u << 20;  // larger request bodies get 413
  ImageLimits image_limits{.max_side = 2048, .max_pixels = 4'000'000, .max_file_bytes = 4 << 20};
};

class DigitServer {
 public:
  // model_name: shown by /health and the page (e.g. the model file's name). Throws
  // InputError when the model does not take pictures (check_picture_input: [H, W, 1] or
  // [H, W, 3], square and grey for mnist-digit), like `imgcls predict`.
  DigitServer(Sequential model, std::string model_name, ServeOptions options);
  ~DigitServer();
  DigitServer(const DigitServer&) = delete;
  DigitServer& operator=(const DigitServer&) = delete;

  // Opens the listening socket. Throws InputError naming host:port when it cannot (the
  // port is in use, the host is not an address of this machine, ...).
  void bind();
  // The bound port; requires bind().
  int port() const;
  // Serves requests until stop(); requires bind().
  void run();
  // Makes run() return after the requests in progress; callable from any thread, and
  // before run() has started (run() then returns at once).
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace imgcls::serve
