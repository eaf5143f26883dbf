// The draw-a-digit server behind `imgcls serve`: an HTTP server (cpp-httplib) that holds one
// model, serves a page where a person draws a digit, and classifies pictures sent to it.
//
//   imgcls::serve::DigitServer server(imgcls::load_model(path), {.port = 0});
//   server.bind();                       // throws InputError when the port is taken
//   std::thread t([&] { server.run(); });
//   ... server.port() ...; server.stop(); t.join();
//
// Routes (every answer but the page is JSON; every error is {"error": "..."}):
//   GET  /         the page (HTML, JS and CSS embedded in the binary)
//   GET  /health   {"status": "ok", "model", "input_shape", "classes", "class_names"}
//   POST /predict  a picture, as Content-Type image/png (any format read_image decodes,
//                  any image/* or application/octet-stream type), or application/json
//                  {"pixels": [H*W numbers 0..255]}: the model input's H x W grey values,
//                  row-major (784 for 28x28), 0 = black, 255 = white.
//                  -> {"label", "class", "confidence", "probabilities": [one per class],
//                      "class_names"}
//   400 bad picture, bad JSON, wrong pixel count, a picture without ink; 404 unknown path;
//   413 body over max_body_bytes; 415 another Content-Type; 500 anything unexpected. A
//   request never takes the server down.
// Pictures get the model's stored preprocessing, exactly as `imgcls predict` applies it:
// preprocess_digit with mnist_layout (dark-on-light and light-on-dark both work), or a
// plain resize when the model file declares preprocessing "none".
//
// Concurrency: requests are served by a pool of worker threads. Decoding and preprocessing
// run in parallel; the model's forward pass runs under one mutex, because a Sequential keeps
// its activations between forward and backward (model.hpp) and so is not reentrant. One
// shared model keeps memory flat, and the lock is not the limit: with the forward passes
// serialised, bench/serve_load.sh measured 3154 requests/s (README), so one forward takes at
// most 0.32 ms; a 280x280 drawing's decoding and preprocessing cost more (713 requests/s).
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
  // InputError when the model does not take single-channel pictures [H, W, 1] (square when
  // preprocessed), like `imgcls predict`.
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
