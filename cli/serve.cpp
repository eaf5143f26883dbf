// imgcls serve: a web page where a person draws a digit (digit models) or gives a picture
// (any other model) and watches the model classify it, and the JSON API behind it
// (src/serve/server.hpp), over the model named or the built-in digits model. Runs until SIGINT or
// SIGTERM, then finishes the requests in progress and exits 0: stopping is how a server ends, not
// an interruption of work. A port that cannot be bound is bad input (exit 1).
#include <fmt/core.h>

#include <atomic>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <memory>
#include <thread>

#include "builtin_model.hpp"
#include "commands.hpp"
#include "imgcls/io.hpp"
#include "serve/server.hpp"
#include "stop_signals.hpp"

namespace imgcls::cli {

namespace {

constexpr int kMaxPort = 65535;

struct ServeOptions {
  std::string model_path;
  std::string host = "127.0.0.1";
  int port = 8080;
};

int serve(const ServeOptions& options) {
  const BlockStopSignals blocked;  // before the server starts its threads
  const std::string name = options.model_path.empty()
                               ? "digits.safetensors (built in)"
                               : std::filesystem::path(options.model_path).filename().string();
  serve::DigitServer server(load_model_or_builtin(options.model_path), name,
                            {.host = options.host, .port = options.port});
  try {
    server.bind();
  } catch (const InputError& e) {
    throw InputError(e.source(), e.problem(),
                     "choose another --port (0 picks a free one) or --host");
  }
  fmt::print("serving {} on http://{}:{} (Ctrl-C stops)\n", model_name(options.model_path),
             options.host, server.port());
  std::fflush(stdout);

  std::atomic<bool> running{true};
  std::thread http([&] {
    server.run();
    running = false;
  });
  // Wait for a stop signal; the timeout lets the loop notice a server that ended by itself.
  int signal = 0;
  const timespec poll{.tv_sec = 0, .tv_nsec = 200'000'000};
  while (running && signal <= 0) signal = sigtimedwait(&blocked.signals(), nullptr, &poll);
  server.stop();
  http.join();
  if (signal > 0) fmt::print("stopped by {}\n", signal == SIGINT ? "SIGINT" : "SIGTERM");
  return kSuccess;
}

}  // namespace

Action add_serve_command(CLI::App& app) {
  auto options = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "Serve a web page where you draw a digit and see the model's prediction as you draw "
      "(digit models), or drop or pick a picture (any other model), and a JSON API: POST "
      "/predict (a picture as the body, or {\"pixels\": [...]}), POST /explain (the heat map of "
      "a picture: a PNG, or ?format=json), GET /health");
  CLI::Option* model = cmd->add_option(
      "model", options->model_path,
      "A model file written by imgcls (model.safetensors); default: the built-in digits model "
      "(models/digits.safetensors)");
  cmd->add_option("--model", options->model_path, "The same as the MODEL argument")
      ->excludes(model);
  cmd->add_option("--host", options->host, "The address to listen on")->capture_default_str();
  cmd->add_option("--port", options->port, "The TCP port to listen on (0: any free port)")
      ->capture_default_str()
      ->check(CLI::Range(0, kMaxPort));
  return [options] { return serve(*options); };
}

}  // namespace imgcls::cli
