// imgcls: the command-line front end. Parses arguments (CLI11), runs one subcommand, and
// is the only place that turns errors into exit codes:
//   0 success, 1 bad input or data, 2 usage error, 3 internal error, 130 interrupted
//   (training stopped by SIGINT/SIGTERM after writing a checkpoint).
#include <fmt/core.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <utility>
#include <vector>

#include "commands.hpp"
#include "imgcls/error.hpp"

namespace {

int run_command_line(int argc, char** argv) {
  using namespace imgcls::cli;
  CLI::App app{"imgcls: train, evaluate and use convolutional image classifiers on the CPU"};
  app.set_version_flag("--version", std::string("imgcls ") + IMGCLS_VERSION);
  app.require_subcommand(1);
  const std::vector<std::pair<std::string, Action>> commands = {
      {"run", add_run_command(app)},           {"train", add_train_command(app)},
      {"evaluate", add_evaluate_command(app)}, {"predict", add_predict_command(app)},
      {"summary", add_summary_command(app)},   {"show", add_show_command(app)},
      {"export", add_export_command(app)},     {"serve", add_serve_command(app)},
      {"explain", add_explain_command(app)}};
  // CLI11 would only say that a subcommand is required; name the unknown word instead.
  if (argc > 1 && argv[1][0] != '-' &&
      std::none_of(commands.begin(), commands.end(),
                   [&](const auto& c) { return c.first == argv[1]; })) {
    std::string names;
    for (const auto& command : commands) names += (names.empty() ? "" : ", ") + command.first;
    fmt::print(stderr, "imgcls: unknown command '{}' (commands: {}; see imgcls --help)\n", argv[1],
               names);
    return kUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kUsage;
  }
  try {
    for (const auto& [name, action] : commands)
      if (app.got_subcommand(name)) return action();
    return kUsage;
  } catch (const imgcls::InputError& e) {
    fmt::print(stderr, "imgcls: error: {}\n", e.what());
    return kBadInput;
  } catch (const std::exception& e) {
    fmt::print(stderr, "imgcls: internal error: {}\n", e.what());
    return kInternal;
  }
}

}  // namespace

// No exception leaves main: one thrown while the options are declared (out of memory) is an
// internal error too.
int main(int argc, char** argv) {
  try {
    return run_command_line(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "imgcls: internal error: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "imgcls: internal error\n");
  }
  return imgcls::cli::kInternal;
}
